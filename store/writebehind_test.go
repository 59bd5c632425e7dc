package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/sqlite"
)

// outage holds a real SQLite store that the test can take down (close) and
// bring back (reopen the same file); while down every call fails with the
// driver's own error.
type outage struct {
	t    *testing.T
	path string
	cur  atomic.Pointer[sqlite.Store]
}

func newOutage(t *testing.T) *outage {
	o := &outage{t: t, path: filepath.Join(t.TempDir(), "parley.db")}
	o.up()
	t.Cleanup(func() { o.cur.Load().Close() })
	return o
}

func (o *outage) store() store.Store { return o.cur.Load() }

func (o *outage) down() {
	if err := o.cur.Load().Close(); err != nil {
		o.t.Fatalf("take database down: %v", err)
	}
}

func (o *outage) up() {
	s, err := sqlite.Open(context.Background(), o.path)
	if err != nil {
		o.t.Fatalf("bring database up: %v", err)
	}
	o.cur.Store(s)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func fastBackoff() store.Backoff {
	return store.Backoff{Initial: time.Millisecond, Max: 20 * time.Millisecond}
}

func TestWriteBehindKeepsWritesThroughAnOutageInOrder(t *testing.T) {
	ctx := context.Background()
	db := newOutage(t)
	const calls, turns = 3, 20
	for i := range calls {
		c := store.Call{ID: fmt.Sprintf("call-%d", i), State: store.CallBot}
		if err := db.store().SaveCall(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	var transient, permanent atomic.Int64
	wb := store.NewWriteBehind(store.WriteBehindOptions{
		Backoff: fastBackoff(),
		OnError: func(key string, err error, perm bool) {
			if perm {
				permanent.Add(1)
			} else {
				transient.Add(1)
			}
		},
	})
	defer wb.Close(ctx)

	db.down()
	var mu sync.Mutex
	applied := map[string][]int{} // order in which each key's writes succeeded
	for seq := 1; seq <= turns; seq++ {
		for i := range calls {
			key := fmt.Sprintf("call-%d", i)
			turn := store.Turn{CallID: key, Seq: seq, Speaker: store.SpeakerCaller, Text: fmt.Sprintf("turn %d", seq)}
			err := wb.Enqueue(key, func(ctx context.Context) error {
				s := db.store()
				if err := s.AppendTurn(ctx, turn); err != nil {
					return err
				}
				// Not commutative: only in-order application leaves the last value.
				if err := s.SaveGrainState(ctx, "call", key, []byte(fmt.Sprint(seq))); err != nil {
					return err
				}
				mu.Lock()
				applied[key] = append(applied[key], seq)
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "failed attempts while the database is down", func() bool { return wb.Stats().Retries >= 3*calls })
	if got := wb.Pending(); got != calls*turns {
		t.Fatalf("Pending() = %d while down, want %d", got, calls*turns)
	}
	if transient.Load() == 0 {
		t.Fatal("OnError heard of no failed attempt")
	}
	if st := wb.Stats(); st.Oldest <= 0 {
		t.Fatalf("Stats().Oldest = %v while writes wait, want > 0", st.Oldest)
	}

	db.up()
	flushCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := wb.Flush(flushCtx); err != nil {
		t.Fatal(err)
	}
	st := wb.Stats()
	if st.Pending != 0 || st.Oldest != 0 || st.Written != calls*turns || st.Failed != 0 || permanent.Load() != 0 {
		t.Fatalf("stats after recovery %+v (permanent %d), want every write written", st, permanent.Load())
	}
	for i := range calls {
		key := fmt.Sprintf("call-%d", i)
		ts, err := db.store().ListTurns(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != turns {
			t.Fatalf("%s: %d turns stored, want %d", key, len(ts), turns)
		}
		for k, tr := range ts {
			if tr.Seq != k+1 || tr.Text != fmt.Sprintf("turn %d", k+1) {
				t.Fatalf("%s turn %d = %+v", key, k, tr)
			}
		}
		state, err := db.store().LoadGrainState(ctx, "call", key)
		if err != nil || string(state) != fmt.Sprint(turns) {
			t.Fatalf("%s: last state %q (%v), want %q", key, state, err, fmt.Sprint(turns))
		}
		for k, seq := range applied[key] {
			if seq != k+1 {
				t.Fatalf("%s applied out of order: %v", key, applied[key])
			}
		}
	}
}

func TestWriteBehindSkipsPermanentFailures(t *testing.T) {
	ctx := context.Background()
	db := newOutage(t)
	var reported []error
	var mu sync.Mutex
	wb := store.NewWriteBehind(store.WriteBehindOptions{Backoff: fastBackoff(), OnError: func(key string, err error, perm bool) {
		mu.Lock()
		defer mu.Unlock()
		if perm {
			reported = append(reported, err)
		}
	}})
	defer wb.Close(ctx)
	// A turn of a call never saved can never be stored; the write behind it must still go.
	must(t, wb.Enqueue("k", func(ctx context.Context) error {
		return db.store().AppendTurn(ctx, store.Turn{CallID: "never-saved", Seq: 1})
	}))
	must(t, wb.Enqueue("k", func(ctx context.Context) error {
		return db.store().SaveGrainState(ctx, "queue", "q1", []byte("after"))
	}))
	must(t, wb.Flush(ctx))
	st := wb.Stats()
	if st.Failed != 1 || st.Written != 1 || st.Retries != 0 {
		t.Fatalf("stats %+v, want one failed without retries and one written", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 || !errors.Is(reported[0], store.ErrNotFound) {
		t.Fatalf("permanent errors reported: %v", reported)
	}
	if got, err := db.store().LoadGrainState(ctx, "queue", "q1"); err != nil || string(got) != "after" {
		t.Fatalf("write after the failed one: %q, %v", got, err)
	}
}

func TestWriteBehindBacklogAndClose(t *testing.T) {
	ctx := context.Background()
	db := newOutage(t)
	db.down()
	wb := store.NewWriteBehind(store.WriteBehindOptions{Backoff: fastBackoff(), MaxPending: 2})
	write := func(ctx context.Context) error { return db.store().SaveGrainState(ctx, "agent", "a1", []byte("x")) }
	must(t, wb.Enqueue("a1", write))
	must(t, wb.Enqueue("a2", write))
	if !wb.HasPending("a1") || wb.HasPending("a3") {
		t.Fatalf("HasPending(a1)=%v HasPending(a3)=%v, want true, false", wb.HasPending("a1"), wb.HasPending("a3"))
	}
	if err := wb.Enqueue("a3", write); !errors.Is(err, store.ErrBacklogFull) {
		t.Fatalf("third write: %v, want ErrBacklogFull", err)
	}
	if err := wb.Enqueue("a3", nil); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("nil write: %v, want ErrInvalid", err)
	}
	// Closing while the database is still down gives up after ctx and says
	// how much was left.
	closeCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := wb.Close(closeCtx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "2 writes pending") {
		t.Fatalf("close while down: %v, want a deadline error naming 2 pending writes", err)
	}
	if err := wb.Enqueue("a1", write); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("enqueue after close: %v, want ErrClosed", err)
	}
	if wb.Pending() != 2 {
		t.Fatalf("Pending() after close = %d, want 2", wb.Pending())
	}
}

func TestWriteBehindConcurrentProducers(t *testing.T) {
	ctx := context.Background()
	db := newOutage(t)
	wb := store.NewWriteBehind(store.WriteBehindOptions{Backoff: fastBackoff()})
	const producers, each = 8, 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string][]int{}
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("agent-%d", p%4) // two producers share each key
			for i := range each {
				v := p*each + i
				must(t, wb.Enqueue(key, func(ctx context.Context) error {
					if err := db.store().SaveGrainState(ctx, "agent", key, []byte(fmt.Sprint(v))); err != nil {
						return err
					}
					mu.Lock()
					got[key] = append(got[key], v)
					mu.Unlock()
					return nil
				}))
				_ = wb.Pending()
			}
		}()
	}
	wg.Wait()
	must(t, wb.Close(ctx))
	total := 0
	for key, vs := range got {
		total += len(vs)
		// Each producer's writes keep their order within the key.
		last := map[int]int{}
		for _, v := range vs {
			p := v / each
			if prev, ok := last[p]; ok && v <= prev {
				t.Fatalf("%s: producer %d's writes reordered: %v", key, p, vs)
			}
			last[p] = v
		}
	}
	if total != producers*each {
		t.Fatalf("%d writes applied, want %d", total, producers*each)
	}
}

func TestWriteBehindConcurrencyCap(t *testing.T) {
	ctx := context.Background()
	const limit = 3
	var inFlight, peak atomic.Int64
	release := make(chan struct{})
	wb := store.NewWriteBehind(store.WriteBehindOptions{Concurrency: limit})
	for i := range 10 {
		must(t, wb.Enqueue(fmt.Sprintf("call-%d", i), func(context.Context) error {
			n := inFlight.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			<-release
			inFlight.Add(-1)
			return nil
		}))
	}
	waitFor(t, "the first attempts to start", func() bool { return inFlight.Load() == limit })
	close(release)
	must(t, wb.Close(ctx))
	if p := peak.Load(); p != limit {
		t.Fatalf("peak attempts in flight %d, want %d", p, limit)
	}
	if st := wb.Stats(); st.Written != 10 {
		t.Fatalf("written %d, want 10", st.Written)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Error(err)
	}
}

// BenchmarkWriteBehindAppendTurn measures turns per second through a
// WriteBehind into SQLite, spread over 16 concurrent calls, including the
// final Flush.
func BenchmarkWriteBehindAppendTurn(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "parley.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const calls = 16
	for i := range calls {
		c := store.Call{ID: fmt.Sprintf("call-%d", i), State: store.CallBot}
		if err := s.SaveCall(ctx, &c); err != nil {
			b.Fatal(err)
		}
	}
	wb := store.NewWriteBehind(store.WriteBehindOptions{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		turn := store.Turn{CallID: fmt.Sprintf("call-%d", i%calls), Seq: i/calls + 1, Speaker: store.SpeakerCaller, Text: "hello"}
		if err := wb.Enqueue(turn.CallID, func(ctx context.Context) error { return s.AppendTurn(ctx, turn) }); err != nil {
			b.Fatal(err)
		}
	}
	if err := wb.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if st := wb.Stats(); st.Written != uint64(b.N) {
		b.Fatalf("%d of %d turns written", st.Written, b.N)
	}
}
