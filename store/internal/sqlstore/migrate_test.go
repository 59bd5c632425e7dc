package sqlstore

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	ok := fstest.MapFS{
		"m/0002_calls.sql": {Data: []byte("CREATE TABLE calls (id TEXT);")},
		"m/0001_init.sql":  {Data: []byte("CREATE TABLE agents (id TEXT);")},
		"m/README.md":      {Data: []byte("not a migration")},
	}
	ms, err := LoadMigrations(ok, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[0].Name != "init" || ms[1].Version != 2 || !strings.Contains(ms[1].SQL, "calls") {
		t.Fatalf("migrations = %+v", ms)
	}
	for name, tc := range map[string]struct {
		fs   fstest.MapFS
		want string
	}{
		"gap":       {fstest.MapFS{"m/0001_a.sql": {}, "m/0003_c.sql": {}}, "expected version 2, found 3"},
		"duplicate": {fstest.MapFS{"m/0001_a.sql": {}, "m/001_b.sql": {}}, "expected version 2, found 1"},
		"bad name":  {fstest.MapFS{"m/init.sql": {}}, "NNNN_description.sql"},
		"zero":      {fstest.MapFS{"m/0000_a.sql": {}}, "NNNN_description.sql"},
		"no dir":    {fstest.MapFS{}, "read migrations in m"},
	} {
		if _, err := LoadMigrations(tc.fs, "m"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
}
