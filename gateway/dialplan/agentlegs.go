package dialplan

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/store"
)

// AgentDialer rings an agent's phone (SIP) or softphone (WebRTC) for a
// customer's call and returns the agent's leg once answered.
type AgentDialer interface {
	DialAgent(ctx context.Context, agentID, callID string) (media.Call, error)
}

// Registrations is implemented by dialers that know whether an agent can be
// reached through them; dialers without it are always tried.
type Registrations interface {
	Registered(agentID string) bool
}

// PartyHangup is implemented by legs that record who ended the call (a SIP
// call records "agent" when the agent hung up on the bridged caller).
type PartyHangup interface {
	HangupBy(ctx context.Context, by, reason string) error
}

// LostLeg is implemented by legs that can tell a lost leg (the far end
// stopped sending media for the media timeout: a phone that crashed or lost
// its network) from a party hanging up.
type LostLeg interface {
	Lost() bool
}

// EndedAgentLost is AgentBridge.EndedBy when the agent's leg was lost on a
// bridge made with ConnectKeepCaller: the caller's leg is still up.
const EndedAgentLost = "agent_lost"

// ErrAgentUnreachable means no dialer can reach the agent.
var ErrAgentUnreachable = errors.New("agent has no registered phone or softphone")

// EventSink writes a call event to the call's record (the Call grain).
type EventSink func(ctx context.Context, callID string, e store.CallEvent)

// AgentLegs connects agents to callers: it dials the agent through the
// first dialer that reaches them and bridges the agent's leg with the
// caller's, with hold (music on hold), mute and hang-up. It is the
// "agent.legs" service of parley serve. Safe for concurrent use.
type AgentLegs struct {
	holdMusic []audio.Frame
	events    EventSink

	mu      sync.Mutex
	dialers []AgentDialer
	bridges map[string]*AgentBridge // by the caller's call id
}

// NewAgentLegs returns AgentLegs looping holdMusic to held callers (silence
// when empty) and writing bridged, hold, resume, mute and unmute events to
// events (which may be nil).
func NewAgentLegs(holdMusic []audio.Frame, events EventSink, dialers ...AgentDialer) *AgentLegs {
	if events == nil {
		events = func(context.Context, string, store.CallEvent) {}
	}
	return &AgentLegs{holdMusic: holdMusic, events: events, dialers: dialers, bridges: map[string]*AgentBridge{}}
}

// AddDialer adds a dialer tried before the others (the WebRTC softphone before the SIP phone).
func (l *AgentLegs) AddDialer(d AgentDialer) {
	l.mu.Lock()
	l.dialers = append([]AgentDialer{d}, l.dialers...)
	l.mu.Unlock()
}

func (l *AgentLegs) candidates(agentID string) []AgentDialer {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []AgentDialer
	for _, d := range l.dialers {
		if r, ok := d.(Registrations); ok && !r.Registered(agentID) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// Registered tells whether some dialer can reach the agent.
func (l *AgentLegs) Registered(_ context.Context, agentID string) bool {
	return len(l.candidates(agentID)) > 0
}

// DialAgent rings the agent through the dialers that reach them, in order, and returns the answered leg.
func (l *AgentLegs) DialAgent(ctx context.Context, agentID, callID string) (media.Call, error) {
	var errs []error
	for _, d := range l.candidates(agentID) {
		leg, err := d.DialAgent(ctx, agentID, callID)
		if err == nil {
			return leg, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("dial agent %s for call %s: %w", agentID, callID, err)
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("dial agent %s for call %s: %w", agentID, callID, ErrAgentUnreachable)
	}
	return nil, fmt.Errorf("dial agent %s for call %s: %w", agentID, callID, errors.Join(errs...))
}

// Connect dials the agent and bridges them with caller. The caller's
// application must have stopped using the call's audio: the bridge reads
// and writes it until either side hangs up. It returns once the agent
// answered; the bridge runs until Done.
func (l *AgentLegs) Connect(ctx context.Context, caller media.Call, agentID string) (*AgentBridge, error) {
	return l.connect(ctx, caller, agentID, false)
}

// ConnectKeepCaller is Connect, except that when the agent's leg is lost
// (LostLeg) the caller's leg stays up: the bridge ends with EndedBy
// EndedAgentLost and the caller's application takes the call back (routing
// queues it again). An agent hanging up still ends the call for both.
func (l *AgentLegs) ConnectKeepCaller(ctx context.Context, caller media.Call, agentID string) (*AgentBridge, error) {
	return l.connect(ctx, caller, agentID, true)
}

func (l *AgentLegs) connect(ctx context.Context, caller media.Call, agentID string, keepCaller bool) (*AgentBridge, error) {
	agent, err := l.DialAgent(ctx, agentID, caller.ID())
	if err != nil {
		return nil, err
	}
	b := &AgentBridge{legs: l, caller: caller, agent: agent, agentID: agentID, keepCaller: keepCaller,
		bridge: media.NewBridge(caller, agent, media.WithHoldMusic(l.holdMusic)), done: make(chan struct{})}
	l.mu.Lock()
	if old := l.bridges[caller.ID()]; old != nil {
		l.mu.Unlock()
		_ = agent.Hangup(ctx)
		return nil, fmt.Errorf("connect agent %s: call %s is already bridged with agent %s", agentID, caller.ID(), old.agentID)
	}
	l.bridges[caller.ID()] = b
	l.mu.Unlock()
	l.events(ctx, caller.ID(), store.CallEvent{Type: "bridged", By: store.SpeakerAgent, At: time.Now(),
		Data: map[string]string{"agent_id": agentID, "agent_leg": agent.ID()}})
	go b.run()
	return b, nil
}

// ConnectApp is the application of an agent's extension: connect the caller
// to the agent and stay until the bridge ends.
func (l *AgentLegs) ConnectApp(agentID string) media.Application {
	return media.ApplicationFunc(func(ctx context.Context, call media.Call) error {
		b, err := l.Connect(ctx, call, agentID)
		if err != nil {
			return err
		}
		select {
		case <-b.Done():
		case <-ctx.Done():
		}
		return nil
	})
}

// Bridge returns the live bridge of a caller's call, nil when there is none.
func (l *AgentLegs) Bridge(callID string) *AgentBridge {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bridges[callID]
}

// AgentBridge is a caller talking to an agent.
type AgentBridge struct {
	legs          *AgentLegs
	caller, agent media.Call
	agentID       string
	keepCaller    bool
	bridge        *media.Bridge
	done          chan struct{}

	mu      sync.Mutex
	endedBy string
}

// CallID is the caller's call id.
func (b *AgentBridge) CallID() string { return b.caller.ID() }

// AgentID is the agent's id.
func (b *AgentBridge) AgentID() string { return b.agentID }

// AgentLeg is the agent's leg.
func (b *AgentBridge) AgentLeg() media.Call { return b.agent }

// Done is closed when both legs have been hung up.
func (b *AgentBridge) Done() <-chan struct{} { return b.done }

// EndedBy says who ended the bridge: caller, agent or system ("" while up).
func (b *AgentBridge) EndedBy() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.endedBy
}

func (b *AgentBridge) event(kind string, data map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.legs.events(ctx, b.caller.ID(), store.CallEvent{Type: kind, By: store.SpeakerAgent, At: time.Now(), Data: data})
}

// Hold puts the caller on hold with music (on) or takes them off it.
func (b *AgentBridge) Hold(on bool) {
	if b.bridge.Held() == on {
		return
	}
	b.bridge.Hold(on)
	kind := "resume"
	if on {
		kind = "hold"
	}
	b.event(kind, map[string]string{"agent_id": b.agentID})
}

// MuteAgent stops (on) or resumes passing the agent's audio to the caller.
func (b *AgentBridge) MuteAgent(on bool) {
	b.bridge.MuteAgent(on)
	b.event(muteKind(on), map[string]string{"agent_id": b.agentID, "party": "agent"})
}

// MuteCaller stops (on) or resumes passing the caller's audio to the agent.
func (b *AgentBridge) MuteCaller(on bool) {
	b.bridge.MuteCaller(on)
	b.event(muteKind(on), map[string]string{"agent_id": b.agentID, "party": "caller"})
}

func muteKind(on bool) string {
	if on {
		return "mute"
	}
	return "unmute"
}

// Hangup ends the call for both parties; by (agent or system) is recorded as who hung up.
func (b *AgentBridge) Hangup(ctx context.Context, by string) error {
	b.setEndedBy(by)
	err := b.agent.Hangup(ctx)
	if cerr := hangupBy(ctx, b.caller, by, "hung up from the agent desktop"); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func (b *AgentBridge) setEndedBy(by string) {
	b.mu.Lock()
	if b.endedBy == "" {
		b.endedBy = by
	}
	b.mu.Unlock()
}

func hangupBy(ctx context.Context, c media.Call, by, reason string) error {
	if p, ok := c.(PartyHangup); ok {
		return p.HangupBy(ctx, by, reason)
	}
	return c.Hangup(ctx)
}

// run bridges until a leg ends, then hangs up the other.
func (b *AgentBridge) run() {
	defer close(b.done)
	defer func() {
		b.legs.mu.Lock()
		delete(b.legs.bridges, b.caller.ID())
		b.legs.mu.Unlock()
	}()
	ended, _ := b.bridge.Run(context.Background())
	if l, ok := b.agent.(LostLeg); ok && ended == nil && l.Lost() {
		// A write to the agent's leg failed while it was being torn down.
		ended = b.agent
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch ended {
	case b.caller:
		b.setEndedBy(store.SpeakerCaller)
		_ = b.agent.Hangup(ctx)
	case b.agent:
		if l, ok := b.agent.(LostLeg); ok && b.keepCaller && l.Lost() {
			b.setEndedBy(EndedAgentLost)
			b.event("agent_lost", map[string]string{"agent_id": b.agentID, "agent_leg": b.agent.ID()})
			return // the caller's application takes the call back
		}
		b.setEndedBy(store.SpeakerAgent)
		_ = hangupBy(ctx, b.caller, store.SpeakerAgent, "agent hung up")
	}
	// Both legs are down before Done closes.
	for _, c := range []media.Call{b.caller, b.agent} {
		select {
		case <-c.Done():
		case <-ctx.Done():
		}
	}
}
