// Package sqlstore implements store.Store over database/sql once for every
// SQL dialect; store/sqlite and store/postgres supply the connections, the
// schema and a Dialect for what differs.
package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Dialect is what differs between databases. Statements use $1-style
// placeholders, which both SQLite and PostgreSQL accept.
type Dialect struct {
	// Name names the database in error messages.
	Name string
	// Time converts a UTC, microsecond-truncated time into a query argument.
	Time func(time.Time) any
	// Classify maps a driver error to store.ErrConflict (unique violation) or
	// store.ErrNotFound (missing parent row), or returns nil.
	Classify func(error) error
	// MigrationLock is run first in each migration transaction to serialise
	// nodes migrating one database at once; empty when the database locks
	// writers already.
	MigrationLock string
	// PrepareStatements keeps each query prepared on the connections that
	// run it; worth it where connections live as long as the pool.
	PrepareStatements bool
}

// SQLiteTimeFormat is fixed-width so that text comparison orders times.
const SQLiteTimeFormat = "2006-01-02T15:04:05.000000Z"

// norm is how every time is stored: UTC, microseconds (PostgreSQL's
// precision, so both databases return the same value).
func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// timeCol scans a time stored either natively or as SQLiteTimeFormat text.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*c.t = v.UTC()
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	default:
		return fmt.Errorf("scan time: unsupported type %T", src)
	}
	return nil
}

func (c timeCol) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("scan time %q: %w", s, err)
	}
	*c.t = t.UTC()
	return nil
}

// nullTimeCol scans a nullable time into a *time.Time.
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(src any) error {
	if src == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(src); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// jsonCol scans a JSON column into v.
type jsonCol struct{ v any }

func (c jsonCol) Scan(src any) error {
	var b []byte
	switch s := src.(type) {
	case nil:
		return nil
	case string:
		b = []byte(s)
	case []byte:
		b = s
	default:
		return fmt.Errorf("scan json: unsupported type %T", src)
	}
	if err := json.Unmarshal(b, c.v); err != nil {
		return fmt.Errorf("scan json: %w", err)
	}
	return nil
}

// bytesCol scans a nullable blob, copying it out of the driver's buffer.
type bytesCol struct{ b *[]byte }

func (c bytesCol) Scan(src any) error {
	switch s := src.(type) {
	case nil:
		*c.b = nil
	case []byte:
		*c.b = append([]byte{}, s...)
	case string:
		*c.b = []byte(s)
	default:
		return fmt.Errorf("scan bytes: unsupported type %T", src)
	}
	return nil
}

var _ = []sql.Scanner{timeCol{}, nullTimeCol{}, jsonCol{}, bytesCol{}}
