package actors

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/parley-cc/parley/routing"
	"github.com/parley-cc/parley/store/sqlite"
)

// testRoutingYAML is the ACD configuration of the grain tests: short offer
// timeouts and wrap-up so the flows run in test time.
const testRoutingYAML = `
skills: [support, billing]
break_reasons: [lunch, training]
priority:
  rules: [{attribute: tier, in: [vip], points: 1000}]
offers: {timeout: 400ms, max_misses: 2, miss_hold: 1ms}
queues:
  - {id: support, wrap_up: 300ms, service_level: 20s, steps: [{require: {skill: support}}]}
  - {id: billing, steps: [{require: {skill: billing}}]}
  - {id: q, steps: [{require: {skill: support}}]}
  - {id: q1, steps: [{require: {skill: support}}]}
  - {id: q2, steps: [{require: {skill: support}}]}
  - {id: q3, steps: [{require: {skill: support}}]}
`

func testRouting(t testing.TB) *routing.Config {
	t.Helper()
	cfg, err := routing.ParseConfig([]byte(testRoutingYAML))
	if err != nil {
		t.Fatalf("test routing config: %v", err)
	}
	return cfg
}

// openStore opens a fresh SQLite store in the test's temp dir.
func openStore(t testing.TB, dir string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "parley.db"))
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// testLogger shows logs only with -v, so failing runs can be read.
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startLocal starts a one-member cluster.
func startLocal(t testing.TB, st Store, cfg ClusterConfig) *Node {
	t.Helper()
	n, err := Start(context.Background(), cfg, Deps{Store: st, Logger: testLogger(t), Routing: testRouting(t)})
	if err != nil {
		t.Fatalf("start local member: %v", err)
	}
	t.Cleanup(func() { _ = n.Stop(false) })
	return n
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
