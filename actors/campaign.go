package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"github.com/parley-cc/parley/actors/pb"
	"github.com/parley-cc/parley/store"
)

// campaignGrain holds the run state of an outbound campaign: draft, running,
// paused or stopped. Stopped is final. Dialing logic will hang off Start and
// Pause later.
type campaignGrain struct {
	grain
	state *pb.CampaignState
}

var _ pb.Campaign = (*campaignGrain)(nil)

func newCampaignGrain() pb.Campaign { return &campaignGrain{} }

func (g *campaignGrain) Init(ctx cluster.GrainContext) {
	g.activate(ctx, KindCampaign)
	g.state = &pb.CampaignState{CampaignId: g.id, State: store.CampaignDraft}
	_, err := g.loadSnapshot(g.state)
	g.restored(err)
}

func (g *campaignGrain) Terminate(cluster.GrainContext) { g.terminate() }

// move changes the state, writing it through first.
func (g *campaignGrain) move(to, reason string) (*pb.CampaignState, error) {
	now := time.Now().UnixNano()
	next := &pb.CampaignState{
		CampaignId: g.id, State: to, Reason: reason,
		StartedAt: g.state.StartedAt, StoppedAt: g.state.StoppedAt, UpdatedAt: now,
	}
	switch to {
	case store.CampaignRunning:
		if next.StartedAt == 0 {
			next.StartedAt = now
		}
	case store.CampaignStopped:
		next.StoppedAt = now
	}
	if err := g.saveSnapshot(next); err != nil {
		return nil, err
	}
	g.state = next
	return next, nil
}

func (g *campaignGrain) Start(_ *pb.StartCampaignRequest, ctx cluster.GrainContext) (*pb.CampaignState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	switch g.state.State {
	case store.CampaignRunning:
		return g.state, nil
	case store.CampaignStopped, store.CampaignDone:
		return nil, g.precondition("campaign %s is %s and cannot start again", g.id, g.state.State)
	}
	return g.move(store.CampaignRunning, "")
}

func (g *campaignGrain) Pause(req *pb.PauseCampaignRequest, ctx cluster.GrainContext) (*pb.CampaignState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	switch g.state.State {
	case store.CampaignPaused:
		return g.state, nil
	case store.CampaignRunning:
		return g.move(store.CampaignPaused, req.Reason)
	}
	return nil, g.precondition("campaign %s is %s; only a running campaign pauses", g.id, g.state.State)
}

func (g *campaignGrain) Stop(req *pb.StopCampaignRequest, ctx cluster.GrainContext) (*pb.CampaignState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	switch g.state.State {
	case store.CampaignStopped, store.CampaignDone:
		return g.state, nil
	}
	return g.move(store.CampaignStopped, req.Reason)
}

func (g *campaignGrain) Status(_ *pb.CampaignStatusRequest, ctx cluster.GrainContext) (*pb.CampaignState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	return g.state, nil
}
