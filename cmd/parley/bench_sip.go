package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/gateway/sip"
)

func init() {
	registerBench("sip", "load a SIP gateway: concurrent echo calls with media, or SIPp call setup rate", benchSIP)
}

// benchSIP loads a parley node's SIP gateway. Without --target it starts a
// `parley serve` child process on loopback and measures that.
//
//	media: --calls concurrent calls to --extension (echo), each sending a
//	       20 ms G.711 stream for --hold; reports packet loss and RFC 3550
//	       jitter of the echoed stream, and the node's memory per call.
//	setup: SIPp's uac scenario at --rate for --duration; reports answered
//	       and failed calls.
func benchSIP(args []string, stdout, stderr io.Writer) int {
	fs := benchFlags("sip", stderr)
	mode := fs.String("mode", "media", "media or setup")
	target := fs.String("target", "", "SIP host:port of the node under test (default: start a parley serve child)")
	metricsURL := fs.String("metrics", "", "the node's /metrics URL, for memory per call (default: the child's)")
	ext := fs.String("extension", "echo", "extension called")
	calls := fs.Int("calls", 1000, "media: concurrent calls")
	ramp := fs.Int("ramp", 200, "media: new calls per second while ramping up")
	hold := fs.Duration("hold", 30*time.Second, "media: how long every call streams once all are up")
	rate := fs.Int("rate", 300, "setup: calls per second")
	duration := fs.Duration("duration", 60*time.Second, "setup: how long to place calls")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (*mode != "media" && *mode != "setup") || *calls < 1 || *ramp < 1 || *rate < 1 || *hold <= 0 || *duration <= 0 {
		fmt.Fprintln(stderr, "parley bench sip: --mode media|setup with positive --calls, --ramp, --rate, --hold and --duration")
		return 2
	}
	fail := func(err error) int { fmt.Fprintf(stderr, "parley bench sip: %v\n", err); return 1 }

	if *target == "" {
		node, err := startChildNode(*calls + *rate*int(duration.Seconds()+10))
		if err != nil {
			return fail(err)
		}
		defer node.stop()
		*target, *metricsURL = node.sip, node.http+"/metrics"
		fmt.Fprintf(stderr, "node under test: parley serve pid %d, SIP %s\n", node.cmd.Process.Pid, node.sip)
	}
	if *mode == "setup" {
		return benchSIPSetup(*target, *ext, *rate, *duration, stdout, stderr)
	}
	res, err := benchSIPMedia(*target, *metricsURL, *ext, *calls, *ramp, *hold, stderr)
	if err != nil {
		return fail(err)
	}
	res.print(stdout)
	return 0
}

// childNode is a `parley serve` started for a benchmark.
type childNode struct {
	cmd       *exec.Cmd
	sip, http string
	dir       string
}

func startChildNode(maxCalls int, extraArgs ...string) (*childNode, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "parley-bench-")
	if err != nil {
		return nil, err
	}
	sipPort, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	httpAddr := httpLn.Addr().String()
	httpLn.Close()
	n := &childNode{sip: fmt.Sprintf("127.0.0.1:%d", sipPort), http: "http://" + httpAddr, dir: dir}
	n.cmd = exec.Command(self, append([]string{"serve", "--data-dir", dir, "--http-addr", httpAddr, "--sip-addr", n.sip,
		"--max-calls", strconv.Itoa(maxCalls), "--demo=false", "--log-level", "warn", "--log-format", "json"}, extraArgs...)...)
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	n.cmd.Stderr = logf
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start parley serve: %w", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(n.http + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return n, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	n.stop()
	return nil, fmt.Errorf("parley serve did not become ready; its log is %s", filepath.Join(dir, "serve.log"))
}

func (n *childNode) stop() {
	if n.cmd.Process != nil {
		_ = n.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = n.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = n.cmd.Process.Kill()
		}
	}
	_ = os.RemoveAll(n.dir)
}

func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// mediaResult is what the media benchmark measured.
type mediaResult struct {
	wanted, up, failed int
	setupErrors        map[string]int
	sent, received     uint64
	lost               int64
	jitters            []time.Duration // per call, RFC 3550 interarrival jitter of the echoed stream
	hold               time.Duration
	memBefore, memPeak float64 // node resident memory, bytes
	heapBefore, heapUp float64 // node Go heap in use, bytes
	cpuSeconds         float64 // node CPU during the hold
	// The node's view of the callers' streams, from its parley_rtp_* metrics
	// after the hang-ups (nil when the node does not export them).
	node map[string]float64
}

func (r mediaResult) print(w io.Writer) {
	fmt.Fprintf(w, "calls wanted %d, up %d, failed to set up %d\n", r.wanted, r.up, r.failed)
	for e, n := range r.setupErrors {
		fmt.Fprintf(w, "  setup error ×%d: %s\n", n, e)
	}
	if r.up == 0 {
		return
	}
	// Transit loss is what sequence numbers show missing; the echo's own
	// count differs from what was sent by its playout (buffering at the
	// start, concealment, frames still in flight when the stats were read).
	loss := 0.0
	if exp := float64(r.received) + float64(max(r.lost, 0)); exp > 0 {
		loss = 100 * float64(max(r.lost, 0)) / exp
	}
	sort.Slice(r.jitters, func(i, j int) bool { return r.jitters[i] < r.jitters[j] })
	pct := func(p float64) time.Duration { return r.jitters[min(len(r.jitters)-1, int(p*float64(len(r.jitters))))] }
	fmt.Fprintf(w, "node→callers: %d packets received back, %d lost in transit (%.3f%%); callers sent %d (the echo returns what it plays out)\n", r.received, max(r.lost, 0), loss, r.sent)
	fmt.Fprintf(w, "jitter of the echoed stream per call: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		ms(pct(0.50)), ms(pct(0.99)), ms(r.jitters[len(r.jitters)-1]))
	if n := r.node; n["packets_received_total"] > 0 {
		in := n["packets_received_total"]
		fmt.Fprintf(w, "callers→node: %.0f packets received, %.0f lost in transit (%.3f%%), %.0f too late for the jitter buffer, %.0f frames concealed, %.0f dropped by a slow reader; node sent %.0f\n",
			in, n["packets_lost_total"], 100*n["packets_lost_total"]/(in+n["packets_lost_total"]), n["packets_late_total"], n["frames_concealed_total"], n["frames_dropped_total"], n["packets_sent_total"])
	}
	if r.memPeak > 0 {
		fmt.Fprintf(w, "node memory: RSS %.1f MB idle, %.1f MB with %d calls: %.1f KB per call (Go heap %.1f KB per call)\n",
			r.memBefore/1e6, r.memPeak/1e6, r.up, (r.memPeak-r.memBefore)/float64(r.up)/1e3, (r.heapUp-r.heapBefore)/float64(r.up)/1e3)
		fmt.Fprintf(w, "node CPU during the hold: %.2f cores (%.1f ms CPU per call-second)\n",
			r.cpuSeconds/r.hold.Seconds(), 1e3*r.cpuSeconds/r.hold.Seconds()/float64(r.up))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchSIPMedia places the calls from a SIP gateway of its own, holds them
// with media both ways, and reads every call's RTP statistics before
// hanging up.
func benchSIPMedia(target, metricsURL, ext string, calls, ramp int, hold time.Duration, stderr io.Writer) (mediaResult, error) {
	res := mediaResult{wanted: calls, hold: hold, setupErrors: map[string]int{}}
	// The load generator is the measuring instrument, not the system under
	// test: it skips in-band DTMF detection to keep its CPU for pacing.
	uac, err := sip.New(sip.Config{Addr: "127.0.0.1:0", MaxCalls: calls + 10, MediaTimeout: -1, RTPPortMin: 40000, RTPPortMax: 59999, NoInbandDTMF: true},
		sip.Deps{Dialplan: sip.Extensions{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = uac.ListenAndServe(ctx) }()
	select {
	case <-uac.Ready():
	case <-time.After(5 * time.Second):
		return res, errors.New("load generator's SIP stack did not start")
	}
	res.memBefore, _ = scrape(metricsURL, "process_resident_memory_bytes")
	res.heapBefore, _ = scrape(metricsURL, "go_memstats_heap_inuse_bytes")

	stop := make(chan struct{}) // closed when the hold is over
	var mu sync.Mutex
	var up []*sip.Call
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(ramp))
	for i := 0; i < calls; i++ {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
			defer dcancel()
			c, err := uac.Dial(dctx, "sip:"+ext+"@"+target, sip.DialOptions{App: streamTone(stop), NoRecording: true, CallerID: "bench"})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.failed++
				res.setupErrors[err.Error()]++
				return
			}
			up = append(up, c)
		}()
	}
	tick.Stop()
	wg.Wait()
	res.up = len(up)
	fmt.Fprintf(stderr, "%d calls up (%d failed); holding %s\n", res.up, res.failed, hold)
	cpu0, _ := scrape(metricsURL, "process_cpu_seconds_total")
	time.Sleep(hold / 2)
	res.memPeak, _ = scrape(metricsURL, "process_resident_memory_bytes")
	res.heapUp, _ = scrape(metricsURL, "go_memstats_heap_inuse_bytes")
	time.Sleep(hold - hold/2)
	cpu1, _ := scrape(metricsURL, "process_cpu_seconds_total")
	res.cpuSeconds = cpu1 - cpu0
	for _, c := range up {
		st, err := c.Stats()
		if err != nil {
			continue
		}
		res.sent += st.PacketsSent
		res.received += st.PacketsReceived
		res.lost += st.Lost
		res.jitters = append(res.jitters, st.Jitter)
	}
	close(stop)
	hctx, hcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer hcancel()
	var hw sync.WaitGroup
	for _, c := range up {
		hw.Add(1)
		go func() { defer hw.Done(); _ = c.Hangup(hctx) }()
	}
	hw.Wait()
	if metricsURL != "" {
		time.Sleep(2 * time.Second) // the node records each leg's quality as it ends
		res.node = map[string]float64{}
		for _, m := range []string{"packets_received_total", "packets_lost_total", "packets_late_total", "frames_concealed_total", "frames_dropped_total", "packets_sent_total"} {
			if v, err := scrape(metricsURL, "parley_rtp_"+m); err == nil {
				res.node[m] = v
			}
		}
	}
	shut, shutCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer shutCancel()
	_ = uac.Shutdown(shut)
	return res, nil
}

// streamTone is the caller side of a benchmark call: a 440 Hz tone sent
// every 20 ms (paced by the leg) until stop, with the echo drained.
func streamTone(stop <-chan struct{}) media.Application {
	return media.ApplicationFunc(func(ctx context.Context, call media.Call) error {
		var tone [50]audio.Frame // one second, repeated
		for i := range tone {
			for j := range tone[i] {
				n := i*audio.FrameSamples + j
				tone[i][j] = int16(8000 * math.Sin(2*math.Pi*440*float64(n)/8000))
			}
		}
		go func() {
			for {
				select {
				case <-call.Frames():
				case <-call.Done():
					return
				}
			}
		}()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return nil
			case <-call.Done():
				return media.ErrHungUp
			default:
			}
			if err := call.Write(ctx, tone[i%len(tone)]); err != nil {
				return err
			}
		}
	})
}

// scrape reads one metric (summed over its series) from a Prometheus text
// endpoint; 0 and an error when it cannot.
func scrape(url, name string) (float64, error) {
	if url == "" {
		return 0, errors.New("no metrics URL")
	}
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != ' ' && line[len(name)] != '{') {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			sum += v
			found = true
		}
	}
	if !found {
		return 0, fmt.Errorf("metric %s not exposed at %s", name, url)
	}
	return sum, nil
}

var sippCounter = regexp.MustCompile(`(Successful call|Failed call)\s+\|\s+\d+\s+\|\s+(\d+)`)

// benchSIPSetup drives SIPp's built-in uac scenario (INVITE, 200, ACK, BYE
// with no hold) at rate for duration against the target's extension.
func benchSIPSetup(target, ext string, rate int, duration time.Duration, stdout, stderr io.Writer) int {
	if _, err := exec.LookPath("sipp"); err != nil {
		fmt.Fprintln(stderr, "parley bench sip: sipp not installed (apt-get install -y sip-tester)")
		return 1
	}
	total := rate * int(duration.Seconds())
	dir, err := os.MkdirTemp("", "parley-sipp-")
	if err != nil {
		fmt.Fprintln(stderr, "parley bench sip:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	port, err := freeUDPPort()
	if err != nil {
		fmt.Fprintln(stderr, "parley bench sip:", err)
		return 1
	}
	cmd := exec.Command("sipp", "-sn", "uac", target, "-s", ext, "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-m", strconv.Itoa(total), "-r", strconv.Itoa(rate), "-l", "5000", "-d", "0", "-recv_timeout", "10000", "-nostdin", "-trace_err")
	cmd.Dir = dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	ok, failed := 0, 0
	for _, m := range sippCounter.FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.Atoi(m[2])
		if m[1] == "Successful call" {
			ok = n
		} else {
			failed = n
		}
	}
	fmt.Fprintf(stdout, "SIPp uac at %d calls/s for %s: %d placed, %d answered, %d failed in %s (%.1f answered/s over the whole run, SIPp start and drain included)\n",
		rate, duration, total, ok, failed, elapsed.Round(time.Millisecond), float64(ok)/elapsed.Seconds())
	if err != nil || failed > 0 || ok != total {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		fmt.Fprintln(stderr, strings.Join(lines[max(0, len(lines)-25):], "\n"))
		return 1
	}
	return 0
}
