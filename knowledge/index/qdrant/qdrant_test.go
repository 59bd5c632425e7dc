package qdrant_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/knowledge/assist"
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
		Collection: fmt.Sprintf("test_%d", collections.Add(1)), Timeout: 2 * time.Second, BatchSize: 64, Logger: logger, MaxReconnectDelay: 200 * time.Millisecond,
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

	if r, err := kb.SearchResult(ctx, knowledge.Query{Text: "how do I get a refund"}); err != nil || r.Degraded || r.Hits[0].VectorRank == 0 {
		t.Fatalf("search with qdrant up: %+v, %v", r, err)
	}

	srv.Stop()
	res, err := kb.SearchResult(ctx, knowledge.Query{Text: "how do I get a refund"})
	if err != nil {
		t.Fatalf("search during outage: %v", err)
	}
	hits := res.Hits
	if len(hits) == 0 || hits[0].DocumentID != "refund" || hits[0].VectorRank != 0 {
		t.Fatalf("degraded search: %+v", hits)
	}
	if !res.Degraded || !strings.Contains(res.Warning, "vector index unavailable") {
		t.Fatalf("degraded search not flagged: degraded=%v warning=%q", res.Degraded, res.Warning)
	}
	if !strings.Contains(logs.String(), "degraded to lexical") {
		t.Fatalf("no degradation warning logged:\n%s", logs.String())
	}
	if a, err := kb.Answer(ctx, knowledge.Query{Text: "how do I get a refund for a card payment"}); err != nil || !a.Found || !a.Degraded {
		t.Fatalf("answer during outage: %+v, %v", a, err)
	}
	if _, err := kb.Search(ctx, knowledge.Query{Text: "refund", Mode: knowledge.VectorOnly}); !errors.Is(err, index.ErrUnavailable) {
		t.Fatalf("vector-only search during outage: %v, want ErrUnavailable", err)
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

// TestOutageMidRun stops the fake Qdrant while articles are being ingested
// one after another and restarts it later: every write made during the
// outage is queued in order and lands once Qdrant is back, none is lost.
func TestOutageMidRun(t *testing.T) {
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
	collection := fmt.Sprintf("test_%d", collections.Load())
	queue := index.NewWriteQueue(adapter, index.QueueOptions{RetryInterval: 30 * time.Millisecond, Logger: logger})
	t.Cleanup(func() { queue.Close() })
	kb := knowledge.New(knowledge.Config{Logger: logger, BreakerInterval: 50 * time.Millisecond}, emb, queue)
	const docs = 60
	for i := 0; i < docs; i++ {
		switch i {
		case 15:
			srv.Stop()
		case 45:
			if err := srv.Restart(); err != nil {
				t.Fatal(err)
			}
		}
		// Every third document is edited again later: the queue must keep
		// the order so the newer version wins.
		d := knowledge.Document{ID: fmt.Sprintf("art-%d", i%50), Title: fmt.Sprintf("Article %d", i%50), Version: 1 + i/50,
			Body: fmt.Sprintf("Step one for topic %d. Step two for topic %d, version %d.", i%50, i%50, 1+i/50), Format: knowledge.FormatText,
			Status: knowledge.StatusPublished, Language: "en"}
		if _, err := kb.Ingest(ctx, d); err != nil {
			t.Fatalf("ingest %d (qdrant %s): %v", i, map[bool]string{true: "down", false: "up"}[i >= 15 && i < 45], err)
		}
		if i == 30 {
			if queue.Pending() == 0 {
				t.Fatal("nothing queued while qdrant is down")
			}
			for j := 0; j < 2; j++ { // the second skips the index that just failed
				if r, err := kb.SearchResult(ctx, knowledge.Query{Text: "topic 3 step"}); err != nil || !r.Degraded || len(r.Hits) == 0 || r.Hits[0].DocumentID != "art-3" {
					t.Fatalf("search %d while down: %+v, %v", j, r, err)
				}
			}
		}
	}
	// The queue retries on its own once gRPC has reconnected.
	deadline := time.Now().Add(10 * time.Second)
	for queue.Pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := queue.Pending(); n != 0 {
		t.Fatalf("%d writes still queued 10s after qdrant came back", n)
	}
	if n := srv.Count(collection); n != 50 {
		t.Fatalf("qdrant holds %d points after the outage, want 50", n)
	}
	// The re-edited articles (versions 2) won over their queued version 1.
	for i := 0; i < 10; i++ {
		refs, err := adapter.Chunks(ctx, fmt.Sprintf("art-%d", i))
		if err != nil || len(refs) != 1 {
			t.Fatalf("chunks of art-%d: %v, %v", i, refs, err)
		}
	}
	hits, err := adapter.Search(ctx, mustEmbed(t, emb, "Step two for topic 7, version 2."), 1, index.Filter{})
	if err != nil || len(hits) != 1 || hits[0].DocumentID != "art-7" || hits[0].Version != 2 {
		t.Fatalf("re-edited article after replay: %+v, %v", hits, err)
	}
	// Hybrid search uses the vector index again once it answers.
	var r knowledge.Result
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if r, err = kb.SearchResult(ctx, knowledge.Query{Text: "topic 3 step"}); err == nil && !r.Degraded || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || r.Degraded || r.Hits[0].VectorRank == 0 {
		t.Fatalf("search after restart: %+v, %v", r, err)
	}
	if !strings.Contains(logs.String(), "queueing writes for retry") || !strings.Contains(logs.String(), "queued writes applied") {
		t.Fatalf("outage and recovery not logged:\n%s", logs.String())
	}
}

func mustEmbed(t *testing.T, emb *local.Embedder, text string) []float32 {
	t.Helper()
	v, err := emb.Embed(context.Background(), []string{text})
	if err != nil {
		t.Fatal(err)
	}
	return v[0]
}

// TestHangingQdrant: a Qdrant that accepts connections but never answers
// (a network black hole) must not stall searches until the adapter's
// timeout: hybrid search gives the vector index two thirds of the
// caller's deadline, then answers from the lexical retrievers, and agent
// assist still pushes suggestions within its bound.
func TestHangingQdrant(t *testing.T) {
	ctx := context.Background()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	emb := local.New(local.Options{Dimension: 64})
	adapter, err := qdrant.Open(qdrant.Options{Host: "127.0.0.1", Port: lis.Addr().(*net.TCPAddr).Port, Dimension: emb.Dimension(),
		SkipCompatibilityCheck: true, Timeout: 200 * time.Millisecond, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	queue := index.NewWriteQueue(adapter, index.QueueOptions{RetryInterval: time.Hour, Logger: logger})
	t.Cleanup(func() { queue.Close() })
	kb := knowledge.New(knowledge.Config{Logger: logger, BreakerInterval: 10 * time.Millisecond}, emb, queue)
	for _, d := range []knowledge.Document{
		{ID: "refund", Title: "Refund a card payment", Body: "Open the order, choose refund and confirm. Money returns in five days."},
		{ID: "router", Title: "Router will not connect", Body: "Unplug the router for 30 seconds and wait for the green light."},
	} {
		d.Format, d.Status, d.Language, d.Version = knowledge.FormatText, knowledge.StatusPublished, "en", 1
		if _, err := kb.Ingest(ctx, d); err != nil {
			t.Fatalf("ingest with a hanging qdrant must queue: %v", err)
		}
	}
	if queue.Pending() == 0 {
		t.Fatal("writes to the hanging qdrant were not queued")
	}
	sctx, cancel := context.WithTimeout(ctx, 600*time.Millisecond)
	r, err := kb.SearchResult(sctx, knowledge.Query{Text: "my router will not connect"})
	cancel()
	if err != nil || !r.Degraded || len(r.Hits) == 0 || r.Hits[0].DocumentID != "router" {
		t.Fatalf("search with a hanging qdrant: %+v, %v", r, err)
	}
	time.Sleep(20 * time.Millisecond) // past the breaker: assist waits on the hanging index too
	as := assist.New(kb, assist.Options{Timeout: time.Second})
	ch, stop := as.Subscribe("call-1")
	defer stop()
	if _, err := as.Utterance(ctx, assist.Utterance{CallID: "call-1", Speaker: "caller", Text: "I want a refund of my card payment", Final: true}); err != nil {
		t.Fatalf("assist with a hanging qdrant: %v", err)
	}
	if sg := <-ch; sg.Passages[0].DocumentID != "refund" {
		t.Fatalf("suggestion %+v", sg)
	}
}
