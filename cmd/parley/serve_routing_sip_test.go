package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/dialplan"
)

// TestHandoffOverSIPToAnAgentDesktop: a SIPp caller asks the demo bot for a
// person (speech synthesized by flite, recognised by pocketsphinx); the bot
// hands the call to routing, the agent's desktop (WebSocket) gets the offer
// with the summary, accepts, and the agent's baresip phone is rung and
// bridged to the caller over SIP.
func TestHandoffOverSIPToAnAgentDesktop(t *testing.T) {
	sippDir := requireData(t, "sipp")
	requirePeer(t, "sipp")
	bin := requirePeer(t, "baresip")
	agentSpeech := requireData(t, "asr/osr-harvard-8k/OSR_us_000_0034_8k.wav")
	legsc := make(chan *dialplan.AgentLegs, 1)
	sipStartedHook = func(l *dialplan.AgentLegs) { legsc <- l }
	t.Cleanup(func() { sipStartedHook = nil })
	n := startSIPNode(t, func(c *Config) {
		c.Demo = true // alice (extension 1001, skill support) and the support queue
		c.SIPAgentPasswords = []string{"1001=pw-1001"}
		c.RoutingWrapUp = 500 * time.Millisecond
	})
	legs := <-legsc

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	account := fmt.Sprintf("<sip:1001@127.0.0.1:%d>;auth_pass=pw-1001;answermode=auto;regint=300", n.sipPort)
	phone := exec.CommandContext(ctx, bin, "-f", baresipConfigWith(t, "aufile,"+agentSpeech, t.TempDir(), account))
	var phoneOut bytes.Buffer
	phone.Stdout, phone.Stderr = &phoneOut, &phoneOut
	if err := phone.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = phone.Process.Kill(); _ = phone.Wait() }()
	for !legs.Registered(ctx, "alice") {
		if ctx.Err() != nil {
			t.Fatalf("the agent's phone did not register\n%s", phoneOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	alice, resp, err := dialDesk(t, n.base, "agent=alice") // loopback: no token needed
	if err != nil {
		t.Fatalf("desktop: %v %v", err, resp)
	}
	alice.next("hello")
	alice.send(map[string]any{"type": "presence", "presence": "available"})
	alice.next("ack")

	dir := t.TempDir()
	speechULaw(t, dir, "let me talk to a person", 1500*time.Millisecond, 3*time.Second)
	scenario := callerScenario(t, sippDir, dir, `<nop><action><exec rtp_stream="speech.ulaw,1,0"/></action></nop>
  <pause milliseconds="25000"/>`)
	sippDone := make(chan string, 1)
	go func() { sippDone <- runSIPp(t, dir, n, "-sf", scenario, "-s", "bot", "-m", "1", "-r", "1") }()

	alice.wait = 30 * time.Second
	offer := alice.next("offer")
	if offer.Summary.Reason == "" || offer.Summary.NextStep == "" || offer.Offer.CallID == "" {
		t.Fatalf("offer without a summary: %+v", offer)
	}
	t.Logf("offer for call %s: intent %q, wants %q, reason %q, next step %q", offer.Offer.CallID, offer.Summary.Intent, offer.Summary.Wants, offer.Summary.Reason, offer.Summary.NextStep)
	alice.send(map[string]any{"type": "accept", "offer_id": offer.Offer.ID, "id": "acc"})
	if m := alice.next("ack"); m.ID != "acc" {
		t.Fatalf("accept: %+v", m)
	}
	var bridge *dialplan.AgentBridge
	for bridge == nil {
		bridge = legs.Bridge(offer.Offer.CallID)
		if ctx.Err() != nil {
			t.Fatalf("the call was not bridged to the agent's phone\n%s", phoneOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	<-sippDone
	select {
	case <-bridge.Done():
	case <-ctx.Done():
		t.Fatal("bridge did not end after the caller hung up")
	}
	if m := alice.next("ended"); m.Contact.CallID != offer.Offer.CallID {
		t.Fatalf("ended %+v", m)
	}
	tr := n.endedCall(t, 15*time.Second)
	var kinds []string
	for _, e := range tr.Events {
		kinds = append(kinds, e.Type)
	}
	got := strings.Join(kinds, ",")
	for _, want := range []string{"handoff", "queued", "offered", "bridged", "hangup"} {
		if !strings.Contains(got, want) {
			t.Errorf("call events %s lack %s", got, want)
		}
	}
	if tr.Call.AgentID != "alice" {
		t.Errorf("call agent_id %q, want alice", tr.Call.AgentID)
	}
	var stats struct {
		Answered  int `json:"answered"`
		Completed int `json:"completed"`
	}
	res, err := http.Get(n.base + "/api/v1/routing/queues/support")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(&stats); err != nil || stats.Answered != 1 || stats.Completed != 1 {
		t.Errorf("queue stats %+v %v, want one answered and completed", stats, err)
	}
}
