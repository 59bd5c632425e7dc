package sip

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/media"
)

// requireBinary finds a peer program or skips; with CI=true a missing peer fails the test.
func requireBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (apt-get install -y sip-tester baresip): %v", name, err)
		}
		t.Skipf("%s is not installed (apt-get install -y sip-tester baresip); skipping the real-peer test", name)
	}
	return p
}

// sharedData finds the project's public data folder: $PARLEY_DATA, else shared/data above the package.
func sharedData(t testing.TB, sub string) string {
	t.Helper()
	if d := os.Getenv("PARLEY_DATA"); d != "" {
		p := filepath.Join(d, sub)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "data", sub)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("shared data %q not found (set PARLEY_DATA)", sub)
	}
	t.Skipf("shared data %q not found (set PARLEY_DATA to the shared/data folder)", sub)
	return ""
}

// eventLog records call events for assertions.
type eventLog struct {
	mu     sync.Mutex
	events []Event
	notify chan struct{}
}

func newEventLog() *eventLog { return &eventLog{notify: make(chan struct{}, 1)} }

func (l *eventLog) CallEvent(_ context.Context, e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

func (l *eventLog) count(kind EventKind) int {
	n := 0
	for _, e := range l.all() {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// wait returns the first event matching ok, failing the test after timeout.
func (l *eventLog) wait(t testing.TB, timeout time.Duration, what string, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		for _, e := range l.all() {
			if ok(e) {
				return e
			}
		}
		select {
		case <-l.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no %s event within %v; events: %+v", what, timeout, l.all())
		}
	}
}

// waitForCall blocks until the application sees the call end.
func waitForCall(ctx context.Context, call media.Call) error {
	select {
	case <-ctx.Done():
		return nil
	case <-call.Done():
		return nil
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startServer runs a Server on a random loopback port until the test ends.
func startServer(t testing.TB, cfg Config, deps Deps) *Server {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.RTPPortMin == 0 {
		base := 30000 + 2*(int(time.Now().UnixNano()/1000)%5000)
		cfg.RTPPortMin, cfg.RTPPortMax = base, base+998
	}
	if deps.Logger == nil {
		deps.Logger = testLogger(t)
	}
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.ListenAndServe(ctx) }()
	select {
	case <-s.Ready():
	case err := <-errc:
		t.Fatalf("ListenAndServe: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("server not ready in 5 s")
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer scancel()
		_ = s.Shutdown(sctx)
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("ListenAndServe returned %v", err)
		}
	})
	return s
}

// sippResult is the outcome of one SIPp run.
type sippResult struct {
	err    error
	output string
}

// runSIPp runs sipp against the server from dir with the given arguments plus loopback binding options.
func runSIPp(t testing.TB, ctx context.Context, dir string, s *Server, args ...string) sippResult {
	t.Helper()
	bin := requireBinary(t, "sipp")
	for attempt := 1; ; attempt++ {
		port := freeUDPPort(t)
		full := append([]string{"127.0.0.1:" + strconv.Itoa(s.Addr().Port), "-i", "127.0.0.1", "-p", strconv.Itoa(port),
			"-mi", "127.0.0.1", "-mp", strconv.Itoa(freeUDPPort(t) &^ 1), "-nostdin", "-trace_err", "-error_file", filepath.Join(t.TempDir(), "err.log"),
			"-timeout", "60s", "-max_recv_loops", "100000"}, args...)
		cmd := exec.CommandContext(ctx, bin, full...)
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if err != nil && attempt < 3 && strings.Contains(out.String(), "Address already in use") {
			continue // another test took the port between our check and SIPp's bind
		}
		errLog, _ := os.ReadFile(full[slicesIndex(full, "-error_file")+1])
		return sippResult{err: err, output: out.String() + "\n--- sipp errors ---\n" + lastLines(string(errLog), 40)}
	}
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// writeScenario stores a SIPp scenario in a temp dir and returns its path.
func writeScenario(t testing.TB, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rejectScenario sends an INVITE with the given m= formats and rtpmap lines and expects a final status code.
func rejectScenario(t testing.TB, formats, rtpmaps string, want int) string {
	return writeScenario(t, fmt.Sprintf("reject%d.xml", want), `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="reject">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP `+formats+`
`+rtpmaps+`
    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="`+strconv.Itoa(want)+`"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
</scenario>
`)
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startSIPpUAS runs sipp as an answering peer on a free port; wait returns its outcome.
func startSIPpUAS(t testing.TB, ctx context.Context, args ...string) (port int, wait func() sippResult) {
	t.Helper()
	bin := requireBinary(t, "sipp")
	port = freeUDPPort(t)
	errFile := filepath.Join(t.TempDir(), "err.log")
	full := append([]string{"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-mi", "127.0.0.1", "-mp", strconv.Itoa(freeUDPPort(t) &^ 1),
		"-nostdin", "-trace_err", "-error_file", errFile, "-m", "1", "-timeout", "30s"}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Dir = t.TempDir()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan sippResult, 1)
	go func() {
		err := cmd.Wait()
		errLog, _ := os.ReadFile(errFile)
		done <- sippResult{err: err, output: out.String() + "\n--- sipp errors ---\n" + lastLines(string(errLog), 40)}
	}()
	time.Sleep(300 * time.Millisecond) // let sipp bind its socket
	var once sync.Once
	var res sippResult
	return port, func() sippResult {
		once.Do(func() { res = <-done })
		return res
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// freeUDPPort returns a loopback port free for UDP and for TCP (SIPp's t1
// transport binds TCP on it); other test packages pick ports concurrently,
// so runSIPp still retries a bind that lost the race.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	for range 50 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return 0
}
