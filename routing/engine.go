package routing

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Engine is the ACD state machine. It is not safe for concurrent use: callers
// serialize access (a grain does by construction; otherwise use Locked).
type Engine struct {
	cc        *compiled
	queues    []*queue
	queueByID map[string]*queue
	agents    map[string]*agent
	contacts  map[string]*contact
	offers    map[string]*offer
	timers    timerHeap
	now       int64
	seq       uint64
	offerSeq  uint64
	agentSeq  uint64
	rng       *rand.Rand
	sink      func(Event)
	nchan     int
	offerPfx  string
}

// Option configures an Engine.
type Option func(*Engine)

// WithRand sets the random source used by weighted random selection; inject a
// seeded one for reproducible runs.
func WithRand(r *rand.Rand) Option { return func(e *Engine) { e.rng = r } }

// WithSink receives every Event as it happens. The sink runs inside engine
// calls and must not call back into the engine; collect and act afterwards.
func WithSink(f func(Event)) Option { return func(e *Engine) { e.sink = f } }

// WithOfferPrefix sets the prefix of offer ids, so ids from engines on
// different members (or after a restart) never collide.
func WithOfferPrefix(p string) Option { return func(e *Engine) { e.offerPfx = p } }

type queue struct {
	spec    *queueSpec
	id      string
	steps   []*step
	order   positionTree
	staffed int
	aht     float64 // EWMA of handle time in seconds
	ahtN    int
	rrSeq   uint64
}

type step struct {
	q        *queue
	index    int
	spec     *stepSpec
	contacts contactHeap
	pool     agentPool
}

type contactState uint8

const (
	contactQueued contactState = iota
	contactOffered
	contactActive
	contactGone
)

type contact struct {
	id        string
	seq       uint64
	q         *queue
	step      int
	key       float64 // priority at time 0: base - aging × enqueue seconds; higher first
	enq       int64   // original enqueue time (place in line survives overflow and requeue)
	qEnq      int64   // time the contact entered its current queue (steps, waits)
	state     contactState
	heapIdx   int
	gen       uint32
	offer     *offer
	agent     *agent
	answered  int64
	callback  bool
	attrs     map[string]string
	sentiment float64
	// position tree links
	tl, tr *contact
	tprio  uint64
	tsize  int
}

type offer struct {
	id       string
	c        *contact
	a        *agent
	ch       int
	expires  int64
	ringing  bool
	accepted bool
	done     bool
}

type member struct {
	a     *agent
	st    *step
	score int
	rr    uint64
	pos   int
}

type agent struct {
	id        string
	seq       uint64
	attrs     agentAttrs
	caps      []int
	load      []int
	presence  Presence
	reason    string
	wrapping  bool
	wrapGen   uint32
	holding   bool
	holdGen   uint32
	engaged   bool // busy outside this engine (see SetEngaged)
	misses    int
	offers    []*offer
	active    []*contact
	idleSince int64
	busyNs    int64
	busySince int64
	members   [][]*member // by channel
	queues    []*queue    // queues the agent can serve in some step
	lastP     Presence
	lastW     WorkState
	indexed   bool
}

// New builds an engine from a configuration, validating it.
func New(cfg *Config, opts ...Option) (*Engine, error) {
	cc, err := compileConfig(cfg)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cc:        cc,
		queueByID: map[string]*queue{},
		agents:    map[string]*agent{},
		contacts:  map[string]*contact{},
		offers:    map[string]*offer{},
		nchan:     len(cc.channels),
		offerPfx:  "offer-",
	}
	for _, o := range opts {
		o(e)
	}
	if e.rng == nil {
		e.rng = rand.New(rand.NewPCG(1, 2))
	}
	for _, qs := range cc.queues {
		q := &queue{spec: qs, id: qs.cfg.ID, aht: qs.cfg.HandleHint.Seconds()}
		for i := range qs.steps {
			st := &step{q: q, index: i, spec: &qs.steps[i]}
			st.pool = newPool(qs.cfg.Strategy, st.spec)
			q.steps = append(q.steps, st)
		}
		e.queues = append(e.queues, q)
		e.queueByID[q.id] = q
	}
	return e, nil
}

func newPool(s Strategy, sp *stepSpec) agentPool {
	idle := func(a, b *member) bool {
		if a.a.idleSince != b.a.idleSince {
			return a.a.idleSince < b.a.idleSince
		}
		return a.a.seq < b.a.seq
	}
	switch s {
	case LeastOccupied:
		return &heapPool{less: func(a, b *member) bool {
			if a.a.busyNs != b.a.busyNs {
				return a.a.busyNs < b.a.busyNs
			}
			return idle(a, b)
		}}
	case MostSkilled:
		return &heapPool{less: func(a, b *member) bool {
			if a.score != b.score {
				return a.score > b.score
			}
			return idle(a, b)
		}}
	case RoundRobin:
		return &heapPool{less: func(a, b *member) bool {
			if a.rr != b.rr {
				return a.rr < b.rr
			}
			return a.a.seq < b.a.seq
		}}
	case WeightedRandom:
		return &randomPool{maxWeight: 1 + sp.max}
	default:
		return &heapPool{less: idle}
	}
}

// contactBefore is the service order: higher priority, then earlier arrival.
func contactBefore(a, b *contact) bool {
	if a.key != b.key {
		return a.key > b.key
	}
	if a.enq != b.enq {
		return a.enq < b.enq
	}
	return a.seq < b.seq
}

func ts(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func (e *Engine) emit(ev Event) {
	if e.sink != nil {
		ev.At = ts(e.now)
		e.sink(ev)
	}
}

// begin fires the timers due by now and makes now the engine's time. Time
// never goes backwards: an earlier now is treated as the engine's time.
func (e *Engine) begin(now time.Time) {
	n := now.UnixNano()
	if n < e.now {
		n = e.now
	}
	e.fire(n)
	e.now = n
}

func (e *Engine) schedule(t timer) {
	e.seq++
	t.seq = e.seq
	e.timers.push(t)
}

// Advance fires every timer due at or before now (offer timeouts, step
// expiries, overflows, wrap-up and hold ends) and routes what they free.
func (e *Engine) Advance(now time.Time) { e.begin(now) }

// NextDeadline is the time of the earliest pending timer, so that the caller
// knows when to call Advance; ok is false when none is pending.
func (e *Engine) NextDeadline() (at time.Time, ok bool) {
	for len(e.timers.items) > 0 {
		t := &e.timers.items[0]
		if e.timerLive(t) {
			return ts(t.at), true
		}
		e.timers.pop()
	}
	return time.Time{}, false
}

func (e *Engine) timerLive(t *timer) bool {
	switch t.kind {
	case timerStep, timerOverflow:
		return t.c.gen == t.gen && t.c.state != contactGone
	case timerOffer:
		return !t.o.done && !t.o.accepted
	case timerWrapUp:
		return t.a.wrapping && t.a.wrapGen == t.gen
	default:
		return t.a.holding && t.a.holdGen == t.gen
	}
}

func (e *Engine) fire(until int64) {
	for len(e.timers.items) > 0 && e.timers.items[0].at <= until {
		t := e.timers.pop()
		if !e.timerLive(&t) {
			continue
		}
		if t.at > e.now {
			e.now = t.at
		}
		switch t.kind {
		case timerStep:
			if t.c.state == contactQueued && t.c.step < t.step {
				e.unqueue(t.c)
				e.place(t.c)
			}
		case timerOverflow:
			if t.c.state == contactQueued {
				e.unqueue(t.c)
				e.overflow(t.c)
			}
		case timerOffer:
			e.missOffer(t.o, "timeout")
		case timerWrapUp:
			e.endWrapUp(t.a)
		case timerHold:
			t.a.holding = false
			e.reindex(t.a)
		}
	}
}

// stepAt is the requirement step that applies after waiting elapsed.
func stepAt(q *queue, elapsed int64) int {
	for i, st := range q.spec.steps {
		if st.expiry == 0 || elapsed < int64(st.expiry) {
			return i
		}
	}
	return len(q.spec.steps) - 1
}

// admit puts a contact into q as of now: schedules its step and overflow
// timers and places it.
func (e *Engine) admit(c *contact, q *queue) {
	c.q = q
	c.gen++
	elapsed := e.now - c.qEnq
	for i, st := range q.spec.steps {
		if st.expiry > 0 && elapsed < int64(st.expiry) {
			e.schedule(timer{at: c.qEnq + int64(st.expiry), kind: timerStep, step: i + 1, gen: c.gen, c: c})
		}
	}
	if of := q.spec.cfg.Overflow; of != nil {
		e.schedule(timer{at: c.qEnq + int64(of.After), kind: timerOverflow, gen: c.gen, c: c})
	}
	e.emit(Event{Kind: EventEnqueued, Queue: q.id, Contact: c.id, Callback: c.callback})
	e.requeue(c)
}

// requeue returns a contact to its queue at its place, or overflows it if its
// overflow time passed while it was away.
func (e *Engine) requeue(c *contact) {
	if of := c.q.spec.cfg.Overflow; of != nil && e.now >= c.qEnq+int64(of.After) {
		e.overflow(c)
		return
	}
	e.place(c)
}

// place puts a waiting contact into its current step: straight to the best
// available agent of that step, or into the step's heap.
func (e *Engine) place(c *contact) {
	q := c.q
	s := stepAt(q, e.now-c.qEnq)
	if s != c.step {
		if c.step >= 0 {
			e.emit(Event{Kind: EventStepChanged, Queue: q.id, Contact: c.id, Step: s})
		}
		c.step = s
	}
	st := q.steps[s]
	if m := st.pool.best(e.rng); m != nil {
		e.reserve(c, m.a)
		e.reindex(m.a)
		return
	}
	c.state = contactQueued
	st.contacts.push(c)
	q.order.insert(c)
}

// unqueue takes a waiting contact out of its step heap and position tree.
func (e *Engine) unqueue(c *contact) {
	c.q.steps[c.step].contacts.remove(c)
	c.q.order.delete(c)
}

func (e *Engine) overflow(c *contact) {
	from := c.q
	target := e.queueByID[from.spec.cfg.Overflow.Queue]
	e.emit(Event{Kind: EventOverflowed, Queue: from.id, Contact: c.id, Target: target.id, Wait: time.Duration(e.now - c.qEnq)})
	c.qEnq = e.now
	c.step = -1
	c.key = e.priorityKey(target, c)
	e.admit(c, target)
}

func (e *Engine) priorityKey(q *queue, c *contact) float64 {
	return e.cc.basePriority(q.spec, c.attrs, c.sentiment) - e.cc.aging*float64(c.enq)/1e9
}

// reserve makes an offer of c to a; the caller reindexes a.
func (e *Engine) reserve(c *contact, a *agent) {
	e.offerSeq++
	o := &offer{
		id:      e.offerPfx + strconv.FormatUint(e.offerSeq, 10),
		c:       c,
		a:       a,
		ch:      c.q.spec.channel,
		expires: e.now + int64(e.cc.offers.Timeout),
	}
	c.state = contactOffered
	c.offer = o
	a.offers = append(a.offers, o)
	a.load[o.ch]++
	e.offers[o.id] = o
	c.q.rrSeq++
	for _, m := range a.members[o.ch] {
		if m.st.q == c.q {
			m.rr = c.q.rrSeq
		}
	}
	e.schedule(timer{at: o.expires, kind: timerOffer, o: o})
	e.emit(Event{Kind: EventOffered, Queue: c.q.id, Contact: c.id, Agent: a.id, Offer: o.id, Step: c.step, Callback: c.callback})
}

func (a *agent) available(ch int) bool {
	return a.presence == Available && !a.wrapping && !a.holding && !a.engaged && a.load[ch] < a.caps[ch]
}

func (e *Engine) unindex(a *agent) {
	if !a.indexed {
		return
	}
	for _, ms := range a.members {
		for _, m := range ms {
			if m.pos >= 0 {
				m.st.pool.remove(m)
			}
		}
	}
	a.indexed = false
}

// reindex puts an agent back into the pools it qualifies for, first taking
// the best waiting contact of its steps while it has capacity: this keeps the
// invariant that no step has both waiting contacts and available agents.
func (e *Engine) reindex(a *agent) {
	e.unindex(a)
	for ch, ms := range a.members {
		for a.available(ch) {
			var best *contact
			for _, m := range ms {
				if h := &m.st.contacts; h.len() > 0 && (best == nil || contactBefore(h.top(), best)) {
					best = h.top()
				}
			}
			if best == nil {
				break
			}
			e.unqueue(best)
			e.reserve(best, a)
		}
		if a.available(ch) {
			for _, m := range ms {
				m.st.pool.add(m)
			}
			a.indexed = true
		}
	}
	e.syncAgent(a)
}

func (a *agent) work() WorkState {
	if len(a.offers) > 0 {
		for _, o := range a.offers {
			if o.ringing {
				return Offering
			}
		}
		return Reserved
	}
	if len(a.active) > 0 {
		return Busy
	}
	if a.wrapping {
		return WrapUp
	}
	return Idle
}

// syncAgent reports a change of presence or work state.
func (e *Engine) syncAgent(a *agent) {
	w := a.work()
	if w == a.lastW && a.presence == a.lastP {
		return
	}
	a.lastW, a.lastP = w, a.presence
	e.emit(Event{Kind: EventAgentState, Agent: a.id, Presence: a.presence, Work: w, Reason: a.reason})
}

// endOffer removes a pending offer from the books.
func (e *Engine) endOffer(o *offer) {
	o.done = true
	delete(e.offers, o.id)
	a := o.a
	for i, x := range a.offers {
		if x == o {
			a.offers = append(a.offers[:i], a.offers[i+1:]...)
			break
		}
	}
	a.load[o.ch]--
	o.c.offer = nil
}

// missOffer handles a declined or timed-out offer: the agent is held or set
// not-ready, the contact goes back at its original place.
func (e *Engine) missOffer(o *offer, reason string) {
	e.endOffer(o)
	a, c := o.a, o.c
	e.emit(Event{Kind: EventOfferMissed, Queue: c.q.id, Contact: c.id, Agent: a.id, Offer: o.id, Reason: reason})
	a.misses++
	if a.misses >= e.cc.offers.MaxMisses {
		a.misses = 0
		e.setPresence(a, Break, ReasonMissedOffers)
	} else if e.cc.offers.MissHold > 0 {
		a.holding = true
		a.holdGen++
		e.schedule(timer{at: e.now + int64(e.cc.offers.MissHold), kind: timerHold, gen: a.holdGen, a: a})
		e.reindex(a)
	} else {
		e.reindex(a)
	}
	e.requeue(c)
}

// cancelOffer withdraws a pending offer through no fault of the agent and
// returns the contact to its place; the caller reindexes the agent.
func (e *Engine) cancelOffer(o *offer, reason string) {
	e.endOffer(o)
	e.emit(Event{Kind: EventOfferCanceled, Queue: o.c.q.id, Contact: o.c.id, Agent: o.a.id, Offer: o.id, Reason: reason})
}

func (e *Engine) endWrapUp(a *agent) {
	a.wrapping = false
	a.wrapGen++
	if a.totalLoad() == 0 {
		a.idleSince = e.now
	}
	e.reindex(a)
}

func (a *agent) totalLoad() int {
	n := 0
	for _, l := range a.load {
		n += l
	}
	return n
}

// setStaffed adds or removes the agent from the staffed count of its queues.
func (a *agent) setStaffed(on bool) {
	d := -1
	if on {
		d = 1
	}
	for _, q := range a.queues {
		q.staffed += d
	}
}

// setPresence changes presence: offers pending at an agent leaving Available
// are withdrawn and their contacts return to their places.
func (e *Engine) setPresence(a *agent, p Presence, reason string) {
	if a.presence == Available && p != Available {
		a.setStaffed(false)
	}
	if a.presence != Available && p == Available {
		a.setStaffed(true)
	}
	if a.presence == LoggedOut && p != LoggedOut {
		a.busyNs = 0
		a.idleSince = e.now
		a.misses = 0
	}
	a.presence = p
	a.reason = reason
	var back []*contact
	if p != Available {
		for len(a.offers) > 0 {
			o := a.offers[0]
			e.cancelOffer(o, "agent "+p.String())
			back = append(back, o.c)
		}
	}
	e.reindex(a)
	for _, c := range back {
		e.requeue(c)
	}
}

// compileAgent resolves an AgentSpec against the configuration.
func (e *Engine) compileAgent(spec AgentSpec) (agentAttrs, []int, error) {
	var at agentAttrs
	if spec.ID == "" {
		return at, nil, fmt.Errorf("agent: empty id: %w", ErrInvalidArgument)
	}
	at.skills = make([]int8, len(e.cc.names.skillNames))
	for name, p := range spec.Skills {
		i, ok := e.cc.names.skills[name]
		if !ok {
			return at, nil, fmt.Errorf("agent %s: unknown skill %q: %w", spec.ID, name, ErrInvalidArgument)
		}
		if p < 1 || p > 5 {
			return at, nil, fmt.Errorf("agent %s: skill %q proficiency %d is outside 1-5: %w", spec.ID, name, p, ErrInvalidArgument)
		}
		at.skills[i] = int8(p)
	}
	for _, l := range spec.Languages {
		i, ok := e.cc.names.lang(l, true)
		if !ok {
			return at, nil, fmt.Errorf("agent %s: unknown language %q: %w", spec.ID, l, ErrInvalidArgument)
		}
		for len(at.langs) <= i {
			at.langs = append(at.langs, false)
		}
		at.langs[i] = true
	}
	caps := make([]int, e.nchan)
	if len(spec.Capacity) == 0 {
		for i := range caps {
			caps[i] = 1
		}
	}
	for ch, n := range spec.Capacity {
		if n < 0 {
			return at, nil, fmt.Errorf("agent %s: capacity %d on channel %q is negative: %w", spec.ID, n, ch, ErrInvalidArgument)
		}
		if i, ok := e.cc.channels[ch]; ok {
			caps[i] = n
		}
	}
	return at, caps, nil
}

// membership computes the steps an agent qualifies for, by channel.
func (e *Engine) membership(a *agent) {
	a.members = make([][]*member, e.nchan)
	a.queues = a.queues[:0]
	for _, q := range e.queues {
		in := false
		for _, st := range q.steps {
			if st.spec.pred.match(&a.attrs) {
				ch := q.spec.channel
				a.members[ch] = append(a.members[ch], &member{a: a, st: st, score: st.spec.pred.score(&a.attrs), rr: 0, pos: -1})
				in = true
			}
		}
		if in {
			a.queues = append(a.queues, q)
		}
	}
}

// AddAgent registers an agent, logged out.
func (e *Engine) AddAgent(now time.Time, spec AgentSpec) error {
	e.begin(now)
	if e.agents[spec.ID] != nil {
		return fmt.Errorf("add agent %s: %w", spec.ID, ErrDuplicate)
	}
	at, caps, err := e.compileAgent(spec)
	if err != nil {
		return fmt.Errorf("add agent: %w", err)
	}
	e.agentSeq++
	a := &agent{id: spec.ID, seq: e.agentSeq, attrs: at, caps: caps, load: make([]int, e.nchan), idleSince: e.now}
	e.membership(a)
	e.agents[a.id] = a
	return nil
}

// UpdateAgent changes an agent's skills, languages or capacity; pending
// offers and active contacts are kept.
func (e *Engine) UpdateAgent(now time.Time, spec AgentSpec) error {
	e.begin(now)
	a := e.agents[spec.ID]
	if a == nil {
		return fmt.Errorf("update agent %s: %w", spec.ID, ErrUnknownAgent)
	}
	at, caps, err := e.compileAgent(spec)
	if err != nil {
		return fmt.Errorf("update agent: %w", err)
	}
	e.unindex(a)
	staffed := a.presence == Available
	if staffed {
		a.setStaffed(false)
	}
	a.attrs, a.caps = at, caps
	e.membership(a)
	if staffed {
		a.setStaffed(true)
	}
	e.reindex(a)
	return nil
}

// RemoveAgent forgets an agent, handling it as a disconnect first.
func (e *Engine) RemoveAgent(now time.Time, id string) error {
	if err := e.AgentDisconnected(now, id); err != nil {
		return fmt.Errorf("remove agent: %w", err)
	}
	delete(e.agents, id)
	return nil
}

// SetPresence sets an agent's presence; Break needs a configured reason code.
// Offers pending when the agent leaves Available go back to their queues;
// active contacts continue.
func (e *Engine) SetPresence(now time.Time, id string, p Presence, reason string) error {
	e.begin(now)
	a := e.agents[id]
	if a == nil {
		return fmt.Errorf("set presence of %s: %w", id, ErrUnknownAgent)
	}
	switch p {
	case Break:
		if !e.cc.breaks[reason] {
			return fmt.Errorf("set presence of %s: unknown break reason %q: %w", id, reason, ErrInvalidArgument)
		}
	case Available, LoggedOut:
		reason = ""
	default:
		return fmt.Errorf("set presence of %s: unknown presence %d: %w", id, p, ErrInvalidArgument)
	}
	if p == Available {
		a.misses = 0
	}
	e.setPresence(a, p, reason)
	return nil
}

// SetEngaged marks an agent engaged elsewhere: when several engines share
// one agent (a Queue grain each, say) the agent's own arbiter tells every
// engine that the agent holds an offer, a contact or wrap-up in another one.
// An engaged agent stays logged in and staffed but gets no new offers; its
// pending offers and contacts in this engine are kept.
func (e *Engine) SetEngaged(now time.Time, id string, engaged bool) error {
	e.begin(now)
	a := e.agents[id]
	if a == nil {
		return fmt.Errorf("set engaged of %s: %w", id, ErrUnknownAgent)
	}
	if a.engaged == engaged {
		return nil
	}
	a.engaged = engaged
	e.reindex(a)
	return nil
}

// Withdraw cancels a pending offer through no fault of the agent (the agent's
// arbiter refused it, say): the contact returns to its place and the agent
// is not charged a miss. Withdrawing an offer that ended already is
// ErrUnknownOffer.
func (e *Engine) Withdraw(now time.Time, offerID, reason string) error {
	e.begin(now)
	o := e.offers[offerID]
	if o == nil || o.accepted {
		return fmt.Errorf("withdraw %s: %w", offerID, ErrUnknownOffer)
	}
	c, a := o.c, o.a
	e.cancelOffer(o, reason)
	// The contact is placed while the agent is out of the pools, so another
	// available agent is preferred over the one that could not take it.
	e.unindex(a)
	e.requeue(c)
	e.reindex(a)
	return nil
}

// AgentDisconnected handles an agent whose leg dropped: pending offers and
// active contacts return to their queues at their places and the agent is
// logged out. If the caller also hung up, follow with Abandon.
func (e *Engine) AgentDisconnected(now time.Time, id string) error {
	e.begin(now)
	a := e.agents[id]
	if a == nil {
		return fmt.Errorf("agent %s disconnected: %w", id, ErrUnknownAgent)
	}
	if a.presence == Available {
		a.setStaffed(false)
	}
	a.presence, a.reason = LoggedOut, ""
	e.unindex(a)
	var back []*contact
	for len(a.offers) > 0 {
		o := a.offers[0]
		e.cancelOffer(o, "agent disconnected")
		back = append(back, o.c)
	}
	for _, c := range a.active {
		a.load[c.q.spec.channel]--
		delete(e.offers, c.offer.id)
		c.offer.done = true
		c.offer, c.agent = nil, nil
		e.emit(Event{Kind: EventRequeued, Queue: c.q.id, Contact: c.id, Agent: a.id})
		back = append(back, c)
	}
	a.active = nil
	a.wrapping, a.holding = false, false
	e.syncAgent(a)
	for _, c := range back {
		e.requeue(c)
	}
	return nil
}

// Enqueue adds a contact to a queue, or applies the queue's after-hours
// action when its calendar is closed.
func (e *Engine) Enqueue(now time.Time, spec ContactSpec) (EnqueueResult, error) {
	e.begin(now)
	if spec.ID == "" {
		return EnqueueResult{}, fmt.Errorf("enqueue: empty contact id: %w", ErrInvalidArgument)
	}
	if e.contacts[spec.ID] != nil {
		return EnqueueResult{}, fmt.Errorf("enqueue %s: %w", spec.ID, ErrDuplicate)
	}
	q := e.queueByID[spec.Queue]
	if q == nil {
		return EnqueueResult{}, fmt.Errorf("enqueue %s: queue %q: %w", spec.ID, spec.Queue, ErrUnknownQueue)
	}
	res := EnqueueResult{}
	for hops := 0; ; hops++ {
		cal := q.spec.calendar
		if cal == nil || cal.IsOpen(ts(e.now)) {
			break
		}
		act := q.spec.cfg.AfterHours
		res.AfterHours = act.Action
		e.emit(Event{Kind: EventAfterHours, Queue: q.id, Contact: spec.ID, Reason: string(act.Action), Target: act.Queue})
		if act.Action == AfterHoursQueue {
			break
		}
		if act.Action != AfterHoursOverflow || hops >= len(e.queues) {
			res.Queue = q.id
			return res, nil
		}
		q = e.queueByID[act.Queue]
	}
	enq := e.now
	if !spec.EnqueuedAt.IsZero() && spec.EnqueuedAt.UnixNano() < enq {
		enq = spec.EnqueuedAt.UnixNano()
	}
	e.seq++
	c := &contact{id: spec.ID, seq: e.seq, enq: enq, qEnq: enq, attrs: spec.Attributes, sentiment: spec.Sentiment, heapIdx: -1, step: -1}
	c.key = e.priorityKey(q, c)
	e.contacts[c.id] = c
	e.admit(c, q)
	res.Queued, res.Queue = true, q.id
	return res, nil
}

// SetSentiment updates a contact's sentiment and re-ranks it if waiting.
func (e *Engine) SetSentiment(now time.Time, id string, sentiment float64) error {
	e.begin(now)
	c := e.contacts[id]
	if c == nil {
		return fmt.Errorf("set sentiment of %s: %w", id, ErrUnknownContact)
	}
	c.sentiment = sentiment
	if c.state == contactQueued {
		e.unqueue(c)
		c.key = e.priorityKey(c.q, c)
		e.place(c)
	} else {
		c.key = e.priorityKey(c.q, c)
	}
	return nil
}

// Abandon removes a contact whose caller hung up while waiting or being
// offered; it counts as abandoned. A connected contact ends with Complete.
func (e *Engine) Abandon(now time.Time, id string) error {
	e.begin(now)
	c := e.contacts[id]
	if c == nil {
		return fmt.Errorf("abandon %s: %w", id, ErrUnknownContact)
	}
	switch c.state {
	case contactQueued:
		e.unqueue(c)
	case contactOffered:
		o := c.offer
		e.cancelOffer(o, "caller hung up")
		e.reindex(o.a)
	default:
		return fmt.Errorf("abandon %s: contact is connected, use Complete: %w", id, ErrContactState)
	}
	e.emit(Event{Kind: EventAbandoned, Queue: c.q.id, Contact: c.id, Wait: time.Duration(e.now - c.qEnq), Callback: c.callback})
	e.forget(c)
	return nil
}

func (e *Engine) forget(c *contact) {
	c.state = contactGone
	c.gen++
	delete(e.contacts, c.id)
}

// Ringing records that an offer was delivered to the agent (work state
// Offering).
func (e *Engine) Ringing(now time.Time, offerID string) error {
	e.begin(now)
	o := e.offers[offerID]
	if o == nil || o.accepted {
		return fmt.Errorf("ringing %s: %w", offerID, ErrUnknownOffer)
	}
	if !o.ringing {
		o.ringing = true
		e.emit(Event{Kind: EventOfferRinging, Queue: o.c.q.id, Contact: o.c.id, Agent: o.a.id, Offer: o.id})
		e.syncAgent(o.a)
	}
	return nil
}

// Accept connects the offered contact to the agent. Accepting an offer that
// is already accepted is a no-op; an expired or withdrawn offer is
// ErrUnknownOffer.
func (e *Engine) Accept(now time.Time, offerID string) error {
	e.begin(now)
	o := e.offers[offerID]
	if o == nil {
		return fmt.Errorf("accept %s: %w", offerID, ErrUnknownOffer)
	}
	if o.accepted {
		return nil
	}
	a, c := o.a, o.c
	o.accepted = true
	for i, x := range a.offers {
		if x == o {
			a.offers = append(a.offers[:i], a.offers[i+1:]...)
			break
		}
	}
	if len(a.active) == 0 {
		a.busySince = e.now
	}
	a.active = append(a.active, c)
	a.misses = 0
	c.state = contactActive
	c.agent = a
	c.answered = e.now
	e.emit(Event{Kind: EventAnswered, Queue: c.q.id, Contact: c.id, Agent: a.id, Offer: o.id, Wait: time.Duration(e.now - c.qEnq), Callback: c.callback})
	e.syncAgent(a)
	return nil
}

// Decline refuses an offer; it counts as a miss for the agent and the contact
// returns to its place.
func (e *Engine) Decline(now time.Time, offerID string) error {
	e.begin(now)
	o := e.offers[offerID]
	if o == nil || o.accepted {
		return fmt.Errorf("decline %s: %w", offerID, ErrUnknownOffer)
	}
	e.missOffer(o, "declined")
	return nil
}

// Complete ends a connected contact; the agent enters the queue's wrap-up.
func (e *Engine) Complete(now time.Time, id string) error {
	e.begin(now)
	c := e.contacts[id]
	if c == nil {
		return fmt.Errorf("complete %s: %w", id, ErrUnknownContact)
	}
	if c.state != contactActive {
		return fmt.Errorf("complete %s: contact is not connected: %w", id, ErrContactState)
	}
	e.finish(c, EventCompleted)
	return nil
}

// finish ends an active contact and starts the agent's wrap-up.
func (e *Engine) finish(c *contact, kind EventKind) {
	a, q := c.agent, c.q
	for i, x := range a.active {
		if x == c {
			a.active = append(a.active[:i], a.active[i+1:]...)
			break
		}
	}
	a.load[q.spec.channel]--
	if len(a.active) == 0 {
		a.busyNs += e.now - a.busySince
	}
	delete(e.offers, c.offer.id)
	talk := time.Duration(e.now - c.answered)
	e.emit(Event{Kind: kind, Queue: q.id, Contact: c.id, Agent: a.id, Duration: talk, Callback: c.callback})
	if kind == EventCompleted {
		// Handle time for wait estimates: talk plus the configured wrap-up.
		x := (talk + q.spec.cfg.WrapUp).Seconds()
		if q.ahtN == 0 {
			q.aht = x
		} else {
			q.aht += 0.1 * (x - q.aht)
		}
		q.ahtN++
	}
	e.forget(c)
	if w := q.spec.cfg.WrapUp; w > 0 && kind == EventCompleted {
		a.wrapping = true
		a.wrapGen++
		e.schedule(timer{at: e.now + int64(w), kind: timerWrapUp, gen: a.wrapGen, a: a})
		e.reindex(a)
		return
	}
	if a.totalLoad() == 0 && !a.wrapping {
		a.idleSince = e.now
	}
	e.reindex(a)
}

// EndWrapUp ends an agent's wrap-up before its time.
func (e *Engine) EndWrapUp(now time.Time, id string) error {
	e.begin(now)
	a := e.agents[id]
	if a == nil {
		return fmt.Errorf("end wrap-up of %s: %w", id, ErrUnknownAgent)
	}
	if !a.wrapping {
		return fmt.Errorf("end wrap-up of %s: not in wrap-up: %w", id, ErrAgentState)
	}
	e.endWrapUp(a)
	return nil
}

// RequestCallback turns a waiting contact into a virtual placeholder that
// keeps its place: the caller may hang up, and when it reaches the head the
// offer asks the agent to call back.
func (e *Engine) RequestCallback(now time.Time, id string) error {
	e.begin(now)
	c := e.contacts[id]
	if c == nil {
		return fmt.Errorf("callback for %s: %w", id, ErrUnknownContact)
	}
	if c.state != contactQueued {
		return fmt.Errorf("callback for %s: contact is not waiting: %w", id, ErrContactState)
	}
	c.callback = true
	e.emit(Event{Kind: EventCallback, Queue: c.q.id, Contact: c.id, Callback: true})
	return nil
}
