package webrtc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	pion "github.com/pion/webrtc/v4"

	"github.com/parley-cc/parley/gateway/dialplan"
	"github.com/parley-cc/parley/gateway/rtp/media"
)

// Errors of DialAgent.
var (
	// ErrAgentNotRegistered means no softphone is registered for the agent
	// on this node (dialplan.AgentLegs then tries the agent's SIP phone).
	ErrAgentNotRegistered = fmt.Errorf("%w: no softphone registered on this node", dialplan.ErrAgentUnreachable)
	// ErrAgentBusy means the agent's softphone already has a call.
	ErrAgentBusy = errors.New("agent's softphone is on a call")
	// ErrAgentRejected means the agent declined the call.
	ErrAgentRejected = errors.New("agent rejected the call")
	// ErrNoAnswer means the softphone rang out or went away.
	ErrNoAnswer = errors.New("agent did not answer")
)

// agentConn is a registered softphone.
type agentConn struct {
	id   string
	conn *conn
	mu   sync.Mutex
	legs map[string]*agentLeg // by leg id
}

type agentLeg struct {
	leg   *Leg
	reply chan Message // answer or reject
}

// Registered tells whether the agent has a softphone on this node.
func (g *Gateway) Registered(agentID string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.agents[agentID] != nil
}

// ServeAgent upgrades to a softphone's WebSocket,
// /softphone/ws?agent=ID&token=T. Config.AuthorizeAgent checks the agent
// on the upgrade request; a refused socket gets an "unauthorized" error and
// is closed. The first message registers the agent; the gateway then sends
// offers (with call_id and ref, the customer's call), the softphone answers
// or rejects, both trickle candidates, either may hang up.
func (g *Gateway) ServeAgent(w http.ResponseWriter, r *http.Request) {
	agent := r.URL.Query().Get("agent")
	authErr := g.authorize(r, agent)
	c, err := g.upgrade(w, r)
	if err != nil {
		g.log.Debug("webrtc softphone upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	defer c.close()
	if authErr != nil {
		// Told over the socket: a browser sees nothing of a refused upgrade.
		g.log.Warn("webrtc softphone refused", "agent", agent, "remote", r.RemoteAddr, "err", authErr)
		c.sendError("", CodeUnauthorized, authErr)
		return
	}
	var a *agentConn
	for {
		m, err := c.read()
		if errors.Is(err, errTransport) {
			break
		}
		if err != nil {
			c.sendError(m.CallID, CodeBadMessage, err)
			continue
		}
		if a == nil {
			if m.Type != TypeRegister {
				c.sendError(m.CallID, CodeBadMessage, fmt.Errorf("%w: %s before register: register the agent first", ErrBadMessage, m.Type))
				continue
			}
			if m.Agent != agent {
				c.sendError("", CodeUnauthorized, fmt.Errorf("register: agent %q, but this socket was opened for agent %q", m.Agent, agent))
				continue
			}
			if a = g.register(c, agent); a != nil {
				_ = c.send(Message{Type: TypeRegistered, Agent: agent})
			}
			continue
		}
		al := a.leg(m.CallID)
		switch m.Type {
		case TypeRegister:
			c.sendError("", CodeBadMessage, fmt.Errorf("%w: register: this socket is already registered as %q", ErrBadMessage, a.id))
			continue
		case TypeOffer:
			c.sendError(m.CallID, CodeBadMessage, fmt.Errorf("%w: offer: softphones answer calls, they do not place them here", ErrBadMessage))
			continue
		}
		if al == nil {
			if m.Type != TypeHangup && m.Type != TypeCandidate {
				c.sendError(m.CallID, CodeBadMessage, fmt.Errorf("%w: %s: no call %q on this softphone", ErrBadMessage, m.Type, m.CallID))
			}
			continue // a late hang-up or candidate for an ended call is harmless
		}
		switch m.Type {
		case TypeAnswer, TypeReject:
			select {
			case al.reply <- m:
			default:
				c.sendError(m.CallID, CodeBadMessage, fmt.Errorf("%w: %s: call %s was already answered", ErrBadMessage, m.Type, m.CallID))
			}
		case TypeCandidate:
			if err := addRemoteCandidate(al.leg.pc, m.Candidate); err != nil {
				c.sendError(m.CallID, CodeBadMessage, err)
			}
		case TypeDTMF:
			al.leg.key(m.Digit[0], keySignalling)
		case TypeHangup:
			al.leg.end("agent", "hangup")
		}
	}
	if a != nil {
		g.unregister(a)
	}
}

// authorize checks the softphone's agent and credentials before anything
// else happens on its socket.
func (g *Gateway) authorize(r *http.Request, agent string) error {
	switch {
	case agent == "":
		return errors.New("query parameter agent is required: open /softphone/ws?agent=ID (&token=T)")
	case !validAgentID(agent):
		return fmt.Errorf("query parameter agent %q must be 1-64 letters, digits, '-', '_', '.' or '@'", truncate(agent))
	case g.cfg.AuthorizeAgent == nil:
		return errors.New("softphones are not accepted on this node (no agent authorization configured)")
	}
	return g.cfg.AuthorizeAgent(r, agent)
}

func (a *agentConn) leg(id string) *agentLeg {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.legs[id]
}

func (g *Gateway) register(c *conn, agentID string) *agentConn {
	g.mu.Lock()
	if g.draining {
		g.mu.Unlock()
		_ = c.send(Message{Type: TypeError, Code: CodeUnavailable, Error: "this node is shutting down; register again on another node"})
		return nil
	}
	old := g.agents[agentID]
	a := &agentConn{id: agentID, conn: c, legs: map[string]*agentLeg{}}
	g.agents[agentID] = a
	g.mu.Unlock()
	if old != nil {
		// The newest softphone wins (a reloaded desktop); the old one is told.
		_ = old.conn.send(Message{Type: TypeError, Code: CodeUnavailable, Error: fmt.Sprintf("agent %q registered from another softphone", agentID)})
		old.conn.close()
	}
	g.log.Info("webrtc softphone registered", "agent", agentID, "remote", c.remote)
	return a
}

func (g *Gateway) unregister(a *agentConn) {
	g.mu.Lock()
	if g.agents[a.id] == a {
		delete(g.agents, a.id)
	}
	g.mu.Unlock()
	a.mu.Lock()
	legs := make([]*agentLeg, 0, len(a.legs))
	for _, l := range a.legs {
		legs = append(legs, l)
	}
	a.mu.Unlock()
	for _, l := range legs {
		l.leg.end("agent", reasonSoftphoneGone)
	}
}

// DialAgent rings the agent's softphone with the customer's call callID and
// returns the agent's leg once the agent answered and media is connected
// (a dialplan.AgentDialer; with Registered also dialplan.Registrations).
func (g *Gateway) DialAgent(ctx context.Context, agentID, callID string) (media.Call, error) {
	g.mu.Lock()
	a := g.agents[agentID]
	g.mu.Unlock()
	if a == nil {
		return nil, fmt.Errorf("webrtc: dial agent %q: %w", agentID, ErrAgentNotRegistered)
	}
	a.mu.Lock()
	busy := len(a.legs) > 0
	a.mu.Unlock()
	if busy {
		return nil, fmt.Errorf("webrtc: dial agent %q: %w", agentID, ErrAgentBusy)
	}
	if e := g.admit(); e != nil {
		return nil, fmt.Errorf("webrtc: dial agent %q: %s", agentID, e.Error)
	}
	id := newCallID()
	// Offer PCMU (PCMA too); the answer says which telephone-event type to expect.
	leg, tr, err := g.newLeg(id, "agent", audioFormat{MimeType: pion.MimeTypePCMU, PT: 0, EventPT: -1}, a.conn)
	if err != nil {
		return nil, fmt.Errorf("webrtc: dial agent %q: %w", agentID, err)
	}
	al := &agentLeg{leg: leg, reply: make(chan Message, 1)}
	a.mu.Lock()
	a.legs[id] = al
	a.mu.Unlock()
	leg.onEnd = func(by, reason string) {
		g.forget(id)
		a.mu.Lock()
		delete(a.legs, id)
		a.mu.Unlock()
		g.log.Info("webrtc agent leg ended", "leg", id, "agent", agentID, "call", callID, "by", by, "reason", reason)
	}
	fail := func(err error) (media.Call, error) {
		leg.terminate("system", err.Error())
		return nil, fmt.Errorf("webrtc: dial agent %q: %w", agentID, err)
	}
	offer, err := leg.pc.CreateOffer(nil)
	if err != nil {
		return fail(fmt.Errorf("create offer: %w", err))
	}
	if err := leg.pc.SetLocalDescription(offer); err != nil {
		return fail(fmt.Errorf("set offer: %w", err))
	}
	if err := a.conn.send(Message{Type: TypeOffer, CallID: id, Ref: callID, SDP: leg.pc.LocalDescription().SDP}); err != nil {
		return fail(fmt.Errorf("%w: softphone unreachable: %v", ErrNoAnswer, err))
	}
	tr.release()

	ring := time.NewTimer(g.cfg.AnswerTimeout)
	defer ring.Stop()
	var reply Message
	select {
	case reply = <-al.reply:
	case <-leg.done:
		return nil, fmt.Errorf("webrtc: dial agent %q: %w", agentID, ErrNoAnswer)
	case <-ring.C:
		return fail(fmt.Errorf("%w within %s", ErrNoAnswer, g.cfg.AnswerTimeout))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	if reply.Type == TypeReject {
		leg.end("agent", "rejected")
		return nil, fmt.Errorf("webrtc: dial agent %q: %w", agentID, ErrAgentRejected)
	}
	f, err := pickAudio(reply.SDP)
	if err != nil {
		return fail(err)
	}
	if f.MimeType != pion.MimeTypePCMU {
		return fail(fmt.Errorf("%w: the softphone answered %s only", ErrNoCodec, f.MimeType))
	}
	leg.format.EventPT = f.EventPT
	if err := leg.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: reply.SDP}); err != nil {
		return fail(fmt.Errorf("%w: answer: %v", ErrBadMessage, err))
	}
	conn := time.NewTimer(g.cfg.ConnectTimeout)
	defer conn.Stop()
	select {
	case <-leg.connected:
	case <-leg.done:
		return nil, fmt.Errorf("webrtc: dial agent %q: %w", agentID, ErrNoAnswer)
	case <-conn.C:
		return fail(fmt.Errorf("media not connected within %s", g.cfg.ConnectTimeout))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	_ = a.conn.send(Message{Type: TypeState, CallID: id, State: "answered"})
	return leg, nil
}
