package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBacklogFull is returned by WriteBehind.Enqueue when MaxPending writes
// are waiting already; the write was not accepted.
var ErrBacklogFull = errors.New("write-behind backlog full")

// ErrClosed is returned by WriteBehind.Enqueue after Close.
var ErrClosed = errors.New("write-behind closed")

// Write is one deferred store write, e.g. func(ctx) error { return
// s.AppendTurn(ctx, t) }. It must be safe to run more than once (the store's
// idempotent appends and upserts are).
type Write func(ctx context.Context) error

// WriteBehindOptions tunes a WriteBehind; the zero value is usable.
type WriteBehindOptions struct {
	// Backoff spaces the retries of a failing write; its Attempts is ignored
	// because a write is retried until it succeeds.
	Backoff Backoff
	// AttemptTimeout bounds one attempt; default 10 s.
	AttemptTimeout time.Duration
	// MaxPending caps the writes held in memory; 0 means no cap.
	MaxPending int
	// Concurrency caps the attempts in flight across keys, so that thousands
	// of calls do not hammer a database that is coming back; default 16.
	Concurrency int
	// OnError, if set, hears of every failed attempt (for logs); permanent
	// says the write was given up.
	OnError func(key string, err error, permanent bool)
}

// queued is an accepted write and when it was accepted.
type queued struct {
	write Write
	at    time.Time
}

// WriteBehindStats are counters for /metrics.
type WriteBehindStats struct {
	Pending int           // accepted, not yet written
	Oldest  time.Duration // age of the oldest pending write, 0 when none
	Written uint64        // writes that succeeded
	Retries uint64        // failed attempts that were retried
	Failed  uint64        // writes given up on a permanent error
}

// WriteBehind queues store writes and applies them in order per key (a call
// id, a grain id), retrying each until the database takes it, so that
// writes made while the database is down are applied once it is back rather
// than lost. A write that fails with a permanent error (IsPermanent: unknown
// id, conflict, invalid record) can never succeed: it is reported to OnError,
// counted in Failed and skipped so the writes behind it go on. Writes live in
// memory: they survive a database outage, not a crash of this process.
//
// Key a call's SaveCall, AppendTurn and AppendCallEvent by the call id, so
// that the call row is written before the turns that refer to it.
type WriteBehind struct {
	opts WriteBehindOptions

	mu      sync.Mutex
	keys    map[string][]queued // pending writes of each key with any
	pending int
	idle    chan struct{} // closed while pending == 0
	closed  bool

	slots   chan struct{}   // one token per attempt in flight
	stop    context.Context // cancelled when Close gives up waiting
	cancel  context.CancelFunc
	workers sync.WaitGroup

	written, retries, failed atomic.Uint64
}

// NewWriteBehind returns an empty WriteBehind.
func NewWriteBehind(opts WriteBehindOptions) *WriteBehind {
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 10 * time.Second
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	stop, cancel := context.WithCancel(context.Background())
	idle := make(chan struct{})
	close(idle)
	return &WriteBehind{opts: opts, keys: map[string][]queued{}, idle: idle, slots: make(chan struct{}, opts.Concurrency),
		stop: stop, cancel: cancel}
}

// Enqueue accepts write to run after every write enqueued before it under
// the same key. It returns ErrBacklogFull or ErrClosed when it does not
// accept the write.
func (w *WriteBehind) Enqueue(key string, write Write) error {
	if write == nil {
		return Invalidf("write-behind: nil write for key %q", key)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.opts.MaxPending > 0 && w.pending >= w.opts.MaxPending {
		return fmt.Errorf("key %q: %w (%d writes pending)", key, ErrBacklogFull, w.pending)
	}
	if w.pending == 0 {
		w.idle = make(chan struct{})
	}
	w.pending++
	q, busy := w.keys[key]
	w.keys[key] = append(q, queued{write: write, at: time.Now()})
	if !busy {
		w.workers.Add(1)
		go w.drain(key)
	}
	return nil
}

// Pending returns how many accepted writes are not yet written; /readyz and
// /metrics report it.
func (w *WriteBehind) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending
}

// HasPending reports whether key has accepted writes not yet written. A
// writer that owns key (a grain) sends its next write through Enqueue while
// this is true, so that it is not applied before the earlier ones.
func (w *WriteBehind) HasPending(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.keys[key]) > 0
}

// Stats returns the counters; Oldest lets /readyz tell a brief hiccup from
// an outage.
func (w *WriteBehind) Stats() WriteBehindStats {
	w.mu.Lock()
	st := WriteBehindStats{Pending: w.pending}
	var oldest time.Time
	for _, q := range w.keys {
		if oldest.IsZero() || q[0].at.Before(oldest) {
			oldest = q[0].at
		}
	}
	w.mu.Unlock()
	if !oldest.IsZero() {
		st.Oldest = time.Since(oldest)
	}
	st.Written, st.Retries, st.Failed = w.written.Load(), w.retries.Load(), w.failed.Load()
	return st
}

// Flush waits until every accepted write is done or ctx ends.
func (w *WriteBehind) Flush(ctx context.Context) error {
	w.mu.Lock()
	idle := w.idle
	w.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush with %d writes pending: %w", w.Pending(), ctx.Err())
	}
}

// Close refuses new writes, waits until the pending ones are written or ctx
// ends, then stops retrying; the error says how many writes were left.
func (w *WriteBehind) Close(ctx context.Context) error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	err := w.Flush(ctx)
	w.cancel()
	w.workers.Wait()
	if err != nil {
		return fmt.Errorf("write-behind closed: %w", err)
	}
	return nil
}

// drain runs key's writes one after another until none is left.
func (w *WriteBehind) drain(key string) {
	defer w.workers.Done()
	for {
		w.mu.Lock()
		write := w.keys[key][0].write
		w.mu.Unlock()

		if !w.apply(key, write) {
			return // stopped by Close; the write stays pending
		}

		w.mu.Lock()
		q := w.keys[key]
		q[0] = queued{} // let the done write's closure be collected
		q = q[1:]
		w.pending--
		if w.pending == 0 {
			close(w.idle)
		}
		if len(q) == 0 {
			delete(w.keys, key)
			w.mu.Unlock()
			return
		}
		w.keys[key] = q
		w.mu.Unlock()
	}
}

// apply retries write until it succeeds or fails permanently (true), or
// Close stops it (false).
func (w *WriteBehind) apply(key string, write Write) bool {
	for attempt := 0; ; attempt++ {
		select {
		case w.slots <- struct{}{}:
		case <-w.stop.Done():
			return false
		}
		ctx, cancel := context.WithTimeout(w.stop, w.opts.AttemptTimeout)
		err := write(ctx)
		cancel()
		<-w.slots
		switch {
		case err == nil:
			w.written.Add(1)
			return true
		case w.stop.Err() != nil:
			return false
		case IsPermanent(err):
			w.failed.Add(1)
			w.report(key, err, true)
			return true
		}
		w.retries.Add(1)
		w.report(key, err, false)
		if sleep(w.stop, w.opts.Backoff.Delay(attempt)) != nil {
			return false
		}
	}
}

func (w *WriteBehind) report(key string, err error, permanent bool) {
	if w.opts.OnError != nil {
		w.opts.OnError(key, err, permanent)
	}
}
