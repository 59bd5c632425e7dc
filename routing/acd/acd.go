// Package acd is the routing service of a Parley node: the Go API the
// voicebot and the gateways call to hand a call to a person (enqueue with a
// hand-off summary, position and estimated wait for the waiting caller, a
// callback that keeps the place, bridging when an agent accepts), the agent
// operations the desktop uses, and the reconciler that clears what crashed
// legs leave behind. State lives in the Queue and Agent grains (actors); this
// package holds none that must survive.
package acd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-cc/parley/actors"
	"github.com/parley-cc/parley/gateway/dialplan"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/routing"
	"github.com/parley-cc/parley/routing/handoff"
	"github.com/parley-cc/parley/store"
)

// Errors of the service; match with errors.Is. Grain errors (actors.Err*,
// store.ErrNotFound) pass through wrapped.
var (
	ErrUnknownQueue = errors.New("unknown queue")
	ErrNoLegs       = errors.New("no agent legs on this node (SIP/WebRTC gateway not running)")
	ErrNotConnected = errors.New("the contact left the queue without an agent")
)

// Legs connects an agent to a caller's call: *dialplan.AgentLegs, the
// "agent.legs" service.
type Legs interface {
	Connect(ctx context.Context, caller media.Call, agentID string) (*dialplan.AgentBridge, error)
}

// Options configure a Service.
type Options struct {
	Node   *actors.Node
	Store  store.Store // agents' skills at login, contacts' tier
	Config *routing.Config
	// Summarizer builds hand-off summaries; nil means extractive.
	Summarizer handoff.Summarizer
	// Legs returns the agent-legs service when the node has one (looked up
	// at use time: the gateways start after routing).
	Legs func() Legs
	// ReconcileEvery is the reconciler's period; 0 means 30s, <0 disables.
	ReconcileEvery time.Duration
	// FullSweepEvery makes every Nth reconciler pass also read every agent
	// of the store (the safety net for agents that took a contact through
	// a member that crashed); 0 means 20, <0 never.
	FullSweepEvery int
	// Registerer receives the service's Prometheus collectors (hand-offs by
	// reason, requeues, reconciler passes); nil keeps them unregistered.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Service is the "routing" service of parley serve. Safe for concurrent use.
type Service struct {
	o       Options
	queues  map[string]routing.QueueConfig
	stop    chan struct{}
	stopped sync.WaitGroup
	once    sync.Once

	// watched are agents that took a contact through this member; the
	// reconciler checks them (not every agent) until they hold none.
	mu      sync.Mutex
	watched map[string]bool
	passes  int
	m       *serviceMetrics
}

// New builds the service and starts its reconciler.
func New(o Options) (*Service, error) {
	if o.Node == nil || o.Config == nil {
		return nil, errors.New("acd: Node and Config are required")
	}
	if o.Summarizer == nil {
		o.Summarizer = handoff.Extractive{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ReconcileEvery == 0 {
		o.ReconcileEvery = 30 * time.Second
	}
	if o.FullSweepEvery == 0 {
		o.FullSweepEvery = 20
	}
	m, err := newServiceMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Service{o: o, queues: map[string]routing.QueueConfig{}, stop: make(chan struct{}), watched: map[string]bool{}, m: m}
	for _, q := range o.Config.Queues {
		s.queues[q.ID] = q
	}
	if o.ReconcileEvery > 0 {
		s.stopped.Add(1)
		go s.reconcileLoop()
	}
	return s, nil
}

// Close stops the reconciler and withdraws the service's metrics.
func (s *Service) Close() {
	s.once.Do(func() {
		close(s.stop)
		s.stopped.Wait()
		s.m.unregister(s.o.Registerer)
	})
	s.stopped.Wait()
}

// Config is the routing configuration in use.
func (s *Service) Config() *routing.Config { return s.o.Config }

// Queues lists the configured queue ids in configuration order.
func (s *Service) Queues() []string {
	out := make([]string, 0, len(s.o.Config.Queues))
	for _, q := range s.o.Config.Queues {
		out = append(out, q.ID)
	}
	return out
}

// HasQueue reports whether id is a configured queue.
func (s *Service) HasQueue(id string) bool { _, ok := s.queues[id]; return ok }

// Request is a hand-off of a call from the bot to a queue.
type Request struct {
	CallID string
	Queue  string
	// Reason: requested, negative_sentiment, low_confidence, flow (the
	// dialog.Action's Reason).
	Reason string
	Intent string            // the dialog's last intent
	Facts  map[string]string // dialog slots and other known facts
	// Attributes feed the priority rules (tier=vip, task=complaint); the
	// caller's contact record adds tier when ContactID names one.
	Attributes map[string]string
	Sentiment  float64
	// ContactID is the routing contact; default the call id.
	ContactID string
	// Turns to summarise; nil reads the call's transcript.
	Turns []store.Turn
}

// Ticket is a call waiting in a queue, held by the caller's side.
type Ticket struct {
	CallID, ContactID, Queue string
	Summary                  handoff.Summary
	// Queued is false when the queue's calendar was closed; AfterHours
	// then says what to do (reject, voicemail).
	Queued     bool
	AfterHours string
	Initial    actors.QueuePosition
	s          *Service
	watch      *actors.ContactWatch
	waiting    actors.WaitingContact // as enqueued: a requeue keeps its place
}

// Handoff summarises the call, records a "handoff" event on it and
// enqueues it; the ticket tells the caller's side its place and when an
// agent accepts. Enqueueing a call twice returns its place again.
func (s *Service) Handoff(ctx context.Context, r Request) (*Ticket, error) {
	if r.CallID == "" {
		return nil, fmt.Errorf("handoff: call id is empty: %w", actors.ErrInvalidArgument)
	}
	if !s.HasQueue(r.Queue) {
		return nil, fmt.Errorf("handoff of call %s: queue %q: %w", r.CallID, r.Queue, ErrUnknownQueue)
	}
	if r.ContactID == "" {
		r.ContactID = r.CallID
	}
	attrs := map[string]string{}
	for k, v := range r.Attributes {
		attrs[k] = v
	}
	facts := map[string]string{}
	for k, v := range r.Facts {
		facts[k] = v
	}
	calls := s.o.Node.Calls()
	turns := r.Turns
	if turns == nil {
		if tr, err := calls.Transcript(ctx, r.CallID); err == nil {
			turns = tr.Turns
			if c := s.customer(ctx, tr.Call); c != nil {
				if c.Tier != "" && attrs["tier"] == "" {
					attrs["tier"] = c.Tier
				}
				if c.Name != "" {
					facts["name"] = c.Name
				}
				if c.Tier != "" {
					facts["tier"] = c.Tier
				}
			}
		}
	}
	if r.Sentiment == 0 {
		for i := len(turns) - 1; i >= 0; i-- {
			if turns[i].Speaker == store.SpeakerCaller {
				r.Sentiment = turns[i].Sentiment
				break
			}
		}
	}
	sum, err := s.o.Summarizer.Summarize(ctx, handoff.Input{Turns: turns, Reason: r.Reason, Intent: r.Intent, Facts: facts, Queue: r.Queue})
	if err != nil {
		sum = handoff.Extract(handoff.Input{Turns: turns, Reason: r.Reason, Intent: r.Intent, Facts: facts, Queue: r.Queue})
	}
	js := sum.JSON()
	// The event goes first so the transcript says why the call was queued.
	if _, err := calls.RecordEvent(ctx, r.CallID, store.CallEvent{Type: "handoff", By: "bot",
		Data: map[string]string{"queue": r.Queue, "reason": r.Reason, "summary": js}}); err != nil && !errors.Is(err, actors.ErrFailedPrecondition) {
		return nil, fmt.Errorf("handoff of call %s: %w", r.CallID, err)
	}
	wc := actors.WaitingContact{ContactID: r.ContactID, CallID: r.CallID, Summary: js, Attrs: attrs, Sentiment: r.Sentiment,
		EnqueuedAt: time.Now()}
	e, w, err := s.o.Node.Queues().EnqueueWatched(ctx, r.Queue, wc)
	if err != nil {
		return nil, fmt.Errorf("handoff of call %s: %w", r.CallID, err)
	}
	if !e.Already {
		s.m.handoffs.WithLabelValues(r.Queue, r.Reason).Inc()
	}
	t := &Ticket{CallID: r.CallID, ContactID: r.ContactID, Queue: r.Queue, Summary: sum, Queued: e.Queued, AfterHours: e.AfterHours,
		Initial: e.QueuePosition, s: s, watch: w, waiting: wc}
	if e.Queued {
		if _, err := calls.SetState(ctx, r.CallID, actors.CallChange{State: store.CallQueued, QueueID: e.Queue, ContactID: r.ContactID,
			Summary: sum.Wants}); err != nil && !errors.Is(err, actors.ErrFailedPrecondition) {
			s.o.Logger.Warn("call state not set to queued", "call", r.CallID, "err", err)
		}
	} else {
		w.Close()
	}
	return t, nil
}

// Position is the caller's current place and estimated wait.
func (t *Ticket) Position(ctx context.Context) (actors.QueuePosition, error) {
	return t.s.o.Node.Queues().Position(ctx, t.Queue, t.ContactID)
}

// Announcement is what the bot says to a waiting caller.
func (t *Ticket) Announcement(ctx context.Context) (string, error) {
	p, err := t.Position(ctx)
	if err != nil {
		return "", err
	}
	return Announce(p), nil
}

// Announce words a position for a waiting caller.
func Announce(p actors.QueuePosition) string {
	switch p.State {
	case "offered", "connected":
		return "An agent is about to take your call."
	case "gone":
		return ""
	}
	var b strings.Builder
	if p.Position == 1 {
		b.WriteString("You are next in line.")
	} else {
		fmt.Fprintf(&b, "You are number %d in line.", p.Position)
	}
	switch m := int(p.EWT.Round(time.Minute) / time.Minute); {
	case p.Unstaffed():
		b.WriteString(" All our agents are busy right now.")
	case m <= 1:
		b.WriteString(" The estimated wait is about one minute.")
	default:
		fmt.Fprintf(&b, " The estimated wait is about %d minutes.", m)
	}
	return b.String()
}

// Wait blocks until an agent accepts the contact (the caller's side then
// bridges), the contact is gone, or ctx ends.
func (t *Ticket) Wait(ctx context.Context) (actors.ContactUpdate, error) {
	if t.watch == nil {
		return actors.ContactUpdate{}, ErrNotConnected
	}
	for {
		select {
		case u := <-t.watch.C:
			switch u.State {
			case "connected":
				return u, nil
			case "gone":
				return u, ErrNotConnected
			}
		case <-ctx.Done():
			return actors.ContactUpdate{}, ctx.Err()
		}
	}
}

// Connect waits for an agent and bridges the caller to the agent's phone
// or softphone through the node's agent legs. The caller's application must
// have stopped using caller. When the bridge ends the agent enters wrap-up.
func (t *Ticket) Connect(ctx context.Context, caller media.Call) (*dialplan.AgentBridge, error) {
	u, err := t.Wait(ctx)
	if err != nil {
		return nil, err
	}
	t.s.watch(u.AgentID)
	var legs Legs
	if t.s.o.Legs != nil {
		legs = t.s.o.Legs()
	}
	if legs == nil {
		return nil, ErrNoLegs
	}
	b, err := legs.Connect(ctx, caller, u.AgentID)
	if err != nil {
		// The agent could not be reached: finish so the agent's state does
		// not hold a contact that never came.
		_, _ = t.s.o.Node.Agents().Finish(context.WithoutCancel(ctx), u.AgentID, t.ContactID, "agent leg failed")
		return nil, fmt.Errorf("connect call %s to agent %s: %w", t.CallID, u.AgentID, err)
	}
	go func() {
		<-b.Done()
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := t.s.o.Node.Agents().Finish(fctx, u.AgentID, t.ContactID, "ended by "+b.EndedBy()); err != nil {
			t.s.o.Logger.Warn("agent contact not finished", "agent", u.AgentID, "call", t.CallID, "err", err)
		}
	}()
	return b, nil
}

// Callback keeps the caller's place as a callback: the caller may hang up,
// and the agent who gets the offer calls back.
func (t *Ticket) Callback(ctx context.Context) (actors.QueuePosition, error) {
	return t.s.o.Node.Queues().Callback(ctx, t.Queue, t.ContactID)
}

// Abandon removes the contact because the caller hung up while waiting
// (counted as abandoned). A callback placeholder is kept.
func (t *Ticket) Abandon(ctx context.Context) error {
	defer t.Close()
	p, err := t.Position(ctx)
	if err == nil && p.Callback {
		return nil
	}
	_, err = t.s.o.Node.Queues().Abandon(ctx, t.Queue, t.ContactID)
	return err
}

// Close stops watching the contact.
func (t *Ticket) Close() {
	if t.watch != nil {
		t.watch.Close()
	}
}

// CallEnded tells routing that a call ended, wherever its contact is:
// waiting contacts are abandoned, a connected agent enters wrap-up.
func (s *Service) CallEnded(ctx context.Context, callID string) error {
	tr, err := s.o.Node.Calls().Transcript(ctx, callID)
	if err != nil {
		return err
	}
	c := tr.Call
	if c.QueueID == "" {
		return nil
	}
	contact := c.ContactID
	if contact == "" {
		contact = callID
	}
	if c.AgentID != "" {
		_, err := s.o.Node.Agents().Finish(ctx, c.AgentID, contact, "call ended")
		return err
	}
	p, err := s.o.Node.Queues().Position(ctx, c.QueueID, contact)
	if err != nil {
		return err
	}
	switch p.State {
	case "connected":
		_, err = s.o.Node.Agents().Finish(ctx, p.AgentID, contact, "call ended")
	case "queued", "offered":
		if !p.Callback {
			_, err = s.o.Node.Queues().Abandon(ctx, c.QueueID, contact)
		}
	}
	return err
}

// customer is the caller's contact record: the call's contact id when it
// names one, else the contact whose phone is the caller id (the user part
// of a SIP From, e.g. sip:+447700900123@host). nil when none is known.
func (s *Service) customer(ctx context.Context, c store.Call) *store.Contact {
	if s.o.Store == nil {
		return nil
	}
	if c.ContactID != "" && c.ContactID != c.ID {
		if ct, err := s.o.Store.GetContact(ctx, c.ContactID); err == nil {
			return ct
		}
	}
	num := CallerNumber(c.From)
	if num == "" || num == "+" {
		return nil
	}
	// Numbers are stored with or without the international "+".
	other := "+" + num
	if strings.HasPrefix(num, "+") {
		other = num[1:]
	}
	for _, n := range []string{num, other} {
		if ct, err := s.o.Store.FindContactByPhone(ctx, n); err == nil {
			return ct
		} else if !errors.Is(err, store.ErrNotFound) {
			s.o.Logger.Warn("caller's contact not looked up", "call", c.ID, "phone", n, "err", err)
			return nil
		}
	}
	return nil
}

// CallerNumber is the caller id in a call's From: the user part of a SIP or
// tel URI ("sip:+447700900123@host;tag=x" -> "+447700900123"), or From
// itself when it is not a URI. Visual separators (spaces, dashes, dots,
// brackets) are dropped; "" when nothing is left.
func CallerNumber(from string) string {
	f := strings.TrimSpace(from)
	if i := strings.IndexByte(f, '<'); i >= 0 {
		f = f[i+1:]
		if j := strings.IndexByte(f, '>'); j >= 0 {
			f = f[:j]
		}
	}
	lower := strings.ToLower(f)
	for _, scheme := range []string{"sips:", "sip:", "tel:"} {
		if strings.HasPrefix(lower, scheme) {
			f = f[len(scheme):]
			break
		}
	}
	if i := strings.IndexAny(f, "@;?"); i >= 0 {
		f = f[:i]
	}
	if u, err := url.PathUnescape(f); err == nil {
		f = u
	}
	f = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')':
			return -1
		}
		return r
	}, f)
	return f
}
