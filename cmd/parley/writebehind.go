package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/store"
)

// newWriteBehind is the member's queue for grain writes the database did not
// take: live calls go on through a database outage and their writes land,
// in order, once it is back. Its depth and age are exported as metrics and
// bound /readyz.
func newWriteBehind(cfg Config, log *slog.Logger, reg prometheus.Registerer) *store.WriteBehind {
	var lastLog atomic.Int64 // unix nanos; OnError runs on every key's goroutine
	wb := store.NewWriteBehind(store.WriteBehindOptions{
		Backoff:    store.Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second},
		MaxPending: cfg.WriteBehindMax,
		OnError: func(key string, err error, permanent bool) {
			if permanent {
				log.Error("held write rejected by the database; skipped", "key", key, "err", err)
				return
			}
			// One line per second at most: an outage retries thousands of writes.
			if now, last := time.Now().UnixNano(), lastLog.Load(); now-last > int64(time.Second) && lastLog.CompareAndSwap(last, now) {
				log.Warn("database still refusing held writes; retrying", "key", key, "err", err)
			}
		},
	})
	stat := func(f func(store.WriteBehindStats) float64) func() float64 {
		return func() float64 { return f(wb.Stats()) }
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "parley", Subsystem: "write_behind", Name: "pending",
			Help: "Grain writes held because the database did not take them, not yet written."},
			stat(func(s store.WriteBehindStats) float64 { return float64(s.Pending) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "parley", Subsystem: "write_behind", Name: "oldest_seconds",
			Help: "Age of the oldest held write; 0 when none."},
			stat(func(s store.WriteBehindStats) float64 { return s.Oldest.Seconds() })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "parley", Subsystem: "write_behind", Name: "written_total",
			Help: "Held writes the database finally took."},
			stat(func(s store.WriteBehindStats) float64 { return float64(s.Written) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "parley", Subsystem: "write_behind", Name: "retries_total",
			Help: "Failed attempts at held writes, retried."},
			stat(func(s store.WriteBehindStats) float64 { return float64(s.Retries) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "parley", Subsystem: "write_behind", Name: "rejected_total",
			Help: "Held writes the database rejected permanently (logged)."},
			stat(func(s store.WriteBehindStats) float64 { return float64(s.Failed) })),
	)
	return wb
}

// writeBehindCheck fails /readyz while held writes are older than maxAge:
// the database is not taking writes, so load balancers should send new work
// elsewhere until it does.
func writeBehindCheck(wb *store.WriteBehind, maxAge time.Duration) httpapi.ReadinessCheck {
	return httpapi.ReadinessCheck{Name: "write-behind", Check: func(context.Context) error {
		s := wb.Stats()
		if s.Pending > 0 && s.Oldest > maxAge {
			return fmt.Errorf("%d writes held for the database, oldest %s ago (bound %s); they are being retried", s.Pending, s.Oldest.Round(time.Millisecond), maxAge)
		}
		return nil
	}}
}
