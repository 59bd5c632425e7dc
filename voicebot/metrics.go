package voicebot

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the voice loop's Prometheus series; one per node, shared by
// every call.
type Metrics struct {
	stage        *prometheus.HistogramVec
	overhead     prometheus.Histogram
	bargeIns     prometheus.Counter
	backchannels prometheus.Counter
	errors       *prometheus.CounterVec
	calls        prometheus.Gauge
}

// NewMetrics registers the series on reg (nil: unregistered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	buckets := []float64{.005, .01, .025, .05, .1, .2, .3, .4, .5, .6, .8, 1, 1.5, 2, 3, 5, 10}
	m := &Metrics{
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "parley_voicebot_turn_latency_seconds", Buckets: buckets,
			Help: "Per-turn voice-loop latency from the caller's end of speech to each stage: asr_final, llm_first_token, tts_first_audio, first_rtp_out.",
		}, []string{"stage"}),
		overhead: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_voicebot_platform_overhead_seconds",
			Help:    "End of speech to first RTP packet out, minus endpointing silence and the time spent inside the ASR, dialog and TTS providers.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2},
		}),
		bargeIns:     prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_voicebot_barge_ins_total", Help: "Bot replies cut short by the caller."}),
		backchannels: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_voicebot_backchannels_total", Help: "Caller speech during a reply that was a backchannel (the reply went on)."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_voicebot_provider_errors_total", Help: "Provider failures during calls, by provider (asr, dialog, tts) and kind (error, timeout, stall).",
		}, []string{"provider", "kind"}),
		calls: prometheus.NewGauge(prometheus.GaugeOpts{Name: "parley_voicebot_calls", Help: "Calls the voicebot is handling."}),
	}
	if reg != nil {
		reg.MustRegister(m.stage, m.overhead, m.bargeIns, m.backchannels, m.errors, m.calls)
	}
	return m
}

func (m *Metrics) observeTurn(t turnTimes) {
	if m == nil || t.eos.IsZero() {
		return
	}
	obs := func(stage string, at time.Time) {
		if !at.IsZero() {
			m.stage.WithLabelValues(stage).Observe(at.Sub(t.eos).Seconds())
		}
	}
	obs("asr_final", t.asrFinal)
	obs("llm_first_token", t.firstToken)
	obs("tts_first_audio", t.firstAudio)
	obs("first_rtp_out", t.firstRTP)
	if o, ok := t.overhead(); ok {
		m.overhead.Observe(o.Seconds())
	}
}

func (m *Metrics) providerError(provider, kind string) {
	if m != nil {
		m.errors.WithLabelValues(provider, kind).Inc()
	}
}

func (m *Metrics) bargeIn() {
	if m != nil {
		m.bargeIns.Inc()
	}
}

func (m *Metrics) backchannel() {
	if m != nil {
		m.backchannels.Inc()
	}
}

func (m *Metrics) callDelta(d float64) {
	if m != nil {
		m.calls.Add(d)
	}
}
