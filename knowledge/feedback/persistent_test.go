package feedback

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/sqlite"
)

// flaky fails AppendKBSearches while down is set.
type flaky struct {
	Log
	down atomic.Bool
}

func (f *flaky) AppendKBSearches(ctx context.Context, s []store.KBSearch) error {
	if f.down.Load() {
		return errors.New("database unreachable")
	}
	return f.Log.AppendKBSearches(ctx, s)
}

func TestPersistentSharedAcrossNodesAndRestarts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	opts := PersistentOptions{FlushInterval: time.Hour} // flushed by hand
	a, err := OpenPersistent(ctx, db, opts)
	if err != nil {
		t.Fatal(err)
	}
	fl := &flaky{Log: db}
	b, err := OpenPersistent(ctx, fl, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := a.Record(ctx, Vote{Query: "refund my card", DocumentID: "kb-refund", Version: 2, Helpful: true, Source: SourceAgent, Actor: "alice", CallID: "c-1"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Record(ctx, Vote{DocumentID: "kb-router", Helpful: true, Source: "robot"}); err == nil {
		t.Fatal("vote with an unknown source accepted")
	}
	if err := a.Record(ctx, Vote{Query: "router red light", DocumentID: "kb-router", Helpful: false, Source: SourceBot}); err != nil {
		t.Fatal(err)
	}
	if got := a.Boost("refund my card", "kb-refund"); got <= 0.5 {
		t.Fatalf("boost on the voting node = %v, want > 0.5", got)
	}
	if got := b.Boost("refund my card", "kb-refund"); got != 0 {
		t.Fatalf("other node saw the votes before syncing: %v", got)
	}
	// Node b logs searches while the database is down: they are kept.
	fl.down.Store(true)
	b.ObserveSearch("quantum entanglement billing", nil, false)
	b.ObserveSearch("refund my card", []string{"kb-refund"}, true)
	if err := b.Flush(ctx); err == nil {
		t.Fatal("flush with the database down reported success")
	}
	fl.down.Store(false)
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.Boost("refund my card", "kb-refund"); got <= 0.5 {
		t.Fatalf("boost on the other node after sync = %v, want > 0.5", got)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Store{"a": a, "b": b} {
		an := Report(s, []string{"kb-refund", "kb-router", "kb-unused"}, 10)
		if len(an.TopQueries) != 2 || len(an.NeverUsed) != 1 || an.NeverUsed[0] != "kb-unused" {
			t.Fatalf("node %s analytics %+v: want 2 top queries and kb-unused never used", name, an)
		}
		if len(an.Unhelpful) != 1 || an.Unhelpful[0].DocumentID != "kb-router" {
			t.Fatalf("node %s unhelpful %+v, want kb-router", name, an.Unhelpful)
		}
		found := false
		for _, q := range an.NoGoodResult {
			found = found || q.Query == "quantum entanglement billing"
		}
		if !found {
			t.Fatalf("node %s no-good-result %+v lacks the unanswered query", name, an.NoGoodResult)
		}
	}
	_ = a.Close(ctx)
	_ = b.Close(ctx)
	// A restarted node replays everything.
	c, err := OpenPersistent(ctx, db, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if got, want := c.Boost("refund my card", "kb-refund"), a.Boost("refund my card", "kb-refund"); got != want {
		t.Fatalf("boost after restart = %v, want %v", got, want)
	}
	if got := c.TopQueries(1); len(got) != 1 || got[0].Count != 1 {
		t.Fatalf("top queries after restart %+v", got)
	}
}
