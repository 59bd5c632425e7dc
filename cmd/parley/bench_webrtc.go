package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/parley-cc/parley/gateway/webrtc"
)

func init() {
	registerBench("webrtc", "load a WebRTC gateway: concurrent browser-like (pion) echo calls with media", benchWebRTC)
}

// benchWebRTC holds --calls concurrent WebRTC calls to --extension (echo)
// on a parley node, each placed like a browser (signalling WebSocket,
// ICE, DTLS-SRTP, PCMU) and streaming a 20 ms tone for --hold. It reports
// loss and RFC 3550 jitter of the node's stream, and the node's CPU and
// memory per call. Without --target it starts a `parley serve` child on
// loopback, so the node's figures are its own, not the load generator's.
func benchWebRTC(args []string, stdout, stderr io.Writer) int {
	fs := benchFlags("webrtc", stderr)
	target := fs.String("target", "", "HTTP base URL of the node under test, e.g. http://127.0.0.1:8080 (default: start a parley serve child with --webrtc-loopback)")
	metricsURL := fs.String("metrics", "", "the node's /metrics URL, for CPU and memory per call (default: <target>/metrics)")
	ext := fs.String("extension", "echo", "extension called")
	calls := fs.Int("calls", 200, "concurrent calls")
	ramp := fs.Int("ramp", 20, "new calls per second while ramping up (each is an ICE + DTLS handshake)")
	hold := fs.Duration("hold", 30*time.Second, "how long every call streams once all are up")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *calls < 1 || *ramp < 1 || *hold <= 0 {
		fmt.Fprintln(stderr, "parley bench webrtc: positive --calls, --ramp and --hold")
		return 2
	}
	fail := func(err error) int { fmt.Fprintf(stderr, "parley bench webrtc: %v\n", err); return 1 }
	if *target == "" {
		node, err := startChildNode(*calls+10, "--webrtc-loopback")
		if err != nil {
			return fail(err)
		}
		defer node.stop()
		*target = node.http
		fmt.Fprintf(stderr, "node under test: parley serve pid %d, HTTP %s\n", node.cmd.Process.Pid, node.http)
	}
	*target = strings.TrimSuffix(*target, "/")
	if *metricsURL == "" {
		*metricsURL = *target + "/metrics"
	}
	fmt.Fprintf(stdout, "load average before: %s\n", loadAvg())
	res, gen, err := benchWebRTCMedia(*target, *metricsURL, *ext, *calls, *ramp, *hold, stderr)
	if err != nil {
		return fail(err)
	}
	res.print(stdout)
	fmt.Fprintf(stdout, "load generator (pion callers, this process): %.2f cores during the hold\n", gen)
	fmt.Fprintf(stdout, "load average after: %s\n", loadAvg())
	return 0
}

// benchWebRTCMedia places the calls, holds them and measures; gen is the
// load generator's own CPU (cores) during the hold.
func benchWebRTCMedia(target, metricsURL, ext string, calls, ramp int, hold time.Duration, stderr io.Writer) (res webrtcResult, gen float64, err error) {
	res = webrtcResult{mediaResult: mediaResult{wanted: calls, hold: hold, setupErrors: map[string]int{}}}
	client, err := webrtc.NewClient(webrtc.ICEConfig{Loopback: true}, nil)
	if err != nil {
		return res, 0, err
	}
	wsURL := "ws" + strings.TrimPrefix(target, "http") + "/call/ws"
	res.memBefore, _ = scrape(metricsURL, "process_resident_memory_bytes")
	res.heapBefore, _ = scrape(metricsURL, "go_memstats_heap_inuse_bytes")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{}) // closed when the hold is over
	var mu sync.Mutex
	var up []*webrtc.Leg
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(ramp))
	for i := 0; i < calls; i++ {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
			defer dcancel()
			leg, err := client.Call(dctx, wsURL, ext, "bench")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.failed++
				res.setupErrors[err.Error()]++
				return
			}
			up = append(up, leg)
			go func() { _ = streamTone(stop).Run(ctx, leg) }()
		}()
	}
	tick.Stop()
	wg.Wait()
	res.up = len(up)
	fmt.Fprintf(stderr, "%d calls up (%d failed); holding %s\n", res.up, res.failed, hold)
	time.Sleep(time.Second) // jitter buffers settled after the last answer

	before := make([]webrtc.LegStats, len(up))
	for i, l := range up {
		before[i] = l.Stats()
	}
	t0 := time.Now()
	cpu0, _ := scrape(metricsURL, "process_cpu_seconds_total")
	self0 := selfCPU()
	time.Sleep(hold / 2)
	res.memPeak, _ = scrape(metricsURL, "process_resident_memory_bytes")
	res.heapUp, _ = scrape(metricsURL, "go_memstats_heap_inuse_bytes")
	time.Sleep(hold - hold/2)
	cpu1, _ := scrape(metricsURL, "process_cpu_seconds_total")
	res.cpuSeconds = cpu1 - cpu0
	gen = (selfCPU() - self0).Seconds() / hold.Seconds()
	ended := 0
	res.window = time.Since(t0) // the hold plus the scrapes: what the counts cover
	for i, l := range up {
		st := l.Stats()
		select {
		case <-l.Done():
			ended++ // its counts stopped early: they show as loss
		default:
		}
		res.sent += st.FramesSent - before[i].FramesSent
		res.received += st.PacketsReceived - before[i].PacketsReceived
		res.lost += int64(st.Lost - before[i].Lost)
		res.jitters = append(res.jitters, st.Jitter)
	}
	if ended > 0 {
		fmt.Fprintf(stderr, "%d calls ended during the hold\n", ended)
	}
	close(stop)
	hctx, hcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer hcancel()
	for _, l := range up {
		_ = l.Hangup(hctx)
	}
	return res, gen, nil
}

// webrtcResult is what the WebRTC benchmark measured. Unlike SIP's, the
// node sends its stream on its own clock (silence when the echo has nothing),
// so both streams are compared with the nominal 50 packets a second.
type webrtcResult struct {
	mediaResult
	window time.Duration // between the two readings of the calls' counters
}

func (r webrtcResult) print(w io.Writer) {
	fmt.Fprintf(w, "calls wanted %d, up %d, failed to set up %d\n", r.wanted, r.up, r.failed)
	for e, n := range r.setupErrors {
		fmt.Fprintf(w, "  setup error ×%d: %s\n", n, e)
	}
	if r.up == 0 {
		return
	}
	nominal := float64(r.up) * r.window.Seconds() * 50
	loss := 0.0
	if r.received+uint64(r.lost) > 0 {
		loss = 100 * float64(r.lost) / float64(r.received+uint64(r.lost))
	}
	fmt.Fprintf(w, "callers -> node: %d packets sent, %.2f%% of 50/s per call\n", r.sent, 100*float64(r.sent)/nominal)
	fmt.Fprintf(w, "node -> callers: %d packets received, %.2f%% of 50/s per call; loss (sequence gaps) %d = %.3f%%\n",
		r.received, 100*float64(r.received)/nominal, r.lost, loss)
	sort.Slice(r.jitters, func(i, j int) bool { return r.jitters[i] < r.jitters[j] })
	pct := func(p float64) time.Duration { return r.jitters[min(len(r.jitters)-1, int(p*float64(len(r.jitters))))] }
	fmt.Fprintf(w, "RFC 3550 jitter of the node's stream per call: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		ms(pct(0.50)), ms(pct(0.99)), ms(r.jitters[len(r.jitters)-1]))
	if r.memPeak > 0 {
		fmt.Fprintf(w, "node memory: RSS %.1f MB idle, %.1f MB with %d calls: %.1f KB per call (Go heap %.1f KB per call)\n",
			r.memBefore/1e6, r.memPeak/1e6, r.up, (r.memPeak-r.memBefore)/float64(r.up)/1e3, (r.heapUp-r.heapBefore)/float64(r.up)/1e3)
		fmt.Fprintf(w, "node CPU during the hold: %.2f cores (%.2f ms CPU per call-second)\n",
			r.cpuSeconds/r.hold.Seconds(), 1e3*r.cpuSeconds/r.hold.Seconds()/float64(r.up))
	}
}

// loadAvg is /proc/loadavg's 1, 5 and 15 minute averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
