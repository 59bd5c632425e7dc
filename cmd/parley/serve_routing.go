package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/parley-cc/parley/gateway/dialplan"
	"github.com/parley-cc/parley/knowledge/assist"
	"github.com/parley-cc/parley/routing"
	"github.com/parley-cc/parley/routing/acd"
	"github.com/parley-cc/parley/routing/desk"
	"github.com/parley-cc/parley/routing/handoff"
	"github.com/parley-cc/parley/store"
	agentweb "github.com/parley-cc/parley/web/agent"
)

// Routing: the ACD service (nodeEnv.Services["routing"], *acd.Service), the
// routing API under /api/v1/routing, the agent desktop WebSocket /ws/agent
// and the agent desktop page GET /agent. The Queue and Agent grains run the
// configuration loadRoutingConfig returns (serve passes it to the cluster).
func init() {
	registerComponent(component{name: "routing", order: orderRouting, start: startRouting})
}

func startRouting(_ context.Context, n *nodeEnv) (*running, error) {
	cfg := n.Node.RoutingConfig()
	var sum handoff.Summarizer = handoff.Extractive{}
	if n.Cfg.RoutingSummary == "llm" || n.Cfg.RoutingSummary == "auto" && n.Cfg.LLM == "openai" {
		sum = handoff.NewLLM(n.Cfg.OpenAIBaseURL, n.Cfg.OpenAIAPIKey, n.Cfg.LLMModel)
	}
	svc, err := acd.New(acd.Options{Node: n.Node, Store: n.Store, Config: cfg, Summarizer: sum, Logger: n.Log,
		ReconcileEvery: n.Cfg.RoutingReconcileEvery, Registerer: n.Reg,
		// The gateways start after routing: look their services up at use.
		Legs: func() acd.Legs {
			if l, ok := n.Services["agent.legs"].(*dialplan.AgentLegs); ok && l != nil {
				return l
			}
			return nil
		}})
	if err != nil {
		return nil, err
	}
	tokens, _ := parseAgentTokens(n.Cfg.RoutingAgentTokens)
	d := desk.New(desk.Options{Service: svc, Store: n.Store, Tokens: tokens, Logger: n.Log,
		Assist: func() desk.Assist {
			if a, ok := n.Services["kb.assist"].(*assist.Service); ok && a != nil {
				return a
			}
			return nil
		}})
	n.Services["routing"] = svc
	// The voicebot hands transfers to routing (voicebot.ActionHandler).
	n.Services["voicebot.actions"] = svc
	auth := "loopback clients only"
	if len(tokens) > 0 {
		auth = fmt.Sprintf("tokens for %d agents", len(tokens))
	}
	n.Log.Info("routing ready", "queues", len(cfg.Queues), "summary", fmt.Sprintf("%T", sum), "desktop_auth", auth)
	return &running{
		Routes: d.Routes(),
		Pages:  map[string]http.Handler{"GET /agent": agentweb.Page()},
		Drain:  d.Drain,
		Stop: func(context.Context) error {
			svc.Close()
			return nil
		},
	}, nil
}

// loadRoutingConfig is the ACD configuration of this node: --routing-config,
// or one derived from the store's queues (after loading the demo into an
// empty store when --demo is set).
func loadRoutingConfig(ctx context.Context, cfg Config, st store.Store) (*routing.Config, error) {
	if cfg.RoutingConfig != "" {
		return readRoutingConfig(cfg.RoutingConfig)
	}
	if cfg.Demo {
		if err := loadDemo(ctx, st); err != nil {
			return nil, fmt.Errorf("demo deployment: %w", err)
		}
	}
	queues, err := st.ListQueues(ctx)
	if err != nil {
		return nil, fmt.Errorf("routing: list queues: %w", err)
	}
	agents, err := st.ListAgents(ctx)
	if err != nil {
		return nil, fmt.Errorf("routing: list agents: %w", err)
	}
	rc := deriveRoutingConfig(cfg, queues, agents)
	if err := rc.Validate(); err != nil {
		return nil, fmt.Errorf("routing configuration derived from the store's queues: %w", err)
	}
	return rc, nil
}

func readRoutingConfig(path string) (*routing.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("routing-config: %w", err)
	}
	defer f.Close()
	rc, err := routing.LoadConfig(f)
	if err != nil {
		return nil, fmt.Errorf("routing-config %s: %w", path, err)
	}
	return rc, nil
}

// deriveRoutingConfig turns the store's queues into routing queues: first
// agents with the required skills at the required proficiency (and the
// queue's language) for 30 s, then anyone with the skills. VIP callers,
// complaints and upset callers go first; waiting time ages every contact.
func deriveRoutingConfig(cfg Config, queues []store.Queue, agents []store.Agent) *routing.Config {
	neg := -0.5
	rc := &routing.Config{
		BreakReasons: cfg.RoutingBreakReasons,
		Priority: routing.PriorityConfig{AgingPerSecond: 1, Rules: []routing.PriorityRule{
			{Attribute: "tier", In: []string{"vip"}, Points: 300},
			{Attribute: "task", In: []string{"complaint"}, Points: 100},
			{SentimentBelow: &neg, Points: 120},
		}},
		Offers: routing.OfferConfig{Timeout: cfg.RoutingOfferTimeout, MaxMisses: cfg.RoutingMaxMisses},
	}
	skills := map[string]bool{}
	addSkill := func(s string) {
		if s != "" && !skills[s] {
			skills[s] = true
			rc.Skills = append(rc.Skills, s)
		}
	}
	for _, a := range agents {
		for _, s := range a.Skills {
			addSkill(s.Name)
		}
	}
	known := map[string]bool{}
	for _, q := range queues {
		known[q.ID] = true
	}
	for _, q := range queues {
		qc := routing.QueueConfig{ID: q.ID, Strategy: routing.Strategy(q.Strategy), WrapUp: cfg.RoutingWrapUp,
			ServiceLevel: time.Duration(q.ServiceLevelSecs) * time.Second}
		if qc.Strategy == "" {
			qc.Strategy = routing.LongestIdle
		}
		var strict, relaxed []routing.Predicate
		for _, s := range q.RequiredSkills {
			addSkill(s.Name)
			strict = append(strict, routing.Predicate{Skill: s.Name, Min: max(1, s.Proficiency)})
			relaxed = append(relaxed, routing.Predicate{Skill: s.Name})
		}
		if q.Language != "" {
			strict = append(strict, routing.Predicate{Language: q.Language})
		}
		switch {
		case len(strict) == 0:
			qc.Steps = []routing.StepConfig{{Require: routing.Predicate{Any: true}}}
		case len(relaxed) == 0:
			qc.Steps = []routing.StepConfig{{Expiry: 30 * time.Second, Require: routing.Predicate{AllOf: strict}}, {Require: routing.Predicate{Any: true}}}
		default:
			qc.Steps = []routing.StepConfig{{Expiry: 30 * time.Second, Require: routing.Predicate{AllOf: strict}}, {Require: routing.Predicate{AllOf: relaxed}}}
		}
		if q.OverflowQueueID != "" && q.OverflowAfterSec > 0 && known[q.OverflowQueueID] {
			qc.Overflow = &routing.OverflowConfig{After: time.Duration(q.OverflowAfterSec) * time.Second, Queue: q.OverflowQueueID}
		}
		rc.Queues = append(rc.Queues, qc)
	}
	if len(rc.Queues) == 0 {
		// A node without queues still runs: one catch-all queue.
		rc.Queues = []routing.QueueConfig{{ID: "support", WrapUp: cfg.RoutingWrapUp, Steps: []routing.StepConfig{{Require: routing.Predicate{Any: true}}}}}
	}
	return rc
}

// parseAgentTokens reads agent=token pairs.
func parseAgentTokens(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		agent, tok, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || agent == "" || tok == "" {
			return nil, fmt.Errorf("%q is not agent=token", p)
		}
		if _, dup := out[agent]; dup {
			return nil, fmt.Errorf("agent %q has two tokens", agent)
		}
		out[agent] = tok
	}
	return out, nil
}

// validateRouting checks the routing settings; a --routing-config file is
// parsed here so an unknown skill or queue stops the node at start.
func (c *Config) validateRouting(bad func(field, format string, a ...any) error) error {
	if c.RoutingConfig != "" {
		if _, err := readRoutingConfig(c.RoutingConfig); err != nil {
			return bad("routing-config", "%v", err)
		}
	}
	if _, err := parseAgentTokens(c.RoutingAgentTokens); err != nil {
		return bad("routing-agent-tokens", "%v", err)
	}
	if c.RoutingOfferTimeout <= 0 {
		return bad("routing-offer-timeout", "must be positive, got %s", c.RoutingOfferTimeout)
	}
	if c.RoutingMaxMisses < 1 {
		return bad("routing-max-misses", "must be at least 1, got %d", c.RoutingMaxMisses)
	}
	if c.RoutingWrapUp < 0 {
		return bad("routing-wrap-up", "must not be negative, got %s", c.RoutingWrapUp)
	}
	for _, r := range c.RoutingBreakReasons {
		if strings.TrimSpace(r) == "" {
			return bad("routing-break-reasons", "empty reason code")
		}
	}
	if c.RoutingReconcileEvery <= 0 {
		return bad("routing-reconcile-every", "must be positive, got %s", c.RoutingReconcileEvery)
	}
	switch c.RoutingSummary {
	case "auto", "extractive":
	case "llm":
		if c.OpenAIBaseURL == "" && c.OpenAIAPIKey == "" {
			return bad("routing-summary", "llm summaries need OPENAI_BASE_URL or OPENAI_API_KEY")
		}
	default:
		return bad("routing-summary", "%q is not one of auto, llm, extractive", c.RoutingSummary)
	}
	return nil
}
