package routing

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

const propertyConfig = `
skills: [billing, tech, sales]
languages: [en, fr]
break_reasons: [lunch]
priority:
  aging_per_second: 2
  rules:
    - {attribute: tier, in: [vip], points: 200}
    - {attribute: task, in: [complaint], points: 60}
    - {sentiment_below: -0.5, points: 40}
offers: {timeout: 15s, max_misses: 3, miss_hold: 3s}
calendars:
  - {name: weekdays, time_zone: Europe/Paris, weekly: {mon: ["08:00-20:00"], tue: ["08:00-20:00"]}, holidays: ["2026-03-03"]}
queues:
  - id: billing
    strategy: longest_idle
    wrap_up: 5s
    steps:
      - {expiry: 20s, require: {skill: billing, min: 4}}
      - {expiry: 40s, require: {all_of: [{skill: billing, min: 2}, {language: en}]}}
      - {require: {any_of: [{skill: billing}, {skill: sales, min: 3}]}}
  - id: tech
    strategy: most_skilled
    overflow: {after: 90s, queue: billing}
    steps:
      - {expiry: 30s, require: {skill: tech, min: 3}}
      - {require: {skill: tech}}
  - id: sales
    strategy: round_robin
    calendar: weekdays
    after_hours: {action: overflow, queue: billing}
    steps:
      - {require: {skill: sales}}
  - id: chat
    channel: chat
    strategy: least_occupied
    steps:
      - {require: {any: true}}
  - id: lottery
    channel: chat
    strategy: weighted_random
    steps:
      - {require: {all_of: [{skill: sales}, {skill: tech}]}}
`

// TestRandomOperationSequences drives the engine with long random sequences
// (fixed seeds) and checks after every operation that no contact is offered
// to two agents at once, no contact is lost (each ends exactly once as
// served, abandoned, dropped or after-hours, or is still live) and the
// internal invariants hold.
func TestRandomOperationSequences(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { runRandomSequence(t, seed, 6000) })
	}
}

func runRandomSequence(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	cfg, err := ParseConfig([]byte(propertyConfig))
	must(t, err)
	pending := map[string]string{} // contact -> pending offer
	ended := map[string]EventKind{}
	connected := map[string]bool{}
	var offers []Event
	var failure error
	fail := func(format string, args ...any) {
		if failure == nil {
			failure = fmt.Errorf(format, args...)
		}
	}
	sink := func(ev Event) {
		switch ev.Kind {
		case EventOffered:
			if p, ok := pending[ev.Contact]; ok {
				fail("contact %s offered again (%s) while offer %s is pending", ev.Contact, ev.Offer, p)
			}
			if connected[ev.Contact] {
				fail("contact %s offered while connected", ev.Contact)
			}
			pending[ev.Contact] = ev.Offer
			offers = append(offers, ev)
		case EventAnswered:
			delete(pending, ev.Contact)
			connected[ev.Contact] = true
		case EventOfferMissed, EventOfferCanceled:
			delete(pending, ev.Contact)
		case EventRequeued:
			delete(connected, ev.Contact)
		case EventAbandoned, EventCompleted, EventDropped:
			if k, dup := ended[ev.Contact]; dup {
				fail("contact %s ended twice (%v then %v)", ev.Contact, k, ev.Kind)
			}
			if _, p := pending[ev.Contact]; p {
				fail("contact %s ended with a pending offer", ev.Contact)
			}
			ended[ev.Contact] = ev.Kind
			delete(connected, ev.Contact)
		}
	}
	e, err := New(cfg, WithSink(sink), WithRand(rand.New(rand.NewPCG(seed, 1))))
	must(t, err)
	now := time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC) // Monday 19:00 in Paris: sales closes in an hour
	var created []string
	afterHours := map[string]bool{}
	closedSeen := 0
	skillNames := []string{"billing", "tech", "sales"}
	agentIDs := []string{}
	randomAgent := func() string {
		if len(agentIDs) == 0 {
			return "none"
		}
		return agentIDs[rng.IntN(len(agentIDs))]
	}
	randomSpec := func(id string) AgentSpec {
		s := AgentSpec{ID: id, Skills: map[string]int{}, Capacity: map[string]int{"voice": 1, "chat": 1 + rng.IntN(3)}}
		for _, sk := range skillNames {
			if rng.IntN(2) == 0 {
				s.Skills[sk] = 1 + rng.IntN(5)
			}
		}
		if rng.IntN(3) > 0 {
			s.Languages = append(s.Languages, "en")
		}
		if rng.IntN(3) == 0 {
			s.Languages = append(s.Languages, "fr")
		}
		return s
	}
	live := func() []string {
		var ids []string
		for _, id := range created {
			if _, ok := e.Contact(id); ok {
				ids = append(ids, id)
			}
		}
		return ids
	}
	queues := []string{"billing", "tech", "sales", "chat", "lottery"}
	for i := range steps {
		now = now.Add(time.Duration(rng.IntN(4000)) * time.Millisecond)
		switch op := rng.IntN(100); {
		case op < 8 || len(agentIDs) < 3:
			id := fmt.Sprint("agent", len(agentIDs))
			must(t, e.AddAgent(now, randomSpec(id)))
			agentIDs = append(agentIDs, id)
			must(t, e.SetPresence(now, id, Available, ""))
		case op < 12:
			p := []Presence{Available, Available, Break, LoggedOut}[rng.IntN(4)]
			reason := ""
			if p == Break {
				reason = "lunch"
			}
			_ = e.SetPresence(now, randomAgent(), p, reason)
		case op < 40:
			id := fmt.Sprint("c", i)
			attrs := map[string]string{}
			if rng.IntN(5) == 0 {
				attrs["tier"] = "vip"
			}
			if rng.IntN(4) == 0 {
				attrs["task"] = "complaint"
			}
			res, err := e.Enqueue(now, ContactSpec{ID: id, Queue: queues[rng.IntN(len(queues))], Attributes: attrs, Sentiment: rng.Float64()*2 - 1})
			must(t, err)
			created = append(created, id)
			if !res.Queued {
				afterHours[id] = true
			}
			if res.AfterHours != "" {
				closedSeen++
			}
		case op < 48:
			if ids := live(); len(ids) > 0 {
				id := ids[rng.IntN(len(ids))]
				if st, _ := e.Contact(id); st.State != "connected" {
					must(t, e.Abandon(now, id))
				}
			}
		case op < 66:
			if len(offers) > 0 {
				o := offers[rng.IntN(len(offers))]
				switch rng.IntN(6) {
				case 0:
					_ = e.Decline(now, o.Offer)
				case 1:
					_ = e.Ringing(now, o.Offer)
				default:
					_ = e.Accept(now, o.Offer) // may be stale, duplicate or valid
				}
			}
		case op < 80:
			for id := range connected {
				if rng.IntN(3) == 0 {
					must(t, e.Complete(now, id))
					break
				}
			}
		case op < 83:
			_ = e.EndWrapUp(now, randomAgent())
		case op < 85:
			must(t, e.AgentDisconnected(now, randomAgent()))
			_ = e.SetPresence(now.Add(time.Second), randomAgent(), Available, "")
		case op < 87:
			if ids := live(); len(ids) > 0 {
				_ = e.RequestCallback(now, ids[rng.IntN(len(ids))])
			}
		case op < 89:
			if ids := live(); len(ids) > 0 {
				_ = e.SetSentiment(now, ids[rng.IntN(len(ids))], -1)
			}
		case op < 91:
			id := randomAgent()
			if id != "none" {
				must(t, e.UpdateAgent(now, randomSpec(id)))
			}
		case op < 92:
			dead := map[string]bool{}
			for _, id := range live() {
				if rng.IntN(10) == 0 {
					dead[id] = true
				}
			}
			e.Reconcile(now, func(id string) bool { return !dead[id] })
		case op < 93:
			if id := randomAgent(); id != "none" {
				st, _ := e.Agent(id)
				held := st.Offers
				if len(held) > 0 && rng.IntN(2) == 0 {
					held = held[1:]
				}
				_, err := e.SyncAgent(now, id, append(slices.Clone(held), "bogus"))
				must(t, err)
			}
		default:
			now = now.Add(time.Duration(rng.IntN(60)) * time.Second)
			e.Advance(now)
		}
		if failure != nil {
			t.Fatalf("step %d: %v", i, failure)
		}
		if err := e.Verify(); err != nil {
			t.Fatalf("step %d: invariant broken: %v", i, err)
		}
	}
	// Conservation: every contact is live, or ended exactly once, or was
	// turned away after hours.
	liveN := 0
	for _, id := range created {
		_, isLive := e.Contact(id)
		_, isEnded := ended[id]
		n := 0
		for _, b := range []bool{isLive, isEnded, afterHours[id]} {
			if b {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("contact %s: live=%v ended=%v after-hours=%v", id, isLive, isEnded, afterHours[id])
		}
		if isLive {
			liveN++
		}
	}
	if liveN != e.Contacts() {
		t.Fatalf("engine has %d contacts, created and not ended %d", e.Contacts(), liveN)
	}
	if len(ended) < 100 || closedSeen == 0 {
		t.Fatalf("sequence too tame to mean anything: %d ended, %d after hours", len(ended), closedSeen)
	}
	// Drain: log everyone in with every skill and serve; all must end.
	for _, id := range agentIDs {
		must(t, e.UpdateAgent(now, AgentSpec{ID: id, Skills: map[string]int{"billing": 5, "tech": 5, "sales": 5}, Languages: []string{"en"}}))
		must(t, e.SetPresence(now, id, Available, ""))
	}
	for round := 0; e.Contacts() > 0 && round < 100000; round++ {
		now = now.Add(time.Second)
		for id := range connected {
			must(t, e.Complete(now, id))
		}
		for _, o := range offers {
			_ = e.Accept(now, o.Offer)
		}
		offers = offers[:0]
		e.Advance(now.Add(10 * time.Second))
		for _, id := range agentIDs {
			_ = e.EndWrapUp(now, id)
		}
		if failure != nil {
			t.Fatal(failure)
		}
	}
	if e.Contacts() != 0 {
		t.Fatalf("%d contacts never served once agents were there", e.Contacts())
	}
	must(t, e.Verify())
}

// TestAgingPreventsStarvation checks, over random overloaded arrival streams
// with random priorities, the guarantee aging gives: a contact x is served
// before every contact that arrives more than (maxBase - base(x)) / aging
// after it, and each offer goes to the highest-priority waiting contact.
func TestAgingPreventsStarvation(t *testing.T) {
	const cfgText = `
skills: [s]
priority:
  aging_per_second: 0.5
  rules:
    - {attribute: tier, in: [vip], points: 300}
    - {attribute: task, in: [complaint], points: 100}
    - {attribute: task, in: [survey], points: -100}
queues:
  - id: q
    steps: [{require: {skill: s}}]
`
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		var offered []Event
		cfg, err := ParseConfig([]byte(cfgText))
		must(t, err)
		e, err := New(cfg, WithSink(func(ev Event) {
			if ev.Kind == EventOffered {
				offered = append(offered, ev)
			}
		}))
		must(t, err)
		type info struct {
			enq  time.Time
			base float64
		}
		contacts := map[string]info{}
		waiting := map[string]bool{}
		now := t0
		must(t, e.AddAgent(now, AgentSpec{ID: "solo", Skills: map[string]int{"s": 1}}))
		must(t, e.SetPresence(now, "solo", Available, ""))
		serveOrder := map[string]int{}
		var serving string
		busyUntil := now
		prio := func(id string, at time.Time) float64 {
			c := contacts[id]
			return c.base + 0.5*at.Sub(c.enq).Seconds()
		}
		checkOffers := func() {
			for _, o := range offered {
				for w := range waiting {
					if w != o.Contact && prio(w, o.At) > prio(o.Contact, o.At)+1e-6 {
						t.Fatalf("seed %d: offered %s (priority %.2f) while %s waited with %.2f", seed, o.Contact, prio(o.Contact, o.At), w, prio(w, o.At))
					}
				}
				delete(waiting, o.Contact)
				serveOrder[o.Contact] = len(serveOrder)
				serving = o.Contact
				must(t, e.Accept(o.At, o.Offer))
			}
			offered = offered[:0]
		}
		// Arrivals twice as fast as service for 2000 contacts, then drain.
		for i := 0; i < 2000 || e.Contacts() > 0; {
			nextArrival := now.Add(time.Duration(rng.ExpFloat64()*5000) * time.Millisecond)
			if i >= 2000 || (serving != "" && busyUntil.Before(nextArrival)) {
				if serving == "" {
					t.Fatalf("seed %d: idle agent with %d contacts waiting", seed, e.Contacts())
				}
				now = busyUntil
				must(t, e.Complete(now, serving))
				serving = ""
				checkOffers()
				if serving != "" {
					busyUntil = now.Add(time.Duration(rng.ExpFloat64()*10000) * time.Millisecond)
				}
				continue
			}
			now = nextArrival
			id := fmt.Sprint("c", i)
			i++
			attrs := map[string]string{}
			base := 0.0
			switch rng.IntN(10) {
			case 0, 1:
				attrs["tier"], base = "vip", 300
			case 2, 3:
				attrs["task"], base = "complaint", 100
			case 4, 5, 6:
				attrs["task"], base = "survey", -100
			}
			contacts[id] = info{now, base}
			waiting[id] = true
			enqueue(t, e, now, id, "q", attrs)
			wasIdle := serving == ""
			checkOffers()
			if wasIdle && serving != "" {
				busyUntil = now.Add(time.Duration(rng.ExpFloat64()*10000) * time.Millisecond)
			}
		}
		// The bound: maxBase 300, aging 0.5/s.
		for x, cx := range contacts {
			horizon := cx.enq.Add(time.Duration((300 - cx.base) / 0.5 * float64(time.Second)))
			for y, cy := range contacts {
				if cy.enq.After(horizon) && serveOrder[y] < serveOrder[x] {
					t.Fatalf("seed %d: %s (base %v, arrived %v) served after %s that arrived %v later", seed, x, cx.base, cx.enq.Sub(t0), y, cy.enq.Sub(cx.enq))
				}
			}
		}
	}
}
