package routing

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

const strategyConfig = `
skills: [s]
queues:
  - {id: rr, strategy: round_robin, steps: [{require: {skill: s}}]}
  - {id: lo, strategy: least_occupied, steps: [{require: {skill: s}}]}
  - {id: wr, strategy: weighted_random, steps: [{require: {skill: s}}]}
  - {id: li, strategy: longest_idle, steps: [{require: {skill: s}}]}
`

// serve enqueues a contact, accepts its offer and completes it after talk.
func serve(t *testing.T, e *Engine, r *recorder, now time.Time, id, q string, talk time.Duration) string {
	t.Helper()
	n := len(r.offers())
	enqueue(t, e, now, id, q, nil)
	if len(r.offers()) != n+1 {
		t.Fatalf("%s: no offer", id)
	}
	o := r.lastOffer(t)
	must(t, e.Accept(now, o.Offer))
	must(t, e.Complete(now.Add(talk), id))
	return o.Agent
}

func TestStrategies(t *testing.T) {
	t.Run("round robin", func(t *testing.T) {
		e, r := newTestEngine(t, strategyConfig)
		for _, id := range []string{"a", "b", "c"} {
			login(t, e, t0, id, map[string]int{"s": 1})
		}
		var got []string
		for i := range 6 {
			got = append(got, serve(t, e, r, t0.Add(time.Duration(i)*time.Second), fmt.Sprint("c", i), "rr", 0))
		}
		if fmt.Sprint(got) != "[a b c a b c]" {
			t.Fatalf("round robin order %v", got)
		}
	})
	t.Run("least occupied", func(t *testing.T) {
		e, r := newTestEngine(t, strategyConfig)
		login(t, e, t0, "a", map[string]int{"s": 1})
		login(t, e, t0, "b", map[string]int{"s": 1})
		// a (first by seq) takes a long contact; b a short one; then b again.
		if ag := serve(t, e, r, t0, "long", "lo", 300*time.Second); ag != "a" {
			t.Fatalf("first went to %s", ag)
		}
		if ag := serve(t, e, r, t0.Add(400*time.Second), "short", "lo", 10*time.Second); ag != "b" {
			t.Fatalf("second went to %s", ag)
		}
		if ag := serve(t, e, r, t0.Add(500*time.Second), "next", "lo", 0); ag != "b" {
			t.Fatalf("least occupied chose %s, want b (10 s busy vs 300 s)", ag)
		}
	})
	t.Run("longest idle", func(t *testing.T) {
		e, r := newTestEngine(t, strategyConfig)
		login(t, e, t0, "a", map[string]int{"s": 1})
		login(t, e, t0.Add(time.Second), "b", map[string]int{"s": 1})
		if ag := serve(t, e, r, t0.Add(2*time.Second), "x", "li", time.Second); ag != "a" {
			t.Fatalf("longest idle chose %s", ag)
		}
		if ag := serve(t, e, r, t0.Add(5*time.Second), "y", "li", 0); ag != "b" {
			t.Fatalf("longest idle chose %s after a worked", ag)
		}
	})
	t.Run("weighted random", func(t *testing.T) {
		pick := func(seed uint64) map[string]int {
			cfg, err := ParseConfig([]byte(strategyConfig))
			must(t, err)
			r := &recorder{}
			e, err := New(cfg, WithSink(r.sink), WithRand(rand.New(rand.NewPCG(seed, seed))))
			must(t, err)
			login(t, e, t0, "novice", map[string]int{"s": 1}) // weight 2
			login(t, e, t0, "expert", map[string]int{"s": 5}) // weight 6
			count := map[string]int{}
			for i := range 4000 {
				count[serve(t, e, r, t0.Add(time.Duration(i)*time.Second), fmt.Sprint("c", i), "wr", 0)]++
			}
			return count
		}
		a, b := pick(3), pick(3)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("same seed, different picks: %v vs %v", a, b)
		}
		share := float64(a["expert"]) / 4000
		if math.Abs(share-0.75) > 0.03 {
			t.Fatalf("expert share %.3f, want 6/8 = 0.75", share)
		}
	})
}

func TestChannelCapacity(t *testing.T) {
	const cfg = `
skills: [s]
queues:
  - {id: voice, steps: [{require: {skill: s}}]}
  - {id: chat, channel: chat, steps: [{require: {skill: s}}]}
`
	e, r := newTestEngine(t, cfg)
	must(t, e.AddAgent(t0, AgentSpec{ID: "a", Skills: map[string]int{"s": 3}, Capacity: map[string]int{"voice": 1, "chat": 2}}))
	must(t, e.SetPresence(t0, "a", Available, ""))
	for i := range 3 {
		enqueue(t, e, t0, fmt.Sprint("chat", i), "chat", nil)
	}
	enqueue(t, e, t0, "call", "voice", nil)
	got := map[string]bool{}
	for _, o := range r.offers() {
		got[o.Contact] = true
	}
	if len(got) != 3 || !got["chat0"] || !got["chat1"] || !got["call"] {
		t.Fatalf("offers %v, want two chats and the call", got)
	}
	if e.Waiting("chat") != 1 {
		t.Fatalf("third chat should wait, waiting=%d", e.Waiting("chat"))
	}
}

func TestCalendarAndAfterHours(t *testing.T) {
	const cfg = `
skills: [s]
calendars:
  - name: paris
    time_zone: Europe/Paris
    weekly: {mon: ["09:00-12:00", "13:00-18:00"], sat: ["10:00-24:00"]}
    holidays: ["2026-03-09"]
queues:
  - {id: main, calendar: paris, after_hours: {action: overflow, queue: night}, steps: [{require: {skill: s}}]}
  - {id: night, calendar: paris, after_hours: {action: voicemail}, steps: [{require: {skill: s}}]}
  - {id: always, steps: [{require: {skill: s}}]}
`
	c, err := ParseConfig([]byte(cfg))
	must(t, err)
	cal, err := NewCalendar(c.Calendars[0], "test")
	must(t, err)
	paris, _ := time.LoadLocation("Europe/Paris")
	for _, tc := range []struct {
		at   time.Time
		open bool
	}{
		{time.Date(2026, 3, 2, 9, 0, 0, 0, paris), true},
		{time.Date(2026, 3, 2, 8, 59, 0, 0, paris), false},
		{time.Date(2026, 3, 2, 12, 30, 0, 0, paris), false}, // lunch
		{time.Date(2026, 3, 2, 17, 59, 0, 0, paris), true},
		{time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC), true}, // 09:30 in Paris
		{time.Date(2026, 3, 9, 10, 0, 0, 0, paris), false},   // holiday Monday
		{time.Date(2026, 3, 7, 23, 59, 0, 0, paris), true},   // Saturday until midnight
		{time.Date(2026, 3, 3, 10, 0, 0, 0, paris), false},   // Tuesday: closed
	} {
		if got := cal.IsOpen(tc.at); got != tc.open {
			t.Errorf("IsOpen(%v) = %v, want %v", tc.at, got, tc.open)
		}
	}
	e, _ := newTestEngine(t, cfg)
	res, err := e.Enqueue(time.Date(2026, 3, 2, 10, 0, 0, 0, paris), ContactSpec{ID: "day", Queue: "main"})
	must(t, err)
	if !res.Queued || res.Queue != "main" || res.AfterHours != "" {
		t.Fatalf("open hours: %+v", res)
	}
	night := time.Date(2026, 3, 2, 22, 0, 0, 0, paris)
	res, err = e.Enqueue(night, ContactSpec{ID: "late", Queue: "main"})
	must(t, err)
	if res.Queued || res.Queue != "night" || res.AfterHours != AfterHoursVoicemail {
		t.Fatalf("after hours: %+v, want voicemail in night", res)
	}
	if _, err := ParseConfig([]byte(`
skills: [s]
calendars: [{name: x, time_zone: Mars/Olympus}]
queues: [{id: q, steps: [{require: {skill: s}}]}]
`)); err == nil {
		t.Fatal("unknown time zone accepted")
	}
	if _, err := ParseConfig([]byte(`
skills: [s]
calendars: [{name: x, weekly: {mon: ["18:00-09:00"]}}]
queues: [{id: q, steps: [{require: {skill: s}}]}]
`)); err == nil {
		t.Fatal("backwards span accepted")
	}
}

func TestErlangC(t *testing.T) {
	// The textbook case: 720 calls/h, 4 min AHT = 48 Erlangs.
	m := ErlangC{ArrivalsPerSecond: 720.0 / 3600, AHT: 4 * time.Minute}
	if m.Load() != 48 {
		t.Fatalf("load %v", m.Load())
	}
	sl := m.ServiceLevel(55, 15*time.Second)
	asa := m.ASA(55)
	if math.Abs(sl-0.846) > 0.001 || math.Abs(asa.Seconds()-8.18) > 0.05 {
		t.Fatalf("55 agents: SL %.4f ASA %v, want ~0.846 and ~8.2 s", sl, asa)
	}
	n, err := m.AgentsFor(0.80, 20*time.Second)
	must(t, err)
	if m.ServiceLevel(n, 20*time.Second) < 0.80 || m.ServiceLevel(n-1, 20*time.Second) >= 0.80 {
		t.Fatalf("AgentsFor gave %d, not the fewest", n)
	}
	if m.ProbWait(48) != 1 || m.ServiceLevel(40, time.Second) != 0 {
		t.Fatal("overloaded staffing must wait always")
	}
	if math.Abs(m.Occupancy(60)-0.8) > 1e-12 {
		t.Fatalf("occupancy %v", m.Occupancy(60))
	}
	if _, err := m.AgentsFor(1.2, time.Second); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("target 1.2 accepted: %v", err)
	}
}

func TestErlangAApproachesErlangC(t *testing.T) {
	c := ErlangC{ArrivalsPerSecond: 0.2, AHT: 4 * time.Minute}
	a := ErlangA{ArrivalsPerSecond: 0.2, AHT: 4 * time.Minute, Patience: 1000 * time.Hour}
	r, err := a.Solve(55, 15*time.Second)
	must(t, err)
	if math.Abs(r.ServiceLevel-c.ServiceLevel(55, 15*time.Second)) > 0.002 || math.Abs(r.ProbWait-c.ProbWait(55)) > 0.002 {
		t.Fatalf("patient Erlang A %+v differs from Erlang C (SL %.4f, Pw %.4f)", r, c.ServiceLevel(55, 15*time.Second), c.ProbWait(55))
	}
	if math.Abs(r.ASA.Seconds()-c.ASA(55).Seconds()) > 0.1 {
		t.Fatalf("ASA %v vs %v", r.ASA, c.ASA(55))
	}
	// Impatient callers: abandonment appears, and Erlang A stays stable even
	// when Erlang C would be overloaded.
	a.Patience = time.Minute
	r, err = a.Solve(45, 20*time.Second)
	must(t, err)
	if r.ProbAbandon <= 0.01 || r.ProbAbandon >= 0.5 || r.ServiceLevel >= r.ServiceLevelAnswered {
		t.Fatalf("overloaded Erlang A %+v", r)
	}
	if r.Occupancy > 1 || r.Occupancy < 0.9 {
		t.Fatalf("occupancy %v", r.Occupancy)
	}
	n, err := a.AgentsFor(0.8, 20*time.Second)
	must(t, err)
	hi, _ := a.Solve(n, 20*time.Second)
	lo, _ := a.Solve(n-1, 20*time.Second)
	if hi.ServiceLevel < 0.8 || lo.ServiceLevel >= 0.8 {
		t.Fatalf("AgentsFor gave %d: SL %v, with one fewer %v", n, hi.ServiceLevel, lo.ServiceLevel)
	}
	// Abandonment lowers the staffing Erlang C asks for.
	nc, _ := ErlangC{ArrivalsPerSecond: 0.2, AHT: 4 * time.Minute}.AgentsFor(0.8, 20*time.Second)
	if n > nc {
		t.Fatalf("Erlang A needs %d agents, Erlang C %d", n, nc)
	}
}

func TestMetricsFromEvents(t *testing.T) {
	cfg, err := ParseConfig([]byte(testConfig))
	must(t, err)
	m := NewMetrics(cfg)
	r := &recorder{}
	e, err := New(cfg, WithSink(func(ev Event) { r.sink(ev); m.Record(ev) }))
	must(t, err)
	login(t, e, t0, "ann", map[string]int{"billing": 5}, "en")
	enqueue(t, e, t0, "fast", "billing", nil) // answered at once
	enqueue(t, e, t0, "slow", "billing", nil) // answered after 100 s
	enqueue(t, e, t0, "gone", "billing", nil)
	must(t, e.Accept(t0, r.lastOffer(t).Offer))
	must(t, e.Abandon(t0.Add(30*time.Second), "gone"))
	must(t, e.Complete(t0.Add(90*time.Second), "fast")) // 90 s talk, wrap-up 10 s
	e.Advance(t0.Add(100 * time.Second))                // wrap-up ends, slow is offered
	must(t, e.Accept(t0.Add(100*time.Second), r.lastOffer(t).Offer))
	must(t, e.Complete(t0.Add(130*time.Second), "slow")) // 30 s talk
	e.Advance(t0.Add(140 * time.Second))                 // wrap-up ends
	q := m.Queue("billing")
	if q.Offered != 3 || q.Answered != 2 || q.Abandoned != 1 || q.Handled != 2 || q.AnsweredInSL != 1 {
		t.Fatalf("counters %+v", q)
	}
	if q.ServiceLevel() != 1.0/3 || q.AbandonRate() != 1.0/3 || q.ASA() != 50*time.Second {
		t.Fatalf("SL %v abandon %v ASA %v", q.ServiceLevel(), q.AbandonRate(), q.ASA())
	}
	if q.AHT() != 70*time.Second { // (90+30 talk + 10+10 wrap) / 2
		t.Fatalf("AHT %v", q.AHT())
	}
	a := m.Agent("ann", t0.Add(200*time.Second))
	// 0-90 busy, 90-100 wrap, 100-130 busy, 130-140 wrap, 140-200 idle.
	if a.Talk != 120*time.Second || a.WrapUp != 20*time.Second || a.Available != 60*time.Second || a.Handled != 2 {
		t.Fatalf("agent %+v", a)
	}
	if math.Abs(a.Occupancy()-140.0/200) > 1e-9 {
		t.Fatalf("occupancy %v", a.Occupancy())
	}
	// A contact whose agent drops is requeued and answered again: one answer.
	enqueue(t, e, t0.Add(300*time.Second), "dropped", "billing", nil)
	must(t, e.Accept(t0.Add(301*time.Second), r.lastOffer(t).Offer))
	must(t, e.AgentDisconnected(t0.Add(320*time.Second), "ann"))
	login(t, e, t0.Add(330*time.Second), "bob", map[string]int{"billing": 5}, "en")
	must(t, e.Accept(t0.Add(331*time.Second), r.lastOffer(t).Offer))
	if q := m.Queue("billing"); q.Answered != 3 || q.Offered != 4 || q.TotalWait != 101*time.Second {
		t.Fatalf("after requeue: %+v", q)
	}
}

type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func TestLockedConcurrentUse(t *testing.T) {
	cfg, err := ParseConfig([]byte(strategyConfig))
	must(t, err)
	var offers []string
	e, err := New(cfg, WithSink(func(ev Event) {
		if ev.Kind == EventOffered {
			offers = append(offers, ev.Offer) // runs under the lock
		}
	}))
	must(t, err)
	l := NewLocked(e, &stepClock{t: t0})
	for i := range 4 {
		must(t, l.Do(func(e *Engine, now time.Time) error {
			if err := e.AddAgent(now, AgentSpec{ID: fmt.Sprint("a", i), Skills: map[string]int{"s": 2}}); err != nil {
				return err
			}
			return e.SetPresence(now, fmt.Sprint("a", i), Available, "")
		}))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprintf("g%d-%d", g, i)
				if _, err := l.Enqueue(ContactSpec{ID: id, Queue: "li"}); err != nil {
					t.Error(err)
					return
				}
				var pending []string
				_ = l.Do(func(*Engine, time.Time) error { pending, offers = offers, nil; return nil })
				for _, o := range pending {
					var contact string
					_ = l.Do(func(e *Engine, _ time.Time) error { of, _ := e.Offer(o); contact = of.Contact; return nil })
					if err := l.Accept(o); err != nil {
						t.Error(err)
					}
					if err := l.Complete(contact); err != nil {
						t.Error(err)
					}
				}
				l.Advance()
			}
		})
	}
	wg.Wait()
	must(t, l.Do(func(e *Engine, _ time.Time) error { return e.Verify() }))
}

func TestSnapshotRestoresPlaces(t *testing.T) {
	e, _ := newTestEngine(t, testConfig)
	for i, attrs := range []map[string]string{nil, {"tier": "vip"}, {"task": "survey"}, nil, {"task": "complaint"}} {
		enqueue(t, e, t0.Add(time.Duration(i)*time.Second), fmt.Sprint("c", i), "billing", attrs)
	}
	enqueue(t, e, t0, "t", "tech", nil)
	now := t0.Add(10 * time.Second)
	snap := e.Snapshot()
	if len(snap) != 6 {
		t.Fatalf("snapshot has %d contacts", len(snap))
	}
	restored, _ := newTestEngine(t, testConfig)
	for i := len(snap) - 1; i >= 0; i-- { // order of re-enqueue must not matter
		_, err := restored.Enqueue(now, snap[i])
		must(t, err)
	}
	for _, s := range snap {
		a, err := e.Estimate(now, s.ID)
		must(t, err)
		b, err := restored.Estimate(now, s.ID)
		must(t, err)
		if a.Position != b.Position {
			t.Fatalf("%s: position %d before, %d after restore", s.ID, a.Position, b.Position)
		}
	}
	must(t, restored.Verify())
}

// An engaged agent (busy in another engine) gets no offers but keeps the
// ones it holds; Withdraw returns the contact to its place without a miss.
func TestEngagedAndWithdraw(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
skills: [s]
offers: {max_misses: 1}
queues:
  - id: q
    steps: [{require: {skill: s}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	var offers []Event
	e, err := New(cfg, WithSink(func(ev Event) {
		if ev.Kind == EventOffered {
			offers = append(offers, ev)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	for _, id := range []string{"a1", "a2"} {
		if err := e.AddAgent(now, AgentSpec{ID: id, Skills: map[string]int{"s": 3}}); err != nil {
			t.Fatal(err)
		}
	}
	_ = e.SetPresence(now, "a1", Available, "")
	if err := e.SetEngaged(now, "a1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Enqueue(now, ContactSpec{ID: "c1", Queue: "q"}); err != nil {
		t.Fatal(err)
	}
	if len(offers) != 0 {
		t.Fatalf("engaged agent was offered %v", offers)
	}
	_ = e.SetEngaged(now, "a1", false)
	if len(offers) != 1 || offers[0].Agent != "a1" {
		t.Fatalf("after release: offers %v, want c1 to a1", offers)
	}
	_ = e.SetPresence(now, "a2", Available, "")
	if err := e.Withdraw(now, offers[0].Offer, "refused"); err != nil {
		t.Fatal(err)
	}
	if len(offers) != 2 || offers[1].Agent != "a2" || offers[1].Contact != "c1" {
		t.Fatalf("after withdraw: offers %v, want c1 to a2", offers)
	}
	st, _ := e.Agent("a1")
	if st.Presence != Available {
		t.Fatalf("withdraw charged a miss: a1 %+v", st)
	}
	if err := e.Withdraw(now, offers[0].Offer, "again"); err == nil {
		t.Fatal("second withdraw of the same offer succeeded")
	}
	if err := e.Verify(); err != nil {
		t.Fatal(err)
	}
}
