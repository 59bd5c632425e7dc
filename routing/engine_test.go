package routing

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // a Monday

const testConfig = `
skills: [billing, tech]
languages: [en, fr]
break_reasons: [lunch]
priority:
  aging_per_second: 1
  rules:
    - {attribute: tier, in: [vip], points: 300}
    - {attribute: task, in: [complaint], points: 100}
    - {attribute: task, in: [survey], points: -50}
    - {sentiment_below: -0.5, points: 60}
offers: {timeout: 20s, max_misses: 2, miss_hold: 5s}
queues:
  - id: billing
    strategy: longest_idle
    wrap_up: 10s
    steps:
      - {expiry: 30s, require: {skill: billing, min: 4}}
      - {expiry: 60s, require: {all_of: [{skill: billing, min: 2}, {language: en}]}}
      - {require: {any_of: [{skill: billing}, {skill: tech, min: 3}]}}
  - id: tech
    strategy: most_skilled
    overflow: {after: 120s, queue: billing}
    steps:
      - {require: {skill: tech}}
`

type recorder struct{ events, offered []Event }

func (r *recorder) sink(ev Event) {
	r.events = append(r.events, ev)
	if ev.Kind == EventOffered {
		r.offered = append(r.offered, ev)
	}
}

func (r *recorder) offers() []Event { return r.offered }

func (r *recorder) lastOffer(t *testing.T) Event {
	t.Helper()
	o := r.offers()
	if len(o) == 0 {
		t.Fatal("no offer was made")
	}
	return o[len(o)-1]
}

func newTestEngine(t testing.TB, cfgText string) (*Engine, *recorder) {
	t.Helper()
	cfg, err := ParseConfig([]byte(cfgText))
	if err != nil {
		t.Fatalf("parse config: %v", err)
	}
	r := &recorder{}
	e, err := New(cfg, WithSink(r.sink), WithRand(rand.New(rand.NewPCG(7, 7))))
	if err != nil {
		t.Fatalf("new engine: %v", err)
	}
	return e, r
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func login(t testing.TB, e *Engine, now time.Time, id string, skills map[string]int, langs ...string) {
	t.Helper()
	must(t, e.AddAgent(now, AgentSpec{ID: id, Skills: skills, Languages: langs}))
	must(t, e.SetPresence(now, id, Available, ""))
}

func enqueue(t testing.TB, e *Engine, now time.Time, id, q string, attrs map[string]string) {
	t.Helper()
	res, err := e.Enqueue(now, ContactSpec{ID: id, Queue: q, Attributes: attrs})
	must(t, err)
	if !res.Queued {
		t.Fatalf("enqueue %s: not queued: %+v", id, res)
	}
}

func TestConfigRejectsUnknownNames(t *testing.T) {
	cases := map[string]struct{ from, to, want string }{
		"unknown skill":      {"{skill: tech}", "{skill: tecch}", `unknown skill "tecch"`},
		"unknown language":   {"{language: en}", "{language: de}", `unknown language "de"`},
		"unknown overflow":   {"queue: billing}", "queue: sales}", `overflow.queue: unknown queue "sales"`},
		"bad min":            {"{skill: billing, min: 4}", "{skill: billing, min: 7}", "min 7 is outside 1-5"},
		"two forms":          {"{skill: tech}", "{skill: tech, language: en}", "exactly one of"},
		"last step expires":  {"{require: {skill: tech}}", "{expiry: 5s, require: {skill: tech}}", "last step must not expire"},
		"bad strategy":       {"strategy: most_skilled", "strategy: fastest", `unknown strategy "fastest"`},
		"unknown field":      {"wrap_up: 10s", "wrapup: 10s", "field wrapup not found"},
		"steps out of order": {"{expiry: 60s,", "{expiry: 20s,", "must be greater than the previous"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			text := strings.Replace(testConfig, tc.from, tc.to, 1)
			if text == testConfig {
				t.Fatalf("test case did not change the config (%q not found)", tc.from)
			}
			_, err := ParseConfig([]byte(text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error containing %q", err, tc.want)
			}
		})
	}
	if _, err := ParseConfig([]byte(testConfig)); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	// The error says where: the queue and step.
	_, err := ParseConfig([]byte(strings.Replace(testConfig, "{skill: tech, min: 3}", "{skill: teck, min: 3}", 1)))
	if err == nil || !strings.Contains(err.Error(), "queues[0] (billing).steps[2].require.any_of[1]") {
		t.Fatalf("error does not locate the predicate: %v", err)
	}
}

func TestAgentSkillValidation(t *testing.T) {
	e, _ := newTestEngine(t, testConfig)
	err := e.AddAgent(t0, AgentSpec{ID: "a", Skills: map[string]int{"sales": 3}})
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), `unknown skill "sales"`) {
		t.Fatalf("unknown agent skill: %v", err)
	}
	err = e.AddAgent(t0, AgentSpec{ID: "a", Skills: map[string]int{"tech": 6}})
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("proficiency 6 accepted: %v", err)
	}
	if err := e.SetPresence(t0, "nobody", Available, ""); !errors.Is(err, ErrUnknownAgent) {
		t.Fatalf("unknown agent: %v", err)
	}
	must(t, e.AddAgent(t0, AgentSpec{ID: "a", Skills: map[string]int{"tech": 2}}))
	if err := e.SetPresence(t0, "a", Break, "nap"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("unknown break reason accepted: %v", err)
	}
	must(t, e.SetPresence(t0, "a", Break, "lunch"))
	st, _ := e.Agent("a")
	if st.Presence != Break || st.Reason != "lunch" || st.Work != Idle {
		t.Fatalf("presence and work state mixed up: %+v", st)
	}
}

func TestOfferAcceptCompleteWrapUp(t *testing.T) {
	e, r := newTestEngine(t, testConfig)
	login(t, e, t0, "ann", map[string]int{"billing": 5}, "en")
	enqueue(t, e, t0.Add(time.Second), "c1", "billing", nil)
	o := r.lastOffer(t)
	if o.Agent != "ann" || o.Contact != "c1" {
		t.Fatalf("offer %+v", o)
	}
	if st, _ := e.Agent("ann"); st.Work != Reserved {
		t.Fatalf("work state %v, want reserved", st.Work)
	}
	must(t, e.Ringing(t0.Add(2*time.Second), o.Offer))
	if st, _ := e.Agent("ann"); st.Work != Offering {
		t.Fatalf("work state %v, want offering", st.Work)
	}
	must(t, e.Accept(t0.Add(3*time.Second), o.Offer))
	n := len(r.events)
	must(t, e.Accept(t0.Add(3*time.Second), o.Offer)) // duplicate: no-op
	if len(r.events) != n {
		t.Fatalf("duplicate accept emitted events: %+v", r.events[n:])
	}
	if st, _ := e.Agent("ann"); st.Work != Busy || len(st.Contacts) != 1 {
		t.Fatalf("after accept: %+v", st)
	}
	if err := e.Decline(t0.Add(4*time.Second), o.Offer); !errors.Is(err, ErrUnknownOffer) {
		t.Fatalf("decline after accept: %v", err)
	}
	enqueue(t, e, t0.Add(5*time.Second), "c2", "billing", nil)
	must(t, e.Complete(t0.Add(63*time.Second), "c1"))
	if st, _ := e.Agent("ann"); st.Work != WrapUp {
		t.Fatalf("after complete: %v, want wrap_up", st.Work)
	}
	if len(r.offers()) != 1 {
		t.Fatal("agent offered during wrap-up")
	}
	if err := e.Accept(t0.Add(64*time.Second), o.Offer); !errors.Is(err, ErrUnknownOffer) {
		t.Fatalf("accept after completion: %v", err)
	}
	e.Advance(t0.Add(72 * time.Second))
	if len(r.offers()) != 1 {
		t.Fatal("agent offered before wrap-up ended")
	}
	e.Advance(t0.Add(73 * time.Second))
	o2 := r.lastOffer(t)
	if o2.Contact != "c2" || !o2.At.Equal(t0.Add(73*time.Second)) {
		t.Fatalf("offer after wrap-up: %+v", o2)
	}
	must(t, e.Verify())
}

func TestReservationTimeoutReturnsContactAtItsPlace(t *testing.T) {
	e, r := newTestEngine(t, testConfig)
	login(t, e, t0, "ann", map[string]int{"billing": 5}, "en")
	enqueue(t, e, t0, "first", "billing", nil)
	o := r.lastOffer(t)
	enqueue(t, e, t0.Add(time.Second), "second", "billing", nil)
	enqueue(t, e, t0.Add(2*time.Second), "third", "billing", nil)
	// ann misses: offer times out at 20s; she is held 5s, and the contact is
	// back first in line.
	e.Advance(t0.Add(20 * time.Second))
	if _, ok := e.Offer(o.Offer); ok {
		t.Fatal("offer still pending after its timeout")
	}
	est, err := e.Estimate(t0.Add(20*time.Second), "first")
	must(t, err)
	if est.Position != 1 {
		t.Fatalf("timed-out contact at position %d, want 1", est.Position)
	}
	must(t, e.Verify())
	// bob arrives: he gets "first", not the later ones.
	login(t, e, t0.Add(21*time.Second), "bob", map[string]int{"billing": 4}, "en")
	if o := r.lastOffer(t); o.Agent != "bob" || o.Contact != "first" {
		t.Fatalf("offer %+v, want first to bob", o)
	}
	// ann's hold ends at 25s: she gets "second", misses again -> not ready.
	e.Advance(t0.Add(25 * time.Second))
	o3 := r.lastOffer(t)
	if o3.Agent != "ann" || o3.Contact != "second" {
		t.Fatalf("offer %+v, want second to ann", o3)
	}
	must(t, e.Decline(t0.Add(26*time.Second), o3.Offer))
	st, _ := e.Agent("ann")
	if st.Presence != Break || st.Reason != ReasonMissedOffers {
		t.Fatalf("after 2 misses: %+v, want break/%s", st, ReasonMissedOffers)
	}
	est, err = e.Estimate(t0.Add(26*time.Second), "second")
	must(t, err)
	if est.Position != 1 {
		t.Fatalf("declined contact at position %d, want 1", est.Position)
	}
	must(t, e.Verify())
}

func TestPriorityRules(t *testing.T) {
	e, r := newTestEngine(t, testConfig)
	must(t, e.AddAgent(t0, AgentSpec{ID: "ann", Skills: map[string]int{"billing": 5}}))
	enqueue(t, e, t0, "survey", "billing", map[string]string{"task": "survey"})
	enqueue(t, e, t0.Add(1*time.Second), "plain", "billing", nil)
	enqueue(t, e, t0.Add(2*time.Second), "complaint", "billing", map[string]string{"task": "complaint"})
	enqueue(t, e, t0.Add(3*time.Second), "vip", "billing", map[string]string{"tier": "vip"})
	_, err := e.Enqueue(t0.Add(4*time.Second), ContactSpec{ID: "angry", Queue: "billing", Sentiment: -0.9})
	must(t, err)
	// angry: 60-4=56 > plain -1; complaint 98, vip 297.
	want := []string{"vip", "complaint", "angry", "plain", "survey"}
	for i, id := range want {
		est, err := e.Estimate(t0.Add(5*time.Second), id)
		must(t, err)
		if est.Position != i+1 {
			t.Fatalf("%s at position %d, want %d", id, est.Position, i+1)
		}
	}
	must(t, e.SetPresence(t0.Add(6*time.Second), "ann", Available, ""))
	var got []string
	for i := range want {
		o := r.lastOffer(t)
		got = append(got, o.Contact)
		now := t0.Add(time.Duration(10+i) * time.Second)
		must(t, e.Accept(now, o.Offer))
		must(t, e.Complete(now, o.Contact))
		must(t, e.EndWrapUp(now, "ann"))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("served %v, want %v", got, want)
	}
	// Aging: a survey that waited 51 s more outranks a fresh plain contact.
	e2, _ := newTestEngine(t, testConfig)
	enqueue(t, e2, t0, "old-survey", "billing", map[string]string{"task": "survey"})
	enqueue(t, e2, t0.Add(51*time.Second), "new-plain", "billing", nil)
	est, _ := e2.Estimate(t0.Add(51*time.Second), "old-survey")
	if est.Position != 1 {
		t.Fatalf("aged survey at position %d, want 1", est.Position)
	}
}

func TestStepsWidenThePoolOnTime(t *testing.T) {
	e, r := newTestEngine(t, testConfig)
	// Only agents that match later steps are on.
	login(t, e, t0, "mid-fr", map[string]int{"billing": 3}, "fr") // step 2 (index 2) only
	login(t, e, t0, "mid-en", map[string]int{"billing": 2}, "en") // steps 1 and 2
	enqueue(t, e, t0, "c", "billing", nil)
	if len(r.offers()) != 0 {
		t.Fatal("offered before the first step expired")
	}
	e.Advance(t0.Add(29 * time.Second))
	if len(r.offers()) != 0 {
		t.Fatal("offered before 30 s")
	}
	e.Advance(t0.Add(30 * time.Second))
	o := r.lastOffer(t)
	if o.Agent != "mid-en" || o.Step != 1 || !o.At.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("step 1 offer %+v", o)
	}
	// mid-en declines; step 1 has nobody else until 60 s, then mid-fr.
	must(t, e.Decline(t0.Add(31*time.Second), o.Offer))
	e.Advance(t0.Add(36 * time.Second))
	if n := len(r.offers()); n != 2 || r.lastOffer(t).Agent != "mid-en" {
		// mid-en's 5 s hold ended at 36 s and she is offered again in step 1.
		t.Fatalf("offers %+v", r.offers())
	}
	must(t, e.Decline(t0.Add(40*time.Second), r.lastOffer(t).Offer)) // second miss: not ready
	e.Advance(t0.Add(59 * time.Second))
	if len(r.offers()) != 2 {
		t.Fatal("offered again before step 2")
	}
	e.Advance(t0.Add(60 * time.Second))
	o = r.lastOffer(t)
	if o.Agent != "mid-fr" || o.Step != 2 {
		t.Fatalf("step 2 offer %+v", o)
	}
	must(t, e.Verify())
}

func TestOverflowAndMostSkilled(t *testing.T) {
	e, r := newTestEngine(t, testConfig)
	enqueue(t, e, t0, "c", "tech", nil)
	login(t, e, t0.Add(time.Second), "billing-only", map[string]int{"billing": 5}, "en")
	e.Advance(t0.Add(119 * time.Second))
	if len(r.offers()) != 0 {
		t.Fatal("offered before overflow")
	}
	e.Advance(t0.Add(120 * time.Second))
	o := r.lastOffer(t)
	if o.Queue != "billing" || o.Agent != "billing-only" {
		t.Fatalf("after overflow: %+v", o)
	}
	// Most skilled: the tech 5 gets it over the longer-idle tech 2.
	e2, r2 := newTestEngine(t, testConfig)
	login(t, e2, t0, "t2", map[string]int{"tech": 2})
	login(t, e2, t0.Add(time.Second), "t5", map[string]int{"tech": 5})
	enqueue(t, e2, t0.Add(2*time.Second), "x", "tech", nil)
	if o := r2.lastOffer(t); o.Agent != "t5" {
		t.Fatalf("most skilled chose %s", o.Agent)
	}
}

func TestAbandonDisconnectAndReconcile(t *testing.T) {
	e, r := newTestEngine(t, testConfig)
	enqueue(t, e, t0, "gone", "billing", nil)
	enqueue(t, e, t0.Add(time.Second), "stays", "billing", nil)
	must(t, e.Abandon(t0.Add(2*time.Second), "gone"))
	if _, ok := e.Contact("gone"); ok || e.Waiting("billing") != 1 {
		t.Fatal("abandoned contact still queued")
	}
	if err := e.Abandon(t0.Add(2*time.Second), "gone"); !errors.Is(err, ErrUnknownContact) {
		t.Fatalf("double abandon: %v", err)
	}
	login(t, e, t0.Add(3*time.Second), "ann", map[string]int{"billing": 5}, "en")
	o := r.lastOffer(t)
	must(t, e.Accept(t0.Add(4*time.Second), o.Offer))
	// Agent leg drops mid-call: contact goes back, agent logged out.
	must(t, e.AgentDisconnected(t0.Add(10*time.Second), "ann"))
	if st, _ := e.Contact("stays"); st.State != "queued" {
		t.Fatalf("after agent disconnect contact is %+v", st)
	}
	if st, _ := e.Agent("ann"); st.Presence != LoggedOut || st.Work != Idle {
		t.Fatalf("agent after disconnect %+v", st)
	}
	// Mid-offer disconnect.
	login(t, e, t0.Add(11*time.Second), "bob", map[string]int{"billing": 5}, "en")
	must(t, e.AgentDisconnected(t0.Add(12*time.Second), "bob"))
	if st, _ := e.Contact("stays"); st.State != "queued" {
		t.Fatalf("after mid-offer disconnect contact is %+v", st)
	}
	must(t, e.Verify())
	// Reconciler: a crashed leg left "stays" offered to cat; the leg is dead.
	login(t, e, t0.Add(13*time.Second), "cat", map[string]int{"billing": 5}, "en")
	cleared := e.Reconcile(t0.Add(14*time.Second), func(id string) bool { return id != "stays" })
	if len(cleared) != 1 || cleared[0] != "stays" {
		t.Fatalf("reconcile cleared %v", cleared)
	}
	if st, _ := e.Agent("cat"); st.Work != Idle || len(st.Offers) != 0 {
		t.Fatalf("cat still reserved: %+v", st)
	}
	// Agent grain believes it holds an offer the engine never made.
	unknown, err := e.SyncAgent(t0.Add(15*time.Second), "cat", []string{"offer-999"})
	must(t, err)
	if len(unknown) != 1 || unknown[0] != "offer-999" {
		t.Fatalf("unknown offers %v", unknown)
	}
	// Engine holds an offer the agent does not know: withdrawn, contact back.
	enqueue(t, e, t0.Add(16*time.Second), "d", "billing", nil)
	od := r.lastOffer(t)
	_, err = e.SyncAgent(t0.Add(17*time.Second), "cat", nil)
	must(t, err)
	if _, ok := e.Offer(od.Offer); ok {
		t.Fatal("offer unknown to the agent not withdrawn")
	}
	must(t, e.Verify())
}

func TestCallbackKeepsPlace(t *testing.T) {
	e, r := newTestEngine(t, testConfig)
	enqueue(t, e, t0, "a", "billing", nil)
	enqueue(t, e, t0.Add(time.Second), "b", "billing", nil)
	enqueue(t, e, t0.Add(2*time.Second), "c", "billing", nil)
	must(t, e.RequestCallback(t0.Add(3*time.Second), "b"))
	est, _ := e.Estimate(t0.Add(4*time.Second), "b")
	if est.Position != 2 {
		t.Fatalf("callback placeholder at %d, want 2", est.Position)
	}
	login(t, e, t0.Add(5*time.Second), "ann", map[string]int{"billing": 5}, "en")
	o := r.lastOffer(t)
	must(t, e.Accept(t0.Add(6*time.Second), o.Offer))
	must(t, e.Complete(t0.Add(7*time.Second), "a"))
	must(t, e.EndWrapUp(t0.Add(7*time.Second), "ann"))
	o = r.lastOffer(t)
	if o.Contact != "b" || !o.Callback {
		t.Fatalf("after a: %+v, want callback offer for b", o)
	}
}

func TestEstimatedWaitIsPositionAware(t *testing.T) {
	e, r := newTestEngine(t, testConfig)
	for i := range 4 {
		login(t, e, t0, fmt.Sprint("ag", i), map[string]int{"billing": 5}, "en")
	}
	// Occupy all four agents with 120 s handle time (+10 s wrap) so the EWMA AHT is 130 s.
	for i := range 4 {
		enqueue(t, e, t0, fmt.Sprint("w", i), "billing", nil)
	}
	for _, o := range r.offers() {
		must(t, e.Accept(t0, o.Offer))
	}
	for i := range 4 {
		must(t, e.Complete(t0.Add(120*time.Second), fmt.Sprint("w", i)))
	}
	for i := range 8 {
		enqueue(t, e, t0.Add(121*time.Second), fmt.Sprint("q", i), "billing", nil)
	}
	// All four are in wrap-up and staffed: the 8th contact waits ~8*130/4 s.
	est, err := e.Estimate(t0.Add(121*time.Second), "q7")
	must(t, err)
	if est.Position != 8 || est.Staffed != 4 || est.Wait != 260*time.Second {
		t.Fatalf("estimate %+v, want position 8, 4 staffed, 260s", est)
	}
	est0, _ := e.Estimate(t0.Add(121*time.Second), "q0")
	if est0.Wait >= est.Wait {
		t.Fatal("earlier position does not wait less")
	}
}
