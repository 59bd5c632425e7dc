package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/postgres/pgtest"
	"github.com/parley-cc/parley/store/storetest"
)

func openFresh(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), pgtest.FreshDSN(t))
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
	dsn := pgtest.FreshDSN(t)
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

// PostgreSQL refuses text SQLite takes (NUL bytes, bad UTF-8); such a write
// must be a permanent ErrInvalid so that WriteBehind does not retry it
// forever.
func TestRejectedTextIsInvalid(t *testing.T) {
	ctx := context.Background()
	s := openFresh(t)
	c := store.Call{ID: "call-1", State: store.CallBot}
	if err := s.SaveCall(ctx, &c); err != nil {
		t.Fatal(err)
	}
	for name, turn := range map[string]store.Turn{
		"NUL in text":    {CallID: "call-1", Seq: 1, Text: "a\x00b"},
		"bad UTF-8":      {CallID: "call-1", Seq: 2, Text: "caf\xe9"},
		"NUL in speaker": {CallID: "call-1", Seq: 3, Speaker: "\x00"},
	} {
		err := s.AppendTurn(ctx, turn)
		if !errors.Is(err, store.ErrInvalid) || !store.IsPermanent(err) {
			t.Errorf("%s: %v, want a permanent ErrInvalid", name, err)
		}
	}
	ev := store.CallEvent{CallID: "call-1", Seq: 1, Type: "dtmf", Data: map[string]string{"digit": "\x00"}}
	if err := s.AppendCallEvent(ctx, ev); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("NUL in a JSONB map: %v, want ErrInvalid", err)
	}
}

// When the server drops the store's connections (a failover, a restart), the
// next write may fail with a transient error; Retry gets it through on a new
// connection.
func TestRetrySurvivesDroppedConnections(t *testing.T) {
	ctx := context.Background()
	dsn, err := url.Parse(pgtest.FreshDSN(t))
	if err != nil {
		t.Skipf("PARLEY_TEST_POSTGRES is not a URL: %v", err)
	}
	app := "parley_drop_" + strings.TrimPrefix(dsn.Query().Get("search_path"), "parley_test_")
	q := dsn.Query()
	q.Set("application_name", app)
	dsn.RawQuery = q.Encode()
	s, err := Open(ctx, dsn.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := store.Call{ID: "call-1", State: store.CallBot}
	if err := s.SaveCall(ctx, &c); err != nil {
		t.Fatal(err)
	}
	admin, err := Open(ctx, pgtestBase(t, dsn))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var killed int
	if err := admin.Pool().QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, app).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no connection of the store to drop")
	}
	for seq := 1; seq <= 3; seq++ {
		turn := store.Turn{CallID: "call-1", Seq: seq, Text: "still here"}
		err := store.Retry(ctx, store.Backoff{Initial: 10 * time.Millisecond}, func(ctx context.Context) error {
			err := s.AppendTurn(ctx, turn)
			if err != nil {
				t.Logf("turn %d: attempt failed: %v", seq, err)
			}
			return err
		})
		if err != nil {
			t.Fatalf("turn %d after the connections dropped: %v", seq, err)
		}
	}
	ts, err := s.ListTurns(ctx, "call-1")
	if err != nil || len(ts) != 3 {
		t.Fatalf("turns after reconnect: %d, %v; want 3", len(ts), err)
	}
}

// pgtestBase returns dsn without application_name, for an admin connection
// in the same schema.
func pgtestBase(t *testing.T, dsn *url.URL) string {
	t.Helper()
	u := *dsn
	q := u.Query()
	q.Del("application_name")
	u.RawQuery = q.Encode()
	return u.String()
}
