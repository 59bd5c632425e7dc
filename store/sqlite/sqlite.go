// Package sqlite is the embedded store: one SQLite file (pure Go, no cgo) in
// WAL mode, written through a single connection and read through a small
// pool.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/internal/sqlstore"
)

// migrations is the schema history; go:embed needs a package-level variable.
//
//go:embed migrations/*.sql
var migrations embed.FS

// readers is the reader pool size; SQLite in WAL mode reads concurrently
// with the one writer.
const readers = 4

// busyTimeout is how long a connection waits for another process's lock.
const busyTimeout = 5 * time.Second

var _ store.Store = (*Store)(nil)

// Store is a store.Store backed by one SQLite file.
type Store struct {
	*sqlstore.Store
	w, r *sql.DB
}

// Open opens (creating if needed) the SQLite database at path, creates its
// parent directory and brings the schema up to date. A path of ":memory:"
// opens a private in-memory database on one connection, for tests.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, store.Invalidf("sqlite: database path is empty")
	}
	if strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") {
		return nil, store.Invalidf("sqlite: database path %q: give a plain file path (no '?', no file: URI)", path)
	}
	memory := path == ":memory:"
	if !memory {
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("sqlite: create directory for %s: %w", path, err)
			}
		}
	}
	w, err := open(dsn(path, memory, false), 1)
	if err != nil {
		return nil, err
	}
	r := w
	closeAll := func() error { return w.Close() }
	if !memory {
		if r, err = open(dsn(path, false, true), readers); err != nil {
			w.Close()
			return nil, err
		}
		closeAll = func() error { return errors.Join(r.Close(), w.Close()) }
	}
	ms, err := sqlstore.LoadMigrations(migrations, "migrations")
	if err != nil {
		closeAll() //nolint:errcheck // the migration error is the one to report
		return nil, err
	}
	if err := sqlstore.Migrate(ctx, w, dialect(), ms); err != nil {
		closeAll() //nolint:errcheck // the migration error is the one to report
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return &Store{Store: sqlstore.New(w, r, dialect(), closeAll), w: w, r: r}, nil
}

// dsn builds the modernc DSN: every connection gets the pragmas, and write
// transactions take the write lock at BEGIN so two processes never deadlock
// upgrading read locks.
func dsn(path string, memory, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if !memory {
		q.Add("_pragma", "journal_mode(WAL)")
		// In WAL mode NORMAL loses no commit when the process dies, only
		// the last ones on a power cut, and saves an fsync per commit.
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	// A plain name (not a file: URI) reaches SQLite as is, whatever
	// characters it holds; the driver strips the query first.
	return path + "?" + q.Encode()
}

func open(dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	// An in-memory database lives only as long as its connection.
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// dialect says how this database differs from the shared SQL.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:              "sqlite",
		PrepareStatements: true,
		Time:              func(t time.Time) any { return t.Format(sqlstore.SQLiteTimeFormat) },
		Classify: func(err error) error {
			var se *sqlite.Error
			if !errors.As(err, &se) {
				return nil
			}
			switch se.Code() {
			case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
				return store.ErrConflict
			case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
				return store.ErrNotFound
			case sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_TOOBIG:
				return store.ErrInvalid
			}
			return nil
		},
	}
}
