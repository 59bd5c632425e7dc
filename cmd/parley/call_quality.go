package main

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-cc/parley/gateway/rtp"
)

// callQuality turns each finished call leg's RTP statistics into node
// metrics (what supervisors alert on) and into the "quality" event stored
// with the call (what they look at when a customer says the line was bad).
type callQuality struct {
	packetsIn, packetsOut, lost, late, concealed, dropped prometheus.Counter
	jitter, loss                                          prometheus.Histogram
}

func newCallQuality(reg prometheus.Registerer) *callQuality {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Subsystem: "rtp", Name: name, Help: help})
	}
	q := &callQuality{
		packetsIn:  c("packets_received_total", "RTP packets received from callers, summed over finished call legs."),
		packetsOut: c("packets_sent_total", "RTP packets sent to callers, summed over finished call legs."),
		lost:       c("packets_lost_total", "RTP packets callers sent that never arrived (sequence gaps), over finished call legs."),
		late:       c("packets_late_total", "RTP packets that arrived too late for the jitter buffer, over finished call legs."),
		concealed:  c("frames_concealed_total", "20 ms frames the jitter buffer had to conceal, over finished call legs."),
		dropped:    c("frames_dropped_total", "20 ms frames dropped because the call's application read too slowly, over finished call legs."),
		jitter: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "parley", Subsystem: "rtp", Name: "call_jitter_seconds",
			Help: "RFC 3550 interarrival jitter of each finished call leg's incoming audio.", Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .2}}),
		loss: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "parley", Subsystem: "rtp", Name: "call_loss_ratio",
			Help: "Fraction of each finished call leg's incoming packets lost.", Buckets: []float64{0, .001, .005, .01, .02, .05, .1, .2}}),
	}
	reg.MustRegister(q.packetsIn, q.packetsOut, q.lost, q.late, q.concealed, q.dropped, q.jitter, q.loss)
	return q
}

// observe counts one finished leg and returns the data of its quality event.
func (q *callQuality) observe(st *rtp.Stats) map[string]string {
	lost := max(st.Lost, 0)
	q.packetsIn.Add(float64(st.PacketsReceived))
	q.packetsOut.Add(float64(st.PacketsSent))
	q.lost.Add(float64(lost))
	q.late.Add(float64(st.Buffer.Late))
	q.concealed.Add(float64(st.Buffer.Concealed))
	q.dropped.Add(float64(st.FramesDropped))
	q.jitter.Observe(st.Jitter.Seconds())
	ratio := 0.0
	if st.Expected > 0 {
		ratio = float64(lost) / float64(st.Expected)
	}
	q.loss.Observe(ratio)
	return map[string]string{
		"packets_in":  strconv.FormatUint(st.PacketsReceived, 10),
		"packets_out": strconv.FormatUint(st.PacketsSent, 10),
		"lost":        strconv.FormatInt(lost, 10),
		"loss_pct":    strconv.FormatFloat(100*ratio, 'f', 2, 64),
		"jitter_ms":   strconv.FormatFloat(float64(st.Jitter.Microseconds())/1000, 'f', 2, 64),
		"late":        strconv.FormatUint(st.Buffer.Late, 10),
		"concealed":   strconv.FormatUint(st.Buffer.Concealed, 10),
		"dropped":     strconv.FormatUint(st.FramesDropped, 10),
	}
}
