package sip

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-cc/parley/gateway/dialplan"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/store"
)

// HangupBy ends the call with a BYE, recording by (caller, agent or system) as who hung up.
func (c *Call) HangupBy(ctx context.Context, by, reason string) error {
	if reason == "" {
		reason = "hangup"
	}
	c.endCtx(ctx, Party(by), reason, true)
	return nil
}

// Lost reports that the call ended because the peer sent no media for the
// media timeout (a phone that crashed or lost its network), not because a
// party hung up (dialplan.LostLeg).
func (c *Call) Lost() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hangupBy == BySystem && c.hangupWhy == "media timeout"
}

var _ dialplan.LostLeg = (*Call)(nil)

// AgentPhones rings agents' registered SIP phones: a dialplan.AgentDialer
// for dialplan.AgentLegs. The agent's extension (store.Agent.Extension) is
// the username the phone registered with.
type AgentPhones struct {
	Server *Server
	Agents store.AgentStore
	// RingTimeout bounds the ringing (default 30 s).
	RingTimeout time.Duration
}

var _ dialplan.AgentDialer = AgentPhones{}

func (p AgentPhones) extension(ctx context.Context, agentID string) (string, error) {
	a, err := p.Agents.GetAgent(ctx, agentID)
	if err != nil {
		return "", fmt.Errorf("agent %s: %w", agentID, err)
	}
	if a.Extension == "" {
		return "", fmt.Errorf("agent %s has no extension: %w", agentID, dialplan.ErrAgentUnreachable)
	}
	return a.Extension, nil
}

// Registered tells whether the agent's phone is registered with this node.
func (p AgentPhones) Registered(agentID string) bool {
	if p.Server.Registrar() == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ext, err := p.extension(ctx, agentID)
	return err == nil && len(p.Server.Registrar().Lookup(ext)) > 0
}

// DialAgent rings the agent's phone for the customer's call callID and returns the answered leg,
// which is not recorded on its own (the caller's recording holds both sides).
func (p AgentPhones) DialAgent(ctx context.Context, agentID, callID string) (media.Call, error) {
	ext, err := p.extension(ctx, agentID)
	if err != nil {
		return nil, err
	}
	if r := p.Server.Registrar(); r == nil || len(r.Lookup(ext)) == 0 {
		return nil, fmt.Errorf("agent %s (extension %s): %w", agentID, ext, dialplan.ErrAgentUnreachable)
	}
	ring := p.RingTimeout
	if ring <= 0 {
		ring = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, ring)
	defer cancel()
	c, err := p.Server.Dial(ctx, ext, DialOptions{Party: ByAgent, NoRecording: true, DisplayName: "Parley " + callID,
		Headers: map[string]string{"X-Parley-Call": callID}})
	if err != nil {
		return nil, err
	}
	return c, nil
}
