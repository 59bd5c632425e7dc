package actors

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/parley-cc/parley/actors/pb"
	"github.com/parley-cc/parley/routing"
)

// queueGrain runs the routing engine for one queue: its contacts, in their
// places, and a mirror of every agent (kept current by the Agent grains).
// It persists the waiting contacts (with their original enqueue times, so
// a re-activated grain restores every caller's place) and the agent mirrors.
// Offers do not survive a re-activation: their contacts wait again at their
// places and the agents drop offers their queue never ends (offerGrace).
//
// The grain never waits on another grain inside a request: offers go to
// Agent grains from goroutines and the answers come back as messages.
type queueGrain struct {
	grain
	cluster *cluster.Cluster
	sys     *actor.ActorSystem
	self    *actor.PID
	eng     *routing.Engine
	metrics *routing.Metrics
	events  []routing.Event
	info    map[string]*pb.QueuedContact
	agents  map[string]*pb.AgentMirror
	chans   []string
	dirty   bool
	timer   *time.Timer
	timerAt int64
	since   int64
	// restoring is set while a re-activated grain re-enqueues its persisted
	// contacts, which are not new hand-offs for the member's counters.
	restoring bool
}

// Messages a Queue grain sends itself.
type (
	queueTick   struct{}
	offerAnswer struct {
		offer, agent string
		accepted     bool
		reason       string
	}
)

var _ pb.Queue = (*queueGrain)(nil)

func newQueueGrain() pb.Queue { return &queueGrain{} }

func (g *queueGrain) Init(ctx cluster.GrainContext) {
	g.activate(ctx, KindQueue)
	g.cluster, g.sys, g.self = ctx.Cluster(), ctx.ActorSystem(), ctx.Self()
	g.since = time.Now().UnixNano()
	g.info = map[string]*pb.QueuedContact{}
	g.agents = map[string]*pb.AgentMirror{}
	g.restored(g.restore())
}

func (g *queueGrain) restore() error {
	ri := g.deps.routing
	if !ri.hasQueue(g.id) {
		return nil // answers every request with an unknown-queue error
	}
	nonce := make([]byte, 4)
	_, _ = rand.Read(nonce)
	eng, err := routing.New(ri.cfg, routing.WithOfferPrefix(g.id+"/"+hex.EncodeToString(nonce)+"-"),
		routing.WithSink(func(ev routing.Event) { g.events = append(g.events, ev) }))
	if err != nil {
		return err
	}
	g.eng, g.metrics = eng, routing.NewMetrics(ri.cfg)
	seen := map[string]bool{}
	for _, q := range ri.cfg.Queues {
		ch := q.Channel
		if ch == "" {
			ch = "voice"
		}
		if !seen[ch] {
			seen[ch] = true
			g.chans = append(g.chans, ch)
		}
	}
	st := &pb.QueueState{}
	if _, err := g.loadSnapshot(st); err != nil {
		return err
	}
	now := time.Now()
	for _, m := range st.Agents {
		g.applyAgent(now, m)
	}
	for _, c := range st.Waiting {
		g.info[c.ContactId] = c
		q := c.QueueId
		if q == "" || !ri.hasQueue(q) {
			q = g.id
		}
		if _, err := g.eng.Enqueue(now, routing.ContactSpec{ID: c.ContactId, Queue: q, Attributes: c.Attrs,
			Sentiment: c.Sentiment, EnqueuedAt: fromNanos(c.EnqueuedAt)}); err != nil {
			g.deps.log.Warn("queue restore: contact dropped", "queue", g.id, "contact", c.ContactId, "err", err)
			delete(g.info, c.ContactId)
			continue
		}
		if c.Callback {
			_ = g.eng.RequestCallback(now, c.ContactId)
		}
	}
	var oldest time.Time
	for _, c := range st.Waiting {
		if t := fromNanos(c.EnqueuedAt); oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	g.deps.metrics.routing.setQueue(g.id, len(g.info), oldest)
	g.dirty = false
	g.restoring = true
	g.process()
	g.restoring = false
	return nil
}

func (g *queueGrain) Terminate(cluster.GrainContext) {
	if g.timer != nil {
		g.timer.Stop()
	}
	g.deps.metrics.routing.forgetQueue(g.id)
	g.terminate()
}

// begin checks the grain can serve a request.
func (g *queueGrain) begin(ctx cluster.GrainContext) error {
	if err := g.ready(ctx); err != nil {
		return err
	}
	if g.eng == nil {
		return g.fail(cluster.ErrorReason_NOT_FOUND, "queue %s is not in the routing configuration", g.id)
	}
	return nil
}

// engineError maps a routing error onto a grain error.
func (g *queueGrain) engineError(err error) error {
	switch {
	case errors.Is(err, routing.ErrUnknownContact), errors.Is(err, routing.ErrUnknownQueue), errors.Is(err, routing.ErrUnknownAgent):
		return g.fail(cluster.ErrorReason_NOT_FOUND, "queue %s: %v", g.id, err)
	case errors.Is(err, routing.ErrInvalidArgument), errors.Is(err, routing.ErrDuplicate):
		return g.invalid("queue %s: %v", g.id, err)
	default:
		return g.precondition("queue %s: %v", g.id, err)
	}
}

func (g *queueGrain) ReceiveDefault(ctx cluster.GrainContext) {
	if g.broken != nil || g.eng == nil {
		return
	}
	now := time.Now()
	switch m := ctx.Message().(type) {
	case *queueTick:
		g.timerAt = 0
		g.eng.Advance(now)
	case *offerAnswer:
		if m.accepted {
			if err := g.eng.Ringing(now, m.offer); err != nil {
				// Ended while the agent was told (timeout, hang-up): the
				// agent was or will be told too.
				g.deps.log.Debug("offer ended before ringing", "offer", m.offer, "err", err)
			}
			break
		}
		// The agent cannot take it: mark it engaged until its Agent grain
		// says otherwise, and give the contact to someone else.
		_ = g.eng.SetEngaged(now, m.agent, true)
		_ = g.eng.Withdraw(now, m.offer, "refused: "+m.reason)
	default:
		return
	}
	g.process()
	if err := g.save(); err != nil {
		g.deps.log.Warn("queue state not saved", "queue", g.id, "err", err)
	}
}

// process acts on the events the engine reported: offers go to agents,
// ended offers are reported to them, and changes to the contacts mark the
// state dirty. It then arms the timer for the engine's next deadline.
func (g *queueGrain) process() {
	evs := g.events
	g.events = nil
	rm := g.deps.metrics.routing
	for _, ev := range evs {
		g.metrics.Record(ev)
		rm.record(ev, g.metrics.Queue(ev.Queue).Threshold, g.restoring)
		switch ev.Kind {
		case routing.EventOffered:
			g.sendOffer(ev)
		case routing.EventOfferMissed:
			if ev.Reason == "timeout" {
				g.tellOfferEnded(ev, true)
			}
		case routing.EventOfferCanceled:
			if len(ev.Reason) < 8 || ev.Reason[:8] != "refused:" {
				g.tellOfferEnded(ev, false)
			}
		case routing.EventCompleted, routing.EventDropped, routing.EventAbandoned:
			if ev.Kind == routing.EventDropped || ev.Reason == "reconciled" {
				g.tellWaiter(ev, "gone")
			}
			delete(g.info, ev.Contact)
			g.dirty = true
		case routing.EventAnswered:
			g.tellWaiter(ev, "connected")
			g.dirty = true
		case routing.EventRequeued:
			g.tellWaiter(ev, "requeued")
			g.dirty = true
		case routing.EventEnqueued, routing.EventOverflowed, routing.EventCallback:
			g.dirty = true
		}
	}
	g.schedule()
}

func (g *queueGrain) sendOffer(ev routing.Event) {
	rec := g.info[ev.Contact]
	if rec == nil {
		rec = &pb.QueuedContact{ContactId: ev.Contact}
	}
	o, _ := g.eng.Offer(ev.Offer)
	ho := &pb.HeldOffer{OfferId: ev.Offer, QueueId: g.id, ContactId: ev.Contact, CallId: rec.CallId, Summary: rec.Summary,
		Expires: nanos(o.Expires), Callback: ev.Callback, Attrs: rec.Attrs, OfferedAt: nanos(ev.At), Step: int32(ev.Step)}
	root, self, c, agent := g.sys.Root, g.self, g.cluster, ev.Agent
	go func() {
		resp, err := agentGrainOf(c, agent).Offer(&pb.OfferRequest{Offer: ho})
		ans := &offerAnswer{offer: ho.OfferId, agent: agent}
		switch {
		case err != nil:
			ans.reason = err.Error()
		default:
			ans.accepted, ans.reason = resp.Accepted, resp.Reason
		}
		root.Send(self, ans)
	}()
	recordCallEvent(g.cluster, g.deps.log, rec.CallId, "offered", "routing", map[string]string{"agent": agent, "queue": g.id, "offer": ev.Offer})
}

// tellWaiter tells the caller's side what happened to its contact.
func (g *queueGrain) tellWaiter(ev routing.Event, state string) {
	rec := g.info[ev.Contact]
	if rec == nil || rec.Waiter == nil || rec.Waiter.Id == "" {
		return
	}
	g.sys.Root.Send(actor.NewPID(rec.Waiter.Address, rec.Waiter.Id), &pb.ContactUpdate{ContactId: ev.Contact, State: state,
		AgentId: ev.Agent, OfferId: ev.Offer, CallId: rec.CallId, QueueId: g.id, WaitMs: ev.Wait.Milliseconds()})
}

func (g *queueGrain) tellOfferEnded(ev routing.Event, miss bool) {
	c, agent := g.cluster, ev.Agent
	req := &pb.OfferEndedRequest{OfferId: ev.Offer, Reason: ev.Reason, Miss: miss}
	log := g.deps.log
	go func() {
		if _, err := agentGrainOf(c, agent).OfferEnded(req); err != nil {
			log.Warn("offer end not delivered", "agent", agent, "offer", req.OfferId, "err", err)
		}
	}()
}

// schedule arms the timer for the engine's next deadline.
func (g *queueGrain) schedule() {
	at, ok := g.eng.NextDeadline()
	if !ok {
		return
	}
	n := at.UnixNano()
	if g.timerAt != 0 && g.timerAt <= n {
		return
	}
	if g.timer != nil {
		g.timer.Stop()
	}
	g.timerAt = n
	root, self := g.sys.Root, g.self
	g.timer = time.AfterFunc(time.Until(at), func() { root.Send(self, &queueTick{}) })
}

// save writes the waiting contacts (in service order, offered ones as
// waiting) and the agent mirrors through when they changed.
func (g *queueGrain) save() error {
	if !g.dirty {
		return nil
	}
	st := &pb.QueueState{QueueId: g.id, UpdatedAt: time.Now().UnixNano()}
	var oldest time.Time
	for _, spec := range g.eng.Snapshot() {
		if cs, ok := g.eng.Contact(spec.ID); !ok || cs.State == "connected" {
			continue // connected contacts are their agent's
		}
		rec := proto.Clone(g.info[spec.ID]).(*pb.QueuedContact)
		rec.EnqueuedAt, rec.QueueId, rec.Sentiment = nanos(spec.EnqueuedAt), spec.Queue, spec.Sentiment
		st.Waiting = append(st.Waiting, rec)
		if oldest.IsZero() || spec.EnqueuedAt.Before(oldest) {
			oldest = spec.EnqueuedAt
		}
	}
	g.deps.metrics.routing.setQueue(g.id, len(st.Waiting), oldest)
	ids := make([]string, 0, len(g.agents))
	for id := range g.agents {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		st.Agents = append(st.Agents, g.agents[id])
	}
	if err := g.saveSnapshot(st); err != nil {
		return err
	}
	g.dirty = false
	return nil
}

// done processes events and writes the state through before answering.
func (g *queueGrain) done() error {
	g.process()
	return g.save()
}

func (g *queueGrain) position(id string) *pb.PositionResponse {
	r := &pb.PositionResponse{Waiting: int32(g.eng.Waiting(g.id)), State: "gone"}
	cs, ok := g.eng.Contact(id)
	if !ok {
		return r
	}
	r.State, r.AgentId, r.Callback = cs.State, cs.Agent, cs.Callback
	if cs.State == "queued" {
		if est, err := g.eng.Estimate(time.Now(), id); err == nil {
			r.Position, r.EwtMs, r.Staffed = int32(est.Position), est.Wait.Milliseconds(), int32(est.Staffed)
		}
	}
	return r
}

func (g *queueGrain) Enqueue(req *pb.EnqueueRequest, ctx cluster.GrainContext) (*pb.EnqueueResponse, error) {
	if err := g.begin(ctx); err != nil {
		return nil, err
	}
	c := req.Contact
	if c == nil || c.ContactId == "" {
		return nil, g.invalid("queue %s: contact id is empty", g.id)
	}
	if g.info[c.ContactId] != nil {
		p := g.position(c.ContactId)
		return &pb.EnqueueResponse{Position: p.Position, Waiting: p.Waiting, Already: true, Queued: true, QueueId: g.id, EwtMs: p.EwtMs, Staffed: p.Staffed}, nil
	}
	rec := proto.Clone(c).(*pb.QueuedContact)
	rec.QueueId = g.id
	g.info[rec.ContactId] = rec
	res, err := g.eng.Enqueue(time.Now(), routing.ContactSpec{ID: rec.ContactId, Queue: g.id, Attributes: rec.Attrs,
		Sentiment: rec.Sentiment, EnqueuedAt: fromNanos(rec.EnqueuedAt)})
	if err != nil || !res.Queued {
		delete(g.info, rec.ContactId)
		g.process()
		if err != nil {
			return nil, g.engineError(err)
		}
		return &pb.EnqueueResponse{QueueId: res.Queue, AfterHours: string(res.AfterHours)}, nil
	}
	if err := g.done(); err != nil {
		return nil, err
	}
	p := g.position(rec.ContactId)
	recordCallEvent(g.cluster, g.deps.log, rec.CallId, "queued", "routing", map[string]string{"queue": g.id, "position": strconv.Itoa(int(p.Position))})
	return &pb.EnqueueResponse{Position: p.Position, Waiting: p.Waiting, Queued: true, QueueId: res.Queue,
		AfterHours: string(res.AfterHours), EwtMs: p.EwtMs, Staffed: p.Staffed}, nil
}

func (g *queueGrain) Abandon(req *pb.AbandonRequest, ctx cluster.GrainContext) (*pb.AbandonResponse, error) {
	if err := g.begin(ctx); err != nil {
		return nil, err
	}
	if err := g.eng.Abandon(time.Now(), req.ContactId); err != nil {
		if errors.Is(err, routing.ErrUnknownContact) {
			return &pb.AbandonResponse{}, nil
		}
		return nil, g.engineError(err)
	}
	if err := g.done(); err != nil {
		return nil, err
	}
	return &pb.AbandonResponse{Found: true}, nil
}

func (g *queueGrain) Position(req *pb.PositionRequest, ctx cluster.GrainContext) (*pb.PositionResponse, error) {
	if err := g.begin(ctx); err != nil {
		return nil, err
	}
	if req.ContactId == "" {
		return nil, g.invalid("queue %s: contact id is empty", g.id)
	}
	g.eng.Advance(time.Now())
	g.process()
	return g.position(req.ContactId), nil
}

func (g *queueGrain) Accept(req *pb.QueueOfferRequest, ctx cluster.GrainContext) (*pb.AcceptResponse, error) {
	if err := g.begin(ctx); err != nil {
		return nil, err
	}
	now := time.Now()
	g.eng.Advance(now)
	o, ok := g.eng.Offer(req.OfferId)
	if !ok || o.Agent != req.AgentId {
		g.process()
		return nil, g.precondition("queue %s: offer %s is unknown, expired or not for agent %s", g.id, req.OfferId, req.AgentId)
	}
	if err := g.eng.Accept(now, req.OfferId); err != nil {
		return nil, g.engineError(err)
	}
	rec := g.info[o.Contact]
	var wait int64
	for _, ev := range g.events {
		if ev.Kind == routing.EventAnswered && ev.Offer == req.OfferId {
			wait = ev.Wait.Milliseconds()
		}
	}
	if err := g.done(); err != nil {
		return nil, err
	}
	return &pb.AcceptResponse{Contact: rec, WaitMs: wait}, nil
}

func (g *queueGrain) Decline(req *pb.QueueOfferRequest, ctx cluster.GrainContext) (*pb.DeclineResponse, error) {
	if err := g.begin(ctx); err != nil {
		return nil, err
	}
	if o, ok := g.eng.Offer(req.OfferId); !ok || o.Agent != req.AgentId {
		return nil, g.precondition("queue %s: offer %s is unknown, expired or not for agent %s", g.id, req.OfferId, req.AgentId)
	}
	if err := g.eng.Decline(time.Now(), req.OfferId); err != nil {
		return nil, g.engineError(err)
	}
	return &pb.DeclineResponse{}, g.done()
}

func (g *queueGrain) Complete(req *pb.CompleteRequest, ctx cluster.GrainContext) (*pb.CompleteResponse, error) {
	if err := g.begin(ctx); err != nil {
		return nil, err
	}
	wrap := g.deps.routing.wrapUp[g.id]
	cs, ok := g.eng.Contact(req.ContactId)
	if !ok {
		// Accepted before this activation: the agent's wrap-up still applies.
		return &pb.CompleteResponse{WrapUpMs: wrap.Milliseconds()}, nil
	}
	if cs.State != "connected" || (req.AgentId != "" && cs.Agent != req.AgentId) {
		return nil, g.precondition("queue %s: contact %s is %s, not connected to %s", g.id, req.ContactId, cs.State, req.AgentId)
	}
	wrap = g.deps.routing.wrapUp[cs.Queue]
	if err := g.eng.Complete(time.Now(), req.ContactId); err != nil {
		return nil, g.engineError(err)
	}
	return &pb.CompleteResponse{WrapUpMs: wrap.Milliseconds()}, g.done()
}

// applyAgent brings the engine's mirror of an agent up to m; older versions
// are ignored (updates travel on goroutines and may cross).
func (g *queueGrain) applyAgent(now time.Time, m *pb.AgentMirror) {
	old := g.agents[m.AgentId]
	if old != nil && m.Version < old.Version {
		return
	}
	spec := routing.AgentSpec{ID: m.AgentId, Skills: map[string]int{}, Languages: m.Languages, Capacity: map[string]int{}}
	for _, s := range m.Skills {
		spec.Skills[s.Name] = int(s.Proficiency)
	}
	capacity := int(m.Capacity)
	if capacity <= 0 {
		capacity = 1
	}
	for _, ch := range g.chans {
		spec.Capacity[ch] = capacity
	}
	var err error
	if _, known := g.eng.Agent(m.AgentId); !known {
		err = g.eng.AddAgent(now, spec)
	} else if old == nil || !slices.EqualFunc(old.Skills, m.Skills, func(a, b *pb.AgentSkill) bool { return proto.Equal(a, b) }) ||
		!slices.Equal(old.Languages, m.Languages) || old.Capacity != m.Capacity {
		err = g.eng.UpdateAgent(now, spec)
	}
	if err != nil {
		g.deps.log.Warn("agent not routable", "queue", g.id, "agent", m.AgentId, "err", err)
		return
	}
	p, reason := routing.LoggedOut, ""
	switch m.Presence {
	case PresenceAvailable:
		p = routing.Available
	case PresenceBreak:
		p, reason = routing.Break, m.Reason
	}
	if st, _ := g.eng.Agent(m.AgentId); st.Presence != p || st.Reason != reason {
		if err := g.eng.SetPresence(now, m.AgentId, p, reason); err != nil {
			_ = g.eng.SetPresence(now, m.AgentId, routing.Break, routing.ReasonMissedOffers)
		}
	}
	if !m.Engaged {
		// The Agent grain decides when wrap-up ends (the agent may end it
		// early); this engine's own wrap-up timer must not hold the agent.
		if st, _ := g.eng.Agent(m.AgentId); st.Work == routing.WrapUp {
			_ = g.eng.EndWrapUp(now, m.AgentId)
		}
	}
	_ = g.eng.SetEngaged(now, m.AgentId, m.Engaged)
	g.agents[m.AgentId] = m
	g.dirty = true
}

func (g *queueGrain) AgentUpdate(req *pb.AgentUpdateRequest, ctx cluster.GrainContext) (*pb.AgentUpdateResponse, error) {
	if err := g.begin(ctx); err != nil {
		return nil, err
	}
	if req.Agent == nil || req.Agent.AgentId == "" {
		return nil, g.invalid("queue %s: agent update without an agent id", g.id)
	}
	g.applyAgent(time.Now(), req.Agent)
	return &pb.AgentUpdateResponse{}, g.done()
}

func (g *queueGrain) Callback(req *pb.CallbackRequest, ctx cluster.GrainContext) (*pb.PositionResponse, error) {
	if err := g.begin(ctx); err != nil {
		return nil, err
	}
	if err := g.eng.RequestCallback(time.Now(), req.ContactId); err != nil {
		return nil, g.engineError(err)
	}
	if rec := g.info[req.ContactId]; rec != nil {
		rec.Callback = true
	}
	if err := g.done(); err != nil {
		return nil, err
	}
	return g.position(req.ContactId), nil
}

func (g *queueGrain) SetSentiment(req *pb.SentimentRequest, ctx cluster.GrainContext) (*pb.PositionResponse, error) {
	if err := g.begin(ctx); err != nil {
		return nil, err
	}
	if err := g.eng.SetSentiment(time.Now(), req.ContactId, req.Sentiment); err != nil {
		return nil, g.engineError(err)
	}
	if rec := g.info[req.ContactId]; rec != nil {
		rec.Sentiment = req.Sentiment
	}
	g.dirty = true
	if err := g.done(); err != nil {
		return nil, err
	}
	return g.position(req.ContactId), nil
}

// Reconcile clears contacts whose call is gone (a crashed leg): waiting or
// offered ones count as abandoned, connected ones are dropped.
func (g *queueGrain) Reconcile(req *pb.ReconcileRequest, ctx cluster.GrainContext) (*pb.ReconcileResponse, error) {
	if err := g.begin(ctx); err != nil {
		return nil, err
	}
	dead := map[string]bool{}
	for _, id := range req.Dead {
		dead[id] = true
	}
	cleared := g.eng.Reconcile(time.Now(), func(id string) bool { return !dead[id] })
	for _, id := range req.Dead {
		if g.info[id] != nil && !slices.Contains(cleared, id) {
			delete(g.info, id) // restored contact the engine no longer holds
			g.dirty = true
		}
	}
	return &pb.ReconcileResponse{Cleared: cleared}, g.done()
}

func (g *queueGrain) Stats(_ *pb.QueueStatsRequest, ctx cluster.GrainContext) (*pb.QueueStats, error) {
	if err := g.begin(ctx); err != nil {
		return nil, err
	}
	now := time.Now()
	g.eng.Advance(now)
	g.process()
	qm := g.metrics.Queue(g.id)
	s := &pb.QueueStats{QueueId: g.id, Waiting: int32(g.eng.Waiting(g.id)),
		Offered: int64(qm.Offered), Answered: int64(qm.Answered), Abandoned: int64(qm.Abandoned), AnsweredInSl: int64(qm.AnsweredInSL),
		WaitMsTotal: qm.TotalWait.Milliseconds(), HandleMsTotal: (qm.TotalTalk + qm.TotalWrap).Milliseconds(), Completed: int64(qm.Handled),
		ServiceLevelMs: qm.Threshold.Milliseconds(), AhtMs: qm.AHT().Milliseconds(), Overflowed: int64(qm.Overflowed), Since: g.since}
	for _, spec := range g.eng.Snapshot() {
		cs, _ := g.eng.Contact(spec.ID)
		rec := g.info[spec.ID]
		e := &pb.WaitingEntry{ContactId: spec.ID, State: cs.State, AgentId: cs.Agent, OfferId: cs.Offer, Callback: cs.Callback,
			WaitedMs: now.Sub(spec.EnqueuedAt).Milliseconds()}
		if rec != nil {
			e.CallId, e.Attrs = rec.CallId, rec.Attrs
		}
		if cs.State == "queued" {
			if est, err := g.eng.Estimate(now, spec.ID); err == nil {
				e.Position, e.EwtMs = int32(est.Position), est.Wait.Milliseconds()
			}
		}
		s.Contacts = append(s.Contacts, e)
	}
	s.Staffed, s.Idle = int32(g.eng.Staffed(g.id)), int32(g.eng.Idle(g.id))
	return s, nil
}

func (g *queueGrain) List(_ *pb.ListQueueRequest, ctx cluster.GrainContext) (*pb.QueueState, error) {
	if err := g.begin(ctx); err != nil {
		return nil, err
	}
	st := &pb.QueueState{QueueId: g.id}
	for _, spec := range g.eng.Snapshot() {
		if rec := g.info[spec.ID]; rec != nil {
			c := proto.Clone(rec).(*pb.QueuedContact)
			c.EnqueuedAt = nanos(spec.EnqueuedAt)
			st.Waiting = append(st.Waiting, c)
		}
	}
	for _, m := range g.agents {
		st.Agents = append(st.Agents, m)
	}
	return st, nil
}
