package backend

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/postgres"
	"github.com/parley-cc/parley/store/postgres/pgtest"
	"github.com/parley-cc/parley/store/sqlite"
)

func TestOpenSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "parley.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*sqlite.Store); !ok {
		t.Fatalf("Open(%q) = %T, want *sqlite.Store", path, s)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

func TestOpenPostgres(t *testing.T) {
	s, err := Open(context.Background(), pgtest.FreshDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*postgres.Store); !ok {
		t.Fatalf("Open(postgres DSN) = %T, want *postgres.Store", s)
	}
}

func TestOpenEmpty(t *testing.T) {
	if _, err := Open(context.Background(), " "); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("empty --db: %v, want ErrInvalid", err)
	}
	if IsPostgres("/var/lib/parley/parley.db") || !IsPostgres("postgresql://h/db") {
		t.Fatal("IsPostgres misclassifies")
	}
}
