package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"github.com/parley-cc/parley/actors/pb"
	"github.com/parley-cc/parley/store"
)

// callGrain is one conversation. It writes every change through to the
// CallStore before answering, so an acknowledged turn survives any crash of
// the member; while the database is down it queues them in the member's
// write-behind (see grain.persist), so the call goes on.
type callGrain struct {
	grain
	call   *store.Call // nil until started
	turns  []store.Turn
	events []store.CallEvent
}

var _ pb.Call = (*callGrain)(nil)

func newCallGrain() pb.Call { return &callGrain{} }

// Init restores the call, its turns and events from the store.
func (g *callGrain) Init(ctx cluster.GrainContext) {
	g.activate(ctx, KindCall)
	g.restored(g.restore())
}

func (g *callGrain) restore() error {
	sctx, cancel := g.deps.storeCtx()
	defer cancel()
	c, err := g.deps.store.GetCall(sctx, g.id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load call: %w", err)
	}
	turns, err := g.deps.store.ListTurns(sctx, g.id)
	if err != nil {
		return fmt.Errorf("load turns: %w", err)
	}
	events, err := g.deps.store.ListCallEvents(sctx, g.id)
	if err != nil {
		return fmt.Errorf("load events: %w", err)
	}
	g.call, g.turns, g.events = c, turns, events
	return nil
}

func (g *callGrain) Terminate(cluster.GrainContext) { g.terminate() }

func (g *callGrain) nextTurn() int64 {
	if n := len(g.turns); n > 0 {
		return int64(g.turns[n-1].Seq) + 1
	}
	return 1
}

func (g *callGrain) nextEvent() int64 {
	if n := len(g.events); n > 0 {
		return int64(g.events[n-1].Seq) + 1
	}
	return 1
}

// started returns an error unless the call was started.
func (g *callGrain) started(ctx cluster.GrainContext) error {
	if err := g.ready(ctx); err != nil {
		return err
	}
	if g.call == nil {
		return g.precondition("call %s was not started", g.id)
	}
	return nil
}

func (g *callGrain) Start(req *pb.StartCallRequest, ctx cluster.GrainContext) (*pb.StartCallResponse, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	if g.call != nil {
		return &pb.StartCallResponse{Call: callToPB(g.call)}, nil
	}
	switch req.Direction {
	case store.DirectionInbound, store.DirectionOutbound:
	default:
		return nil, g.invalid("call %s: direction %q is not inbound or outbound", g.id, req.Direction)
	}
	if req.Channel == "" {
		return nil, g.invalid("call %s: channel is empty (want sip, webrtc or text)", g.id)
	}
	now := time.Now().UTC()
	c := &store.Call{
		ID: g.id, Direction: req.Direction, Channel: req.Channel, From: req.From, To: req.To,
		ContactID: req.ContactId, CampaignID: req.CampaignId, QueueID: req.QueueId,
		State: store.CallRinging, StartedAt: fromNanos(req.StartedAt), UpdatedAt: now,
	}
	if c.StartedAt.IsZero() {
		c.StartedAt = now
	}
	if err := g.saveCall(c); err != nil {
		return nil, err
	}
	g.call = c
	return &pb.StartCallResponse{Call: callToPB(c), Created: true}, nil
}

func (g *callGrain) saveCall(c *store.Call) error {
	saved := *c // the grain goes on changing its own copy
	return g.persist("save call", func(ctx context.Context) error { return g.deps.store.SaveCall(ctx, &saved) })
}

func (g *callGrain) RecordTurn(req *pb.RecordTurnRequest, ctx cluster.GrainContext) (*pb.RecordTurnResponse, error) {
	if err := g.started(ctx); err != nil {
		return nil, err
	}
	t := req.Turn
	if t == nil {
		return nil, g.invalid("call %s: turn is missing", g.id)
	}
	switch t.Speaker {
	case store.SpeakerCaller, store.SpeakerBot, store.SpeakerAgent:
	default:
		return nil, g.invalid("call %s: turn speaker %q is not caller, bot or agent", g.id, t.Speaker)
	}
	next := g.nextTurn()
	seq := t.Seq
	switch {
	case seq == 0:
		seq = next
	case seq < 0:
		return nil, g.invalid("call %s: turn seq %d is negative", g.id, seq)
	case seq < next:
		return &pb.RecordTurnResponse{Seq: seq, Duplicate: true}, nil
	case seq > next:
		return nil, g.precondition("call %s: turn seq %d leaves a gap; next is %d", g.id, seq, next)
	}
	st := turnFromPB(g.id, seq, t)
	if err := g.persist("append turn", func(ctx context.Context) error { return g.deps.store.AppendTurn(ctx, st) }); err != nil {
		return nil, err
	}
	g.turns = append(g.turns, st)
	return &pb.RecordTurnResponse{Seq: seq}, nil
}

func (g *callGrain) RecordEvent(req *pb.RecordEventRequest, ctx cluster.GrainContext) (*pb.RecordEventResponse, error) {
	if err := g.started(ctx); err != nil {
		return nil, err
	}
	e := req.Event
	if e == nil || e.Type == "" {
		return nil, g.invalid("call %s: event type is empty", g.id)
	}
	next := g.nextEvent()
	seq := e.Seq
	switch {
	case seq == 0:
		seq = next
	case seq < 0:
		return nil, g.invalid("call %s: event seq %d is negative", g.id, seq)
	case seq < next:
		return &pb.RecordEventResponse{Seq: seq, Duplicate: true}, nil
	case seq > next:
		return nil, g.precondition("call %s: event seq %d leaves a gap; next is %d", g.id, seq, next)
	}
	se := eventFromPB(g.id, seq, e)
	if err := g.appendEvent(se); err != nil {
		return nil, err
	}
	g.events = append(g.events, se)
	return &pb.RecordEventResponse{Seq: seq}, nil
}

func (g *callGrain) appendEvent(e store.CallEvent) error {
	return g.persist("append call event", func(ctx context.Context) error { return g.deps.store.AppendCallEvent(ctx, e) })
}

var callStates = map[string]bool{
	store.CallRinging: true, store.CallBot: true, store.CallQueued: true, store.CallAgent: true,
	store.CallEnded: true, store.CallHandoff: true, store.CallAbandon: true,
}

func (g *callGrain) SetState(req *pb.SetCallStateRequest, ctx cluster.GrainContext) (*pb.SetCallStateResponse, error) {
	if err := g.started(ctx); err != nil {
		return nil, err
	}
	if req.State != "" && !callStates[req.State] {
		return nil, g.invalid("call %s: state %q is unknown", g.id, req.State)
	}
	c := *g.call
	now := time.Now().UTC()
	setIf(&c.State, req.State)
	setIf(&c.QueueID, req.QueueId)
	setIf(&c.AgentID, req.AgentId)
	setIf(&c.ContactID, req.ContactId)
	setIf(&c.Disposition, req.Disposition)
	setIf(&c.Summary, req.Summary)
	setIf(&c.RecordingPath, req.RecordingPath)
	if (c.State == store.CallBot || c.State == store.CallAgent) && c.AnsweredAt == nil {
		c.AnsweredAt = &now
	}
	if (c.State == store.CallEnded || c.State == store.CallAbandon) && c.EndedAt == nil {
		c.EndedAt = &now
	}
	c.UpdatedAt = now
	if err := g.saveCall(&c); err != nil {
		return nil, err
	}
	g.call = &c
	return &pb.SetCallStateResponse{Call: callToPB(&c)}, nil
}

func setIf(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func (g *callGrain) Transcript(_ *pb.TranscriptRequest, ctx cluster.GrainContext) (*pb.TranscriptResponse, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	if g.call == nil {
		return nil, g.fail(cluster.ErrorReason_NOT_FOUND, "call %s was not started", g.id)
	}
	resp := &pb.TranscriptResponse{
		Call:   callToPB(g.call),
		Turns:  make([]*pb.Turn, len(g.turns)),
		Events: make([]*pb.CallEvent, len(g.events)),
		Member: ctx.ActorSystem().Address(),
	}
	for i := range g.turns {
		resp.Turns[i] = turnToPB(&g.turns[i])
	}
	for i := range g.events {
		resp.Events[i] = eventToPB(&g.events[i])
	}
	return resp, nil
}

// Hangup ends the call and records a hangup event; hanging up an ended call
// changes nothing.
func (g *callGrain) Hangup(req *pb.HangupRequest, ctx cluster.GrainContext) (*pb.HangupResponse, error) {
	if err := g.started(ctx); err != nil {
		return nil, err
	}
	if g.call.State == store.CallEnded || g.call.State == store.CallAbandon {
		return &pb.HangupResponse{Call: callToPB(g.call)}, nil
	}
	now := time.Now().UTC()
	c := *g.call
	c.State = store.CallEnded
	if g.call.State == store.CallQueued && req.By == store.SpeakerCaller {
		c.State = store.CallAbandon // the caller gave up waiting
	}
	setIf(&c.Disposition, req.Disposition)
	c.EndedAt = &now
	c.UpdatedAt = now
	e := store.CallEvent{CallID: g.id, Seq: int(g.nextEvent()), Type: "hangup", By: req.By, At: now}
	if req.Reason != "" {
		e.Data = map[string]string{"reason": req.Reason}
	}
	// The event goes first: it is idempotent by seq, so a retry after a
	// failed SaveCall does not duplicate it.
	if err := g.appendEvent(e); err != nil {
		return nil, err
	}
	if err := g.saveCall(&c); err != nil {
		return nil, err
	}
	g.events = append(g.events, e)
	g.call = &c
	return &pb.HangupResponse{Call: callToPB(&c)}, nil
}
