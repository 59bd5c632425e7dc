package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/sqlite"
)

// Both store implementations' common type satisfies the API's Store.
var (
	_ httpapi.Store = store.Store(nil)
	_ httpapi.Store = (*sqlite.Store)(nil)
)

// env is a server on a loopback port over a fresh SQLite store.
type env struct {
	t     *testing.T
	srv   *httpapi.Server
	http  *httptest.Server
	store *sqlite.Store
	reg   *prometheus.Registry
	logs  *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of request
// goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newEnv starts a server; edit adjusts its options before New.
func newEnv(t *testing.T, edit func(*httpapi.Options)) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	reg := prometheus.NewRegistry()
	logs := &syncBuffer{}
	opts := httpapi.Options{
		Store:      st,
		Checks:     []httpapi.ReadinessCheck{httpapi.StoreCheck(st)},
		Gatherer:   reg,
		Registerer: reg,
		Logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Version:    "test",
	}
	if edit != nil {
		edit(&opts)
	}
	srv := httpapi.New(opts)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &env{t: t, srv: srv, http: hs, store: st, reg: reg, logs: logs}
}

// response is what a request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errorBody decodes the JSON error body, failing the test if it is not one.
func (r response) errorBody(t *testing.T) httpapi.ErrorBody {
	t.Helper()
	var e httpapi.ErrorBody
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" {
		t.Fatalf("want a JSON error body, got %d %q (%v)", r.status, r.body, err)
	}
	return e
}

// decode unmarshals the body into v, failing the test on error.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// do sends a request; header pairs are name, value.
func (e *env) do(method, path, body string, header ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// must sends a request and fails the test unless it gets want.
func (e *env) must(want int, method, path, body string, header ...string) response {
	e.t.Helper()
	r := e.do(method, path, body, header...)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}
