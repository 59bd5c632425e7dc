package actors

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Grain kinds, which are also the cluster kind names.
const (
	KindCall     = "Call"
	KindAgent    = "Agent"
	KindQueue    = "Queue"
	KindCampaign = "Campaign"
)

var kinds = [...]string{KindCall, KindAgent, KindQueue, KindCampaign}

// grainMetrics are one member's grain collectors, resolved per kind up front
// so the message path does no label lookup.
type grainMetrics struct {
	activations *prometheus.CounterVec
	active      *prometheus.GaugeVec
	messages    *prometheus.CounterVec
	failures    *prometheus.CounterVec
	deferred    *prometheus.CounterVec
	byKind      map[string]*kindMetrics
	routing     *routingMetrics // the ACD's collectors (routing_metrics.go)
}

type kindMetrics struct {
	activations prometheus.Counter
	active      prometheus.Gauge
	messages    prometheus.Counter
	failures    prometheus.Counter
	deferred    prometheus.Counter
}

func newGrainMetrics(reg prometheus.Registerer) (*grainMetrics, error) {
	m := &grainMetrics{
		activations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "grain", Name: "activations_total",
			Help: "Grain activations on this member by kind.",
		}, []string{"kind"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "parley", Subsystem: "grain", Name: "active",
			Help: "Grains active on this member by kind.",
		}, []string{"kind"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "grain", Name: "messages_total",
			Help: "Grain requests handled on this member by kind.",
		}, []string{"kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "grain", Name: "failures_total",
			Help: "Grain requests answered with an error on this member by kind.",
		}, []string{"kind"}),
		deferred: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "grain", Name: "writes_deferred_total",
			Help: "Grain writes handed to the write-behind queue because the database did not answer, by kind.",
		}, []string{"kind"}),
		byKind:  map[string]*kindMetrics{},
		routing: newRoutingMetrics(),
	}
	for _, k := range kinds {
		m.byKind[k] = &kindMetrics{
			activations: m.activations.WithLabelValues(k),
			active:      m.active.WithLabelValues(k),
			messages:    m.messages.WithLabelValues(k),
			failures:    m.failures.WithLabelValues(k),
			deferred:    m.deferred.WithLabelValues(k),
		}
	}
	if reg != nil {
		for _, c := range append([]prometheus.Collector{m.activations, m.active, m.messages, m.failures, m.deferred}, m.routing.collectors()...) {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if errors.As(err, &are) {
					return nil, fmt.Errorf("register grain metrics: another member uses this registry: %w", err)
				}
				return nil, fmt.Errorf("register grain metrics: %w", err)
			}
		}
	}
	return m, nil
}

// unregister removes the collectors so a restarted member can register again.
func (m *grainMetrics) unregister(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	for _, c := range append([]prometheus.Collector{m.activations, m.active, m.messages, m.failures, m.deferred}, m.routing.collectors()...) {
		reg.Unregister(c)
	}
}
