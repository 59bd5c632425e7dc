package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/parley-cc/parley/actors"
	"github.com/parley-cc/parley/gateway/dialplan"
	"github.com/parley-cc/parley/gateway/webrtc"
	"github.com/parley-cc/parley/routing/desk"
	"github.com/parley-cc/parley/store"
)

// The WebRTC gateway: the caller page GET /call, the softphone module
// GET /static/softphone.js and their signalling WebSockets (/call/ws,
// /softphone/ws). Browser calls resolve through the shared dialplan
// ("dialplan", published by the SIP gateway) and get a Call grain (channel
// webrtc) with answered, dtmf, recording and hangup events; registered
// softphones become a dialer of "agent.legs".
func init() {
	registerComponent(component{name: "webrtc gateway", order: orderWebRTC, start: startWebRTC})
}

func startWebRTC(_ context.Context, n *nodeEnv) (*running, error) {
	ice, err := n.Cfg.webrtcICE()
	if err != nil {
		return nil, err
	}
	log := n.Log.With("component", "webrtc")
	var apps webrtc.Resolver
	if dp, ok := n.Services["dialplan"].(*dialplan.Dialplan); ok && dp != nil {
		apps = dp
	} else {
		// No SIP gateway on this node: the dialplan of the built-in
		// applications and whatever others registered in "media.apps".
		reg, _ := n.Services["media.apps"].(*dialplan.Registry)
		if reg == nil {
			reg = dialplan.NewRegistry()
			n.Services["media.apps"] = reg
		}
		if err := dialplan.RegisterBuiltins(reg, dialplan.Builtins{DataDir: n.Cfg.DataDir}); err != nil {
			return nil, err
		}
		legs, _ := n.Services["agent.legs"].(*dialplan.AgentLegs)
		dp := &dialplan.Dialplan{Apps: reg, Agents: n.Store, Legs: legs}
		n.Services["dialplan"] = dp
		apps = dp
	}
	// Softphones authenticate as the agent desktop does (routing-agent-tokens;
	// loopback clients only when none are set).
	tokens, err := parseAgentTokens(n.Cfg.RoutingAgentTokens)
	if err != nil {
		return nil, &ConfigError{Field: "routing-agent-tokens", Reason: err.Error()}
	}
	gw, err := webrtc.New(webrtc.Config{
		AuthorizeAgent: softphoneAuth(tokens),
		ICE:            ice,
		Apps:           apps,
		Calls:          grainLog{n.Node.Calls()},
		DataDir:        n.Cfg.DataDir,
		MaxCalls:       n.Cfg.MaxCalls,
		MediaTimeout:   n.Cfg.WebRTCMediaTimeout,
		Log:            log,
	})
	if err != nil {
		return nil, err
	}
	if legs, ok := n.Services["agent.legs"].(*dialplan.AgentLegs); ok && legs != nil {
		legs.AddDialer(gw) // softphones are tried before SIP phones
	} else {
		legs := dialplan.NewAgentLegs(nil, nil, gw)
		n.Services["agent.legs"] = legs
		if dp, ok := apps.(*dialplan.Dialplan); ok && dp.Legs == nil {
			dp.Legs = legs
		}
	}
	n.Services["webrtc"] = gw
	log.Info("webrtc gateway up", "ice_servers", len(ice.Servers), "loopback", ice.Loopback)
	return &running{
		Pages: gw.Pages(),
		Drain: gw.Drain,
		Stop:  gw.Close,
	}, nil
}

// softphoneAuth is the agent desktop's check (routing/desk) for softphones.
func softphoneAuth(tokens map[string]string) func(r *http.Request, agent string) error {
	return func(r *http.Request, agent string) error { return desk.Authorize(tokens, r, agent) }
}

// grainLog records browser calls on their Call grains.
type grainLog struct{ calls *actors.CallClient }

func (g grainLog) Started(ctx context.Context, c store.Call) error {
	_, _, err := g.calls.Start(ctx, c)
	return err
}

func (g grainLog) Event(ctx context.Context, callID string, e store.CallEvent) error {
	switch e.Type {
	case "answered": // an application (echo, the bot, ...) took the call
		if _, err := g.calls.SetState(ctx, callID, actors.CallChange{State: store.CallBot}); err != nil {
			return err
		}
	case "recording":
		if _, err := g.calls.SetState(ctx, callID, actors.CallChange{RecordingPath: e.Data["path"]}); err != nil {
			return err
		}
	}
	_, err := g.calls.RecordEvent(ctx, callID, e)
	return err
}

func (g grainLog) Ended(ctx context.Context, callID, by, reason string) error {
	_, err := g.calls.Hangup(ctx, callID, by, "", reason)
	return err
}

// webrtcICE turns the webrtc-* settings into the gateway's ICE configuration.
func (c *Config) webrtcICE() (webrtc.ICEConfig, error) {
	servers, err := webrtc.ParseICEServers(c.WebRTCICEServers)
	if err != nil {
		return webrtc.ICEConfig{}, &ConfigError{Field: "webrtc-ice-servers", Reason: err.Error()}
	}
	ice := webrtc.ICEConfig{Servers: servers, NAT1To1IPs: c.WebRTCNATIPs, Loopback: c.WebRTCLoopback}
	if c.WebRTCUDPPorts != "" {
		lo, hi, ok := strings.Cut(c.WebRTCUDPPorts, "-")
		a, errA := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
		b, errB := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
		if !ok || errA != nil || errB != nil || a == 0 || a > b {
			return ice, &ConfigError{Field: "webrtc-udp-ports", Reason: fmt.Sprintf("%q is not a port range min-max (1-65535, min <= max)", c.WebRTCUDPPorts)}
		}
		ice.UDPPortMin, ice.UDPPortMax = uint16(a), uint16(b)
	}
	for _, ip := range c.WebRTCNATIPs {
		if net.ParseIP(ip) == nil {
			return ice, &ConfigError{Field: "webrtc-nat-ips", Reason: fmt.Sprintf("%q is not an IP address", ip)}
		}
	}
	return ice, nil
}

// validateWebRTC checks the webrtc-* settings (called from Validate).
func (c *Config) validateWebRTC(bad func(field, format string, a ...any) error) error {
	if _, err := c.webrtcICE(); err != nil {
		return err
	}
	if c.WebRTCMediaTimeout < 0 {
		return bad("webrtc-media-timeout", "must not be negative, got %s", c.WebRTCMediaTimeout)
	}
	if c.WebRTCMediaTimeout > 0 && c.WebRTCMediaTimeout < time.Second {
		return bad("webrtc-media-timeout", "%s is shorter than a second of silence", c.WebRTCMediaTimeout)
	}
	return nil
}
