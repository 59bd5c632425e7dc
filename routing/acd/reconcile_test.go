package acd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-cc/parley/actors"
	"github.com/parley-cc/parley/routing"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/sqlite"
)

const reconcileYAML = `
skills: [support]
offers: {timeout: 30s, max_misses: 3}
queues:
  - {id: support, wrap_up: 0s, steps: [{require: {skill: support}}]}
`

// reconcileFixture is one member with a SQLite store holding agents
// agents (a0..aN-1, skill support), and a routing service whose reconciler
// does not run on its own.
func reconcileFixture(tb testing.TB, agents int) (*Service, *actors.Node, *sqlite.Store) {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "parley.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	for i := range agents {
		if err := st.CreateAgent(ctx, &store.Agent{ID: fmt.Sprint("a", i), Name: "Agent", Capacity: 1,
			Skills: []store.Skill{{Name: "support", Proficiency: 3}}}); err != nil {
			tb.Fatal(err)
		}
	}
	cfg, err := routing.ParseConfig([]byte(reconcileYAML))
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := actors.Start(ctx, actors.ClusterConfig{}, actors.Deps{Store: st, Logger: log, Routing: cfg})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = n.Stop(false) })
	svc, err := New(Options{Node: n, Store: st, Config: cfg, ReconcileEvery: -1, FullSweepEvery: -1, Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(svc.Close)
	return svc, n, st
}

func startCall(tb testing.TB, n *actors.Node, id string) {
	tb.Helper()
	if _, _, err := n.Calls().Start(context.Background(), store.Call{ID: id, Direction: store.DirectionInbound, Channel: "sip"}); err != nil {
		tb.Fatal(err)
	}
}

// TestIncrementalReconcile: without reading the store's agents, a pass
// finishes an agent still holding the contact of a call that ended (its
// Act never finished it) and abandons a waiting contact whose call ended;
// live contacts are left alone, and the agent is no longer watched once
// it holds nothing.
func TestIncrementalReconcile(t *testing.T) {
	svc, n, _ := reconcileFixture(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := svc.Login(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	sub, _, err := svc.Subscribe(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close(context.Background(), false)
	if _, err := svc.SetPresence(ctx, "a1", actors.PresenceAvailable, ""); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"call-talk", "call-wait", "call-live"} {
		startCall(t, n, id)
	}
	tk, err := svc.Handoff(ctx, Request{CallID: "call-talk", Queue: "support", Reason: "requested", Turns: []store.Turn{}})
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Close()
	var offer *actors.Offer
	for offer == nil {
		select {
		case ev := <-sub.C:
			if ev.Kind == actors.EventOffer {
				offer = ev.Offer
			}
		case <-ctx.Done():
			t.Fatal("no offer")
		}
	}
	if _, err := svc.Answer(ctx, "a1", offer.ID, true); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"call-wait", "call-live"} {
		tw, err := svc.Handoff(ctx, Request{CallID: id, Queue: "support", Reason: "requested", Turns: []store.Turn{}})
		if err != nil {
			t.Fatal(err)
		}
		tw.Close()
	}
	// Both the talking and one waiting call end with nobody telling routing.
	for _, id := range []string{"call-talk", "call-wait"} {
		if _, err := n.Calls().Hangup(ctx, id, "caller", "", "leg crashed"); err != nil {
			t.Fatal(err)
		}
	}
	cleared, err := svc.Reconcile(ctx)
	if err != nil || cleared != 2 {
		t.Fatalf("reconcile cleared %d (%v), want 2", cleared, err)
	}
	a, err := svc.Agent(ctx, "a1")
	if err != nil || len(a.Active) != 0 {
		t.Fatalf("a1 after reconcile: %+v %v", a, err)
	}
	if p, err := svc.Position(ctx, "support", "call-wait"); err != nil || p.State != "gone" {
		t.Fatalf("call-wait after reconcile: %+v %v", p, err)
	}
	if p, err := svc.Position(ctx, "support", "call-live"); err != nil || p.State == "gone" {
		t.Fatalf("call-live after reconcile: %+v %v", p, err)
	}
	svc.mu.Lock()
	watched := len(svc.watched)
	svc.mu.Unlock()
	if watched != 0 {
		t.Fatalf("%d agents still watched after their contact was finished", watched)
	}
	if cleared, err := svc.Reconcile(ctx); err != nil || cleared != 0 {
		t.Fatalf("second pass cleared %d (%v), want 0", cleared, err)
	}
}

// BenchmarkReconcile10kAgents: one reconciler pass with 10,000 agents in
// the store, 20 contacts waiting on live calls and one agent talking.
// incremental is the pass the reconciler runs; full also reads every agent
// of the store (the old pass, now every FullSweepEvery-th).
func BenchmarkReconcile10kAgents(b *testing.B) {
	svc, n, _ := reconcileFixture(b, 10_000)
	ctx := context.Background()
	for i := range 20 {
		id := fmt.Sprint("call-", i)
		startCall(b, n, id)
		t, err := svc.Handoff(ctx, Request{CallID: id, Queue: "support", Reason: "requested", Turns: []store.Turn{}})
		if err != nil {
			b.Fatal(err)
		}
		t.Close()
	}
	if _, err := svc.ReconcileAll(ctx); err != nil { // activates every Agent grain once
		b.Fatal(err)
	}
	for _, mode := range []string{"incremental", "full"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				var err error
				if mode == "full" {
					_, err = svc.ReconcileAll(ctx)
				} else {
					_, err = svc.Reconcile(ctx)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
