package actors

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-cc/parley/routing"
)

// routingMetrics are one member's ACD collectors. Counters count what the
// Queue grains hosted on this member did; they belong to the member, not
// to a grain, so a Queue grain re-activating (here or on another member)
// never resets them: sum them across members (sum by (queue)). Gauges are
// exported by the member hosting the grain right now (a grain that
// deactivates withdraws its series), so summing across members counts each
// queue and agent once.
//
// Definitions:
//   - offers: offers reserved for an agent; accepts: offers the agent
//     accepted (= answered contacts); rejects: offers the agent declined;
//     timeouts: offers not answered before the offer timeout.
//   - abandoned: callers who left while waiting (callbacks included).
//   - answered within service level: answered with a queue wait at most the
//     queue's threshold (service level = that / (answered + abandoned)).
//   - waiting contacts: contacts queued or being offered (callbacks
//     included); longest wait: the oldest of them, counted from entering
//     the queue, at scrape time.
//   - agents: Agent grains by presence and work state.
type routingMetrics struct {
	enqueued, offers, accepts, rejects, timeouts, abandoned, answeredInSL *prometheus.CounterVec

	waitingDesc, longestDesc, agentsDesc *prometheus.Desc

	mu     sync.Mutex
	queues map[string]queueGauge
	agents map[string][2]string // presence, work
}

type queueGauge struct {
	waiting int
	oldest  time.Time // zero when nobody waits
}

func newRoutingMetrics() *routingMetrics {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Subsystem: "routing", Name: name, Help: help}, []string{"queue"})
	}
	return &routingMetrics{
		enqueued:     counter("enqueued_total", "Contacts that entered the queue (hand-offs), counted on the member hosting the Queue grain."),
		offers:       counter("offers_total", "Offers reserved for an agent."),
		accepts:      counter("offer_accepts_total", "Offers the agent accepted (contacts answered)."),
		rejects:      counter("offer_rejects_total", "Offers the agent declined."),
		timeouts:     counter("offer_timeouts_total", "Offers the agent let time out."),
		abandoned:    counter("abandoned_total", "Callers who hung up while waiting in the queue."),
		answeredInSL: counter("answered_within_sl_total", "Contacts answered with a queue wait within the queue's service-level threshold."),
		waitingDesc: prometheus.NewDesc("parley_routing_waiting_contacts", "Contacts waiting in the queue (queued or being offered), on the member hosting the Queue grain.",
			[]string{"queue"}, nil),
		longestDesc: prometheus.NewDesc("parley_routing_longest_wait_seconds", "How long the longest-waiting contact of the queue has waited, at scrape time.",
			[]string{"queue"}, nil),
		agentsDesc: prometheus.NewDesc("parley_routing_agents", "Agents by presence (logged_out, available, break) and work state (idle, offering, busy, wrap_up), on the member hosting their Agent grain.",
			[]string{"presence", "work"}, nil),
		queues: map[string]queueGauge{},
		agents: map[string][2]string{},
	}
}

func (m *routingMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.enqueued, m.offers, m.accepts, m.rejects, m.timeouts, m.abandoned, m.answeredInSL, m}
}

// Describe and Collect make the gauges one collector read at scrape time.
func (m *routingMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.waitingDesc
	ch <- m.longestDesc
	ch <- m.agentsDesc
}

func (m *routingMetrics) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for q, g := range m.queues {
		ch <- prometheus.MustNewConstMetric(m.waitingDesc, prometheus.GaugeValue, float64(g.waiting), q)
		longest := 0.0
		if !g.oldest.IsZero() && now.After(g.oldest) {
			longest = now.Sub(g.oldest).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(m.longestDesc, prometheus.GaugeValue, longest, q)
	}
	counts := map[[2]string]int{}
	for _, p := range []string{PresenceLoggedOut, PresenceAvailable, PresenceBreak} {
		for _, w := range []string{WorkIdle, WorkOffered, WorkOnContact, WorkWrapUp} {
			counts[[2]string{p, w}] = 0 // every series exists, at zero when empty
		}
	}
	for _, s := range m.agents {
		counts[s]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(m.agentsDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}

// record counts one engine event of a Queue grain. threshold is the queue's
// service-level threshold; restoring is true while a re-activated grain
// re-enqueues its persisted contacts (not new hand-offs).
func (m *routingMetrics) record(ev routing.Event, threshold time.Duration, restoring bool) {
	if m == nil {
		return
	}
	switch ev.Kind {
	case routing.EventEnqueued:
		if !restoring {
			m.enqueued.WithLabelValues(ev.Queue).Inc()
		}
	case routing.EventOffered:
		m.offers.WithLabelValues(ev.Queue).Inc()
	case routing.EventAnswered:
		m.accepts.WithLabelValues(ev.Queue).Inc()
		if ev.Wait <= threshold {
			m.answeredInSL.WithLabelValues(ev.Queue).Inc()
		}
	case routing.EventOfferMissed:
		if strings.HasPrefix(ev.Reason, "timeout") {
			m.timeouts.WithLabelValues(ev.Queue).Inc()
		} else {
			m.rejects.WithLabelValues(ev.Queue).Inc()
		}
	case routing.EventAbandoned:
		m.abandoned.WithLabelValues(ev.Queue).Inc()
	}
}

// setQueue publishes a Queue grain's waiting contacts; forgetQueue
// withdraws them when the grain deactivates.
func (m *routingMetrics) setQueue(id string, waiting int, oldest time.Time) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.queues[id] = queueGauge{waiting: waiting, oldest: oldest}
	m.mu.Unlock()
}

func (m *routingMetrics) forgetQueue(id string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	delete(m.queues, id)
	m.mu.Unlock()
}

// setAgent publishes an Agent grain's presence and work state; forgetAgent
// withdraws it when the grain deactivates.
func (m *routingMetrics) setAgent(id, presence, work string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.agents[id] = [2]string{presence, work}
	m.mu.Unlock()
}

func (m *routingMetrics) forgetAgent(id string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	delete(m.agents, id)
	m.mu.Unlock()
}
