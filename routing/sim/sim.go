// Package sim is a discrete-event simulation of a contact center driven
// through the real routing engine: Poisson arrivals, exponential handle times
// and optional exponential patience, so that its measures can be checked
// against Erlang C and Erlang A and the engine benchmarked end to end.
package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/parley-cc/parley/routing"
)

// Scenario is one simulated load level on a single queue.
type Scenario struct {
	CallsPerHour float64
	AHT          time.Duration // mean of the exponential handle time
	Agents       int
	Patience     time.Duration // mean exponential patience; 0 = callers never abandon (Erlang C)
	ServiceLevel time.Duration // threshold T; default 20s
	Calls        int           // contacts measured
	Warmup       int           // contacts simulated first and not measured; default Calls/20
	Seed         uint64
}

// Result is what the simulation measured through routing.Metrics.
type Result struct {
	Offered      int // measured contacts that ended (answered or abandoned)
	Answered     int
	Abandoned    int
	ServiceLevel float64 // answered within T / (answered + abandoned)
	ASA          time.Duration
	AbandonRate  float64
	Occupancy    float64
	Decisions    int           // offers made by the engine (all contacts)
	Simulated    time.Duration // simulated time span
	Wall         time.Duration // wall-clock time of the run
}

type kind uint8

const (
	arrival kind = iota
	completion
	patienceEnd
)

type event struct {
	at   time.Time
	kind kind
	id   string
	seq  int
}

type events []event

func (h events) Len() int { return len(h) }
func (h events) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h events) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *events) Push(x any)   { *h = append(*h, x.(event)) }
func (h *events) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Config is the routing configuration the simulation runs: one voice queue
// served by every agent, no wrap-up, offers accepted at once.
func (s Scenario) Config() *routing.Config {
	sl := s.ServiceLevel
	if sl == 0 {
		sl = 20 * time.Second
	}
	return &routing.Config{
		Skills:   []string{"general"},
		Priority: routing.PriorityConfig{AgingPerSecond: 1},
		Offers:   routing.OfferConfig{Timeout: time.Hour, MaxMisses: 3},
		Queues: []routing.QueueConfig{{
			ID: "sim", Strategy: routing.LongestIdle, ServiceLevel: sl,
			HandleHint: s.AHT,
			Steps:      []routing.StepConfig{{Require: routing.Predicate{Skill: "general"}}},
		}},
	}
}

// Run simulates the scenario and measures it.
func Run(s Scenario) (Result, error) {
	if s.CallsPerHour <= 0 || s.AHT <= 0 || s.Agents <= 0 || s.Calls <= 0 {
		return Result{}, fmt.Errorf("sim: calls per hour, AHT, agents and calls must be positive")
	}
	warm := s.Warmup
	if warm == 0 {
		warm = s.Calls / 20
	}
	cfg := s.Config()
	metrics := routing.NewMetrics(cfg)
	var offers []routing.Event
	decisions := 0
	measured := func(id string) bool {
		n, _ := strconv.Atoi(id[1:])
		return n >= warm
	}
	sink := func(ev routing.Event) {
		switch ev.Kind {
		case routing.EventOffered:
			offers = append(offers, ev)
			decisions++
		case routing.EventAgentState:
			metrics.Record(ev)
			return
		}
		if ev.Contact != "" && measured(ev.Contact) {
			metrics.Record(ev)
		}
	}
	rng := rand.New(rand.NewPCG(s.Seed, s.Seed^0x5eed))
	eng, err := routing.New(cfg, routing.WithSink(sink), routing.WithRand(rand.New(rand.NewPCG(s.Seed+1, 1))))
	if err != nil {
		return Result{}, fmt.Errorf("sim: %w", err)
	}
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for i := range s.Agents {
		id := "a" + strconv.Itoa(i)
		if err := eng.AddAgent(start, routing.AgentSpec{ID: id, Skills: map[string]int{"general": 3}}); err != nil {
			return Result{}, fmt.Errorf("sim: %w", err)
		}
		if err := eng.SetPresence(start, id, routing.Available, ""); err != nil {
			return Result{}, fmt.Errorf("sim: %w", err)
		}
	}
	exp := func(mean time.Duration) time.Duration {
		return time.Duration(rng.ExpFloat64() * float64(mean))
	}
	interarrival := time.Duration(float64(time.Hour) / s.CallsPerHour)
	var q events
	seq := 0
	push := func(ev event) {
		seq++
		ev.seq = seq
		heap.Push(&q, ev)
	}
	total := warm + s.Calls
	push(event{at: start.Add(exp(interarrival)), kind: arrival})
	arrived := 0
	answered := map[string]bool{}
	wall := time.Now()
	var now time.Time
	for q.Len() > 0 {
		ev := heap.Pop(&q).(event)
		now = ev.at
		switch ev.kind {
		case arrival:
			id := "c" + strconv.Itoa(arrived)
			arrived++
			if _, err := eng.Enqueue(now, routing.ContactSpec{ID: id, Queue: "sim"}); err != nil {
				return Result{}, fmt.Errorf("sim: %w", err)
			}
			if s.Patience > 0 {
				push(event{at: now.Add(exp(s.Patience)), kind: patienceEnd, id: id})
			}
			if arrived < total {
				push(event{at: now.Add(exp(interarrival)), kind: arrival})
			}
		case completion:
			delete(answered, ev.id)
			if err := eng.Complete(now, ev.id); err != nil {
				return Result{}, fmt.Errorf("sim: %w", err)
			}
		case patienceEnd:
			if _, ok := answered[ev.id]; ok {
				continue
			}
			if _, live := eng.Contact(ev.id); !live {
				continue
			}
			if err := eng.Abandon(now, ev.id); err != nil {
				return Result{}, fmt.Errorf("sim: %w", err)
			}
		}
		// Offers made by the engine during the call are accepted at once.
		for len(offers) > 0 {
			o := offers[0]
			offers = offers[1:]
			if err := eng.Accept(now, o.Offer); err != nil {
				return Result{}, fmt.Errorf("sim: accept: %w", err)
			}
			answered[o.Contact] = true
			push(event{at: now.Add(exp(s.AHT)), kind: completion, id: o.Contact})
		}
	}
	qm := metrics.Queue("sim")
	return Result{
		Offered:      qm.Answered + qm.Abandoned,
		Answered:     qm.Answered,
		Abandoned:    qm.Abandoned,
		ServiceLevel: qm.ServiceLevel(),
		ASA:          qm.ASA(),
		AbandonRate:  qm.AbandonRate(),
		Occupancy:    metrics.Occupancy(now),
		Decisions:    decisions,
		Simulated:    now.Sub(start),
		Wall:         time.Since(wall),
	}, nil
}
