package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/dialplan"
	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/g711"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/sqlite"
	"github.com/parley-cc/parley/voicebot/tts"
	ttslocal "github.com/parley-cc/parley/voicebot/tts/local"
)

// The routing must-shows over the real gateway: SIPp callers speak (flite)
// to the demo bot on an in-process parley serve (pocketsphinx grammar from
// the demo's intents), agents answer on the desktop WebSocket and their
// baresip phones are bridged.

// utterance is something a caller says, then the silence after it.
type utterance struct {
	text  string
	after time.Duration
}

// speechScript writes what a SIPp caller sends as raw µ-law (speech.ulaw
// in dir): lead of silence, then each utterance (flite kal16) followed by
// its silence, padded with silence to at least length. SIPp streams it in
// real time, so the file's length is how long the caller keeps sending RTP.
func speechScript(t *testing.T, dir string, lead, length time.Duration, says ...utterance) {
	t.Helper()
	synth, err := ttslocal.New(ttslocal.Config{Voice: "kal16"})
	if err != nil {
		t.Skipf("flite voice kal16 unavailable: %v", err)
	}
	var out []byte
	silence := func(d time.Duration) {
		for range int(d / (audio.FrameDurationMs * time.Millisecond)) {
			out = g711.EncodeUlaw(out, make([]int16, audio.FrameSamples))
		}
	}
	silence(lead)
	for _, u := range says {
		frames, err := tts.Collect(context.Background(), synth, u.text)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range frames {
			out = g711.EncodeUlaw(out, f[:])
		}
		silence(u.after)
	}
	frame := len(g711.EncodeUlaw(nil, make([]int16, audio.FrameSamples)))
	if have := time.Duration(len(out)/frame) * audio.FrameDurationMs * time.Millisecond; have < length {
		silence(length - have)
	}
	if err := os.WriteFile(filepath.Join(dir, "speech.ulaw"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sipCaller starts a SIPp caller to the demo bot from caller id from,
// saying says and staying on the line for stay; the channel gets SIPp's
// output when it hung up.
func sipCaller(t *testing.T, n *sipNode, from string, stay time.Duration, says ...utterance) <-chan string {
	t.Helper()
	sippDir := requireData(t, "sipp")
	dir := t.TempDir()
	// The audio outlasts the call so RTP keeps flowing (media timeouts).
	speechScript(t, dir, 1500*time.Millisecond, stay+5*time.Second, says...)
	scenario := callerScenario(t, sippDir, dir, fmt.Sprintf(`<nop><action><exec rtp_stream="speech.ulaw,1,0"/></action></nop>
  <pause milliseconds="%d"/>`, stay.Milliseconds()))
	b, err := os.ReadFile(scenario)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(scenario, []byte(strings.ReplaceAll(string(b), "sip:sipp@", "sip:"+from+"@")), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() { done <- runSIPp(t, dir, n, "-sf", scenario, "-s", "bot", "-m", "1", "-r", "1") }()
	return done
}

// agentPhone starts baresip registered as extension ext (auto-answer,
// sending a Harvard sentence) and waits until agent can be reached.
func agentPhone(t *testing.T, ctx context.Context, n *sipNode, legs *dialplan.AgentLegs, agent, ext string) *exec.Cmd {
	t.Helper()
	bin := requirePeer(t, "baresip")
	speech := requireData(t, "asr/osr-harvard-8k/OSR_us_000_0034_8k.wav")
	account := fmt.Sprintf("<sip:%s@127.0.0.1:%d>;auth_pass=pw-%s;answermode=auto;regint=300", ext, n.sipPort, ext)
	phone := exec.Command(bin, "-f", baresipConfigWith(t, "aufile,"+speech, t.TempDir(), account))
	var out bytes.Buffer
	phone.Stdout, phone.Stderr = &out, &out
	if err := phone.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = phone.Process.Kill(); _ = phone.Wait() })
	for !legs.Registered(ctx, agent) {
		if ctx.Err() != nil {
			t.Fatalf("%s's phone did not register\n%s", agent, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return phone
}

// routingNode is the demo deployment with agents alice (1001) and bob
// (1002) whose phones register with pw-<ext>.
func routingNode(t *testing.T, mutate func(*Config)) (*sipNode, *dialplan.AgentLegs) {
	t.Helper()
	requirePeer(t, "sipp")
	requirePeer(t, "baresip")
	legsc := make(chan *dialplan.AgentLegs, 1)
	sipStartedHook = func(l *dialplan.AgentLegs) { legsc <- l }
	t.Cleanup(func() { sipStartedHook = nil })
	n := startSIPNode(t, func(c *Config) {
		c.Demo = true
		c.SIPAgentPasswords = []string{"1001=pw-1001", "1002=pw-1002"}
		c.RoutingWrapUp = 300 * time.Millisecond
		if mutate != nil {
			mutate(c)
		}
	})
	return n, <-legsc
}

// metric reads one sample from the node's /metrics: the line of name whose
// labels include every label (k="v").
func metric(t *testing.T, base, name string, labels ...string) (float64, bool) {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
lines:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue lines
			}
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		return v, true
	}
	return 0, false
}

func (n *sipNode) call(t *testing.T, id string) httpapi.CallTranscript {
	t.Helper()
	var tr httpapi.CallTranscript
	if code := n.getJSON(t, "/api/v1/calls/"+id, &tr); code != http.StatusOK {
		t.Fatalf("GET call %s: %d", id, code)
	}
	return tr
}

func eventTypes(tr httpapi.CallTranscript) string {
	var kinds []string
	for _, e := range tr.Events {
		kinds = append(kinds, e.Type)
	}
	return strings.Join(kinds, ",")
}

// waitQueue polls the support queue until cond holds on its stats.
func (n *sipNode) waitQueue(t *testing.T, what string, within time.Duration, cond func(waiting int, contacts []queueContact) bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last queueView
	for time.Now().Before(deadline) {
		if n.getJSON(t, "/api/v1/routing/queues/support", &last) == http.StatusOK && cond(last.Waiting, last.Contacts) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("support queue: no %s within %v; last %+v", what, within, last)
}

type queueContact struct {
	ContactID string `json:"contact_id"`
	CallID    string `json:"call_id"`
	State     string `json:"state"`
	Position  int    `json:"position"`
}

type queueView struct {
	Waiting  int            `json:"waiting"`
	Contacts []queueContact `json:"contacts"`
}

// TestNegativeSentimentEscalatesOverSIP: a SIPp caller complains twice
// (phrases of the demo's ASR grammar: "speeds are terrible", "I'm not
// happy with your service and want to complain") and never asks for a
// person; the dialog's trend (mean of the last 3 caller turns below -0.4
// after 2 turns) hands the call off with reason negative_sentiment, the
// agent's desktop gets the offer with that reason in the summary, accepts,
// and the agent's phone is bridged. The hand-off and the routing counters
// are on /metrics.
func TestNegativeSentimentEscalatesOverSIP(t *testing.T) {
	n, legs := routingNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	agentPhone(t, ctx, n, legs, "alice", "1001")
	alice, resp, err := dialDesk(t, n.base, "agent=alice")
	if err != nil {
		t.Fatalf("desktop: %v %v", err, resp)
	}
	alice.next("hello")
	alice.send(map[string]any{"type": "presence", "presence": "available"})
	alice.next("ack")

	done := sipCaller(t, n, "+447700900333", 45*time.Second,
		utterance{"speeds are terrible", 9 * time.Second},
		utterance{"I'm not happy with your service and want to complain", 4 * time.Second})
	alice.wait = 60 * time.Second
	offer := alice.next("offer")
	t.Logf("offer for call %s: reason %q, intent %q, wants %q, tried %q, next step %q", offer.Offer.CallID, offer.Summary.Reason,
		offer.Summary.Intent, offer.Summary.Wants, offer.Summary.Tried, offer.Summary.NextStep)
	if offer.Summary.Reason != "negative_sentiment" {
		tr := n.call(t, offer.Offer.CallID)
		for _, turn := range tr.Turns {
			t.Logf("turn %s: %q (intent %s, sentiment %.2f)", turn.Speaker, turn.Text, turn.Intent, turn.Sentiment)
		}
		t.Fatalf("summary reason %q, want negative_sentiment", offer.Summary.Reason)
	}
	tr := n.call(t, offer.Offer.CallID)
	var callerTurns []string
	for _, turn := range tr.Turns {
		if turn.Speaker == store.SpeakerCaller {
			callerTurns = append(callerTurns, fmt.Sprintf("%q (%.2f)", turn.Text, turn.Sentiment))
			if strings.Contains(strings.ToLower(turn.Text), "person") || strings.Contains(strings.ToLower(turn.Text), "agent") {
				t.Errorf("the caller asked for a person: %q", turn.Text)
			}
		}
	}
	t.Logf("caller turns: %s", strings.Join(callerTurns, ", "))
	if len(callerTurns) < 2 {
		t.Fatalf("escalated after %d caller turns, want at least 2", len(callerTurns))
	}
	alice.send(map[string]any{"type": "accept", "offer_id": offer.Offer.ID, "id": "acc"})
	if m := alice.next("ack"); m.ID != "acc" {
		t.Fatalf("accept: %+v", m)
	}
	for legs.Bridge(offer.Offer.CallID) == nil {
		if ctx.Err() != nil {
			t.Fatal("the call was not bridged to alice's phone")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v, ok := metric(t, n.base, "parley_routing_handoffs_total", `queue="support"`, `reason="negative_sentiment"`); !ok || v != 1 {
		t.Errorf("parley_routing_handoffs_total{negative_sentiment} = %v (%v), want 1", v, ok)
	}
	for _, name := range []string{"parley_routing_offers_total", "parley_routing_offer_accepts_total", "parley_routing_answered_within_sl_total"} {
		if v, ok := metric(t, n.base, name, `queue="support"`); !ok || v != 1 {
			t.Errorf("%s{support} = %v (%v), want 1", name, v, ok)
		}
	}
	if v, ok := metric(t, n.base, "parley_routing_agents", `presence="available"`, `work="busy"`); !ok || v != 1 {
		t.Errorf("agents available/busy = %v (%v), want 1", v, ok)
	}
	<-done
	final := n.endedCall(t, 20*time.Second)
	got := eventTypes(final)
	for _, want := range []string{"handoff", "queued", "offered", "bridged", "hangup"} {
		if !strings.Contains(got, want) {
			t.Errorf("call events %s lack %s", got, want)
		}
	}
}

// TestVIPCallerAnsweredFirstOverSIP: two SIPp callers ask for a person
// while the only agent is logged out; the second calls from the number of
// a VIP contact (store.Contact, tier vip, found by the SIP From user). When
// the agent becomes available the VIP, queued last, is offered first (the
// demo's priority rule gives tier vip 300 points, aging 1 per second), then
// the other caller.
func TestVIPCallerAnsweredFirstOverSIP(t *testing.T) {
	db := filepath.Join(t.TempDir(), "parley.db")
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertContact(context.Background(), &store.Contact{ID: "cust-vip", Name: "Vera Important", Phone: "+447700900111", Tier: "vip"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	n, legs := routingNode(t, func(c *Config) { c.DB = db })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	agentPhone(t, ctx, n, legs, "alice", "1001")
	alice, resp, err := dialDesk(t, n.base, "agent=alice")
	if err != nil {
		t.Fatalf("desktop: %v %v", err, resp)
	}
	alice.next("hello") // logged out: no offers yet

	// Nobody free: the bot first offers a callback (expected wait over 3
	// minutes); the caller says no and is transferred.
	person := []utterance{{"let me talk to a person", 8 * time.Second}, {"no", 3 * time.Second}}
	// The first caller stays until after the VIP's call (placed later) has
	// ended, so it is still waiting for the second offer.
	normalDone := sipCaller(t, n, "+447700900222", 85*time.Second, person...)
	n.waitQueue(t, "first caller", 30*time.Second, func(w int, _ []queueContact) bool { return w == 1 })
	vipDone := sipCaller(t, n, "447700900111", 40*time.Second, person...) // stored with "+": matched either way
	var normalCall string
	n.waitQueue(t, "both callers", 30*time.Second, func(w int, cs []queueContact) bool {
		for _, c := range cs {
			if c.Position == 2 {
				normalCall = c.CallID
			}
		}
		return w == 2
	})
	// Both waiting: the VIP, queued second, is at position 1.
	alice.send(map[string]any{"type": "presence", "presence": "available"})
	alice.next("ack")
	alice.wait = 20 * time.Second
	first := alice.next("offer")
	firstCall := n.call(t, first.Offer.CallID).Call
	t.Logf("first offer: call %s from %s, summary facts %v", firstCall.ID, firstCall.From, first.Summary.Facts)
	if !strings.Contains(firstCall.From, "447700900111") {
		t.Fatalf("first offer is for the call from %s, want the VIP caller (447700900111)", firstCall.From)
	}
	if first.Summary.Facts["tier"] != "vip" || first.Summary.Facts["name"] != "Vera Important" {
		t.Errorf("VIP summary facts %v, want tier vip and the contact's name", first.Summary.Facts)
	}
	if first.Offer.CallID == normalCall {
		t.Fatalf("the caller queued first was offered first")
	}
	alice.send(map[string]any{"type": "accept", "offer_id": first.Offer.ID, "id": "acc1"})
	alice.next("ack")
	for legs.Bridge(first.Offer.CallID) == nil {
		if ctx.Err() != nil {
			t.Fatal("the VIP call was not bridged to alice's phone")
		}
		time.Sleep(50 * time.Millisecond)
	}
	<-vipDone // the VIP hangs up; after wrap-up alice gets the other caller
	alice.wait = 30 * time.Second
	second := alice.next("offer")
	if second.Offer.CallID != normalCall {
		t.Fatalf("second offer for call %s, want the first caller's %s", second.Offer.CallID, normalCall)
	}
	secondCall := n.call(t, second.Offer.CallID).Call
	if !strings.Contains(secondCall.From, "447700900222") {
		t.Errorf("second call from %s", secondCall.From)
	}
	alice.send(map[string]any{"type": "reject", "offer_id": second.Offer.ID})
	<-normalDone
}

// TestAgentLegLostRequeuesCallerOverSIP: alice talks to caller 1 over her
// baresip phone while caller 2 waits; her phone dies (SIGKILL: no BYE, its
// RTP stops). After the SIP media timeout the agent leg is lost, caller 1
// stays on the line and is queued again at its place — ahead of caller 2 —
// alice is logged out, and bob, becoming available, gets caller 1 first
// and is bridged on his phone.
func TestAgentLegLostRequeuesCallerOverSIP(t *testing.T) {
	n, legs := routingNode(t, func(c *Config) { c.SIPMediaTimeout = 2 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alicePhone := agentPhone(t, ctx, n, legs, "alice", "1001")
	agentPhone(t, ctx, n, legs, "bob", "1002")
	alice, resp, err := dialDesk(t, n.base, "agent=alice")
	if err != nil {
		t.Fatalf("desktop: %v %v", err, resp)
	}
	alice.next("hello")
	bob, resp, err := dialDesk(t, n.base, "agent=bob")
	if err != nil {
		t.Fatalf("desktop: %v %v", err, resp)
	}
	bob.next("hello") // logged out for now
	alice.send(map[string]any{"type": "presence", "presence": "available"})
	alice.next("ack")

	// Nobody free: the bot first offers a callback (expected wait over 3
	// minutes); the caller says no and is transferred.
	person := []utterance{{"let me talk to a person", 8 * time.Second}, {"no", 3 * time.Second}}
	done1 := sipCaller(t, n, "+447700900401", 50*time.Second, person...)
	alice.wait = 30 * time.Second
	offer := alice.next("offer")
	call1 := offer.Offer.CallID
	defer func() {
		if t.Failed() {
			tr := n.call(t, call1)
			for _, e := range tr.Events {
				t.Logf("caller 1 event %s by %s %v", e.Type, e.By, e.Data)
			}
		}
	}()
	alice.send(map[string]any{"type": "accept", "offer_id": offer.Offer.ID, "id": "acc"})
	alice.next("ack")
	for legs.Bridge(call1) == nil {
		if ctx.Err() != nil {
			t.Fatal("caller 1 was not bridged to alice's phone")
		}
		time.Sleep(50 * time.Millisecond)
	}
	done2 := sipCaller(t, n, "+447700900402", 40*time.Second, person...)
	var call2 string
	n.waitQueue(t, "caller 2 waiting", 30*time.Second, func(w int, cs []queueContact) bool {
		for _, c := range cs {
			if c.State == "queued" {
				call2 = c.CallID
			}
		}
		return w == 1 && call2 != ""
	})

	// Alice's phone dies mid-call.
	if err := alicePhone.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	n.waitQueue(t, "caller 1 back at position 1", 20*time.Second, func(w int, cs []queueContact) bool {
		pos := map[string]int{}
		for _, c := range cs {
			pos[c.CallID] = c.Position
		}
		return w == 2 && pos[call1] == 1 && pos[call2] == 2
	})
	t.Logf("caller 1 queued again at position 1 %v after alice's phone died", time.Since(killed).Round(10*time.Millisecond))
	if m := alice.next("ended"); m.Contact.CallID != call1 {
		t.Fatalf("alice's desktop: ended %+v", m)
	}
	if tr := n.call(t, call1); tr.Call.State == store.CallEnded || !strings.Contains(eventTypes(tr), "requeued") {
		t.Fatalf("caller 1 after the lost leg: state %s, events %s", tr.Call.State, eventTypes(tr))
	}
	var a struct {
		Presence string `json:"presence"`
	}
	if n.getJSON(t, "/api/v1/routing/agents/alice", &a) != http.StatusOK || a.Presence != "logged_out" {
		t.Errorf("alice after her phone died: presence %q, want logged_out", a.Presence)
	}
	if v, ok := metric(t, n.base, "parley_routing_requeued_total", `queue="support"`); !ok || v != 1 {
		t.Errorf("parley_routing_requeued_total = %v (%v), want 1", v, ok)
	}

	bob.send(map[string]any{"type": "presence", "presence": "available"})
	bob.next("ack")
	bob.wait = 20 * time.Second
	bo := bob.next("offer")
	if bo.Offer.CallID != call1 {
		t.Fatalf("bob's first offer is call %s, want caller 1 (%s) before caller 2 (%s)", bo.Offer.CallID, call1, call2)
	}
	bob.send(map[string]any{"type": "accept", "offer_id": bo.Offer.ID, "id": "acc"})
	bob.next("ack")
	for {
		if b := legs.Bridge(call1); b != nil && b.AgentID() == "bob" {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("caller 1 was not bridged to bob's phone")
		}
		time.Sleep(50 * time.Millisecond)
	}
	<-done1
	<-done2
	tr := n.call(t, call1)
	if got := eventTypes(tr); strings.Count(got, "bridged") != 2 || !strings.Contains(got, "agent_lost") {
		t.Errorf("caller 1 events %s, want agent_lost and two bridged", got)
	}
	if tr.Call.AgentID != "bob" {
		t.Errorf("caller 1 agent_id %q, want bob", tr.Call.AgentID)
	}
}
