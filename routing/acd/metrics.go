package acd

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// serviceMetrics are what the routing service of this member counts (the
// Queue and Agent grains count offers, answers and waits themselves: see
// the parley_routing_* metrics of package actors).
type serviceMetrics struct {
	handoffs *prometheus.CounterVec
	requeues *prometheus.CounterVec
	cleared  prometheus.Counter
	passes   prometheus.Histogram
}

func newServiceMetrics(reg prometheus.Registerer) (*serviceMetrics, error) {
	m := &serviceMetrics{
		handoffs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Subsystem: "routing", Name: "handoffs_total",
			Help: "Hand-offs from the bot (or the API) to a queue through this member, by reason (requested, negative_sentiment, low_confidence, flow, menu...)."},
			[]string{"queue", "reason"}),
		requeues: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Subsystem: "routing", Name: "requeued_total",
			Help: "Contacts queued again at their place after the agent's leg was lost mid-call."}, []string{"queue"}),
		cleared: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Subsystem: "routing", Name: "reconciled_total",
			Help: "Contacts and agent contacts the reconciler cleared because their call had ended."}),
		passes: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "parley", Subsystem: "routing", Name: "reconcile_seconds",
			Help: "Duration of one reconciler pass.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9)}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.handoffs, m.requeues, m.cleared, m.passes} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if errors.As(err, &are) {
					return nil, fmt.Errorf("register routing service metrics: another routing service uses this registry: %w", err)
				}
				return nil, fmt.Errorf("register routing service metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *serviceMetrics) unregister(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	for _, c := range []prometheus.Collector{m.handoffs, m.requeues, m.cleared, m.passes} {
		reg.Unregister(c)
	}
}

func (s *Service) requeued(queue string) { s.m.requeues.WithLabelValues(queue).Inc() }
