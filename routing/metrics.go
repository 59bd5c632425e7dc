package routing

import "time"

// Metrics computes contact-center measures from engine events. Feed it every
// Event (it is a valid sink); it is not safe for concurrent use.
//
// Definitions, per queue:
//   - Offered: contacts that entered the queue (overflow arrivals included).
//   - Answered: contacts accepted by an agent; Wait is measured from entering
//     the queue to the accept.
//   - ServiceLevel: answered within the queue's threshold T divided by
//     contacts that ended their wait in the queue (answered + abandoned);
//     contacts that overflowed out are counted by the target queue.
//   - ASA: total wait of answered contacts / answered.
//   - AbandonRate: abandoned / (answered + abandoned).
//   - AHT: (talk time + wrap-up time) / contacts handled, where wrap-up is
//     the measured time the agent spent in wrap-up after the queue's contact.
//   - Handled: contacts completed.
//   - A contact requeued because its agent's leg dropped is answered once:
//     its second answer is not counted again.
//
// Per agent, Occupancy is (talk + wrap-up time) / (talk + wrap-up + time
// available and not handling, reserved or ringing included); time on break or
// logged out is excluded.
type Metrics struct {
	threshold map[string]time.Duration
	queues    map[string]*QueueMetrics
	agents    map[string]*AgentMetrics
	requeued  map[string]bool // contacts answered once, back in queue after an agent dropped
}

// QueueMetrics are the counters of one queue.
type QueueMetrics struct {
	Offered, Answered, AnsweredInSL, Abandoned, Overflowed, Handled int
	TotalWait, TotalTalk, TotalWrap                                 time.Duration
	Threshold                                                       time.Duration
}

// ServiceLevel is answered within the threshold / (answered + abandoned).
func (q QueueMetrics) ServiceLevel() float64 {
	return ratio(float64(q.AnsweredInSL), float64(q.Answered+q.Abandoned))
}

// ASA is the average speed of answer.
func (q QueueMetrics) ASA() time.Duration {
	if q.Answered == 0 {
		return 0
	}
	return q.TotalWait / time.Duration(q.Answered)
}

// AbandonRate is abandoned / (answered + abandoned).
func (q QueueMetrics) AbandonRate() float64 {
	return ratio(float64(q.Abandoned), float64(q.Answered+q.Abandoned))
}

// AHT is the average handle time (talk plus wrap-up).
func (q QueueMetrics) AHT() time.Duration {
	if q.Handled == 0 {
		return 0
	}
	return (q.TotalTalk + q.TotalWrap) / time.Duration(q.Handled)
}

// AgentMetrics are the counters of one agent.
type AgentMetrics struct {
	Handled                 int
	Talk, WrapUp, Available time.Duration
	Offers, Missed          int
	state                   WorkState
	presence                Presence
	since                   time.Time
	lastQueue               string
}

// Occupancy is (talk + wrap-up) / (talk + wrap-up + available idle time).
func (a AgentMetrics) Occupancy() float64 {
	work := a.Talk + a.WrapUp
	return ratio(float64(work), float64(work+a.Available))
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// NewMetrics prepares counters for the queues of cfg, with each queue's
// service-level threshold.
func NewMetrics(cfg *Config) *Metrics {
	m := &Metrics{threshold: map[string]time.Duration{}, queues: map[string]*QueueMetrics{}, agents: map[string]*AgentMetrics{}, requeued: map[string]bool{}}
	for _, q := range cfg.Queues {
		t := q.ServiceLevel
		if t == 0 {
			t = 20 * time.Second
		}
		m.threshold[q.ID] = t
		m.queues[q.ID] = &QueueMetrics{Threshold: t}
	}
	return m
}

func (m *Metrics) queue(id string) *QueueMetrics {
	q := m.queues[id]
	if q == nil {
		q = &QueueMetrics{Threshold: 20 * time.Second}
		m.queues[id] = q
	}
	return q
}

func (m *Metrics) agent(id string) *AgentMetrics {
	a := m.agents[id]
	if a == nil {
		a = &AgentMetrics{}
		m.agents[id] = a
	}
	return a
}

// account closes the agent's current state interval at t.
func (a *AgentMetrics) account(t time.Time, m *Metrics) {
	if a.since.IsZero() {
		a.since = t
		return
	}
	d := t.Sub(a.since)
	a.since = t
	switch {
	case a.state == Busy:
		a.Talk += d
	case a.state == WrapUp:
		a.WrapUp += d
		if q := m.queues[a.lastQueue]; q != nil {
			q.TotalWrap += d
		}
	case a.presence == Available:
		a.Available += d
	}
}

// Record updates the counters with one event.
func (m *Metrics) Record(ev Event) {
	switch ev.Kind {
	case EventEnqueued:
		m.queue(ev.Queue).Offered++
	case EventRequeued:
		m.requeued[ev.Contact] = true
	case EventAnswered:
		if m.requeued[ev.Contact] {
			delete(m.requeued, ev.Contact)
			return
		}
		q := m.queue(ev.Queue)
		q.Answered++
		q.TotalWait += ev.Wait
		if ev.Wait <= q.Threshold {
			q.AnsweredInSL++
		}
	case EventAbandoned:
		if m.requeued[ev.Contact] {
			// Answered already; the caller hung up while waiting for a new agent.
			delete(m.requeued, ev.Contact)
			return
		}
		m.queue(ev.Queue).Abandoned++
	case EventOverflowed:
		m.queue(ev.Queue).Overflowed++
	case EventCompleted:
		q := m.queue(ev.Queue)
		q.Handled++
		q.TotalTalk += ev.Duration
		a := m.agent(ev.Agent)
		a.Handled++
		a.lastQueue = ev.Queue
	case EventOffered:
		m.agent(ev.Agent).Offers++
	case EventOfferMissed:
		m.agent(ev.Agent).Missed++
	case EventAgentState:
		a := m.agent(ev.Agent)
		a.account(ev.At, m)
		a.state, a.presence = ev.Work, ev.Presence
	}
}

// Queue returns the counters of a queue.
func (m *Metrics) Queue(id string) QueueMetrics { return *m.queue(id) }

// Agent returns the counters of an agent with its current state interval
// counted up to now.
func (m *Metrics) Agent(id string, now time.Time) AgentMetrics {
	a := m.agents[id]
	if a == nil {
		return AgentMetrics{}
	}
	cp := *a
	if !cp.since.IsZero() && now.After(cp.since) {
		// Account into the copy without touching queue wrap totals.
		d := now.Sub(cp.since)
		switch {
		case cp.state == Busy:
			cp.Talk += d
		case cp.state == WrapUp:
			cp.WrapUp += d
		case cp.presence == Available:
			cp.Available += d
		}
	}
	return cp
}

// Occupancy is the occupancy of all agents together up to now.
func (m *Metrics) Occupancy(now time.Time) float64 {
	var work, avail time.Duration
	for id := range m.agents {
		a := m.Agent(id, now)
		work += a.Talk + a.WrapUp
		avail += a.Available
	}
	return ratio(float64(work), float64(work+avail))
}
