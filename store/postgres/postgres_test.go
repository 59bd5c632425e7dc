package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/storetest"
)

const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func testDSN() string {
	if dsn := os.Getenv("PARLEY_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return defaultDSN
}

// freshSchema creates a uniquely named schema, dropped at cleanup, and
// returns a DSN whose search_path points at it, so parallel runs never see
// each other's tables. It skips the test (fails it under CI=true) when
// PostgreSQL is unreachable.
func freshSchema(t testing.TB) string {
	t.Helper()
	base := testDSN()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		msg := fmt.Sprintf("PostgreSQL unreachable (set PARLEY_TEST_POSTGRES or start it with "+
			"`pg_ctlcluster --skip-systemctl-redirect <version> main start`): %v", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "parley_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, base, schema)
}

func withSearchPath(t testing.TB, dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("PARLEY_TEST_POSTGRES: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

func openFresh(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), freshSchema(t))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
}

func TestMigrationsIdempotentConcurrentAndVersioned(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	// Nodes starting at once on an empty database migrate it exactly once.
	const nodes = 4
	stores := make([]*Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(ctx, dsn)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	s := stores[0]
	if err := s.CreateAgent(ctx, &store.Agent{ID: "a-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := stores[nodes-1].GetAgent(ctx, "a-1"); err != nil {
		t.Fatalf("other node does not see the agent: %v", err)
	}
	var n, max int
	if err := s.Pool().QueryRow(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	entries, _ := migrations.ReadDir("migrations")
	if n != len(entries) || max != len(entries) {
		t.Fatalf("schema_migrations has %d rows up to %d, want %d", n, max, len(entries))
	}
	// A database migrated by a newer binary is refused with a clear error.
	if _, err := s.Pool().Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', 'x')`, max+1); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, dsn)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d is newer", max+1)) {
		t.Fatalf("open of a newer schema: %v, want a 'newer' error", err)
	}
}

func TestOpenUnreachableFailsFastNamingTheHost(t *testing.T) {
	// A closed port: refused at once.
	_, err := Open(context.Background(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("open of a closed port: %v, want an error naming 127.0.0.1:1", err)
	}

	// A server that accepts and never answers: Open gives up after
	// ConnectTimeout instead of hanging.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	done := make(chan error, 1)
	go func() {
		_, err := Open(context.Background(), "postgres://postgres@"+ln.Addr().String()+"/test?sslmode=disable")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("open of a silent server: %v, want an 'unreachable' error naming %s", err, ln.Addr())
		}
	case <-time.After(6 * ConnectTimeout):
		t.Fatal("Open hung on a server that never answers")
	}
}

func TestOpenBadDSN(t *testing.T) {
	_, err := Open(context.Background(), "postgres://user:secret@host:notaport/db")
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "bad DSN") {
		t.Fatalf("bad DSN: %v, want ErrInvalid saying 'bad DSN'", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func BenchmarkAppendTurn(b *testing.B) {
	s := openFresh(b)
	storetest.BenchmarkAppendTurn(b, s)
}
