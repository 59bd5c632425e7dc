package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/parley-cc/parley/actors/pb"
)

// queueGrain holds the contacts waiting in one queue in service order:
// higher priority first, then earlier enqueue time, then arrival. The
// routing engine will replace the decision of who is next; the grain keeps
// the list and its persistence.
type queueGrain struct {
	grain
	state *pb.QueueState
}

var _ pb.Queue = (*queueGrain)(nil)

func newQueueGrain() pb.Queue { return &queueGrain{} }

func (g *queueGrain) Init(ctx cluster.GrainContext) {
	g.activate(ctx, KindQueue)
	g.state = &pb.QueueState{QueueId: g.id}
	_, err := g.loadSnapshot(g.state)
	g.restored(err)
}

func (g *queueGrain) Terminate(cluster.GrainContext) { g.terminate() }

// indexOf returns the index of the waiting contact, or -1.
func (g *queueGrain) indexOf(contactID string) int {
	for i, c := range g.state.Waiting {
		if c.ContactId == contactID {
			return i
		}
	}
	return -1
}

// commit writes the new waiting list through and adopts it.
func (g *queueGrain) commit(waiting []*pb.QueuedContact) error {
	next := &pb.QueueState{QueueId: g.id, Waiting: waiting, UpdatedAt: time.Now().UnixNano()}
	if err := g.saveSnapshot(next); err != nil {
		return err
	}
	g.state = next
	return nil
}

func (g *queueGrain) Enqueue(req *pb.EnqueueRequest, ctx cluster.GrainContext) (*pb.EnqueueResponse, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	c := req.Contact
	if c == nil || c.ContactId == "" {
		return nil, g.invalid("queue %s: contact id is empty", g.id)
	}
	n := int32(len(g.state.Waiting))
	if i := g.indexOf(c.ContactId); i >= 0 {
		return &pb.EnqueueResponse{Position: int32(i) + 1, Waiting: n, Already: true}, nil
	}
	c = proto.Clone(c).(*pb.QueuedContact)
	if c.EnqueuedAt == 0 {
		c.EnqueuedAt = time.Now().UnixNano()
	}
	at := len(g.state.Waiting)
	for i, w := range g.state.Waiting {
		if c.Priority > w.Priority || c.Priority == w.Priority && c.EnqueuedAt < w.EnqueuedAt {
			at = i
			break
		}
	}
	waiting := make([]*pb.QueuedContact, 0, len(g.state.Waiting)+1)
	waiting = append(waiting, g.state.Waiting[:at]...)
	waiting = append(waiting, c)
	waiting = append(waiting, g.state.Waiting[at:]...)
	if err := g.commit(waiting); err != nil {
		return nil, err
	}
	return &pb.EnqueueResponse{Position: int32(at) + 1, Waiting: n + 1}, nil
}

func (g *queueGrain) Dequeue(req *pb.DequeueRequest, ctx cluster.GrainContext) (*pb.DequeueResponse, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	i := 0
	if req.ContactId != "" {
		i = g.indexOf(req.ContactId)
	}
	if i < 0 || len(g.state.Waiting) == 0 {
		return &pb.DequeueResponse{Waiting: int32(len(g.state.Waiting))}, nil
	}
	c := g.state.Waiting[i]
	waiting := make([]*pb.QueuedContact, 0, len(g.state.Waiting)-1)
	waiting = append(waiting, g.state.Waiting[:i]...)
	waiting = append(waiting, g.state.Waiting[i+1:]...)
	if err := g.commit(waiting); err != nil {
		return nil, err
	}
	return &pb.DequeueResponse{Contact: c, Found: true, Waiting: int32(len(waiting))}, nil
}

func (g *queueGrain) Position(req *pb.PositionRequest, ctx cluster.GrainContext) (*pb.PositionResponse, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	if req.ContactId == "" {
		return nil, g.invalid("queue %s: contact id is empty", g.id)
	}
	return &pb.PositionResponse{Position: int32(g.indexOf(req.ContactId) + 1), Waiting: int32(len(g.state.Waiting))}, nil
}

func (g *queueGrain) List(_ *pb.ListQueueRequest, ctx cluster.GrainContext) (*pb.QueueState, error) {
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	return g.state, nil
}
