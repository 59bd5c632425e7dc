package qdrant_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/knowledge/embed/local"
	"github.com/parley-cc/parley/knowledge/index"
	"github.com/parley-cc/parley/knowledge/index/indextest"
	"github.com/parley-cc/parley/knowledge/index/qdrant"
	"github.com/parley-cc/parley/knowledge/index/qdrant/qdranttest"
)

var collections atomic.Int64

func openFake(t *testing.T, srv *qdranttest.Server, dim int, logger *slog.Logger) *qdrant.Index {
	t.Helper()
	x, err := qdrant.Open(qdrant.Options{
		Host: "127.0.0.1", Port: srv.Port(), Dimension: dim, SkipCompatibilityCheck: true,
		Collection: fmt.Sprintf("test_%d", collections.Add(1)), Timeout: 2 * time.Second, BatchSize: 64, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestContractFake runs the shared index contract against the adapter
// talking gRPC to the in-process fake Qdrant.
func TestContractFake(t *testing.T) {
	srv, err := qdranttest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	indextest.Run(t, func(t *testing.T, dim int) index.Index { return openFake(t, srv, dim, nil) })
}

// TestContractReal runs the same contract against a real Qdrant when
// QDRANT_URL (e.g. http://localhost:6334, the gRPC port) is set.
func TestContractReal(t *testing.T) {
	raw := os.Getenv("QDRANT_URL")
	if raw == "" {
		t.Skip("QDRANT_URL not set: skipping contract tests against a real Qdrant")
	}
	host, port, tls, err := qdrant.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	run := time.Now().UnixNano()
	indextest.Run(t, func(t *testing.T, dim int) index.Index {
		x, err := qdrant.Open(qdrant.Options{
			Host: host, Port: port, UseTLS: tls, APIKey: os.Getenv("QDRANT_API_KEY"), Dimension: dim,
			Collection: fmt.Sprintf("parley_contract_%d_%d", run, collections.Add(1)),
		})
		if err != nil {
			t.Fatal(err)
		}
		return x
	})
}

func TestParseURL(t *testing.T) {
	for raw, want := range map[string]string{
		"http://localhost:6334": "localhost 6334 false", "https://q.example:443": "q.example 443 true", "http://10.0.0.1": "10.0.0.1 6334 false",
	} {
		h, p, tls, err := qdrant.ParseURL(raw)
		if got := fmt.Sprintf("%s %d %v", h, p, tls); err != nil || got != want {
			t.Errorf("ParseURL(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	if _, _, _, err := qdrant.ParseURL("::nope"); err == nil {
		t.Error("ParseURL accepted a malformed URL")
	}
}

// syncBuffer is a log sink safe for the queue's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOutage stops the fake Qdrant under a knowledge base: searches degrade
// to lexical with a warning, writes are queued, and after a restart the
// queued writes land and vector search sees them.
func TestOutage(t *testing.T) {
	ctx := context.Background()
	srv, err := qdranttest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	emb := local.New(local.Options{Dimension: 64})
	adapter := openFake(t, srv, emb.Dimension(), logger)
	queue := index.NewWriteQueue(adapter, index.QueueOptions{RetryInterval: 50 * time.Millisecond, Logger: logger})
	t.Cleanup(func() { queue.Close() })
	kb := knowledge.New(knowledge.Config{Logger: logger}, emb, queue)
	doc := func(id, title, body string) knowledge.Document {
		return knowledge.Document{ID: id, Title: title, Body: body, Format: knowledge.FormatText, Status: knowledge.StatusPublished, Language: "en", Version: 1}
	}
	for _, d := range []knowledge.Document{
		doc("refund", "Refund a card payment", "Open the order, choose refund and confirm. Money returns in five days."),
		doc("password", "Reset your password", "Use the forgotten password link on the sign-in page."),
	} {
		if _, err := kb.Ingest(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	collection := fmt.Sprintf("test_%d", collections.Load())
	if n := srv.Count(collection); n != 2 {
		t.Fatalf("fake qdrant holds %d points, want 2", n)
	}

	srv.Stop()
	hits, err := kb.Search(ctx, knowledge.Query{Text: "how do I get a refund"})
	if err != nil {
		t.Fatalf("search during outage: %v", err)
	}
	if len(hits) == 0 || hits[0].DocumentID != "refund" || hits[0].VectorRank != 0 {
		t.Fatalf("degraded search: %+v", hits)
	}
	if !strings.Contains(logs.String(), "degraded to lexical") {
		t.Fatalf("no degradation warning logged:\n%s", logs.String())
	}
	if _, err := kb.Ingest(ctx, doc("sim", "Activate a new SIM card", "Insert the SIM and text START to 2020.")); err != nil {
		t.Fatalf("ingest during outage must queue, got %v", err)
	}
	if err := kb.Delete(ctx, "password"); err != nil {
		t.Fatalf("delete during outage must queue, got %v", err)
	}
	if queue.Pending() == 0 {
		t.Fatal("no writes queued during the outage")
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for queue.Pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := queue.Pending(); n != 0 {
		t.Fatalf("%d writes still queued after restart", n)
	}
	if n := srv.Count(collection); n != 2 {
		t.Fatalf("after replay fake qdrant holds %d points, want 2 (refund + sim)", n)
	}
	hits, err = kb.Search(ctx, knowledge.Query{Text: "activate SIM", Mode: knowledge.VectorOnly})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) == 0 || hits[0].DocumentID != "sim" {
		t.Fatalf("vector search after restart: %+v", hits)
	}
	for _, h := range hits {
		if h.DocumentID == "password" {
			t.Fatalf("deleted document still found: %+v", hits)
		}
	}
}
