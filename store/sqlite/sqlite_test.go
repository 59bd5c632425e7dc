package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/storetest"
)

func openTemp(t testing.TB) *Store {
	t.Helper()
	// Odd characters in the path must not be read as URI syntax.
	path := filepath.Join(t.TempDir(), "nested dir #1", "100%", "parley.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not at the path given: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestConformanceInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), ":memory:")
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestMigrationsIdempotentAndVersioned(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateAgent(ctx, &store.Agent{ID: "a-1", Name: "Ada"}))
	must(s.Close())

	// Reopening applies nothing twice and keeps the data.
	s, err = Open(ctx, path)
	must(err)
	if _, err := s.GetAgent(ctx, "a-1"); err != nil {
		t.Fatalf("agent lost across reopen: %v", err)
	}
	w, _ := sqlDB(s)
	var n, max int
	must(w.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &max))
	entries, _ := migrations.ReadDir("migrations")
	if n != len(entries) || max != len(entries) {
		t.Fatalf("schema_migrations has %d rows up to %d, want %d", n, max, len(entries))
	}
	// A database migrated by a newer binary is refused with a clear error.
	_, err = w.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', 'x')`, max+1)
	must(err)
	must(s.Close())
	_, err = Open(ctx, path)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d is newer", max+1)) {
		t.Fatalf("open of a newer schema: %v, want a 'newer' error", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, bad := range []string{"", "parley.db?mode=ro", "file:parley.db"} {
		if _, err := Open(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("Open(%q): %v, want ErrInvalid", bad, err)
		}
	}
	// A parent that is a file cannot be created.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, filepath.Join(file, "parley.db"))
	if err == nil || !strings.Contains(err.Error(), "create directory") {
		t.Fatalf("open under a file: %v", err)
	}
}

func TestWALMode(t *testing.T) {
	s := openTemp(t)
	w, r := sqlDB(s)
	var mode string
	if err := r.QueryRowContext(context.Background(), `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
	var fk int
	if err := w.QueryRowContext(context.Background(), `PRAGMA foreign_keys`).Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if fk != 1 {
		t.Fatalf("foreign_keys = %d, want 1", fk)
	}
	// The reader pool cannot write.
	if _, err := r.ExecContext(context.Background(), `DELETE FROM agents`); err == nil {
		t.Fatal("reader pool accepted a write")
	}
}

func BenchmarkAppendTurn(b *testing.B) {
	s := openTemp(b)
	storetest.BenchmarkAppendTurn(b, s)
}

func sqlDB(s *Store) (w, r *sql.DB) { return s.w, s.r }

// Two stores on one file, as `parley serve` and a `parley kb` command would
// be: the busy timeout and immediate write transactions let both write at
// once without SQLITE_BUSY errors.
func TestTwoStoresShareOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	var stores [2]*Store
	for i := range stores {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	c := store.Call{ID: "shared", State: store.CallBot}
	if err := stores[0].SaveCall(ctx, &c); err != nil {
		t.Fatal(err)
	}
	const perStore = 100
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perStore {
				seq := k*len(stores) + i + 1
				if err := s.AppendTurn(ctx, store.Turn{CallID: "shared", Seq: seq, Text: fmt.Sprint(seq)}); err != nil {
					errs[i] = err
					return
				}
				if k%10 == 0 {
					doc := store.Document{ID: fmt.Sprintf("kb-%d-%d", i, k), Title: "t", Version: 1}
					if err := s.SaveDocument(ctx, &doc); err != nil {
						errs[i] = err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
	}
	for i, s := range stores {
		ts, err := s.ListTurns(ctx, "shared")
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != perStore*len(stores) {
			t.Fatalf("store %d sees %d turns, want %d", i, len(ts), perStore*len(stores))
		}
	}
}
