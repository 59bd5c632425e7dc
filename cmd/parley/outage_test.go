package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-cc/parley/store/postgres"
	"github.com/parley-cc/parley/store/postgres/pgtest"
)

// dbLink is a TCP relay between parley serve and PostgreSQL that the test
// can cut (every connection reset, new ones refused) and mend: the database
// lost while running, as a network partition makes it.
type dbLink struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newDBLink(t *testing.T, target string) *dbLink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &dbLink{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); l.setCut(true) })
	go l.accept()
	return l
}

func (l *dbLink) accept() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		if l.cut {
			l.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", l.target)
		if err != nil {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.conns[c], l.conns[up] = true, true
		l.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

func (l *dbLink) setCut(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = cut
	if cut {
		for c := range l.conns {
			c.Close()
		}
		l.conns = map[net.Conn]bool{}
	}
}

// TestDatabaseLostWhileRunning cuts parley serve off its PostgreSQL in the
// middle of a call: /readyz fails, the call's turns are still accepted and
// held, other writes are refused with 503 (never silently dropped), and once
// the database is back every held turn lands in order and /readyz recovers.
func TestDatabaseLostWhileRunning(t *testing.T) {
	dsn := pgtest.FreshDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	link := newDBLink(t, u.Host)
	u.Host = link.ln.Addr().String()

	n := startSIPNode(t, func(cfg *Config) {
		cfg.DB = u.String()
		cfg.WriteBehindMaxAge = 300 * time.Millisecond
		cfg.ShutdownTimeout = 5 * time.Second
	})
	base := n.base

	client := &http.Client{Timeout: 30 * time.Second}
	do := func(method, path, body string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	waitReady := func(want int, mention string) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body, _ := do("GET", "/readyz", "")
			if code == want && strings.Contains(body, mention) {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz stayed %d %s; want %d mentioning %q", code, body, want, mention)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	turn := func(text string) {
		t.Helper()
		code, body, _ := do("POST", "/api/v1/calls/outage-1/turns", fmt.Sprintf(`{"speaker":"caller","text":%q}`, text))
		if code != http.StatusCreated {
			t.Fatalf("turn %q: %d %s, want 201", text, code, body)
		}
	}

	waitReady(200, "")
	turn("my internet is down")

	link.setCut(true)
	body := waitReady(503, `"database"`)
	t.Logf("database cut: /readyz %s", strings.TrimSpace(body))
	for _, text := range []string{"since this morning", "the light is red", "can you send someone"} {
		turn(text)
	}
	code, body, hdr := do("POST", "/api/v1/agents", `{"id":"carol","name":"Carol"}`)
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("agent create while the database is down: %d %s Retry-After=%q; want 503 with Retry-After", code, body, hdr.Get("Retry-After"))
	}
	body = waitReady(503, `"failing":["database","write-behind"]`)
	t.Logf("held writes: /readyz %s", strings.TrimSpace(body))
	code, body, _ = do("GET", "/api/v1/calls/outage-1", "")
	if code != 200 || strings.Count(body, `"speaker":"caller"`) != 4 {
		t.Fatalf("live transcript during the outage: %d %s; want 4 caller turns", code, body)
	}

	link.setCut(false)
	waitReady(200, "")
	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	turns, err := st.ListTurns(context.Background(), "outage-1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tr := range turns {
		got = append(got, fmt.Sprintf("%d:%s", tr.Seq, tr.Text))
	}
	want := []string{"1:my internet is down", "2:since this morning", "3:the light is red", "4:can you send someone"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("turns in the database after recovery: %v; want %v", got, want)
	}
	audit, err := st.ListAudit(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(fmt.Sprint(audit), "call.turn"); n != 4 {
		t.Fatalf("%d call.turn audit entries after recovery, want 4 (held ones included): %v", n, audit)
	}
	_, metrics, _ := do("GET", "/metrics", "")
	var written float64
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "parley_write_behind_written_total ") {
			_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "parley_write_behind_written_total ")), &written)
		}
	}
	if written < 3 {
		t.Fatalf("parley_write_behind_written_total = %v, want at least 3", written)
	}
}

// testServeLogger shows serve's warnings with -v only.
func testServeLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// A database that cannot be reached at start stops the node at once with a
// message naming it, rather than a node that looks up but cannot keep calls.
func TestDatabaseUnreachableAtStartExits(t *testing.T) {
	bin := buildParley(t)
	cmd := exec.Command(bin, "serve", "--db", "postgres://postgres:secret@127.0.0.1:1/parley?connect_timeout=2",
		"--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--sip-addr", "127.0.0.1:0", "--demo=false")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("parley serve with an unreachable database: %v, want exit status 1; stderr:\n%s", err, stderr.String())
	}
	out := stderr.String()
	if !strings.Contains(out, "open store postgres://postgres:xxxxx@127.0.0.1:1/parley") || strings.Contains(out, "secret") {
		t.Fatalf("stderr does not name the database (with its password hidden):\n%s", out)
	}
	t.Logf("exited after %s: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))
}
