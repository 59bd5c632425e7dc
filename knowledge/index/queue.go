package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// QueueOptions tune a WriteQueue; zero values take the defaults noted.
type QueueOptions struct {
	RetryInterval time.Duration // pause between retries; default 1s
	MaxPending    int           // writes kept while the backend is down; default 100000
	Logger        *slog.Logger
}

// WriteQueue wraps an Index so that writes failing with ErrUnavailable are
// kept in order and retried in the background instead of being lost.
// Reads pass straight through (and fail while the backend is down).
type WriteQueue struct {
	inner Index
	o     QueueOptions

	mu      sync.Mutex
	pending []write
	stop    chan struct{}
	done    chan struct{}
	closed  bool
}

type write struct {
	what string
	do   func(ctx context.Context) error
}

// ErrQueueFull reports that the backend has been down for longer than
// MaxPending writes.
var ErrQueueFull = errors.New("write queue full")

// NewWriteQueue starts the retry loop over inner.
func NewWriteQueue(inner Index, o QueueOptions) *WriteQueue {
	if o.RetryInterval <= 0 {
		o.RetryInterval = time.Second
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 100000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	q := &WriteQueue{inner: inner, o: o, stop: make(chan struct{}), done: make(chan struct{})}
	go q.loop()
	return q
}

// Pending returns how many writes wait for the backend.
func (q *WriteQueue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

func (q *WriteQueue) submit(ctx context.Context, w write) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return fmt.Errorf("%s: write queue closed", w.what)
	}
	if len(q.pending) == 0 {
		q.mu.Unlock()
		err := w.do(ctx)
		if err == nil || !errors.Is(err, ErrUnavailable) {
			return err
		}
		q.mu.Lock()
		q.o.Logger.Warn("vector index unavailable: queueing writes for retry", "write", w.what, "err", err)
	}
	defer q.mu.Unlock()
	if q.closed {
		return fmt.Errorf("%s: write queue closed", w.what)
	}
	if len(q.pending) >= q.o.MaxPending {
		return fmt.Errorf("%s: %w (%d pending)", w.what, ErrQueueFull, len(q.pending))
	}
	// Once anything is queued, later writes queue behind it to keep order.
	q.pending = append(q.pending, w)
	return nil
}

func (q *WriteQueue) loop() {
	defer close(q.done)
	t := time.NewTicker(q.o.RetryInterval)
	defer t.Stop()
	for {
		select {
		case <-q.stop:
			return
		case <-t.C:
		}
		q.drain(context.Background())
	}
}

// drain applies queued writes in order until one fails; it reports
// whether the queue is empty.
func (q *WriteQueue) drain(ctx context.Context) bool {
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.mu.Unlock()
			return true
		}
		w := q.pending[0]
		q.mu.Unlock()
		err := w.do(ctx)
		if err != nil && errors.Is(err, ErrUnavailable) {
			return false
		}
		q.mu.Lock()
		q.pending = q.pending[1:]
		n := len(q.pending)
		q.mu.Unlock()
		if err != nil {
			q.o.Logger.Error("queued vector index write rejected; dropped", "write", w.what, "err", err)
		} else if n == 0 {
			q.o.Logger.Info("vector index reachable again: queued writes applied")
		}
	}
}

// Flush retries queued writes now and reports whether any remain.
func (q *WriteQueue) Flush(ctx context.Context) error {
	if !q.drain(ctx) {
		return fmt.Errorf("flush write queue: %w: %d writes pending", ErrUnavailable, q.Pending())
	}
	return nil
}

// Upsert writes now or queues the write while the backend is down.
func (q *WriteQueue) Upsert(ctx context.Context, points []Point) error {
	for i := range points {
		if points[i].ID == "" {
			return fmt.Errorf("upsert point %d: empty id", i)
		}
	}
	cp := append([]Point(nil), points...)
	return q.submit(ctx, write{fmt.Sprintf("upsert %d points", len(cp)), func(ctx context.Context) error { return q.inner.Upsert(ctx, cp) }})
}

// Delete removes points now or queues the removal.
func (q *WriteQueue) Delete(ctx context.Context, ids []string) error {
	cp := append([]string(nil), ids...)
	return q.submit(ctx, write{fmt.Sprintf("delete %d points", len(cp)), func(ctx context.Context) error { return q.inner.Delete(ctx, cp) }})
}

// DeleteDocument removes a document now or queues the removal.
func (q *WriteQueue) DeleteDocument(ctx context.Context, documentID string) error {
	return q.submit(ctx, write{"delete document " + documentID, func(ctx context.Context) error { return q.inner.DeleteDocument(ctx, documentID) }})
}

// Chunks reads through to the backend.
func (q *WriteQueue) Chunks(ctx context.Context, documentID string) ([]ChunkRef, error) {
	return q.inner.Chunks(ctx, documentID)
}

// Search reads through to the backend.
func (q *WriteQueue) Search(ctx context.Context, vector []float32, k int, f Filter) ([]Hit, error) {
	return q.inner.Search(ctx, vector, k, f)
}

// Close stops retrying, makes a last attempt to apply queued writes and
// closes the backend; writes still pending are reported as an error.
func (q *WriteQueue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.mu.Unlock()
	close(q.stop)
	<-q.done
	ferr := q.Flush(context.Background())
	cerr := q.inner.Close()
	return errors.Join(ferr, cerr)
}

var _ Index = (*WriteQueue)(nil)
