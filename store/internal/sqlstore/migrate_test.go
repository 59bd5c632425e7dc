package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
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

func TestMigrateAppliesInOrderAndRollsBackAFailure(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := Dialect{Name: "sqlite"}
	version := func() int {
		v, err := schemaVersion(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	m1 := Migration{Version: 1, Name: "agents", SQL: "CREATE TABLE agents (id TEXT PRIMARY KEY); CREATE TABLE queues (id TEXT);"}
	m2 := Migration{Version: 2, Name: "calls", SQL: "CREATE TABLE calls (id TEXT PRIMARY KEY);"}
	if err := Migrate(ctx, db, d, []Migration{m1}); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != 1 {
		t.Fatalf("version %d after one migration, want 1", v)
	}
	// A newer binary applies only what is new; running it twice is a no-op.
	for range 2 {
		if err := Migrate(ctx, db, d, []Migration{m1, m2}); err != nil {
			t.Fatal(err)
		}
	}
	if v := version(); v != 2 {
		t.Fatalf("version %d, want 2", v)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO calls (id) VALUES ('c1')"); err != nil {
		t.Fatalf("migration 2 did not create calls: %v", err)
	}
	// A failing migration leaves neither its tables nor its version behind.
	bad := Migration{Version: 3, Name: "broken", SQL: "CREATE TABLE turns (id TEXT); CREATE TABLE oops (;"}
	err = Migrate(ctx, db, d, []Migration{m1, m2, bad})
	if err == nil || !strings.Contains(err.Error(), "migration 3 (broken)") {
		t.Fatalf("broken migration: %v, want an error naming migration 3", err)
	}
	if v := version(); v != 2 {
		t.Fatalf("version %d after a failed migration, want 2", v)
	}
	if _, err := db.ExecContext(ctx, "SELECT * FROM turns"); err == nil {
		t.Fatal("a failed migration left its first table behind")
	}
	// An older binary refuses the newer schema.
	err = Migrate(ctx, db, d, []Migration{m1})
	if err == nil || !strings.Contains(err.Error(), "schema version 2 is newer than this binary knows (1)") {
		t.Fatalf("older binary: %v", err)
	}
}
