package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-cc/parley/store/postgres/pgtest"
)

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type member struct {
	cmd         *exec.Cmd
	http        string
	clusterAddr string
	log         *bytes.Buffer
}

func buildParley(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "parley")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build parley: %v\n%s", err, out)
	}
	return bin
}

func startEtcd(t *testing.T) string {
	t.Helper()
	etcd, err := exec.LookPath("etcd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("etcd is not installed (deploy/install-deps.sh test installs etcd-server)")
		}
		t.Skip("etcd is not installed; apt-get install etcd-server")
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cmd := exec.Command(etcd, "--name", "t", "--data-dir", t.TempDir(),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "t="+peer)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return strings.TrimPrefix(client, "http://")
}

// TestThreeMemberCluster starts three `parley serve` processes as one cluster
// sharing one PostgreSQL store, writes through member 1, reads through member
// 3, then SIGKILLs the member hosting a Call grain and expects the grain to
// answer from another member within 5 s with every turn intact.
func TestThreeMemberCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	bin := buildParley(t)
	for _, provider := range []string{"automanaged", "etcd"} {
		t.Run(provider, func(t *testing.T) {
			dsn := pgtest.FreshDSN(t)
			var extra []string
			if provider == "etcd" {
				extra = []string{"--etcd-endpoints", startEtcd(t)}
			}
			members := make([]*member, 3)
			var seeds []string
			amPorts := make([]int, 3)
			for i := range members {
				amPorts[i] = freePort(t)
				seeds = append(seeds, fmt.Sprintf("127.0.0.1:%d", amPorts[i]))
			}
			for i := range members {
				m := &member{http: fmt.Sprintf("127.0.0.1:%d", freePort(t)), clusterAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), log: &bytes.Buffer{}}
				args := []string{"serve", "--cluster-provider", provider, "--cluster-name", "ct" + provider,
					"--http-addr", m.http, "--sip-addr", "127.0.0.1:0", "--cluster-addr", m.clusterAddr,
					"--data-dir", t.TempDir(), "--db", dsn, "--demo=false", "--log-level", "warn"}
				if provider == "automanaged" {
					args = append(args, "--automanaged-addr", seeds[i], "--automanaged-seeds", strings.Join(seeds, ","))
				}
				m.cmd = exec.Command(bin, append(args, extra...)...)
				m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
				if err := m.cmd.Start(); err != nil {
					t.Fatal(err)
				}
				members[i] = m
				t.Cleanup(func() { m.cmd.Process.Kill(); m.cmd.Wait() })
			}
			for i, m := range members {
				waitReady(t, m, i)
			}

			// An agent created through member 1 reads back through member 3.
			post(t, members[0], "/api/v1/agents", `{"id":"a-1","name":"Ada","skills":[{"name":"billing","proficiency":4}],"languages":["en"],"capacity":1}`, http.StatusCreated)
			var agent struct{ Name string }
			get(t, members[2], "/api/v1/agents/a-1", &agent)
			if agent.Name != "Ada" {
				t.Fatalf("member 3 read agent name %q, want Ada", agent.Name)
			}

			// Record turns on a call, find the member hosting its grain, kill it.
			const turns = 5
			for i := 1; i <= turns; i++ {
				post(t, members[0], "/api/v1/calls/call-ft/turns", fmt.Sprintf(`{"speaker":"caller","text":"turn %d"}`, i), http.StatusCreated)
			}
			var tr struct {
				Member, Source string
				Turns          []struct {
					Seq  int
					Text string
				}
			}
			get(t, members[1], "/api/v1/calls/call-ft", &tr)
			victim := -1
			for i, m := range members {
				if m.clusterAddr == tr.Member {
					victim = i
				}
			}
			if victim < 0 {
				t.Fatalf("call hosted by %q, which is none of the members", tr.Member)
			}
			if err := members[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			// etcd notices a dead member when its lease (2 s, see
			// actors.ClusterConfig.EtcdLeaseTTL) expires; automanaged when
			// a seed poll fails.
			const bound = 5 * time.Second
			killed := time.Now()
			reader := members[(victim+1)%3]
			for {
				var after struct {
					Member, Source string
					Turns          []struct {
						Seq  int
						Text string
					}
				}
				code := getStatus(reader, "/api/v1/calls/call-ft", &after)
				if code == http.StatusOK && after.Source == "live" && after.Member != tr.Member {
					if len(after.Turns) != turns {
						t.Fatalf("after failover the call has %d turns, want %d", len(after.Turns), turns)
					}
					for i, turn := range after.Turns {
						if turn.Seq != i+1 || turn.Text != fmt.Sprintf("turn %d", i+1) {
							t.Fatalf("turn %d after failover = %+v", i+1, turn)
						}
					}
					t.Logf("%s: grain answered from %s %v after SIGKILL of %s", provider, after.Member, time.Since(killed).Round(time.Millisecond), tr.Member)
					break
				}
				if time.Since(killed) > bound {
					t.Fatalf("no live answer from another member within %v (last status %d, source %q, member %q)", bound, code, after.Source, after.Member)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

func waitReady(t *testing.T, m *member, i int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + m.http + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("member %d not ready in 30 s; log:\n%s", i+1, m.log.String())
}

func post(t *testing.T, m *member, path, body string, want int) {
	t.Helper()
	resp, err := http.Post("http://"+m.http+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("POST %s: status %d, want %d: %s", path, resp.StatusCode, want, b.String())
	}
}

func get(t *testing.T, m *member, path string, into any) {
	t.Helper()
	if code := getStatus(m, path, into); code != http.StatusOK {
		t.Fatalf("GET %s: status %d", path, code)
	}
}

func getStatus(m *member, path string, into any) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + m.http + path)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		json.NewDecoder(resp.Body).Decode(into)
	}
	return resp.StatusCode
}
