// Package failover_test crashes cluster members and checks grains come back
// elsewhere with their state. Each test runs in a process of its own (see
// runIsolated) so that the gRPC connections a client node leaves to killed
// members cannot race with nodes started later: protoactor's remote.Start
// replaces grpc's global logger.
package failover_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-cc/parley/actors"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/sqlite"
)

// The failover tests run three members as child processes of
// internal/testmember, built without the race detector (see its doc for the
// protoactor-go races that fire in any multi-member cluster), and talk to
// them from this race-instrumented process as a client-only node. A real
// SIGKILL crashes the member that hosts the grain.

const memberEnv = "PARLEY_ACTORS_TEST_MEMBER"

// memberSpec is what a member process needs, passed as JSON in memberEnv.
type memberSpec struct {
	Config actors.ClusterConfig
	DBPath string
}

var (
	memberBinOnce sync.Once
	memberBin     string
	memberBinErr  error
)

// buildMember builds internal/testmember once per test binary run.
func buildMember(t *testing.T) string {
	t.Helper()
	memberBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "parley-testmember")
		if err != nil {
			memberBinErr = err
			return
		}
		memberBin = filepath.Join(dir, "testmember")
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		out, err := exec.Command(goBin, "build", "-o", memberBin, "../internal/testmember").CombinedOutput()
		if err != nil {
			memberBinErr = fmt.Errorf("go build ./internal/testmember: %v\n%s", err, out)
		}
	})
	if memberBinErr != nil {
		t.Fatal(memberBinErr)
	}
	return memberBin
}

// memberProc is a member running in a child process.
type memberProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startMemberProc(t *testing.T, bin string, spec memberSpec) *memberProc {
	t.Helper()
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), memberEnv+"="+string(raw))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &memberProc{cmd: cmd, stderr: &syncBuffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start member process: %v", err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if testing.Verbose() {
			t.Logf("member %s stderr:\n%s", p.addr, p.stderr.String())
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- addr
			}
		}
	}()
	select {
	case p.addr = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("member process did not start; stderr:\n%s", p.stderr.String())
	}
	return p
}

// startMembers starts three member processes on one SQLite file and a
// client-only node in this process.
func startMembers(t *testing.T, cfgFor func(i int) actors.ClusterConfig) (*actors.Node, []*memberProc) {
	t.Helper()
	bin := buildMember(t)
	dbPath := filepath.Join(t.TempDir(), "shared.db")
	st, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatalf("create shared store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	procs := make([]*memberProc, 3)
	var wg sync.WaitGroup
	for i := range procs {
		cfg := cfgFor(i)
		cfg.Addr = "127.0.0.1:0"
		wg.Go(func() { procs[i] = startMemberProc(t, bin, memberSpec{Config: cfg, DBPath: dbPath}) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	cfg := cfgFor(-1)
	cfg.Addr = "127.0.0.1:0"
	cfg.ClientOnly = true
	n, err := actors.Start(context.Background(), cfg, actors.Deps{Store: st, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("start client node: %v", err)
	}
	t.Cleanup(func() { _ = n.Stop(false) })
	deadline := time.Now().Add(15 * time.Second)
	for len(n.Members()) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("client sees members %v, want 3", n.Members())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return n, procs
}

// testFailover records turns on a call hosted by a child member, SIGKILLs
// that member and checks the grain answers from another member within 5 s
// with every turn.
func testFailover(t *testing.T, n *actors.Node, procs []*memberProc) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const callID = "failover-call"
	if _, _, err := n.Calls().Start(ctx, store.Call{ID: callID, Direction: store.DirectionInbound, Channel: "sip", From: "+1555"}); err != nil {
		t.Fatalf("start call: %v", err)
	}
	for i := range 6 {
		seq, err := n.Calls().RecordTurn(ctx, callID, store.Turn{Speaker: store.SpeakerCaller, Text: fmt.Sprint("utterance ", i+1)})
		if err != nil || seq != i+1 {
			t.Fatalf("record turn %d: seq=%d err=%v", i+1, seq, err)
		}
	}
	tr, err := n.Calls().Transcript(ctx, callID)
	if err != nil {
		t.Fatal(err)
	}
	var host *memberProc
	for _, p := range procs {
		if p.addr == tr.Member {
			host = p
		}
	}
	if host == nil {
		t.Fatalf("call hosted at %q, which is none of the members", tr.Member)
	}
	t.Logf("call grain %s on %s; killing that process", callID, host.addr)
	killedAt := time.Now()
	if err := host.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill member process: %v", err)
	}

	fctx, fcancel := context.WithTimeout(ctx, 5*time.Second)
	defer fcancel()
	tr, err = n.Calls().Transcript(fctx, callID)
	took := time.Since(killedAt)
	if err != nil {
		t.Fatalf("transcript after killing %s: %v (after %v)", host.addr, err, took)
	}
	t.Logf("call grain answered from %s %v after the kill", tr.Member, took)
	if tr.Member == host.addr {
		t.Fatalf("transcript answered by the killed member %s", host.addr)
	}
	if len(tr.Turns) != 6 {
		t.Fatalf("after failover %d turns, want 6", len(tr.Turns))
	}
	for i, turn := range tr.Turns {
		if turn.Seq != i+1 || turn.Text != fmt.Sprint("utterance ", i+1) {
			t.Fatalf("turn %d after failover = %+v", i, turn)
		}
	}
	seq, err := n.Calls().RecordTurn(ctx, callID, store.Turn{Speaker: store.SpeakerBot, Text: "still here"})
	if err != nil || seq != 7 {
		t.Fatalf("turn after failover: seq=%d err=%v, want 7", seq, err)
	}
}

// isolatedEnv marks the re-executed test process that runs one failover
// test alone: a test's client node leaves gRPC connections to the members it
// killed, which race with the grpc logger that the next node's remote.Start
// replaces.
const isolatedEnv = "PARLEY_ACTORS_FAILOVER_ISOLATED"

// runIsolated re-runs the named test in a fresh process and reports its
// outcome; it returns true when the caller is that process and should run
// the test body.
func runIsolated(t *testing.T) bool {
	t.Helper()
	if os.Getenv(isolatedEnv) == t.Name() {
		return true
	}
	args := []string{"-test.run=^" + t.Name() + "$", "-test.count=1"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), isolatedEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if testing.Verbose() || err != nil {
		t.Logf("isolated run of %s:\n%s", t.Name(), out)
	}
	if err != nil {
		t.Fatalf("%s failed in its own process: %v", t.Name(), err)
	}
	if strings.Contains(string(out), "--- SKIP: "+t.Name()) {
		t.Skip("skipped in its own process (see log with -v)")
	}
	if !strings.Contains(string(out), "ok") && !strings.Contains(string(out), "PASS") {
		t.Fatalf("%s did not report success:\n%s", t.Name(), out)
	}
	return false
}

func TestFailoverAutomanaged(t *testing.T) {
	if !runIsolated(t) {
		return
	}
	ports := freePorts(t, 3)
	seeds := []string{hostPort(ports[0]), hostPort(ports[1]), hostPort(ports[2])}
	n, procs := startMembers(t, func(i int) actors.ClusterConfig {
		cfg := actors.ClusterConfig{Provider: actors.ProviderAutomanaged, Name: "failover-am", Seeds: seeds, AutoManageRefresh: 200 * time.Millisecond}
		if i >= 0 {
			cfg.AutoManageAddr = seeds[i]
		}
		return cfg
	})
	testFailover(t, n, procs)
}

func TestFailoverEtcd(t *testing.T) {
	if !runIsolated(t) {
		return
	}
	endpoint := startEtcd(t)
	n, procs := startMembers(t, func(int) actors.ClusterConfig {
		return actors.ClusterConfig{Provider: actors.ProviderEtcd, Name: "failover-etcd", EtcdEndpoints: []string{endpoint}}
	})
	testFailover(t, n, procs)
}

// startEtcd runs /usr/bin/etcd on free loopback ports with a temp data dir.
func startEtcd(t *testing.T) string {
	t.Helper()
	const bin = "/usr/bin/etcd"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (apt-get install etcd-server): %v", bin, err)
		}
		t.Skipf("%s is missing; install Debian etcd-server to run the etcd failover test", bin)
	}
	ports := freePorts(t, 2)
	client, peer := "http://"+hostPort(ports[0]), "http://"+hostPort(ports[1])
	cmd := exec.Command(bin, "--name", "parley-test", "--data-dir", t.TempDir(),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "parley-test="+peer)
	if testing.Verbose() {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := exec.Command("curl", "-s", client+"/health").Output()
		if err == nil && strings.Contains(string(out), "true") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd on %s did not become healthy: %v %s", client, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return hostPort(ports[0])
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return ports
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// testLogger shows logs only with -v.
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
