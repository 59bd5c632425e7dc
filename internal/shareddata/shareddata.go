// Package shareddata finds the project's public test data (the shared/data
// folder beside the repository) for tests that use real recordings.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns $PARLEY_DATA, or the first shared/data found walking up from
// the working directory; it skips the test when neither exists.
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("PARLEY_DATA"); d != "" {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
		t.Skipf("PARLEY_DATA=%s is not a directory: skipping test that needs public data", d)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Skipf("cannot find public data: %v", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "data")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	t.Skip("public data (shared/data) not found: set PARLEY_DATA to run this test")
	return ""
}

// Path joins elems under Dir and skips the test if that file is missing.
func Path(t testing.TB, elems ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Dir(t)}, elems...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("public data file %s missing: %v", p, err)
	}
	return p
}
