package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-cc/parley/evals"
	"github.com/parley-cc/parley/evals/voice"
	ttslocal "github.com/parley-cc/parley/voicebot/tts/local"
)

// StaffedTag marks the scenarios that expect a staffed contact center in
// voice mode (an agent available, who accepts the hand-off); the others run
// with nobody logged in, as the demo starts.
const StaffedTag = "staffed"

// voiceOptions are `parley eval run --mode voice` settings.
type voiceOptions struct {
	// target and api reach a running node; both empty: start one for the run.
	target, api string
	// deployment, asrMode: the started node's --deployment and --asr-mode.
	deployment, asrMode string
	endOfTurn           time.Duration
	decoders            int
	logs                io.Writer  // the started node's warnings
	logLevel            slog.Level // of the started node's log [warn]
	// suites run: their scenarios tagged StaffedTag get an agent.
	suites []*evals.Suite
	// agent and agentToken: who is staffed (default alice of the demo).
	agent, agentToken string
}

// staffed says which scenarios of o.suites are tagged StaffedTag.
func (o voiceOptions) staffed() func(string) bool {
	ids := map[string]bool{}
	for _, s := range o.suites {
		for _, sc := range s.Scenarios {
			if slices.Contains(sc.Tags, StaffedTag) {
				ids[sc.ID] = true
			}
		}
	}
	return func(id string) bool { return ids[id] }
}

// voiceConnector reaches the bot over real SIP: the node at target (its
// HTTP API at api, for the call records), or a `parley serve` started
// in-process for the run on loopback with the demo contact center. The
// caller's recognizer decodes the bot with a grammar of the deployment's
// prompts and articles (falling back to the open language model).
func voiceConnector(ctx context.Context, o voiceOptions) (*voice.Connector, func(), error) {
	stop := func() {}
	if o.target == "" && o.api != "" || o.target != "" && o.api == "" {
		return nil, stop, errors.New("voice mode: give both --sip-target and --node-api (a running node), or neither (a node is started for the run)")
	}
	if o.target != "" && !strings.HasPrefix(o.target, "sip:") {
		o.target = "sip:bot@" + o.target
	}
	dep, err := loadDeployment(o.deployment)
	if err != nil {
		return nil, stop, fmt.Errorf("voice mode: deployment: %w", err)
	}
	if o.target == "" {
		n, err := startEvalNode(ctx, o)
		if err != nil {
			return nil, stop, err
		}
		o.target, o.api, stop = n.target, n.api, n.stop
	}
	conn, err := voice.New(ctx, voice.Config{Target: o.target, API: o.api, EndOfTurn: o.endOfTurn, Decoders: o.decoders,
		Deployment: dep, Staffed: o.staffed(), Agent: o.agent, AgentToken: o.agentToken})
	if err != nil {
		stop()
		return nil, func() {}, err
	}
	return conn, func() { conn.Close(); stop() }, nil
}

// evalNode is a node started for a voice run.
type evalNode struct {
	target, api string
	sipAddr     string
	phone       *voice.AgentPhone // alice's phone, nil without baresip
	stop        func()
}

// startEvalNode runs `parley serve` in-process: demo contact center, the
// deployment's bot on extension "bot", a store in a temporary folder. When
// baresip is installed, alice (extension 1001) gets a SIP phone that
// answers at once, so a staffed scenario's hand-off is bridged to it.
func startEvalNode(ctx context.Context, o voiceOptions) (*evalNode, error) {
	dir, err := os.MkdirTemp("", "parley-eval-voice-")
	if err != nil {
		return nil, err
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sipAddr := pc.LocalAddr().String()
	pc.Close()
	secret := make([]byte, 8)
	_, _ = rand.Read(secret)
	password := hex.EncodeToString(secret)
	cfg := DefaultConfig()
	cfg.DataDir, cfg.HTTPAddr, cfg.SIPAddr = dir, "127.0.0.1:0", sipAddr
	cfg.SIPRTPPorts = "30000-39999" // the caller uses 40000-49999, the agent's phone 50000-50999
	cfg.Demo = true
	cfg.Deployment = o.deployment
	cfg.SIPAgentPasswords = []string{"1001=" + password}
	cfg.RoutingWrapUp = time.Second
	if o.asrMode != "" {
		cfg.ASRMode = o.asrMode
	}
	cfg.ShutdownTimeout = 10 * time.Second
	if err := cfg.Validate(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logs := o.logs
	if logs == nil {
		logs = io.Discard
	}
	level := o.logLevel
	if level == 0 && o.logs != nil {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	ready := make(chan string, 1)
	go func() { done <- serve(sctx, cfg, log, ready) }()
	n := &evalNode{sipAddr: sipAddr}
	n.stop = func() {
		if n.phone != nil {
			n.phone.Close()
		}
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
		os.RemoveAll(dir)
	}
	select {
	case addr := <-ready:
		_, port, _ := net.SplitHostPort(sipAddr)
		p, _ := strconv.Atoi(port)
		n.target, n.api = fmt.Sprintf("sip:%s@127.0.0.1:%d", ExtBot, p), "http://"+addr
	case err := <-done:
		n.stop()
		return nil, fmt.Errorf("voice mode: node for the run: %w", err)
	case <-time.After(90 * time.Second):
		n.stop()
		return nil, errors.New("voice mode: the node for the run did not become ready within 90 s")
	case <-ctx.Done():
		n.stop()
		return nil, ctx.Err()
	}
	n.phone, err = startAgentPhone(ctx, sipAddr, "1001", password)
	if err != nil {
		log.Warn("voice mode: alice has no phone; a staffed scenario's hand-off is offered and accepted but cannot be bridged", "err", err)
	}
	return n, nil
}

// startAgentPhone registers a baresip phone as extension ext and waits
// until the node accepted the registration.
func startAgentPhone(ctx context.Context, registrar, ext, password string) (*voice.AgentPhone, error) {
	agentVoice, err := ttslocal.New(ttslocal.Config{Voice: "awb"})
	if err != nil {
		if agentVoice, err = ttslocal.New(ttslocal.Config{}); err != nil {
			return nil, err
		}
	}
	p, err := voice.StartAgentPhone(ctx, voice.AgentPhoneConfig{Registrar: registrar, Extension: ext, Password: password,
		Line: "Hello, this is Alice from Lumen Fibre. I can see your details, how can I help?", Voice: agentVoice})
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(p.Output(), "200 OK") {
		if time.Now().After(deadline) {
			out := p.Output()
			p.Close()
			return nil, fmt.Errorf("agent phone did not register within 15 s: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p, nil
}
