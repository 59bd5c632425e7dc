package voicebot_test

import (
	"context"
	"fmt"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/voicebot/loadtest"
)

// BenchmarkPlatformOverhead is the benchmark (a): the platform's
// own time per turn (the frame that completed endpointing arriving, to the
// first reply frame handed to the call, minus the time inside the ASR,
// dialog and TTS) with fixed-latency providers (ASR final 50 ms, dialog
// 100 ms to its first sentence, TTS 50 ms to first audio), at 1, 50 and 200
// concurrent calls. b.N is turns per call.
//
//	GOMAXPROCS=2 go test -run '^$' -bench PlatformOverhead -benchtime 5x ./voicebot/
func BenchmarkPlatformOverhead(b *testing.B) {
	asrDelay, dialogDelay, ttsDelay := 50*time.Millisecond, 100*time.Millisecond, 50*time.Millisecond
	cfg := loadtest.Config{
		ASR:        loadtest.FixedASR{Delay: asrDelay, Text: "check my balance"},
		Engine:     loadtest.FixedDialog{Delay: dialogDelay, Reply: "Your balance is fifty pounds. Is there anything else?"},
		TTS:        loadtest.FixedTTS{Delay: ttsDelay, Audio: loadtest.Voiced(600 * time.Millisecond)},
		Utterances: [][]audio.Frame{loadtest.Voiced(800 * time.Millisecond)},
		Stagger:    3 * time.Second,
	}
	for _, calls := range []int{1, 50, 200} {
		b.Run(fmt.Sprintf("calls=%d", calls), func(b *testing.B) {
			c := cfg
			c.Calls, c.TurnsPerCall = calls, b.N
			b.ReportAllocs()
			cpu0 := cpuTime()
			res, err := loadtest.Run(context.Background(), c)
			// The process's CPU use while the calls ran, in cores.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(res.Elapsed), "cpu-cores")
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Samples) == 0 {
				b.Fatalf("no turn measured (%d without reply)", res.NoReply)
			}
			report(b, res)
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(b *testing.B, res loadtest.Result) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(res.Percentile(0.5, loadtest.Overhead)), "overhead-p50-ms")
	b.ReportMetric(ms(res.Percentile(0.99, loadtest.Overhead)), "overhead-p99-ms")
	b.ReportMetric(ms(res.Percentile(1, loadtest.Overhead)), "overhead-max-ms")
	b.ReportMetric(ms(res.Percentile(0.5, loadtest.Total)), "total-p50-ms")
	b.ReportMetric(float64(len(res.Samples)), "turns")
	b.ReportMetric(float64(res.NoReply), "no-reply")
	if testing.Verbose() {
		worst := append([]loadtest.Sample(nil), res.Samples...)
		sort.Slice(worst, func(i, j int) bool { return worst[i].Overhead > worst[j].Overhead })
		for _, s := range worst[:min(5, len(worst))] {
			b.Logf("slowest: %+v", s)
		}
	}
}
