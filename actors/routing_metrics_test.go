package actors

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-cc/parley/store"
)

// gathered reads one sample from reg: the metric called name whose labels
// include every pair of labels; ok is false when there is none.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels ...string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			}
		}
	}
	return 0, false
}

// TestRoutingMetricsSurviveQueueReactivation: the member's routing
// counters count offers, accepts, rejects, timeouts, abandons and answers
// within the service level; the waiting gauges follow the queue, are
// withdrawn when its grain passivates, and the counters go on from where
// they were when the grain activates again (they are the member's, not the
// grain's).
func TestRoutingMetricsSurviveQueueReactivation(t *testing.T) {
	st := openStore(t, t.TempDir())
	reg := prometheus.NewRegistry()
	n, err := Start(context.Background(), ClusterConfig{GrainIdleTimeout: 1500 * time.Millisecond},
		Deps{Store: st, Logger: testLogger(t), Routing: testRouting(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(false) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	val := func(name string, labels ...string) float64 {
		v, _ := gathered(t, reg, name, labels...)
		return v
	}
	sub := loginAgent(t, ctx, n, "mia", store.Skill{Name: "support", Proficiency: 3})
	if v := val("parley_routing_agents", "presence", "available", "work", "idle"); v != 1 {
		t.Fatalf("agents available/idle = %v, want 1", v)
	}

	// c1: offered, accepted (answered within the 20 s service level), finished.
	if _, err := n.Queues().Enqueue(ctx, "support", WaitingContact{ContactID: "c1"}); err != nil {
		t.Fatal(err)
	}
	o := nextEvent(t, sub, EventOffer, 5*time.Second)
	if _, err := n.Agents().Answer(ctx, "mia", o.Offer.ID, true); err != nil {
		t.Fatal(err)
	}
	if v := val("parley_routing_agents", "presence", "available", "work", "busy"); v != 1 {
		t.Fatalf("agents available/busy = %v, want 1", v)
	}
	if _, err := n.Agents().Finish(ctx, "mia", "c1", "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "mia idle after wrap-up", 5*time.Second, func() bool {
		a, err := n.Agents().Get(ctx, "mia")
		return err == nil && a.WorkState == WorkIdle
	})
	// c2: declined once, then let time out (400 ms); max_misses 2 puts mia
	// on break, and the caller hangs up while waiting.
	if _, err := n.Queues().Enqueue(ctx, "support", WaitingContact{ContactID: "c2"}); err != nil {
		t.Fatal(err)
	}
	o = nextEvent(t, sub, EventOffer, 5*time.Second)
	if _, err := n.Agents().Answer(ctx, "mia", o.Offer.ID, false); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, sub, EventOffer, 5*time.Second)
	end := nextEvent(t, sub, EventOfferEnded, 5*time.Second)
	if end.Reason != "timeout" || end.State.Presence != PresenceBreak {
		t.Fatalf("offer end %q presence %s", end.Reason, end.State.Presence)
	}
	waitFor(t, "c2 waiting in the gauge", 3*time.Second, func() bool {
		return val("parley_routing_waiting_contacts", "queue", "support") == 1
	})
	time.Sleep(50 * time.Millisecond)
	if v := val("parley_routing_longest_wait_seconds", "queue", "support"); v <= 0 {
		t.Fatalf("longest wait %v with c2 waiting", v)
	}
	if found, err := n.Queues().Abandon(ctx, "support", "c2"); err != nil || !found {
		t.Fatalf("abandon c2: %v %v", found, err)
	}
	want := map[string]float64{
		"parley_routing_enqueued_total": 2, "parley_routing_offers_total": 3, "parley_routing_offer_accepts_total": 1,
		"parley_routing_offer_rejects_total": 1, "parley_routing_offer_timeouts_total": 1, "parley_routing_abandoned_total": 1,
		"parley_routing_answered_within_sl_total": 1,
	}
	for name, w := range want {
		if v := val(name, "queue", "support"); v != w {
			t.Errorf("%s = %v, want %v", name, v, w)
		}
	}
	if v := val("parley_routing_waiting_contacts", "queue", "support"); v != 0 {
		t.Errorf("waiting after the abandon = %v", v)
	}
	if v := val("parley_routing_agents", "presence", "break", "work", "idle"); v != 1 {
		t.Errorf("agents break/idle = %v, want 1", v)
	}

	// Idle, the Queue grain passivates: its gauges go with it.
	before := val("parley_grain_activations_total", "kind", KindQueue)
	waitFor(t, "the support Queue grain to passivate", 10*time.Second, func() bool {
		_, ok := gathered(t, reg, "parley_routing_waiting_contacts", "queue", "support")
		return !ok
	})
	// A new hand-off activates it again; the counters go on.
	if _, err := n.Queues().Enqueue(ctx, "support", WaitingContact{ContactID: "c3"}); err != nil {
		t.Fatal(err)
	}
	if after := val("parley_grain_activations_total", "kind", KindQueue); after <= before {
		t.Fatalf("queue grain activations %v -> %v: it did not re-activate", before, after)
	}
	if v := val("parley_routing_enqueued_total", "queue", "support"); v != 3 {
		t.Errorf("enqueued after re-activation = %v, want 3", v)
	}
	if v := val("parley_routing_abandoned_total", "queue", "support"); v != 1 {
		t.Errorf("abandoned after re-activation = %v, want 1", v)
	}
	if v := val("parley_routing_waiting_contacts", "queue", "support"); v != 1 {
		t.Errorf("waiting after re-activation = %v, want 1", v)
	}
}
