package httpapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/sqlite"
)

func benchServer(b *testing.B) (*httpapi.Server, *sqlite.Store) {
	b.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return httpapi.New(httpapi.Options{Store: st}), st
}

func seedBenchCall(b *testing.B, st *sqlite.Store, id string) {
	b.Helper()
	c := store.Call{ID: id, Direction: "inbound", Channel: "text", State: store.CallBot, StartedAt: time.Now()}
	if err := st.SaveCall(context.Background(), &c); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkGetAgent measures one agent read through the whole handler chain
// (request id, routing, store read, JSON, log, metrics).
func BenchmarkGetAgent(b *testing.B) {
	srv, _ := benchServer(b)
	h := srv.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/agents", strings.NewReader(
		`{"id":"a-1","name":"Ana","skills":[{"name":"billing","proficiency":4}],"languages":["en"]}`)))
	if rec.Code != 201 {
		b.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/agents/a-1", nil))
		if rec.Code != 200 {
			b.Fatalf("get: %d", rec.Code)
		}
	}
}

// BenchmarkRecordTurn measures recording a transcript turn through the store
// path (read call, read turns, append, audit).
func BenchmarkRecordTurn(b *testing.B) {
	srv, st := benchServer(b)
	h := srv.Handler()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// A fresh call every 50 turns keeps the transcript read bounded.
		if i%50 == 0 {
			b.StopTimer()
			seedBenchCall(b, st, fmt.Sprintf("c-%d", i/50))
			b.StartTimer()
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", fmt.Sprintf("/api/v1/calls/c-%d/turns", i/50), strings.NewReader(`{"speaker":"caller","text":"I want to pay my bill"}`)))
		if rec.Code != 201 {
			b.Fatalf("record: %d %s", rec.Code, rec.Body)
		}
		i++
	}
}

// BenchmarkRejectUnknownField measures the 400 path that locates an unknown
// nested field.
func BenchmarkRejectUnknownField(b *testing.B) {
	srv, _ := benchServer(b)
	h := srv.Handler()
	body := `{"name":"Ana","skills":[{"name":"billing","proficiency":4},{"name":"sales","proficiency":3,"level":2}]}`
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/agents", strings.NewReader(body)))
		if rec.Code != 400 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
