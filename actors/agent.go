package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/parley-cc/parley/actors/pb"
)

// Agent presence values.
const (
	PresenceLoggedOut = "logged_out"
	PresenceAvailable = "available"
	PresenceBreak     = "break"
)

// Agent work states.
const (
	WorkIdle      = "idle"
	WorkOffered   = "offered"    // a contact is offered, not yet accepted
	WorkOnContact = "on_contact" // talking to a contact
	WorkWrapUp    = "wrap_up"    // after-contact work
)

// agentGrain holds an agent's presence, work state and skills snapshot.
type agentGrain struct {
	grain
	state *pb.AgentState
}

var _ pb.Agent = (*agentGrain)(nil)

func newAgentGrain() pb.Agent { return &agentGrain{} }

func (g *agentGrain) Init(ctx cluster.GrainContext) {
	g.activate(ctx, KindAgent)
	g.state = &pb.AgentState{AgentId: g.id, Presence: PresenceLoggedOut, WorkState: WorkIdle, Capacity: 1}
	_, err := g.loadSnapshot(g.state)
	g.restored(err)
}

func (g *agentGrain) Terminate(cluster.GrainContext) { g.terminate() }

// commit writes next through and adopts it.
func (g *agentGrain) commit(next *pb.AgentState) (*pb.AgentState, error) {
	next.UpdatedAt = time.Now().UnixNano()
	if err := g.saveSnapshot(next); err != nil {
		return nil, err
	}
	g.state = next
	return next, nil
}

func (g *agentGrain) SetPresence(req *pb.SetPresenceRequest, ctx cluster.GrainContext) (*pb.AgentState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	switch req.Presence {
	case PresenceLoggedOut, PresenceAvailable, PresenceBreak:
	default:
		return nil, g.invalid("agent %s: presence %q is not logged_out, available or break", g.id, req.Presence)
	}
	if req.Presence == PresenceLoggedOut && g.state.WorkState != WorkIdle {
		return nil, g.precondition("agent %s is %s; finish the contact before logging out", g.id, g.state.WorkState)
	}
	next := proto.Clone(g.state).(*pb.AgentState)
	if next.Presence != req.Presence || next.BreakReason != req.Reason {
		next.PresenceSince = time.Now().UnixNano()
	}
	next.Presence = req.Presence
	next.BreakReason = ""
	if req.Presence == PresenceBreak {
		next.BreakReason = req.Reason
	}
	return g.commit(next)
}

func (g *agentGrain) SetWork(req *pb.SetWorkRequest, ctx cluster.GrainContext) (*pb.AgentState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	switch req.WorkState {
	case WorkIdle, WorkWrapUp:
	case WorkOffered, WorkOnContact:
		if req.CallId == "" {
			return nil, g.invalid("agent %s: work state %s needs a call id", g.id, req.WorkState)
		}
		if req.WorkState == WorkOffered && g.state.Presence != PresenceAvailable {
			return nil, g.precondition("agent %s is %s, not available for an offer", g.id, g.state.Presence)
		}
	default:
		return nil, g.invalid("agent %s: work state %q is not idle, offered, on_contact or wrap_up", g.id, req.WorkState)
	}
	next := proto.Clone(g.state).(*pb.AgentState)
	if next.WorkState != req.WorkState {
		next.WorkSince = time.Now().UnixNano()
	}
	next.WorkState = req.WorkState
	switch {
	case req.WorkState == WorkIdle:
		next.CallId = ""
	case req.CallId != "":
		next.CallId = req.CallId
	}
	return g.commit(next)
}

func (g *agentGrain) SetSkills(req *pb.SetSkillsRequest, ctx cluster.GrainContext) (*pb.AgentState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	for i, s := range req.Skills {
		if s.GetName() == "" {
			return nil, g.invalid("agent %s: skill %d has no name", g.id, i)
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
	return g.commit(next)
}

func (g *agentGrain) Get(_ *pb.GetAgentRequest, ctx cluster.GrainContext) (*pb.AgentState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	return g.state, nil
}
