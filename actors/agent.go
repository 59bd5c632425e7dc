package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/parley-cc/parley/actors/pb"
)

// Agent presence values (routing.Presence names).
const (
	PresenceLoggedOut = "logged_out"
	PresenceAvailable = "available"
	PresenceBreak     = "break"
)

// Agent work states (routing.WorkState names).
const (
	WorkIdle      = "idle"
	WorkOffered   = "offering" // holds an offer, not yet accepted
	WorkOnContact = "busy"     // handling at least one contact
	WorkWrapUp    = "wrap_up"  // after-contact work
)

// AgentEvent kinds pushed to the agent's subscriber.
const (
	EventState      = "state"
	EventOffer      = "offer"
	EventOfferEnded = "offer_ended"
	EventConnected  = "connected"
	EventEnded      = "ended"
)

// offerGrace is how long past its expiry an agent keeps an offer its queue
// never reported on (the Queue grain was lost with its offers) before
// dropping it as the reconciler would.
const offerGrace = 2 * time.Second

// agentGrain is the arbiter of one agent: its presence, the offers it holds
// and the contacts it handles, persisted on every change. Every Queue grain
// runs its own routing engine with a mirror of the agent; the Agent grain
// refuses an offer the agent cannot take (busy with another queue's
// contact) and tells every queue when it becomes engaged or free, so one
// agent never gets more contacts than its capacity.
type agentGrain struct {
	grain
	state   *pb.AgentState
	cluster *cluster.Cluster
	sys     *actor.ActorSystem
	self    *actor.PID
	timer   *time.Timer
	sent    *pb.AgentMirror // last mirror told to the queues
}

type agentTick struct{}

var _ pb.Agent = (*agentGrain)(nil)

func newAgentGrain() pb.Agent { return &agentGrain{} }

func (g *agentGrain) Init(ctx cluster.GrainContext) {
	g.activate(ctx, KindAgent)
	g.cluster, g.sys, g.self = ctx.Cluster(), ctx.ActorSystem(), ctx.Self()
	g.state = &pb.AgentState{AgentId: g.id, Presence: PresenceLoggedOut, WorkState: WorkIdle, Capacity: 1}
	found, err := g.loadSnapshot(g.state)
	g.restored(err)
	g.deps.metrics.routing.setAgent(g.id, g.state.Presence, g.state.WorkState)
	if err == nil && found {
		// Queues may have missed the last change (crash between the write
		// and the broadcast); tell them again and re-arm timers.
		g.broadcast(true)
		g.schedule()
	}
}

func (g *agentGrain) Terminate(cluster.GrainContext) {
	if g.timer != nil {
		g.timer.Stop()
	}
	g.deps.metrics.routing.forgetAgent(g.id)
	g.terminate()
}

func (g *agentGrain) ReceiveDefault(ctx cluster.GrainContext) {
	if _, ok := ctx.Message().(*agentTick); ok && g.broken == nil {
		g.onTick()
	}
}

func (g *agentGrain) now() int64 { return time.Now().UnixNano() }

// engaged reports whether the agent can take no new offer.
func engaged(s *pb.AgentState, now int64) bool {
	c := s.Capacity
	if c <= 0 {
		c = 1
	}
	return int32(len(s.Offers)+len(s.Active)) >= c || s.WrapUntil > now
}

func workOf(s *pb.AgentState, now int64) string {
	switch {
	case len(s.Offers) > 0:
		return WorkOffered
	case len(s.Active) > 0:
		return WorkOnContact
	case s.WrapUntil > now:
		return WorkWrapUp
	}
	return WorkIdle
}

func (g *agentGrain) mirror(s *pb.AgentState, now int64) *pb.AgentMirror {
	return &pb.AgentMirror{AgentId: g.id, Skills: s.Skills, Languages: s.Languages, Capacity: s.Capacity,
		Presence: s.Presence, Reason: s.BreakReason, Engaged: engaged(s, now), Version: s.Version}
}

// commit derives the work state, bumps the version when what queues see
// changes, writes next through and adopts it, then tells queues and the
// subscriber.
func (g *agentGrain) commit(next *pb.AgentState, ev *pb.AgentEvent) (*pb.AgentState, error) {
	now := g.now()
	if next.WrapUntil != 0 && next.WrapUntil <= now {
		next.WrapUntil = 0
	}
	if w := workOf(next, now); w != next.WorkState {
		next.WorkState, next.WorkSince = w, now
	}
	next.CallId = ""
	if len(next.Active) > 0 {
		next.CallId = next.Active[0].CallId
	}
	m := g.mirror(next, now)
	m.Version = 0
	old := g.mirror(g.state, now)
	old.Version = 0
	if !proto.Equal(m, old) {
		next.Version = g.state.Version + 1
	}
	next.UpdatedAt = now
	if err := g.saveSnapshot(next); err != nil {
		return nil, err
	}
	g.state = next
	g.deps.metrics.routing.setAgent(g.id, next.Presence, next.WorkState)
	g.broadcast(false)
	g.schedule()
	if ev == nil {
		ev = &pb.AgentEvent{Kind: EventState}
	}
	g.push(ev)
	return next, nil
}

// broadcast tells every queue the agent's mirror when it changed since the
// last one sent (or always with force). Sent from goroutines: queues order
// them by version.
func (g *agentGrain) broadcast(force bool) {
	ri := g.deps.routing
	m := g.mirror(g.state, g.now())
	if !force && g.sent != nil && proto.Equal(m, g.sent) {
		return
	}
	g.sent = m
	if len(g.state.Skills) == 0 && g.state.Presence == PresenceLoggedOut && !force {
		return
	}
	for _, q := range ri.queues {
		go func() {
			if _, err := queueGrainOf(g.cluster, q).AgentUpdate(&pb.AgentUpdateRequest{Agent: m}); err != nil {
				g.deps.log.Warn("agent update not delivered", "agent", g.id, "queue", q, "err", err)
			}
		}()
	}
}

// push sends an event to the desktop subscriber, if any.
func (g *agentGrain) push(ev *pb.AgentEvent) {
	sub := g.state.Subscriber
	if sub == nil || sub.Id == "" {
		return
	}
	ev.State = g.state
	ev.At = g.now()
	g.sys.Root.Send(actor.NewPID(sub.Address, sub.Id), ev)
}

// schedule arms one timer for the earliest of wrap-up end and stale offers.
func (g *agentGrain) schedule() {
	var at int64
	if g.state.WrapUntil > 0 {
		at = g.state.WrapUntil
	}
	for _, o := range g.state.Offers {
		if t := o.Expires + int64(offerGrace); o.Expires > 0 && (at == 0 || t < at) {
			at = t
		}
	}
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	if at == 0 {
		return
	}
	root, self := g.sys.Root, g.self
	g.timer = time.AfterFunc(time.Duration(at-g.now()), func() { root.Send(self, &agentTick{}) })
}

func (g *agentGrain) onTick() {
	now := g.now()
	next := proto.Clone(g.state).(*pb.AgentState)
	changed := false
	var ev *pb.AgentEvent
	if next.WrapUntil > 0 && next.WrapUntil <= now {
		next.WrapUntil = 0
		changed = true
	}
	kept := next.Offers[:0]
	for _, o := range next.Offers {
		if o.Expires > 0 && o.Expires+int64(offerGrace) <= now {
			changed = true
			ev = &pb.AgentEvent{Kind: EventOfferEnded, Offer: o, Reason: "reconciled"}
			continue
		}
		kept = append(kept, o)
	}
	next.Offers = kept
	if !changed {
		g.schedule()
		return
	}
	if _, err := g.commit(next, ev); err != nil {
		g.deps.log.Warn("agent timer commit failed", "agent", g.id, "err", err)
		g.schedule()
	}
}

func (g *agentGrain) SetPresence(req *pb.SetPresenceRequest, ctx cluster.GrainContext) (*pb.AgentState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	switch req.Presence {
	case PresenceLoggedOut, PresenceAvailable:
	case PresenceBreak:
		if !g.deps.routing.breaks[req.Reason] {
			return nil, g.invalid("agent %s: break reason %q is not configured (routing break_reasons)", g.id, req.Reason)
		}
	default:
		return nil, g.invalid("agent %s: presence %q is not logged_out, available or break", g.id, req.Presence)
	}
	if req.Presence == PresenceLoggedOut && len(g.state.Active) > 0 {
		return nil, g.precondition("agent %s is %s; finish the contact before logging out", g.id, g.state.WorkState)
	}
	return g.setPresence(req.Presence, req.Reason, nil)
}

func (g *agentGrain) setPresence(presence, reason string, ev *pb.AgentEvent) (*pb.AgentState, error) {
	next := proto.Clone(g.state).(*pb.AgentState)
	if presence != PresenceBreak {
		reason = ""
	}
	if next.Presence != presence || next.BreakReason != reason {
		next.PresenceSince = g.now()
	}
	if presence == PresenceAvailable {
		next.Misses = 0
	} else {
		// Offers held when leaving available go back to their queues: the
		// queues' engines withdraw them when they learn the presence.
		next.Offers = nil
	}
	next.Presence, next.BreakReason = presence, reason
	return g.commit(next, ev)
}

func (g *agentGrain) SetSkills(req *pb.SetSkillsRequest, ctx cluster.GrainContext) (*pb.AgentState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, s := range g.deps.routing.cfg.Skills {
		known[s] = true
	}
	for i, s := range req.Skills {
		if s.GetName() == "" {
			return nil, g.invalid("agent %s: skill %d has no name", g.id, i)
		}
		if len(known) > 0 && !known[s.Name] {
			return nil, g.invalid("agent %s: skill %q is not in the routing configuration", g.id, s.Name)
		}
		if s.Proficiency < 1 || s.Proficiency > 5 {
			return nil, g.invalid("agent %s: skill %s proficiency %d is outside 1..5", g.id, s.Name, s.Proficiency)
		}
	}
	if req.Capacity < 0 {
		return nil, g.invalid("agent %s: capacity %d is negative", g.id, req.Capacity)
	}
	next := proto.Clone(g.state).(*pb.AgentState)
	next.Skills = req.Skills
	next.Languages = req.Languages
	if req.Capacity > 0 {
		next.Capacity = req.Capacity
	}
	return g.commit(next, nil)
}

func (g *agentGrain) Get(_ *pb.GetAgentRequest, ctx cluster.GrainContext) (*pb.AgentState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	return g.state, nil
}

func (g *agentGrain) heldIndex(offerID string) int {
	for i, o := range g.state.Offers {
		if o.OfferId == offerID {
			return i
		}
	}
	return -1
}

func (g *agentGrain) activeByOffer(offerID string) *pb.ActiveContact {
	for _, c := range g.state.Active {
		if c.OfferId == offerID {
			return c
		}
	}
	return nil
}

// Offer reserves the agent for a queue's offer, or refuses it when the agent
// cannot take it now; a refused offer is withdrawn by the queue without a
// miss.
func (g *agentGrain) Offer(req *pb.OfferRequest, ctx cluster.GrainContext) (*pb.OfferResponse, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	o := req.Offer
	if o == nil || o.OfferId == "" || o.QueueId == "" || o.ContactId == "" {
		return nil, g.invalid("agent %s: offer needs offer_id, queue_id and contact_id", g.id)
	}
	if g.heldIndex(o.OfferId) >= 0 {
		return &pb.OfferResponse{Accepted: true, Version: g.state.Version}, nil
	}
	now := g.now()
	refuse := ""
	switch {
	case g.state.Presence != PresenceAvailable:
		refuse = "agent is " + g.state.Presence
	case engaged(g.state, now):
		refuse = "agent is " + workOf(g.state, now)
	}
	if refuse != "" {
		g.broadcast(true) // the queue's mirror is stale
		return &pb.OfferResponse{Reason: refuse, Version: g.state.Version}, nil
	}
	next := proto.Clone(g.state).(*pb.AgentState)
	o = proto.Clone(o).(*pb.HeldOffer)
	if o.OfferedAt == 0 {
		o.OfferedAt = now
	}
	next.Offers = append(next.Offers, o)
	st, err := g.commit(next, &pb.AgentEvent{Kind: EventOffer, Offer: o})
	if err != nil {
		return nil, err
	}
	return &pb.OfferResponse{Accepted: true, Version: st.Version}, nil
}

// OfferEnded drops an offer its queue ended: a timeout counts as a miss and
// the agent goes on break (missed_offers) after the configured number.
func (g *agentGrain) OfferEnded(req *pb.OfferEndedRequest, ctx cluster.GrainContext) (*pb.AgentState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	i := g.heldIndex(req.OfferId)
	if i < 0 {
		return g.state, nil
	}
	return g.dropOffer(i, req.Reason, req.Miss)
}

func (g *agentGrain) dropOffer(i int, reason string, miss bool) (*pb.AgentState, error) {
	next := proto.Clone(g.state).(*pb.AgentState)
	o := next.Offers[i]
	next.Offers = append(next.Offers[:i], next.Offers[i+1:]...)
	ev := &pb.AgentEvent{Kind: EventOfferEnded, Offer: o, Reason: reason}
	if miss {
		next.Misses++
		if int(next.Misses) >= g.deps.routing.maxMisses && next.Presence == PresenceAvailable {
			next.Misses = 0
			next.Presence, next.BreakReason, next.PresenceSince = PresenceBreak, "missed_offers", g.now()
			next.Offers = nil
		}
	}
	return g.commit(next, ev)
}

// Answer accepts or rejects an offer from the agent's desktop. Accepting an
// offer accepted before answers it again (duplicate).
func (g *agentGrain) Answer(req *pb.AnswerRequest, ctx cluster.GrainContext) (*pb.AnswerResponse, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	if req.OfferId == "" {
		return nil, g.invalid("agent %s: offer id is empty", g.id)
	}
	if c := g.activeByOffer(req.OfferId); c != nil {
		if !req.Accept {
			return nil, g.precondition("agent %s: offer %s was accepted already", g.id, req.OfferId)
		}
		return &pb.AnswerResponse{State: g.state, Contact: c, Duplicate: true}, nil
	}
	i := g.heldIndex(req.OfferId)
	if i < 0 {
		return nil, g.precondition("agent %s: offer %s is not pending (expired, withdrawn or never made)", g.id, req.OfferId)
	}
	o := g.state.Offers[i]
	q := queueGrainOf(g.cluster, o.QueueId)
	qr := &pb.QueueOfferRequest{OfferId: o.OfferId, AgentId: g.id}
	if !req.Accept {
		_, err := q.Decline(qr)
		st, cerr := g.dropOffer(i, "declined", err == nil)
		if cerr != nil {
			return nil, cerr
		}
		return &pb.AnswerResponse{State: st}, nil
	}
	resp, err := q.Accept(qr)
	if err != nil {
		if _, cerr := g.dropOffer(i, "expired", false); cerr != nil {
			return nil, cerr
		}
		return nil, g.precondition("agent %s: offer %s can no longer be accepted: %v", g.id, o.OfferId, err)
	}
	next := proto.Clone(g.state).(*pb.AgentState)
	next.Offers = append(next.Offers[:i], next.Offers[i+1:]...)
	c := &pb.ActiveContact{ContactId: o.ContactId, QueueId: o.QueueId, CallId: o.CallId, OfferId: o.OfferId, Summary: o.Summary, Since: g.now()}
	if resp.Contact != nil && resp.Contact.CallId != "" {
		c.CallId = resp.Contact.CallId
	}
	next.Active = append(next.Active, c)
	next.Misses = 0
	st, err := g.commit(next, &pb.AgentEvent{Kind: EventConnected, Contact: c})
	if err != nil {
		return nil, err
	}
	return &pb.AnswerResponse{State: st, Contact: c}, nil
}

// Finish ends an active contact (the call ended or the agent hung up); the
// agent enters the queue's wrap-up.
func (g *agentGrain) Finish(req *pb.FinishRequest, ctx cluster.GrainContext) (*pb.AgentState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	at := -1
	for i, c := range g.state.Active {
		if c.ContactId == req.ContactId {
			at = i
		}
	}
	if at < 0 {
		return g.state, nil // finished before: idempotent
	}
	c := g.state.Active[at]
	wrap := g.deps.routing.wrapUp[c.QueueId]
	if resp, err := queueGrainOf(g.cluster, c.QueueId).Complete(&pb.CompleteRequest{ContactId: c.ContactId, AgentId: g.id}); err == nil {
		wrap = time.Duration(resp.WrapUpMs) * time.Millisecond
	} else {
		g.deps.log.Warn("queue did not take the completion", "agent", g.id, "contact", c.ContactId, "err", err)
	}
	next := proto.Clone(g.state).(*pb.AgentState)
	next.Active = append(next.Active[:at], next.Active[at+1:]...)
	if wrap > 0 {
		next.WrapUntil = max(next.WrapUntil, g.now()+int64(wrap))
	}
	return g.commit(next, &pb.AgentEvent{Kind: EventEnded, Contact: c, Reason: req.Reason})
}

func (g *agentGrain) EndWrapUp(_ *pb.EndWrapUpRequest, ctx cluster.GrainContext) (*pb.AgentState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	if g.state.WrapUntil == 0 {
		return nil, g.precondition("agent %s is not in wrap-up", g.id)
	}
	next := proto.Clone(g.state).(*pb.AgentState)
	next.WrapUntil = 0
	return g.commit(next, nil)
}

// Subscribe sets the actor that receives the agent's events (one desktop at
// a time: a new one replaces the old). A desktop that went away withdraws
// the pending offers and logs the agent out; contacts in progress go on.
func (g *agentGrain) Subscribe(req *pb.SubscribeRequest, ctx cluster.GrainContext) (*pb.AgentState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	if req.Subscriber == nil || req.Subscriber.Id == "" {
		return nil, g.invalid("agent %s: subscriber is empty", g.id)
	}
	next := proto.Clone(g.state).(*pb.AgentState)
	if !req.Unsubscribe {
		next.Subscriber = req.Subscriber
		return g.commit(next, nil)
	}
	if cur := next.Subscriber; cur == nil || cur.Id != req.Subscriber.Id || cur.Address != req.Subscriber.Address {
		return g.state, nil // a newer desktop took over
	}
	next.Subscriber = nil
	if req.Disconnected {
		next.Offers = nil
		if next.Presence != PresenceLoggedOut {
			next.Presence, next.BreakReason, next.PresenceSince = PresenceLoggedOut, "", g.now()
		}
	}
	return g.commit(next, nil)
}

// recordCallEvent appends an event to a call from a goroutine, so grains
// never wait on the Call grain inside a request.
func recordCallEvent(c *cluster.Cluster, log interface{ Warn(string, ...any) }, callID, typ, by string, data map[string]string) {
	if callID == "" {
		return
	}
	go func() {
		_, err := callGrainOf(c, callID).RecordEvent(&pb.RecordEventRequest{Event: &pb.CallEvent{Type: typ, By: by, Data: data, At: time.Now().UnixNano()}})
		if err != nil {
			log.Warn("call event not recorded", "call", callID, "event", typ, "err", err)
		}
	}()
}
