package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const testRoutingConfig = `
skills: [support, billing]
break_reasons: [lunch, training]
priority:
  rules: [{attribute: tier, in: [vip], points: 1000}]
offers: {timeout: 3s, max_misses: 3, miss_hold: 1ms}
queues:
  - {id: support, wrap_up: 200ms, service_level: 20s, steps: [{require: {skill: support}}]}
`

// desktop is one agent desktop WebSocket in a test.
type desktop struct {
	t    *testing.T
	ws   *websocket.Conn
	seen []deskMsg     // messages next skipped
	wait time.Duration // how long next waits; default 10s
}

type deskMsg struct {
	Type      string          `json:"type"`
	ID        string          `json:"id"`
	Error     string          `json:"error"`
	Duplicate bool            `json:"duplicate"`
	Reason    string          `json:"reason"`
	State     json.RawMessage `json:"state"`
	Offer     struct {
		ID        string `json:"id"`
		ContactID string `json:"contact_id"`
		CallID    string `json:"call_id"`
	} `json:"offer"`
	Summary struct {
		Intent   string            `json:"intent"`
		Wants    string            `json:"wants"`
		Tried    []string          `json:"tried"`
		Facts    map[string]string `json:"facts"`
		NextStep string            `json:"next_step"`
		Reason   string            `json:"reason"`
	} `json:"summary"`
	Contact struct {
		ContactID string `json:"contact_id"`
		CallID    string `json:"call_id"`
	} `json:"contact"`
	Turn struct {
		Speaker string `json:"speaker"`
		Text    string `json:"text"`
	} `json:"turn"`
}

func dialDesk(t *testing.T, base, query string) (*desktop, *http.Response, error) {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws/agent?"+query, nil)
	if err != nil {
		return nil, resp, err
	}
	d := &desktop{t: t, ws: ws}
	t.Cleanup(func() { _ = ws.Close() })
	return d, resp, nil
}

// next reads until a message of type typ (skipping others).
// ack returns the acknowledgement of the request with id, skipping those
// of earlier requests (a finish is acknowledged too, in its own time).
func (d *desktop) ack(id string) deskMsg {
	d.t.Helper()
	for {
		if m := d.next("ack"); m.ID == id {
			return m
		}
	}
}

func (d *desktop) next(typ string) deskMsg {
	d.t.Helper()
	wait := d.wait
	if wait == 0 {
		wait = 10 * time.Second
	}
	_ = d.ws.SetReadDeadline(time.Now().Add(wait))
	for {
		var m deskMsg
		if err := d.ws.ReadJSON(&m); err != nil {
			d.t.Fatalf("waiting for %s: %v", typ, err)
		}
		if m.Type == "error" && typ != "error" {
			d.t.Fatalf("desktop error while waiting for %s: %s", typ, m.Error)
		}
		if m.Type == typ || typ == "__any" {
			return m
		}
		d.seen = append(d.seen, m)
	}
}

func (d *desktop) send(m map[string]any) {
	d.t.Helper()
	if err := d.ws.WriteJSON(m); err != nil {
		d.t.Fatal(err)
	}
}

func TestAgentDesktopHandoffEndToEnd(t *testing.T) {
	dir := t.TempDir()
	rc := filepath.Join(dir, "routing.yaml")
	if err := os.WriteFile(rc, []byte(testRoutingConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	base := startSIPNode(t, func(cfg *Config) {
		cfg.Demo = true
		cfg.RoutingConfig = rc
		cfg.RoutingAgentTokens = []string{"alice=alice-secret", "bob=bob-secret"}
		cfg.ShutdownTimeout = 5 * time.Second
	}).base
	client := &http.Client{Timeout: 30 * time.Second}
	do := func(method, path, body string, want int) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		return b
	}
	turn := func(call, speaker, text, intent string, sentiment float64) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"speaker": speaker, "text": text, "intent": intent, "confidence": 0.9, "sentiment": sentiment})
		do("POST", "/api/v1/calls/"+call+"/turns", string(b), 201)
	}

	// The page and the auth rules.
	if page := string(do("GET", "/agent", "", 200)); !strings.Contains(page, "/ws/agent") || !strings.Contains(page, "/static/softphone.js") {
		t.Fatal("agent page does not use the desktop socket and the softphone")
	}
	if _, resp, err := dialDesk(t, base, "agent=alice&token=wrong"); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("wrong token: %v %v, want 401", err, resp)
	}
	if _, resp, err := dialDesk(t, base, "agent=nobody"); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("agent without a token: %v %v, want 401", err, resp)
	}
	alice, resp, err := dialDesk(t, base, "agent=alice&token=alice-secret")
	if err != nil {
		var body []byte
		if resp != nil {
			body, _ = io.ReadAll(resp.Body)
		}
		t.Fatalf("%v: %v %s", err, resp, body)
	}
	hello := alice.next("hello")
	if !strings.Contains(string(hello.State), `"presence":"logged_out"`) {
		t.Fatalf("hello state %s", hello.State)
	}
	alice.send(map[string]any{"type": "presence", "presence": "break", "reason": "nap", "id": "p0"})
	if m := alice.next("error"); m.ID != "p0" || !strings.Contains(m.Error, "nap") {
		t.Fatalf("unknown break reason: %+v", m)
	}
	alice.send(map[string]any{"type": "presence", "presence": "available", "id": "p1"})
	if m := alice.next("ack"); !strings.Contains(string(m.State), `"presence":"available"`) {
		t.Fatalf("presence ack %s", m.State)
	}

	// The bot hands a call over: the agent gets the offer with the summary.
	turn("call-a", "caller", "Hi, my name is Dana Reyes.", "greeting", 0.3)
	turn("call-a", "caller", "I was charged twice for order 88412 and I want a refund", "billing_refund", 0)
	turn("call-a", "bot", "You can request a refund from the Orders page under Billing.", "", 0)
	turn("call-a", "caller", "I did that already and it failed. Get me a real person.", "agent_request", -0.7)
	start := time.Now()
	var hv struct {
		Queued   bool   `json:"queued"`
		Position int    `json:"position"`
		Announce string `json:"announcement"`
	}
	if err := json.Unmarshal(do("POST", "/api/v1/routing/handoffs", `{"call_id":"call-a","queue":"support","reason":"requested"}`, 201), &hv); err != nil || !hv.Queued {
		t.Fatalf("handoff: %+v %v", hv, err)
	}
	offer := alice.next("offer")
	t.Logf("hand-off request to offer on the desktop: %v", time.Since(start))
	if offer.Offer.CallID != "call-a" || offer.Summary.Intent != "billing_refund" || !strings.Contains(offer.Summary.Wants, "charged twice") ||
		offer.Summary.Facts["reference"] != "88412" || len(offer.Summary.Tried) != 1 || offer.Summary.Reason != "requested" || offer.Summary.NextStep == "" {
		t.Fatalf("offer %+v", offer)
	}
	alice.send(map[string]any{"type": "accept", "offer_id": offer.Offer.ID, "id": "a1"})
	if m := alice.next("ack"); m.ID != "a1" || m.Duplicate {
		t.Fatalf("accept ack %+v", m)
	}
	alice.send(map[string]any{"type": "accept", "offer_id": offer.Offer.ID, "id": "a2"})
	if m := alice.next("ack"); m.ID != "a2" || !m.Duplicate {
		t.Fatalf("duplicate accept ack %+v, want duplicate", m)
	}
	// The live transcript (the bot's part included) and agent-assist
	// suggestions for the caller's utterances reach the desktop.
	waitSeen := func(what string, ok func(deskMsg) bool) {
		t.Helper()
		for i := 0; ; i++ {
			for _, m := range alice.seen {
				if ok(m) {
					return
				}
			}
			if i == 20 {
				t.Fatalf("desktop never got %s", what)
			}
			alice.seen = append(alice.seen, alice.next("__any"))
		}
	}
	waitSeen("the first turn", func(m deskMsg) bool { return m.Type == "turn" && strings.Contains(m.Turn.Text, "Dana") })
	waitSeen("the bot's turn", func(m deskMsg) bool { return m.Type == "turn" && m.Turn.Speaker == "bot" })
	waitSeen("a suggestion", func(m deskMsg) bool { return m.Type == "suggestion" })
	var call struct {
		Call struct {
			State   string `json:"state"`
			AgentID string `json:"agent_id"`
		} `json:"call"`
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
	}
	if err := json.Unmarshal(do("GET", "/api/v1/calls/call-a", "", 200), &call); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, e := range call.Events {
		kinds[e.Type] = true
	}
	if call.Call.State != "agent" || call.Call.AgentID != "alice" || !kinds["handoff"] || !kinds["queued"] {
		t.Fatalf("call after accept: %+v", call)
	}
	var q struct {
		Answered int `json:"answered"`
		Contacts []struct {
			State   string `json:"state"`
			AgentID string `json:"agent_id"`
		} `json:"contacts"`
	}
	if err := json.Unmarshal(do("GET", "/api/v1/routing/queues/support", "", 200), &q); err != nil || q.Answered != 1 || len(q.Contacts) != 1 || q.Contacts[0].AgentID != "alice" {
		t.Fatalf("queue stats: %+v %v", q, err)
	}

	// A normal caller then a VIP queue while alice finishes: the VIP is
	// offered first.
	alice.send(map[string]any{"type": "finish", "contact_id": "call-a", "id": "f1"})
	alice.next("ended")
	alice.send(map[string]any{"type": "presence", "presence": "break", "reason": "lunch", "id": "p2"})
	if m := alice.ack("p2"); !strings.Contains(string(m.State), `"break_reason":"lunch"`) {
		t.Fatalf("break ack %s", m.State)
	}
	turn("call-n", "caller", "I need help with my router please", "tech_support", 0.1)
	turn("call-v", "caller", "I need help with my account please", "account", 0.1)
	do("POST", "/api/v1/routing/handoffs", `{"call_id":"call-n","queue":"support","reason":"requested"}`, 201)
	do("POST", "/api/v1/routing/handoffs", `{"call_id":"call-v","queue":"support","reason":"requested","attributes":{"tier":"vip"}}`, 201)
	var pos struct {
		Position int `json:"position"`
	}
	if err := json.Unmarshal(do("GET", "/api/v1/routing/queues/support/contacts/call-v", "", 200), &pos); err != nil || pos.Position != 1 {
		t.Fatalf("VIP position %+v %v, want 1", pos, err)
	}
	do("PUT", "/api/v1/routing/agents/alice/presence", `{"presence":"available"}`, 200)
	if m := alice.next("offer"); m.Offer.CallID != "call-v" {
		t.Fatalf("first offer after the break went to %s, want the VIP call-v", m.Offer.CallID)
	}

	// Bob's desktop goes away mid-offer: the offer returns to the queue and
	// bob is logged out.
	bob, _, err := dialDesk(t, base, "agent=bob&token=bob-secret")
	if err != nil {
		t.Fatal(err)
	}
	bob.next("hello")
	bob.send(map[string]any{"type": "presence", "presence": "available"})
	if m := bob.next("offer"); m.Offer.CallID != "call-n" {
		t.Fatalf("bob offered %s, want call-n", m.Offer.CallID)
	}
	_ = bob.ws.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var a struct {
			Presence string `json:"presence"`
			Offers   []any  `json:"offers"`
		}
		_ = json.Unmarshal(do("GET", "/api/v1/routing/agents/bob", "", 200), &a)
		if a.Presence == "logged_out" && len(a.Offers) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob after disconnect: %+v", a)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := json.Unmarshal(do("GET", "/api/v1/routing/queues/support/contacts/call-n", "", 200), &pos); err != nil || pos.Position != 1 {
		t.Fatalf("call-n after bob left: %+v %v, want waiting at position 1", pos, err)
	}
	// Errors are named.
	do("POST", "/api/v1/routing/handoffs", `{"call_id":"call-x","queue":"nosuch"}`, 404)
	do("PUT", "/api/v1/routing/agents/alice/presence", `{"presence":"asleep"}`, 400)
	do("GET", "/api/v1/routing/queues/support/staffing?arrivals_per_hour=720&aht_secs=240&threshold_secs=15&agents=55", "", 200)
	do("GET", "/api/v1/routing/queues/support/staffing?target=2", "", 400)
}

// A routing configuration naming an unknown skill or queue stops the node
// at start, naming the setting and the place.
func TestRoutingConfigRejectedAtLoad(t *testing.T) {
	for name, body := range map[string]string{
		"unknown skill":          "skills: [support]\nqueues:\n  - {id: q, steps: [{require: {skill: billing}}]}\n",
		"unknown overflow queue": "skills: [support]\nqueues:\n  - {id: q, overflow: {after: 30s, queue: nowhere}, steps: [{require: {skill: support}}]}\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "routing.yaml")
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.RoutingConfig = path
			err := cfg.Validate()
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != "routing-config" || !strings.Contains(err.Error(), "queues[0]") {
				t.Fatalf("validate: %v, want a routing-config error locating queues[0]", err)
			}
		})
	}
	cfg := DefaultConfig()
	cfg.RoutingAgentTokens = []string{"alice"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "routing-agent-tokens") {
		t.Fatalf("token without agent=: %v", err)
	}
}
