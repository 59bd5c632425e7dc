package routing

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// benchConfig has 20 queues over 20 skills, each with three relaxing steps.
func benchConfig() *Config {
	var b strings.Builder
	b.WriteString("skills: [")
	for i := range 20 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "s%d", i)
	}
	b.WriteString("]\npriority:\n  rules:\n    - {attribute: tier, in: [vip], points: 120}\nqueues:\n")
	strategies := []Strategy{LongestIdle, MostSkilled, LeastOccupied, RoundRobin, WeightedRandom}
	for i := range 20 {
		fmt.Fprintf(&b, "  - id: q%d\n    strategy: %s\n    steps:\n", i, strategies[i%len(strategies)])
		fmt.Fprintf(&b, "      - {expiry: 20s, require: {skill: s%d, min: 4}}\n", i)
		fmt.Fprintf(&b, "      - {expiry: 40s, require: {skill: s%d, min: 2}}\n", i)
		fmt.Fprintf(&b, "      - {require: {any_of: [{skill: s%d}, {skill: s%d, min: 3}]}}\n", i, (i+1)%20)
	}
	cfg, err := ParseConfig([]byte(b.String()))
	if err != nil {
		panic(err)
	}
	return cfg
}

type benchCenter struct {
	e      *Engine
	rng    *rand.Rand
	offers []Event
	now    time.Time
	next   int
}

func (c *benchCenter) acceptAll(tb testing.TB) int {
	n := len(c.offers)
	for _, o := range c.offers {
		if err := c.e.Accept(c.now, o.Offer); err != nil {
			tb.Fatal(err)
		}
	}
	c.offers = c.offers[:0]
	return n
}

// acceptInto accepts pending offers and adds their contacts to busy.
func (c *benchCenter) acceptInto(tb testing.TB, busy []string, n int) ([]string, int) {
	for _, o := range c.offers {
		busy = append(busy, o.Contact)
	}
	return busy, n + c.acceptAll(tb)
}

func (c *benchCenter) enqueue(tb testing.TB) {
	attrs := map[string]string(nil)
	if c.rng.IntN(10) == 0 {
		attrs = map[string]string{"tier": "vip"}
	}
	c.next++
	if _, err := c.e.Enqueue(c.now, ContactSpec{ID: "c" + fmt.Sprint(c.next), Queue: fmt.Sprint("q", c.rng.IntN(20)), Attributes: attrs}); err != nil {
		tb.Fatal(err)
	}
}

// newBenchCenter logs in agents (three random skills each) and, when busy,
// gives every agent a connected contact and then queues waiting contacts.
func newBenchCenter(tb testing.TB, agents, waiting int, busy bool) *benchCenter {
	c := &benchCenter{rng: rand.New(rand.NewPCG(42, 42)), now: t0}
	e, err := New(benchConfig(), WithRand(rand.New(rand.NewPCG(1, 1))), WithSink(func(ev Event) {
		if ev.Kind == EventOffered {
			c.offers = append(c.offers, ev)
		}
	}))
	if err != nil {
		tb.Fatal(err)
	}
	c.e = e
	for i := range agents {
		skills := map[string]int{}
		for len(skills) < 3 {
			skills[fmt.Sprint("s", c.rng.IntN(20))] = 1 + c.rng.IntN(5)
		}
		id := fmt.Sprint("a", i)
		must(tb, e.AddAgent(c.now, AgentSpec{ID: id, Skills: skills}))
		must(tb, e.SetPresence(c.now, id, Available, ""))
	}
	if busy {
		// Arrivals every 5 ms until every agent holds a connected contact
		// (low-proficiency agents wait for contacts to reach later steps).
		for i := 0; activeCount(e) < agents; i++ {
			if i > 100*agents {
				tb.Fatalf("only %d of %d agents busy", activeCount(e), agents)
			}
			c.now = c.now.Add(5 * time.Millisecond)
			c.enqueue(tb)
			c.acceptAll(tb)
		}
	}
	// Waiting contacts arrive over the next minute so they spread over steps.
	gap := time.Minute / time.Duration(max(waiting, 1))
	for e.Contacts() < waiting+activeCount(e) {
		c.now = c.now.Add(gap)
		c.enqueue(tb)
		c.acceptAll(tb)
	}
	return c
}

func activeCount(e *Engine) int {
	n := 0
	for _, a := range e.agents {
		n += len(a.active) + len(a.offers)
	}
	return n
}

func report(b *testing.B, lat []time.Duration, decisions int, elapsed time.Duration) {
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / 1e3 }
	b.ReportMetric(float64(decisions)/elapsed.Seconds(), "decisions/s")
	b.ReportMetric(p(0.50), "p50-µs")
	b.ReportMetric(p(0.99), "p99-µs")
	b.ReportMetric(p(0.999), "p99.9-µs")
	b.ReportMetric(float64(lat[len(lat)-1])/1e3, "max-µs")
}

// BenchmarkBusyCenter: 10,000 busy agents, 100,000 waiting contacts. Each
// iteration one agent finishes (the engine picks the best waiting contact
// among the steps the agent qualifies for: a decision), the agent accepts,
// and a new contact arrives (the engine finds no free agent and queues it:
// a decision). Simulated time advances 1 ms per iteration so contacts keep
// crossing step expiries. Latency is per engine call.
func BenchmarkBusyCenter(b *testing.B) {
	c := newBenchCenter(b, 10_000, 100_000, true)
	e := c.e
	busy := make([]string, 0, 10_000)
	for _, a := range e.agents {
		if len(a.active) > 0 {
			busy = append(busy, a.active[0].id)
		}
	}
	b.Logf("agents %d, busy %d, waiting %d", len(e.agents), len(busy), e.Contacts()-len(busy))
	lat := make([]time.Duration, 0, 1<<20)
	decisions, matched := 0, 0
	freed := make([]time.Duration, 0, 1<<20)
	var elapsed time.Duration
	b.ResetTimer()
	for b.Loop() {
		c.now = c.now.Add(time.Millisecond)
		if len(busy) > 0 {
			i := c.rng.IntN(len(busy))
			t := time.Now()
			if err := e.Complete(c.now, busy[i]); err != nil {
				b.Fatal(err)
			}
			d := time.Since(t)
			lat = append(lat, d)
			freed = append(freed, d)
			elapsed += d
			decisions++
			busy[i] = busy[len(busy)-1]
			busy = busy[:len(busy)-1]
			busy, matched = c.acceptInto(b, busy, matched)
		}
		t := time.Now()
		c.enqueue(b)
		d := time.Since(t)
		lat = append(lat, d)
		elapsed += d
		decisions++
		busy, matched = c.acceptInto(b, busy, matched)
	}
	b.Logf("iterations %d: %d offers, %d busy at the end, %d waiting", len(lat)/2, matched, len(busy), e.Contacts()-len(busy))
	slices.Sort(freed)
	b.ReportMetric(float64(freed[len(freed)*99/100])/1e3, "p99-agent-freed-µs")
	b.StopTimer()
	if err := e.Verify(); err != nil {
		b.Fatal(err)
	}
	report(b, lat, decisions, elapsed)
}

// BenchmarkIdleCenter: 10,000 available agents and an arriving contact each
// iteration; the engine picks the best agent of the contact's step by the
// queue's strategy, the agent accepts and completes at once, and becomes
// available again (the engine checks its steps for waiting contacts).
func BenchmarkIdleCenter(b *testing.B) {
	c := newBenchCenter(b, 10_000, 0, false)
	e := c.e
	lat := make([]time.Duration, 0, 1<<20)
	decisions := 0
	var elapsed time.Duration
	b.ResetTimer()
	for b.Loop() {
		c.now = c.now.Add(time.Millisecond)
		t := time.Now()
		c.enqueue(b)
		d := time.Since(t)
		lat = append(lat, d)
		elapsed += d
		decisions++
		if len(c.offers) != 1 {
			b.Fatalf("arriving contact got %d offers", len(c.offers))
		}
		id := c.offers[0].Contact
		c.acceptAll(b)
		t = time.Now()
		if err := e.Complete(c.now, id); err != nil {
			b.Fatal(err)
		}
		d = time.Since(t)
		lat = append(lat, d)
		elapsed += d
		decisions++
	}
	b.StopTimer()
	if err := e.Verify(); err != nil {
		b.Fatal(err)
	}
	report(b, lat, decisions, elapsed)
}
