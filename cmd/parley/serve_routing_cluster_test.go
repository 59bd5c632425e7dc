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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-cc/parley/store/postgres/pgtest"
)

const clusterRoutingConfig = `
skills: [support]
offers: {timeout: 10s, max_misses: 3}
queues:
  - {id: support, wrap_up: 0s, service_level: 20s, steps: [{require: {skill: support}}]}
`

// BenchmarkHandoffToOfferThreeServes measures, across three `parley serve`
// processes (automanaged cluster, one PostgreSQL schema), the time from a
// hand-off request (POST /api/v1/routing/handoffs on member 1: summary of
// the call's transcript, handoff event, enqueue) to the offer arriving on
// the agent's desktop WebSocket connected to member 3. The Queue, Agent and
// Call grains live wherever placement puts them. Between hand-offs
// (untimed) the agent accepts and finishes. Run with a fixed count:
//
//	go test ./cmd/parley -run '^$' -bench HandoffToOfferThreeServes -benchtime 300x
func BenchmarkHandoffToOfferThreeServes(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "parley")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build parley: %v\n%s", err, out)
	}
	dsn := pgtest.FreshDSN(b)
	rc := filepath.Join(b.TempDir(), "routing.yaml")
	if err := os.WriteFile(rc, []byte(clusterRoutingConfig), 0o644); err != nil {
		b.Fatal(err)
	}
	port := func() int { return freePortTB(b) }
	var seeds []string
	for range 3 {
		seeds = append(seeds, fmt.Sprintf("127.0.0.1:%d", port()))
	}
	members := make([]*member, 3)
	for i := range members {
		m := &member{http: fmt.Sprintf("127.0.0.1:%d", port()), clusterAddr: fmt.Sprintf("127.0.0.1:%d", port()), log: &bytes.Buffer{}}
		m.cmd = exec.Command(bin, "serve", "--cluster-provider", "automanaged", "--cluster-name", "bench-handoff",
			"--http-addr", m.http, "--sip-addr", "127.0.0.1:0", "--cluster-addr", m.clusterAddr,
			"--automanaged-addr", seeds[i], "--automanaged-seeds", strings.Join(seeds, ","),
			"--data-dir", b.TempDir(), "--db", dsn, "--demo=false", "--log-level", "warn", "--routing-config", rc)
		m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
		if err := m.cmd.Start(); err != nil {
			b.Fatal(err)
		}
		members[i] = m
		b.Cleanup(func() { _ = m.cmd.Process.Kill(); _ = m.cmd.Wait() })
	}
	for i, m := range members {
		deadline := time.Now().Add(60 * time.Second)
		for {
			res, err := http.Get("http://" + m.http + "/readyz")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				b.Fatalf("member %d not ready; log:\n%s", i+1, m.log.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	first, last := "http://"+members[0].http, members[2].http
	send := func(method, url, body string, want int) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != want {
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(res.Body)
			b.Fatalf("%s %s: %d, want %d: %s", method, url, res.StatusCode, want, buf.String())
		}
	}
	send("POST", first+"/api/v1/agents", `{"id":"bench-a","name":"Bench","skills":[{"name":"support","proficiency":4}],"languages":["en"],"capacity":1}`, 201)

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+last+"/ws/agent?agent=bench-a", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	type msg struct {
		Type  string          `json:"type"`
		ID    string          `json:"id"`
		Error string          `json:"error"`
		State json.RawMessage `json:"state"`
		Offer struct {
			ID        string `json:"id"`
			CallID    string `json:"call_id"`
			ContactID string `json:"contact_id"`
		} `json:"offer"`
	}
	// next reads until a message of typ (or an ack/error with id).
	next := func(typ, id string) msg {
		_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			var m msg
			if err := ws.ReadJSON(&m); err != nil {
				b.Fatalf("desktop: waiting for %s: %v", typ, err)
			}
			if m.Type == "error" {
				b.Fatalf("desktop error waiting for %s: %s", typ, m.Error)
			}
			if m.Type == typ && (id == "" || m.ID == id) {
				return m
			}
		}
	}
	next("hello", "")
	if err := ws.WriteJSON(map[string]any{"type": "presence", "presence": "available", "id": "p"}); err != nil {
		b.Fatal(err)
	}
	next("ack", "p")
	idle := func() {
		// The desktop says the agent is idle; the queues learn it from the
		// Agent grain a moment later.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			var a struct {
				WorkState string `json:"work_state"`
				Presence  string `json:"presence"`
			}
			res, err := http.Get(first + "/api/v1/routing/agents/bench-a")
			if err == nil {
				_ = json.NewDecoder(res.Body).Decode(&a)
				res.Body.Close()
				if a.WorkState == "idle" && a.Presence == "available" {
					time.Sleep(20 * time.Millisecond)
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.Fatal("agent not idle again")
	}

	var lat []time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		call := fmt.Sprintf("bench-call-%d", i)
		i++
		send("POST", first+"/api/v1/calls/"+call+"/turns", `{"speaker":"caller","text":"my internet keeps dropping and I want to talk to someone"}`, 201)
		idle()
		b.StartTimer()
		t0 := time.Now()
		send("POST", first+"/api/v1/routing/handoffs", fmt.Sprintf(`{"call_id":%q,"queue":"support","reason":"requested"}`, call), 201)
		var offer msg
		for offer.Offer.CallID != call {
			offer = next("offer", "")
		}
		lat = append(lat, time.Since(t0))
		b.StopTimer()
		if err := ws.WriteJSON(map[string]any{"type": "accept", "offer_id": offer.Offer.ID, "id": "acc"}); err != nil {
			b.Fatal(err)
		}
		next("ack", "acc")
		if err := ws.WriteJSON(map[string]any{"type": "finish", "contact_id": offer.Offer.ContactID, "id": "fin"}); err != nil {
			b.Fatal(err)
		}
		next("ack", "fin")
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(float64(q(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.Logf("%d hand-offs on member 1 -> offers on the desktop of member 3: p50 %v, p99 %v, max %v", len(lat),
		q(0.5).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
}

// freePortTB is freePort for benchmarks.
func freePortTB(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
