package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"github.com/parley-cc/parley/actors/pb"
	"github.com/parley-cc/parley/routing"
)

// routingInfo is what Queue and Agent grains read from the routing
// configuration: every Queue grain runs a routing.Engine built from it and
// every Agent grain tells every queue about itself.
type routingInfo struct {
	cfg       *routing.Config
	queues    []string
	wrapUp    map[string]time.Duration
	breaks    map[string]bool
	maxMisses int
}

func newRoutingInfo(cfg *routing.Config) (*routingInfo, error) {
	if cfg == nil {
		return &routingInfo{cfg: &routing.Config{}, wrapUp: map[string]time.Duration{}, breaks: map[string]bool{routing.ReasonMissedOffers: true}, maxMisses: 3}, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ri := &routingInfo{cfg: cfg, wrapUp: map[string]time.Duration{}, breaks: map[string]bool{routing.ReasonMissedOffers: true}, maxMisses: cfg.Offers.MaxMisses}
	if ri.maxMisses <= 0 {
		ri.maxMisses = 3
	}
	for _, q := range cfg.Queues {
		ri.queues = append(ri.queues, q.ID)
		ri.wrapUp[q.ID] = q.WrapUp
	}
	for _, r := range cfg.BreakReasons {
		ri.breaks[r] = true
	}
	return ri, nil
}

func (ri *routingInfo) hasQueue(id string) bool {
	_, ok := ri.wrapUp[id]
	return ok
}

// grain-to-grain clients. A Queue grain never waits on an Agent grain inside
// a request (it calls them from goroutines and gets the answer back as a
// message), so Agent → Queue requests cannot deadlock.
func queueGrainOf(c *cluster.Cluster, id string) *pb.QueueGrainClient {
	return pb.GetQueueGrainClient(c, id)
}
func agentGrainOf(c *cluster.Cluster, id string) *pb.AgentGrainClient {
	return pb.GetAgentGrainClient(c, id)
}
func callGrainOf(c *cluster.Cluster, id string) *pb.CallGrainClient {
	return pb.GetCallGrainClient(c, id)
}
