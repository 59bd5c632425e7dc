package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-cc/parley/actors"
	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/store"
)

// A component is a subsystem a node runs beside the cluster and the HTTP
// API: the knowledge base, routing, the voicebot, the SIP and WebRTC
// gateways. Each lives in its own serve_<name>.go and registers itself from
// init; serve starts them in ascending order and stops them in reverse.
type component struct {
	name  string
	order int // start order: lower first
	start func(ctx context.Context, n *nodeEnv) (*running, error)
}

// Component start order: a component may use what earlier ones published
// on nodeEnv.
const (
	orderKnowledge = 10
	orderRouting   = 20
	orderVoicebot  = 30
	orderSIP       = 40
	orderWebRTC    = 50
	orderEvals     = 60
	orderWeb       = 90
)

var components []component

func registerComponent(c component) { components = append(components, c) }

// nodeEnv is what components share: the node's configuration and
// infrastructure, plus what earlier components publish for later ones.
type nodeEnv struct {
	Cfg   Config
	Log   *slog.Logger
	Store store.Store
	Node  *actors.Node
	Reg   *prometheus.Registry

	// Published by components, in start order. Each component documents the
	// fields it sets; a later component must cope with a nil field when the
	// earlier one is disabled by configuration.
	Services map[string]any
}

// running is what a started component contributes to the node.
type running struct {
	Routes []httpapi.Route          // API endpoints, documented in OpenAPI
	Pages  map[string]http.Handler  // non-API handlers by mux pattern
	Checks []httpapi.ReadinessCheck // readiness conditions
	// Drain stops taking new work (new calls, new offers); called on SIGTERM
	// before the HTTP server stops. May be nil.
	Drain func()
	// Stop releases everything within ctx's deadline. May be nil.
	Stop func(ctx context.Context) error
}

// startComponents starts every registered component in order. On an error
// the ones already started are stopped again.
func startComponents(ctx context.Context, n *nodeEnv) ([]*running, error) {
	sorted := append([]component(nil), components...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].order < sorted[j].order })
	var started []*running
	for _, c := range sorted {
		r, err := c.start(ctx, n)
		if err != nil {
			stopComponents(context.Background(), n.Log, started)
			return nil, fmt.Errorf("start %s: %w", c.name, err)
		}
		if r == nil {
			r = &running{}
		}
		n.Log.Debug("component started", "component", c.name)
		started = append(started, r)
	}
	return started, nil
}

// stopComponents stops started components in reverse order.
func stopComponents(ctx context.Context, log *slog.Logger, started []*running) {
	for i := len(started) - 1; i >= 0; i-- {
		if s := started[i].Stop; s != nil {
			if err := s(ctx); err != nil {
				log.Warn("component stop incomplete", "err", err)
			}
		}
	}
}
