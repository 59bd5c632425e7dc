// Package storemetrics exports the store's write-behind queue to Prometheus.
package storemetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-cc/parley/store"
)

// WriteBehindCollector reads a WriteBehind's Stats once per scrape.
type WriteBehindCollector struct {
	wb                             *store.WriteBehind
	pending, oldest                *prometheus.Desc
	written, retries, failedWrites *prometheus.Desc
}

var _ prometheus.Collector = (*WriteBehindCollector)(nil)

// NewWriteBehindCollector returns a collector for wb; register it once per
// registry.
func NewWriteBehindCollector(wb *store.WriteBehind) *WriteBehindCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("parley_store_writebehind_"+name, help, nil, nil)
	}
	return &WriteBehindCollector{
		wb:           wb,
		pending:      d("pending", "Store writes accepted and not yet written, e.g. while the database is down."),
		oldest:       d("oldest_pending_seconds", "Age of the oldest pending store write; 0 when none is pending."),
		written:      d("written_total", "Store writes that succeeded."),
		retries:      d("retries_total", "Failed store write attempts that were retried."),
		failedWrites: d("failed_total", "Store writes given up on a permanent error (unknown id, conflict, invalid record)."),
	}
}

// Describe sends the metric descriptions.
func (c *WriteBehindCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.oldest, c.written, c.retries, c.failedWrites} {
		ch <- d
	}
}

// Collect sends the current values.
func (c *WriteBehindCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.wb.Stats()
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, st.Oldest.Seconds())
	ch <- prometheus.MustNewConstMetric(c.written, prometheus.CounterValue, float64(st.Written))
	ch <- prometheus.MustNewConstMetric(c.retries, prometheus.CounterValue, float64(st.Retries))
	ch <- prometheus.MustNewConstMetric(c.failedWrites, prometheus.CounterValue, float64(st.Failed))
}
