package webrtc

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
)

// BenchmarkHeldEchoCalls holds b.N concurrent echo calls in one process
// (Client legs against the Gateway over loopback ICE, DTLS-SRTP, PCMU),
// streams for 5 s and reports Go heap per call (both ends: caller and
// gateway leg), sequence-gap loss and the p99 RFC 3550 jitter of the
// gateway's stream. Run it with a call count: -benchtime 100x.
func BenchmarkHeldEchoCalls(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	g, srv := startGateway(b, Config{Apps: apps(b, map[string]media.Application{"echo": media.Echo{}}), MaxCalls: b.N + 10, Log: quiet})
	cl, err := NewClient(ICEConfig{Loopback: true}, quiet)
	if err != nil {
		b.Fatal(err)
	}
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/call/ws"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	legs := make([]*Leg, 0, b.N)
	for i := 0; i < b.N; i++ {
		leg, err := cl.Call(ctx, url, "echo", "bench")
		if err != nil {
			b.Fatalf("call %d: %v", i, err)
		}
		legs = append(legs, leg)
		go func() {
			var tone audio.Frame
			for j := range tone {
				tone[j] = int16(j%16*1000 - 8000)
			}
			go func() {
				for range leg.Frames() {
				}
			}()
			for leg.Write(ctx, tone) == nil {
			}
		}()
	}
	b.StopTimer()
	time.Sleep(time.Second)
	before := make([]LegStats, len(legs))
	for i, l := range legs {
		before[i] = l.Stats()
	}
	time.Sleep(5 * time.Second)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	var recv, lost uint64
	var jit []time.Duration
	for i, l := range legs {
		st := l.Stats()
		recv += st.PacketsReceived - before[i].PacketsReceived
		lost += st.Lost - before[i].Lost
		jit = append(jit, st.Jitter)
	}
	sort.Slice(jit, func(i, j int) bool { return jit[i] < jit[j] })
	b.ReportMetric(float64(m1.HeapInuse-m0.HeapInuse)/float64(b.N)/1e3, "heapKB/call")
	b.ReportMetric(100*float64(lost)/float64(max(1, recv+lost)), "loss%")
	b.ReportMetric(100*float64(recv)/(float64(b.N)*5*50), "rx%ofnominal")
	b.ReportMetric(float64(jit[len(jit)*99/100])/1e6, "p99jitter-ms")
	if g.Active() != b.N {
		b.Errorf("%d gateway legs up, want %d", g.Active(), b.N)
	}
	for _, l := range legs {
		_ = l.Hangup(ctx)
	}
}
