package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads files named NNNN_name.sql from dir of fsys, sorted by
// version; versions must start at 1 and have no gaps or duplicates.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations in %s: %w", dir, err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration file %s: name must be NNNN_description.sql", e.Name())
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations in %s: expected version %d, found %d (%s)", dir, i+1, m.Version, m.Name)
		}
	}
	return ms, nil
}

// Migrate brings the schema up to the newest of ms. Each migration runs in its
// own transaction together with its schema_migrations row, after lockSQL (if
// any) so that nodes starting at once apply each migration exactly once. A
// database whose schema is newer than ms is refused.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, ms []Migration) error {
	create := `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`
	if err := createVersionTable(ctx, db, d, create); err != nil {
		return err
	}
	known := len(ms)
	cur, err := schemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if cur > known {
		return fmt.Errorf("database schema version %d is newer than this binary knows (%d): run a newer parley", cur, known)
	}
	for _, m := range ms[cur:] {
		if err := apply(ctx, db, d, m, known); err != nil {
			return err
		}
	}
	return nil
}

// createVersionTable creates schema_migrations under the migration lock:
// PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against a concurrent
// twin.
func createVersionTable(ctx context.Context, db *sql.DB, d Dialect, create string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create schema_migrations: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if d.MigrationLock != "" {
		if _, err := tx.ExecContext(ctx, d.MigrationLock); err != nil {
			return fmt.Errorf("create schema_migrations: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create schema_migrations: commit: %w", err)
	}
	return nil
}

func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}

func apply(ctx context.Context, db *sql.DB, d Dialect, m Migration, known int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %d (%s): begin: %w", m.Version, m.Name, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if d.MigrationLock != "" {
		if _, err := tx.ExecContext(ctx, d.MigrationLock); err != nil {
			return fmt.Errorf("migration %d (%s): lock: %w", m.Version, m.Name, err)
		}
	}
	// Another node may have applied it while we waited for the lock.
	cur, err := schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if cur > known {
		return fmt.Errorf("database schema version %d is newer than this binary knows (%d): run a newer parley", cur, known)
	}
	if cur >= m.Version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.Version, m.Name, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("migration %d (%s): record version: %w", m.Version, m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %d (%s): commit: %w", m.Version, m.Name, err)
	}
	return nil
}
