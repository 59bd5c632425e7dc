package index_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/parley-cc/parley/knowledge/index"
)

// flaky is an index that fails with ErrUnavailable while down and records
// the writes it applied, in order.
type flaky struct {
	mu      sync.Mutex
	down    bool
	applied []string
	closed  bool
}

func (f *flaky) op(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return fmt.Errorf("dial: %w", index.ErrUnavailable)
	}
	if name == "upsert bad" {
		return errors.New("invalid point")
	}
	f.applied = append(f.applied, name)
	return nil
}

func (f *flaky) setDown(d bool) { f.mu.Lock(); f.down = d; f.mu.Unlock() }

func (f *flaky) Upsert(_ context.Context, pts []index.Point) error {
	return f.op("upsert " + pts[0].ID)
}
func (f *flaky) Delete(_ context.Context, ids []string) error { return f.op("delete " + ids[0]) }
func (f *flaky) DeleteDocument(_ context.Context, id string) error {
	return f.op("deldoc " + id)
}
func (f *flaky) Chunks(context.Context, string) ([]index.ChunkRef, error) {
	return nil, f.op("chunks")
}
func (f *flaky) Search(context.Context, []float32, int, index.Filter) ([]index.Hit, error) {
	return nil, f.op("search")
}
func (f *flaky) Close() error { f.closed = true; return nil }

func TestWriteQueueKeepsOrderAcrossOutage(t *testing.T) {
	ctx := context.Background()
	f := &flaky{}
	q := index.NewWriteQueue(f, index.QueueOptions{RetryInterval: 10 * time.Millisecond, MaxPending: 3, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := q.Upsert(ctx, []index.Point{{ID: "a"}}); err != nil {
		t.Fatal(err)
	}
	if err := q.Upsert(ctx, []index.Point{{ID: "bad"}}); err == nil {
		t.Fatal("a rejected write must fail at once, not be queued")
	}
	f.setDown(true)
	if _, err := q.Search(ctx, nil, 1, index.Filter{}); !errors.Is(err, index.ErrUnavailable) {
		t.Fatalf("search while down: %v", err)
	}
	for _, w := range []func() error{
		func() error { return q.Upsert(ctx, []index.Point{{ID: "b"}}) },
		func() error { return q.Delete(ctx, []string{"a"}) },
		func() error { return q.DeleteDocument(ctx, "doc") },
	} {
		if err := w(); err != nil {
			t.Fatalf("write while down must queue: %v", err)
		}
	}
	if err := q.Upsert(ctx, []index.Point{{ID: "c"}}); !errors.Is(err, index.ErrQueueFull) {
		t.Fatalf("fourth queued write: %v, want ErrQueueFull", err)
	}
	if err := q.Flush(ctx); !errors.Is(err, index.ErrUnavailable) {
		t.Fatalf("flush while down: %v", err)
	}
	f.setDown(false)
	deadline := time.Now().Add(5 * time.Second)
	for q.Pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	f.mu.Lock()
	got := fmt.Sprint(f.applied)
	f.mu.Unlock()
	if want := "[upsert a upsert b delete a deldoc doc]"; got != want {
		t.Fatalf("applied %s, want %s", got, want)
	}
	if err := q.Close(); err != nil || !f.closed {
		t.Fatalf("close: %v, backend closed %v", err, f.closed)
	}
	if err := q.Upsert(ctx, []index.Point{{ID: "late"}}); err == nil {
		t.Fatal("write after close accepted")
	}
}
