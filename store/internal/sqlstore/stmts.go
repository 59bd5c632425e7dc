package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache keeps one prepared statement per query text. Preparing once
// saves SQLite about a quarter of an AppendTurn; PostgreSQL's pgx caches
// statements itself, on connections database/sql does not keep, so it does
// without.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.m[q] = st
	return st, nil
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}

// errRow is a row whose query could not even be prepared.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if s.wst == nil {
		return s.w.ExecContext(ctx, q, args...)
	}
	st, err := s.wst.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func rowOn(ctx context.Context, db *sql.DB, c *stmtCache, q string, args []any) scanner {
	if c == nil {
		return db.QueryRowContext(ctx, q, args...)
	}
	st, err := c.get(ctx, q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// queryRowW reads one row on the writer, for UPDATE ... RETURNING.
func (s *Store) queryRowW(ctx context.Context, q string, args ...any) scanner {
	return rowOn(ctx, s.w, s.wst, q, args)
}

// queryRow reads one row on the reader pool.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) scanner {
	return rowOn(ctx, s.r, s.rst, q, args)
}

// query reads rows on the reader pool.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s.rst == nil {
		return s.r.QueryContext(ctx, q, args...)
	}
	st, err := s.rst.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}
