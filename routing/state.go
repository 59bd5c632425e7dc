package routing

import (
	"fmt"
	"sort"
	"time"
)

// Estimate returns a waiting contact's position and estimated wait. The wait
// is position-aware: with N staffed agents each freeing at rate 1/AHT (AHT is
// an EWMA of observed handle times), the contact at position k waits for k
// departures, about k × AHT / N.
func (e *Engine) Estimate(now time.Time, id string) (Estimate, error) {
	e.begin(now)
	c := e.contacts[id]
	if c == nil {
		return Estimate{}, fmt.Errorf("estimate for %s: %w", id, ErrUnknownContact)
	}
	if c.state != contactQueued {
		return Estimate{}, fmt.Errorf("estimate for %s: contact is not waiting: %w", id, ErrContactState)
	}
	q := c.q
	est := Estimate{Position: q.order.rank(c) + 1, Staffed: q.staffed}
	n := q.staffed
	if n == 0 {
		est.Unstaffed = true
		n = 1
	}
	est.Wait = time.Duration(float64(est.Position) * q.aht / float64(n) * float64(time.Second))
	return est, nil
}

// AgentStatus is a snapshot of one agent.
type AgentStatus struct {
	Presence Presence
	Reason   string
	Work     WorkState
	Offers   []string // pending offer ids
	Contacts []string // connected contact ids
}

// Agent returns a snapshot of an agent.
func (e *Engine) Agent(id string) (AgentStatus, bool) {
	a := e.agents[id]
	if a == nil {
		return AgentStatus{}, false
	}
	s := AgentStatus{Presence: a.presence, Reason: a.reason, Work: a.work()}
	for _, o := range a.offers {
		s.Offers = append(s.Offers, o.id)
	}
	for _, c := range a.active {
		s.Contacts = append(s.Contacts, c.id)
	}
	return s, true
}

// ContactStatus is a snapshot of one contact.
type ContactStatus struct {
	Queue    string
	State    string // queued, offered, connected
	Step     int
	Agent    string
	Offer    string
	Callback bool
}

// Contact returns a snapshot of a live contact.
func (e *Engine) Contact(id string) (ContactStatus, bool) {
	c := e.contacts[id]
	if c == nil {
		return ContactStatus{}, false
	}
	s := ContactStatus{Queue: c.q.id, Step: c.step, Callback: c.callback}
	switch c.state {
	case contactQueued:
		s.State = "queued"
	case contactOffered:
		s.State, s.Agent, s.Offer = "offered", c.offer.a.id, c.offer.id
	default:
		s.State, s.Agent, s.Offer = "connected", c.agent.id, c.offer.id
	}
	return s, true
}

// Offer returns a pending or accepted offer by id.
func (e *Engine) Offer(id string) (Offer, bool) {
	o := e.offers[id]
	if o == nil {
		return Offer{}, false
	}
	return Offer{ID: o.id, Contact: o.c.id, Agent: o.a.id, Queue: o.c.q.id, Callback: o.c.callback, Expires: ts(o.expires)}, true
}

// Waiting is the number of contacts waiting (not offered) in a queue.
func (e *Engine) Waiting(queueID string) int {
	if q := e.queueByID[queueID]; q != nil {
		return q.order.size()
	}
	return 0
}

// Staffed is the number of agents available (logged in, not on break) who
// qualify for some step of a queue.
func (e *Engine) Staffed(queueID string) int {
	if q := e.queueByID[queueID]; q != nil {
		return q.staffed
	}
	return 0
}

// Idle is the number of available agents a contact entering the queue now
// would be offered to at once (the pool of its first step).
func (e *Engine) Idle(queueID string) int {
	if q := e.queueByID[queueID]; q != nil && len(q.steps) > 0 {
		return q.steps[0].pool.size()
	}
	return 0
}

// Contacts is the number of live contacts (waiting, offered or connected).
func (e *Engine) Contacts() int { return len(e.contacts) }

// Reconcile clears state left by crashed legs: every live contact whose leg
// alive reports gone is removed (waiting or offered: abandoned; connected:
// dropped, and its agent goes to wrap-up as usual). It returns the cleared ids.
func (e *Engine) Reconcile(now time.Time, alive func(contactID string) bool) []string {
	e.begin(now)
	var dead []*contact
	for _, c := range e.contacts {
		if !alive(c.id) {
			dead = append(dead, c)
		}
	}
	sort.Slice(dead, func(i, j int) bool { return dead[i].seq < dead[j].seq })
	ids := make([]string, 0, len(dead))
	for _, c := range dead {
		ids = append(ids, c.id)
		if c.state == contactActive {
			e.finish(c, EventDropped)
			continue
		}
		if c.state == contactQueued {
			e.unqueue(c)
		} else {
			o := c.offer
			e.cancelOffer(o, "reconciled")
			e.reindex(o.a)
		}
		e.emit(Event{Kind: EventAbandoned, Queue: c.q.id, Contact: c.id, Wait: time.Duration(e.now - c.qEnq), Reason: "reconciled"})
		e.forget(c)
	}
	return ids
}

// SyncAgent reconciles an agent's view with the engine's after a crash of
// either side: held lists the offer ids the agent believes it holds. It
// returns the ids the engine does not know (the agent must drop them) and
// withdraws pending engine offers the agent does not hold (their contacts
// return to their places).
func (e *Engine) SyncAgent(now time.Time, id string, held []string) (unknown []string, err error) {
	e.begin(now)
	a := e.agents[id]
	if a == nil {
		return nil, fmt.Errorf("sync agent %s: %w", id, ErrUnknownAgent)
	}
	holds := map[string]bool{}
	for _, h := range held {
		holds[h] = true
		if o := e.offers[h]; o == nil || o.a != a {
			unknown = append(unknown, h)
		}
	}
	var back []*contact
	for i := 0; i < len(a.offers); {
		o := a.offers[i]
		if holds[o.id] {
			i++
			continue
		}
		e.cancelOffer(o, "reconciled")
		back = append(back, o.c)
	}
	e.reindex(a)
	for _, c := range back {
		e.requeue(c)
	}
	return unknown, nil
}

// Verify checks the engine's internal invariants and returns the first
// violation: every contact in exactly one place, at most one offer per
// contact, loads matching offers and contacts, and no step with both waiting
// contacts and available agents. It is O(state) and meant for tests and
// diagnostics.
func (e *Engine) Verify() error {
	offered := map[*contact]int{}
	for id, o := range e.offers {
		if o.id != id || o.done {
			return fmt.Errorf("offer %s: stale entry", id)
		}
		if !o.accepted {
			offered[o.c]++
			if o.c.offer != o || o.c.state != contactOffered {
				return fmt.Errorf("offer %s: contact %s does not point back or is not offered", id, o.c.id)
			}
		}
	}
	for c, n := range offered {
		if n > 1 {
			return fmt.Errorf("contact %s: offered %d times at once", c.id, n)
		}
	}
	inHeap := map[*contact]bool{}
	for _, q := range e.queues {
		waiting := 0
		for _, st := range q.steps {
			if st.contacts.len() > 0 && st.pool.size() > 0 {
				return fmt.Errorf("queue %s step %d: %d waiting contacts and %d available agents", q.id, st.index, st.contacts.len(), st.pool.size())
			}
			for i, c := range st.contacts.items {
				if c.heapIdx != i || c.q != q || c.step != st.index || c.state != contactQueued {
					return fmt.Errorf("queue %s step %d: contact %s misplaced", q.id, st.index, c.id)
				}
				if inHeap[c] {
					return fmt.Errorf("contact %s: in two heaps", c.id)
				}
				inHeap[c] = true
				waiting++
				if want := stepAt(q, e.now-c.qEnq); want != c.step {
					return fmt.Errorf("contact %s: at step %d, should be %d", c.id, c.step, want)
				}
			}
			var bad error
			st.pool.each(func(m *member) {
				if bad == nil && !m.a.available(q.spec.channel) {
					bad = fmt.Errorf("queue %s step %d: agent %s pooled but not available", q.id, st.index, m.a.id)
				}
			})
			if bad != nil {
				return bad
			}
		}
		if q.order.size() != waiting {
			return fmt.Errorf("queue %s: position tree has %d contacts, heaps %d", q.id, q.order.size(), waiting)
		}
	}
	for id, c := range e.contacts {
		if c.id != id {
			return fmt.Errorf("contact %s: stale entry", id)
		}
		switch c.state {
		case contactQueued:
			if !inHeap[c] {
				return fmt.Errorf("contact %s: queued but in no heap", id)
			}
		case contactOffered:
			if offered[c] != 1 {
				return fmt.Errorf("contact %s: offered without a pending offer", id)
			}
		case contactActive:
			found := false
			for _, x := range c.agent.active {
				found = found || x == c
			}
			if !found {
				return fmt.Errorf("contact %s: connected but not at agent %s", id, c.agent.id)
			}
		default:
			return fmt.Errorf("contact %s: gone but still listed", id)
		}
	}
	for id, a := range e.agents {
		load := make([]int, e.nchan)
		for _, o := range a.offers {
			load[o.ch]++
			if e.offers[o.id] != o {
				return fmt.Errorf("agent %s: holds unknown offer %s", id, o.id)
			}
		}
		for _, c := range a.active {
			load[c.q.spec.channel]++
			if c.state != contactActive || c.agent != a {
				return fmt.Errorf("agent %s: lists contact %s it does not handle", id, c.id)
			}
		}
		for ch := range load {
			if load[ch] != a.load[ch] {
				return fmt.Errorf("agent %s: load %d on channel %d, counted %d", id, a.load[ch], ch, load[ch])
			}
			for _, m := range a.members[ch] {
				if (m.pos >= 0) != a.available(ch) {
					return fmt.Errorf("agent %s: pooled=%v but available=%v in queue %s step %d", id, m.pos >= 0, a.available(ch), m.st.q.id, m.st.index)
				}
			}
		}
	}
	return nil
}

// Snapshot lists the live contacts as specs that restore them, in service
// order per queue, so that a Queue grain re-activated elsewhere can rebuild
// its engine with Enqueue and keep every caller's place (EnqueuedAt carries
// the original arrival; steps restart from it, and a contact that overflowed
// is restored into the queue it is in now). Offered and connected contacts
// are included as waiting: offers do not survive a restart, and connected
// contacts are the Agent grain's to restore.
func (e *Engine) Snapshot() []ContactSpec {
	var out []ContactSpec
	var all []*contact
	for _, c := range e.contacts {
		all = append(all, c)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].q != all[j].q {
			return all[i].q.id < all[j].q.id
		}
		return contactBefore(all[i], all[j])
	})
	for _, c := range all {
		out = append(out, ContactSpec{ID: c.id, Queue: c.q.id, Attributes: c.attrs, Sentiment: c.sentiment, EnqueuedAt: ts(c.enq)})
	}
	return out
}
