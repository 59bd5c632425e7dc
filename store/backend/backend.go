// Package backend opens the store named by the --db setting: a postgres://
// DSN opens PostgreSQL, anything else is a SQLite file path.
package backend

import (
	"context"
	"strings"

	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/postgres"
	"github.com/parley-cc/parley/store/sqlite"
)

// IsPostgres reports whether db names a PostgreSQL database rather than a
// SQLite file.
func IsPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Open opens the store named by db and brings its schema up to date.
func Open(ctx context.Context, db string) (store.Store, error) {
	if IsPostgres(db) {
		return postgres.Open(ctx, db)
	}
	if strings.TrimSpace(db) == "" {
		return nil, store.Invalidf("--db is empty: give a SQLite file path or a postgres:// DSN")
	}
	return sqlite.Open(ctx, db)
}
