package actors

import (
	"context"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/parley-cc/parley/actors/pb"
)

// AgentEvent is pushed by an Agent grain to its desktop: Kind is one of
// EventState, EventOffer, EventOfferEnded, EventConnected, EventEnded;
// State is the agent's state after the change.
type AgentEvent struct {
	Kind    string
	State   *AgentStatus
	Offer   *Offer
	Contact *ActiveContact
	Reason  string
	At      time.Time
}

// AgentSubscription receives an agent's events on C until Close.
type AgentSubscription struct {
	C       <-chan AgentEvent
	n       *Node
	agentID string
	pid     *actor.PID
	done    chan struct{}
	once    sync.Once
}

// Subscribe makes this member receive the agent's events (replacing any
// other subscriber: one desktop per agent) and returns its current state.
// The events come from wherever the Agent grain lives in the cluster.
func (ac *AgentClient) Subscribe(ctx context.Context, agentID string) (*AgentSubscription, *AgentStatus, error) {
	ch := make(chan AgentEvent, 64)
	s := &AgentSubscription{C: ch, n: ac.n, agentID: agentID, done: make(chan struct{})}
	s.pid = ac.n.system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		ev, ok := c.Message().(*pb.AgentEvent)
		if !ok {
			return
		}
		out := AgentEvent{Kind: ev.Kind, State: agentFromPB(ev.State), Reason: ev.Reason, At: fromNanos(ev.At)}
		if ev.Offer != nil {
			o := offerFromPB(ev.Offer)
			out.Offer = &o
		}
		if ev.Contact != nil {
			x := activeFromPB(ev.Contact)
			out.Contact = &x
		}
		select { // in order; waits for a slow reader rather than dropping an offer
		case ch <- out:
		case <-s.done:
		}
	}))
	st, err := ac.do(ctx, agentID, mAgentSubscribe, &pb.SubscribeRequest{Subscriber: &pb.Subscriber{Address: s.pid.Address, Id: s.pid.Id}})
	if err != nil {
		s.stop()
		return nil, nil, err
	}
	return s, st, nil
}

func (s *AgentSubscription) stop() {
	s.once.Do(func() {
		close(s.done)
		s.n.system.Root.Stop(s.pid)
	})
}

// Close ends the subscription. With disconnected the desktop went away
// unexpectedly: the agent's pending offers return to their queues and the
// agent is logged out (contacts in progress go on).
func (s *AgentSubscription) Close(ctx context.Context, disconnected bool) error {
	defer s.stop()
	_, err := s.n.agents.do(ctx, s.agentID, mAgentSubscribe, &pb.SubscribeRequest{
		Subscriber: &pb.Subscriber{Address: s.pid.Address, Id: s.pid.Id}, Unsubscribe: true, Disconnected: disconnected})
	return err
}

// ContactUpdate is what the Queue grain tells a contact's watcher: State is
// connected (AgentID accepted it), requeued or gone.
type ContactUpdate struct {
	ContactID, State, AgentID, OfferID, CallID, Queue string
	Wait                                              time.Duration
}

// ContactWatch receives a contact's updates on C until Close.
type ContactWatch struct {
	C    <-chan ContactUpdate
	n    *Node
	pid  *actor.PID
	done chan struct{}
	once sync.Once
}

// Close stops the watch.
func (w *ContactWatch) Close() {
	w.once.Do(func() {
		close(w.done)
		w.n.system.Root.Stop(w.pid)
	})
}

// EnqueueWatched enqueues c like Enqueue and watches it from this member:
// the caller's side learns at once when an agent accepted it (to bridge the
// call), wherever the Queue and Agent grains live.
func (qc *QueueClient) EnqueueWatched(ctx context.Context, queueID string, c WaitingContact) (Enqueued, *ContactWatch, error) {
	ch := make(chan ContactUpdate, 8)
	w := &ContactWatch{C: ch, n: qc.n, done: make(chan struct{})}
	w.pid = qc.n.system.Root.Spawn(actor.PropsFromFunc(func(ac actor.Context) {
		u, ok := ac.Message().(*pb.ContactUpdate)
		if !ok {
			return
		}
		select {
		case ch <- ContactUpdate{ContactID: u.ContactId, State: u.State, AgentID: u.AgentId, OfferID: u.OfferId, CallID: u.CallId,
			Queue: u.QueueId, Wait: time.Duration(u.WaitMs) * time.Millisecond}:
		case <-w.done:
		}
	}))
	e, err := qc.enqueue(ctx, queueID, c, &pb.Subscriber{Address: w.pid.Address, Id: w.pid.Id})
	if err != nil {
		w.Close()
		return Enqueued{}, nil, err
	}
	return e, w, nil
}
