package actors

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-cc/parley/store"
)

// nextEvent waits for the next event of kind on sub, skipping others.
func nextEvent(t *testing.T, sub *AgentSubscription, kind string, within time.Duration) AgentEvent {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev := <-sub.C:
			if ev.Kind == kind {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event within %v", kind, within)
		}
	}
}

// loginAgent gives an agent skills, subscribes its desktop and makes it
// available.
func loginAgent(t *testing.T, ctx context.Context, n *Node, id string, skills ...store.Skill) *AgentSubscription {
	t.Helper()
	if _, err := n.Agents().SetSkills(ctx, id, skills, []string{"en"}, 1); err != nil {
		t.Fatal(err)
	}
	sub, _, err := n.Agents().Subscribe(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close(context.Background(), false) })
	if _, err := n.Agents().SetPresence(ctx, id, PresenceAvailable, ""); err != nil {
		t.Fatal(err)
	}
	return sub
}

func startCall(t *testing.T, ctx context.Context, n *Node, id string) {
	t.Helper()
	if _, _, err := n.Calls().Start(ctx, store.Call{ID: id, Direction: store.DirectionInbound, Channel: "sip"}); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOfferAcceptBusyWrapUpIdle(t *testing.T) {
	st := openStore(t, t.TempDir())
	n := startLocal(t, st, ClusterConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub := loginAgent(t, ctx, n, "alice", store.Skill{Name: "support", Proficiency: 4})
	startCall(t, ctx, n, "call-1")

	_, watch, err := n.Queues().EnqueueWatched(ctx, "support", WaitingContact{ContactID: "c1", CallID: "call-1", Summary: `{"intent":"refund"}`})
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	ev := nextEvent(t, sub, EventOffer, 5*time.Second)
	if ev.Offer == nil || ev.Offer.ContactID != "c1" || ev.Offer.CallID != "call-1" || ev.Offer.Summary != `{"intent":"refund"}` || ev.Offer.Queue != "support" {
		t.Fatalf("offer event %+v", ev.Offer)
	}
	if ev.State.WorkState != WorkOffered || len(ev.State.Offers) != 1 {
		t.Fatalf("agent while offered: %+v", ev.State)
	}
	ans, err := n.Agents().Answer(ctx, "alice", ev.Offer.ID, true)
	if err != nil || ans.Contact == nil || ans.Contact.CallID != "call-1" || ans.State.WorkState != WorkOnContact || ans.State.CallID != "call-1" {
		t.Fatalf("accept: %+v %v", ans, err)
	}
	select {
	case u := <-watch.C:
		if u.State != "connected" || u.AgentID != "alice" || u.CallID != "call-1" {
			t.Fatalf("caller side told %+v", u)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("caller side not told of the accept")
	}
	// A second accept (double click, retried message) changes nothing.
	again, err := n.Agents().Answer(ctx, "alice", ev.Offer.ID, true)
	if err != nil || !again.Duplicate || again.Contact.ContactID != "c1" {
		t.Fatalf("duplicate accept: %+v %v", again, err)
	}
	if p, err := n.Queues().Position(ctx, "support", "c1"); err != nil || p.State != "connected" || p.AgentID != "alice" {
		t.Fatalf("contact after accept: %+v %v", p, err)
	}
	a, err := n.Agents().Finish(ctx, "alice", "c1", "caller hung up")
	if err != nil || a.WorkState != WorkWrapUp || a.WrapUntil == nil {
		t.Fatalf("after finish: %+v %v", a, err)
	}
	// Wrap-up (300 ms) holds new offers back, then the agent is idle again.
	startCall(t, ctx, n, "call-2")
	if _, err := n.Queues().Enqueue(ctx, "support", WaitingContact{ContactID: "c2", CallID: "call-2"}); err != nil {
		t.Fatal(err)
	}
	if p, err := n.Queues().Position(ctx, "support", "c2"); err != nil || p.State != "queued" {
		t.Fatalf("c2 during wrap-up: %+v %v, want queued", p, err)
	}
	ev = nextEvent(t, sub, EventOffer, 5*time.Second)
	if ev.Offer.ContactID != "c2" || time.Since(a.WrapUntil.Add(-300*time.Millisecond)) < 300*time.Millisecond {
		t.Fatalf("c2 offered %+v before the wrap-up ended (%v)", ev.Offer, a.WrapUntil)
	}
	stats, err := n.Queues().Stats(ctx, "support")
	if err != nil || stats.Answered != 1 || stats.Completed != 1 || stats.Offered != 2 {
		t.Fatalf("stats: %+v %v", stats, err)
	}
	tr, err := n.Calls().Transcript(ctx, "call-1")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range tr.Events {
		kinds = append(kinds, e.Type)
	}
	if got := strings.Join(kinds, ","); !strings.Contains(got, "queued") || !strings.Contains(got, "offered") {
		waitFor(t, "queued and offered events on call-1", 3*time.Second, func() bool {
			tr, _ := n.Calls().Transcript(ctx, "call-1")
			var ks []string
			for _, e := range tr.Events {
				ks = append(ks, e.Type)
			}
			s := strings.Join(ks, ",")
			return strings.Contains(s, "queued") && strings.Contains(s, "offered")
		})
	}
}

func TestOfferTimeoutKeepsPlaceAndMissesSetNotReady(t *testing.T) {
	st := openStore(t, t.TempDir())
	n := startLocal(t, st, ClusterConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub := loginAgent(t, ctx, n, "bob", store.Skill{Name: "support", Proficiency: 2})
	t0 := time.Now()
	for i, id := range []string{"c1", "c2"} {
		if _, err := n.Queues().Enqueue(ctx, "support", WaitingContact{ContactID: id, EnqueuedAt: t0.Add(time.Duration(i) * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
	}
	first := nextEvent(t, sub, EventOffer, 5*time.Second)
	if first.Offer.ContactID != "c1" {
		t.Fatalf("first offer %+v, want c1", first.Offer)
	}
	end := nextEvent(t, sub, EventOfferEnded, 5*time.Second)
	if end.Offer.ID != first.Offer.ID || end.Reason != "timeout" || end.State.Misses != 1 {
		t.Fatalf("offer end %+v reason %q misses %d", end.Offer, end.Reason, end.State.Misses)
	}
	// c1 went back at its place, ahead of c2: it is offered again first.
	second := nextEvent(t, sub, EventOffer, 5*time.Second)
	if second.Offer.ContactID != "c1" || second.Offer.ID == first.Offer.ID {
		t.Fatalf("second offer %+v, want c1 again", second.Offer)
	}
	// The second miss in a row (max_misses 2) sets the agent not ready.
	end = nextEvent(t, sub, EventOfferEnded, 5*time.Second)
	if end.State.Presence != PresenceBreak || end.State.BreakReason != "missed_offers" {
		t.Fatalf("after 2 misses: %+v", end.State)
	}
	waitFor(t, "c1 back at position 1", 3*time.Second, func() bool {
		p, err := n.Queues().Position(ctx, "support", "c1")
		return err == nil && p.Position == 1 && p.State == "queued"
	})
	if p, err := n.Queues().Position(ctx, "support", "c2"); err != nil || p.Position != 2 {
		t.Fatalf("c2: %+v %v, want position 2", p, err)
	}
	// An expired offer can no longer be accepted.
	if _, err := n.Agents().Answer(ctx, "bob", first.Offer.ID, true); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("accept an expired offer: %v, want ErrFailedPrecondition", err)
	}
}

func TestDeclineDisconnectAndAbandon(t *testing.T) {
	st := openStore(t, t.TempDir())
	n := startLocal(t, st, ClusterConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	subA := loginAgent(t, ctx, n, "ann", store.Skill{Name: "support", Proficiency: 3})
	if _, err := n.Queues().Enqueue(ctx, "support", WaitingContact{ContactID: "c1"}); err != nil {
		t.Fatal(err)
	}
	offer := nextEvent(t, subA, EventOffer, 5*time.Second)
	// Ann's desktop goes away mid-offer: the offer is withdrawn, she is
	// logged out and the contact waits at its place for someone else.
	if err := subA.Close(ctx, true); err != nil {
		t.Fatal(err)
	}
	a, err := n.Agents().Get(ctx, "ann")
	if err != nil || a.Presence != PresenceLoggedOut || len(a.Offers) != 0 {
		t.Fatalf("ann after disconnect: %+v %v", a, err)
	}
	waitFor(t, "c1 waiting again", 3*time.Second, func() bool {
		p, err := n.Queues().Position(ctx, "support", "c1")
		return err == nil && p.State == "queued" && p.Position == 1
	})
	if _, err := n.Agents().Answer(ctx, "ann", offer.Offer.ID, true); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("accept after disconnect: %v", err)
	}
	subB := loginAgent(t, ctx, n, "ben", store.Skill{Name: "support", Proficiency: 3})
	ob := nextEvent(t, subB, EventOffer, 5*time.Second)
	if ob.Offer.ContactID != "c1" {
		t.Fatalf("ben offered %+v", ob.Offer)
	}
	ans, err := n.Agents().Answer(ctx, "ben", ob.Offer.ID, false)
	if err != nil || ans.State.Misses != 1 || len(ans.State.Offers) != 0 {
		t.Fatalf("decline: %+v %v", ans, err)
	}
	// The caller hangs up while waiting: removed at once, counted abandoned.
	found, err := n.Queues().Abandon(ctx, "support", "c1")
	if err != nil || !found {
		t.Fatalf("abandon: %v %v", found, err)
	}
	if found, err := n.Queues().Abandon(ctx, "support", "c1"); err != nil || found {
		t.Fatalf("abandon twice: %v %v", found, err)
	}
	s, err := n.Queues().Stats(ctx, "support")
	if err != nil || s.Abandoned != 1 || len(s.Contacts) != 0 {
		t.Fatalf("stats after abandon: %+v %v", s, err)
	}
	if _, err := n.Queues().Enqueue(ctx, "nosuch", WaitingContact{ContactID: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("enqueue to an unknown queue: %v, want not found", err)
	}
	if _, err := n.Agents().SetPresence(ctx, "ben", PresenceBreak, "nap"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("unknown break reason: %v", err)
	}
	if _, err := n.Agents().SetSkills(ctx, "ben", []store.Skill{{Name: "juggling", Proficiency: 3}}, nil, 1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("unknown skill: %v", err)
	}
}

// An agent in two queues never holds two offers at once (capacity 1): the
// Agent grain refuses the second and that queue offers elsewhere later.
func TestAgentSharedByTwoQueuesHoldsOneOffer(t *testing.T) {
	st := openStore(t, t.TempDir())
	n := startLocal(t, st, ClusterConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub := loginAgent(t, ctx, n, "cy", store.Skill{Name: "support", Proficiency: 3}, store.Skill{Name: "billing", Proficiency: 3})
	for _, q := range []string{"support", "billing"} {
		if _, err := n.Queues().Enqueue(ctx, q, WaitingContact{ContactID: "c-" + q}); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]bool{}
	for len(got) < 2 {
		ev := nextEvent(t, sub, EventOffer, 5*time.Second)
		if len(ev.State.Offers) != 1 {
			t.Fatalf("agent holds %d offers at once: %+v", len(ev.State.Offers), ev.State.Offers)
		}
		got[ev.Offer.ContactID] = true
		if _, err := n.Agents().Answer(ctx, "cy", ev.Offer.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Agents().Finish(ctx, "cy", ev.Offer.ContactID, "done"); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Agents().EndWrapUp(ctx, "cy"); err != nil && !errors.Is(err, ErrFailedPrecondition) {
			t.Fatal(err)
		}
	}
}

// Waiting contacts keep their places when the Queue grain comes back on
// another member (same store), and the agent its presence.
func TestQueueAndAgentRestoreOnAnotherMember(t *testing.T) {
	st := openStore(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := Start(ctx, ClusterConfig{}, Deps{Store: st, Logger: testLogger(t), Routing: testRouting(t)})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Minute)
	add := func(id string, at time.Time, attrs map[string]string) {
		if _, err := first.Queues().Enqueue(ctx, "support", WaitingContact{ContactID: id, CallID: "call-" + id, EnqueuedAt: at, Attrs: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	add("c1", t0, nil)
	add("c2", t0.Add(time.Second), nil)
	add("vip", t0.Add(2*time.Second), map[string]string{"tier": "vip"})
	if _, err := first.Agents().SetSkills(ctx, "dee", []store.Skill{{Name: "support", Proficiency: 3}}, nil, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Agents().SetPresence(ctx, "dee", PresenceBreak, "lunch"); err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(true); err != nil {
		t.Fatal(err)
	}
	second := startLocal(t, st, ClusterConfig{})
	list, err := second.Queues().List(ctx, "support")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range list {
		order = append(order, c.ContactID+"@"+c.CallID)
	}
	if got := strings.Join(order, ","); got != "vip@call-vip,c1@call-c1,c2@call-c2" {
		t.Fatalf("restored order %s", got)
	}
	if p, err := second.Queues().Position(ctx, "support", "c2"); err != nil || p.Position != 3 || p.Waiting != 3 {
		t.Fatalf("c2 after restore: %+v %v", p, err)
	}
	a, err := second.Agents().Get(ctx, "dee")
	if err != nil || a.Presence != PresenceBreak || a.BreakReason != "lunch" || len(a.Skills) != 1 {
		t.Fatalf("restored agent: %+v %v", a, err)
	}
	// Back from lunch: the VIP (queued last) is offered first.
	sub, _, err := second.Agents().Subscribe(ctx, "dee")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close(context.Background(), false)
	if _, err := second.Agents().SetPresence(ctx, "dee", PresenceAvailable, ""); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, sub, EventOffer, 5*time.Second); ev.Offer.ContactID != "vip" || ev.Offer.CallID != "call-vip" {
		t.Fatalf("first offer after restore %+v, want vip", ev.Offer)
	}
}

func TestReconcileClearsContactsOfDeadCalls(t *testing.T) {
	st := openStore(t, t.TempDir())
	n := startLocal(t, st, ClusterConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, id := range []string{"live", "dead"} {
		if _, err := n.Queues().Enqueue(ctx, "support", WaitingContact{ContactID: id}); err != nil {
			t.Fatal(err)
		}
	}
	cleared, err := n.Queues().Reconcile(ctx, "support", []string{"dead", "ghost"})
	if err != nil || len(cleared) != 1 || cleared[0] != "dead" {
		t.Fatalf("reconcile: %v %v", cleared, err)
	}
	if p, err := n.Queues().Position(ctx, "support", "live"); err != nil || p.Position != 1 || p.Waiting != 1 {
		t.Fatalf("live after reconcile: %+v %v", p, err)
	}
}

// The desktop going away mid-call logs the agent out but leaves the call
// with the agent until it ends; no new offer reaches the agent.
func TestDesktopLostMidCallKeepsTheCall(t *testing.T) {
	st := openStore(t, t.TempDir())
	n := startLocal(t, st, ClusterConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub := loginAgent(t, ctx, n, "eve", store.Skill{Name: "support", Proficiency: 3})
	if _, err := n.Queues().Enqueue(ctx, "support", WaitingContact{ContactID: "c1"}); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, sub, EventOffer, 5*time.Second)
	if _, err := n.Agents().Answer(ctx, "eve", ev.Offer.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := sub.Close(ctx, true); err != nil {
		t.Fatal(err)
	}
	a, err := n.Agents().Get(ctx, "eve")
	if err != nil || a.Presence != PresenceLoggedOut || len(a.Active) != 1 || a.WorkState != WorkOnContact {
		t.Fatalf("eve after losing the desktop mid-call: %+v %v", a, err)
	}
	if _, err := n.Queues().Enqueue(ctx, "support", WaitingContact{ContactID: "c2"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if p, err := n.Queues().Position(ctx, "support", "c2"); err != nil || p.State != "queued" {
		t.Fatalf("c2 %+v %v: want waiting, eve is logged out", p, err)
	}
	if p, err := n.Queues().Position(ctx, "support", "c1"); err != nil || p.State != "connected" {
		t.Fatalf("c1 %+v %v: want still connected", p, err)
	}
	a, err = n.Agents().Finish(ctx, "eve", "c1", "caller hung up")
	if err != nil || len(a.Active) != 0 {
		t.Fatalf("finish after disconnect: %+v %v", a, err)
	}
	s, err := n.Queues().Stats(ctx, "support")
	if err != nil || s.Completed != 1 {
		t.Fatalf("stats %+v %v", s, err)
	}
}
