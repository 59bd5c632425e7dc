// Package postgres is the shared store for several nodes: PostgreSQL through
// a pgx connection pool.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/internal/sqlstore"
)

// migrations is the schema history; go:embed needs a package-level variable.
//
//go:embed migrations/*.sql
var migrations embed.FS

// ConnectTimeout bounds Open when the database does not answer, and each
// new connection afterwards unless the DSN sets connect_timeout.
const ConnectTimeout = 5 * time.Second

// migrationLockID is the advisory lock key nodes take while migrating
// ("parley" in ASCII).
const migrationLockID = 0x7061726c6579

var _ store.Store = (*Store)(nil)

// Store is a store.Store backed by PostgreSQL.
type Store struct {
	*sqlstore.Store
	pool *pgxpool.Pool
}

// Open connects to the database named by dsn (a postgres:// URL or key=value
// string; pool_max_conns and the other pgxpool settings apply), waits at
// most ConnectTimeout for it to answer, and brings the schema up to date.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error quotes the DSN, password and all; keep only what
		// is wrong with it.
		msg := err.Error()
		if i := strings.Index(msg, "`: "); i >= 0 {
			msg = msg[i+3:]
		}
		return nil, store.Invalidf("postgres: bad DSN: %s", msg)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = ConnectTimeout
	}
	where := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	if cfg.ConnConfig.Database != "" {
		where += "/" + cfg.ConnConfig.Database
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres at %s: %w", where, err)
	}
	pctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres at %s unreachable (waited at most %s): %w", where, ConnectTimeout, err)
	}
	db := stdlib.OpenDBFromPool(pool)
	closeAll := func() error {
		err := db.Close()
		pool.Close()
		return err
	}
	ms, err := sqlstore.LoadMigrations(migrations, "migrations")
	if err != nil {
		closeAll() //nolint:errcheck // the migration error is the one to report
		return nil, err
	}
	if err := sqlstore.Migrate(ctx, db, dialect(), ms); err != nil {
		closeAll() //nolint:errcheck // the migration error is the one to report
		return nil, fmt.Errorf("postgres at %s: %w", where, err)
	}
	return &Store{Store: sqlstore.New(db, db, dialect(), closeAll), pool: pool}, nil
}

// Pool returns the underlying pgx pool, for pool statistics in /metrics.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// dialect says how this database differs from the shared SQL.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:          "postgres",
		Time:          func(t time.Time) any { return t },
		MigrationLock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLockID),
		Classify: func(err error) error {
			var pe *pgconn.PgError
			if !errors.As(err, &pe) {
				return nil
			}
			switch {
			case pe.Code == "23505": // unique_violation
				return store.ErrConflict
			case pe.Code == "23503": // foreign_key_violation
				return store.ErrNotFound
			case pe.Code == "23502", pe.Code == "23514", len(pe.Code) == 5 && pe.Code[:2] == "22":
				// not_null_violation, check_violation, data exceptions (NUL
				// bytes, bad UTF-8, out of range): the record is at fault.
				return store.ErrInvalid
			}
			return nil
		},
	}
}
