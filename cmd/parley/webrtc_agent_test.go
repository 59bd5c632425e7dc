package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/gateway/rtp/wav"
	"github.com/parley-cc/parley/gateway/webrtc"
	"github.com/parley-cc/parley/internal/browser"
	"github.com/parley-cc/parley/internal/shareddata"
)

// startWebRTCNode runs parley serve on loopback for a browser test (WebRTC
// loopback candidates, no demo data) and returns its base URL.
func startWebRTCNode(t *testing.T, mutate func(*Config)) string {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.SIPAddr = "127.0.0.1:0"
	cfg.Demo = false
	cfg.WebRTCLoopback = true
	cfg.ShutdownTimeout = 10 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, testServeLogger(t), ready) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	})
	select {
	case addr := <-ready:
		return "http://" + addr
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("serve did not become ready")
	}
	return ""
}

// endedCall polls the call's record until it has ended (or 15 s pass) and
// returns it with its events as "type:by".
func endedCall(t *testing.T, base, id string) (httpapi.CallTranscript, []string) {
	t.Helper()
	var tr httpapi.CallTranscript
	deadline := time.Now().Add(15 * time.Second)
	for {
		tr = httpapi.CallTranscript{}
		resp, err := http.Get(base + "/api/v1/calls/" + id)
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&tr)
			resp.Body.Close()
		}
		if tr.Call.State == "ended" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var kinds []string
	for _, e := range tr.Events {
		kinds = append(kinds, e.Type+":"+e.By)
	}
	return tr, kinds
}

// softphoneSocket opens /softphone/ws with query and returns the first
// message (or the dial error).
func softphoneSocket(t *testing.T, base, query string) (webrtc.Message, error) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/softphone/ws?"+query, nil)
	if err != nil {
		return webrtc.Message{}, err
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := ws.WriteJSON(webrtc.Message{Type: webrtc.TypeRegister, Agent: "ana"}); err != nil {
		return webrtc.Message{}, err
	}
	var m webrtc.Message
	err = ws.ReadJSON(&m)
	return m, err
}

// TestSoftphoneTokens: /softphone/ws takes the agent desktop's tokens
// (--routing-agent-tokens) through the desktop's own check.
func TestSoftphoneTokens(t *testing.T) {
	base := startWebRTCNode(t, func(c *Config) { c.RoutingAgentTokens = []string{"ana=ana-secret", "ben=ben-secret"} })
	for _, tc := range []struct{ name, query, code, text string }{
		{"accepted", "agent=ana&token=ana-secret", "", ""},
		{"wrong token", "agent=ana&token=ben-secret", webrtc.CodeUnauthorized, `missing or wrong token for agent "ana"`},
		{"missing token", "agent=ana", webrtc.CodeUnauthorized, `missing or wrong token for agent "ana"`},
		{"unknown agent", "agent=zed&token=ana-secret", webrtc.CodeUnauthorized, `missing or wrong token for agent "zed"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := softphoneSocket(t, base, tc.query)
			if err != nil {
				t.Fatal(err)
			}
			if tc.code == "" {
				if m.Type != webrtc.TypeRegistered || m.Agent != "ana" {
					t.Fatalf("got %+v, want registered as ana", m)
				}
				return
			}
			if m.Type != webrtc.TypeError || m.Code != tc.code || !strings.Contains(m.Error, tc.text) {
				t.Fatalf("got %+v, want %s error saying %q", m, tc.code, tc.text)
			}
		})
	}
}

// TestSoftphoneLoopbackOnlyWithoutTokens: without tokens the softphone, like
// the desktop, is for loopback clients only.
func TestSoftphoneLoopbackOnlyWithoutTokens(t *testing.T) {
	base := startWebRTCNode(t, nil)
	if m, err := softphoneSocket(t, base, "agent=ana"); err != nil || m.Type != webrtc.TypeRegistered {
		t.Fatalf("loopback softphone without tokens: %+v %v", m, err)
	}
	// The same check seen from elsewhere: a request from a routable address.
	req, _ := http.NewRequest("GET", base+"/softphone/ws?agent=ana", nil)
	req.RemoteAddr = "192.0.2.10:5555"
	if err := softphoneAuth(nil)(req, "ana"); err == nil || !strings.Contains(err.Error(), "loopback only") {
		t.Fatalf("non-loopback softphone without tokens: %v", err)
	}
}

// TestAgentAnswersOverWebRTC: an agent opens the agent desktop /agent in
// headless Chromium (its fake microphone playing one LibriSpeech clip); its
// softphone registers with the agent's token. A caller in a second Chromium
// (playing another clip) dials the agent's extension on /call: the dialplan
// connects the call through Services["agent.legs"] (AgentLegs.Connect), the
// softphone answers, and each side hears the other's clip. The agent hangs
// up from the softphone; the call's events show bridged and hangup by agent.
func TestAgentAnswersOverWebRTC(t *testing.T) {
	agentClip := []string{"asr", "librispeech-arm", "testing_routine.wav"}
	callerClip := webrtcSpeech
	agentWAV, callerWAV := shareddata.Path(t, agentClip...), shareddata.Path(t, callerClip...)
	base := startWebRTCNode(t, func(c *Config) { c.RoutingAgentTokens = []string{"ana=ana-secret"} })

	resp, err := http.Post(base+"/api/v1/agents", "application/json", strings.NewReader(`{"id":"ana","name":"Ana Ruiz","extension":"2001","capacity":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("create agent: %d %s", resp.StatusCode, b)
	}

	agent := browser.New(t, browser.Options{FakeAudio: agentWAV, Timeout: 120 * time.Second})
	caller := browser.New(t, browser.Options{FakeAudio: callerWAV, Timeout: 120 * time.Second})
	const phone = `document.querySelector("parley-softphone")`
	if err := chromedp.Do(agent,
		chromedp.Navigate(base+"/agent?agent=ana&token=ana-secret"),
		chromedp.Poll[chromedp.Void](phone+`?.phone?.state === "idle"`, chromedp.WithPollingTimeout(20*time.Second)),
	); err != nil {
		st, _ := chromedp.Run(agent, chromedp.Evaluate[string](phone+`?.textContent ?? "no softphone element"`))
		t.Fatalf("agent desktop softphone did not register: %v (%s)", err, st)
	}

	if err := chromedp.Do(caller,
		chromedp.Navigate(base+"/call?extension=2001"),
		chromedp.Poll[chromedp.Void](`window.parleyReady === true`, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Click("#call"),
		chromedp.Poll[chromedp.Void](`window.parleyCall && (window.parleyCall.state === "in call" || window.parleyCall.errors.length > 0)`, chromedp.WithPollingTimeout(30*time.Second)),
	); err != nil {
		t.Fatalf("caller dials the agent: %v", err)
	}
	if st, _ := chromedp.Run(caller, chromedp.Evaluate[string](`window.parleyCall.state + " " + JSON.stringify(window.parleyCall.errors)`)); !strings.HasPrefix(st, "in call") {
		t.Fatalf("caller page state %q", st)
	}
	if err := chromedp.Do(agent, chromedp.Poll[chromedp.Void](phone+`.phone.state === "in-call" && `+phone+`.phone.call.remoteStream`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("softphone not in call: %v", err)
	}
	callID, err := chromedp.Run(caller, chromedp.Evaluate[string](`window.parleyCall.callId`))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := chromedp.Run(agent, chromedp.Evaluate[string](phone+`.phone.call.ref`))
	if err != nil || ref != callID {
		t.Fatalf("softphone's call ref %q (%v), want the caller's call %s", ref, err, callID)
	}

	if _, err := chromedp.Run(caller, chromedp.Evaluate[float64](tapJS)); err != nil {
		t.Fatalf("tap caller audio: %v", err)
	}
	if _, err := chromedp.Run(agent, chromedp.Evaluate[float64](tapStreams(phone+".phone.call.stream", phone+".phone.call.remoteStream"))); err != nil {
		t.Fatalf("tap agent audio: %v", err)
	}
	time.Sleep(8 * time.Second)
	type envelopes struct{ Local, Remote []float64 }
	read := func(ctx context.Context, who string) (local, remote []float64) {
		env, err := chromedp.Run(ctx, chromedp.Evaluate[envelopes](`({local: window.parleyEnv.local, remote: window.parleyEnv.remote})`))
		if err != nil {
			t.Fatalf("%s envelopes: %v", who, err)
		}
		n := min(len(env.Local), len(env.Remote))
		if n < 200 {
			t.Fatalf("%s page recorded only %d frames", who, n)
		}
		return smooth(env.Local[:n], 3), smooth(env.Remote[:n], 3)
	}
	cLocal, cRemote := read(caller, "caller")
	aLocal, aRemote := read(agent, "agent")
	agentFile, callerFile := smooth(wavEnvelope(t, agentWAV), 3), smooth(wavEnvelope(t, callerWAV), 3)

	// Each direction: loud enough, and the other side's clip (not one's own).
	for _, d := range []struct {
		dir                string
		sent, heard        []float64
		wantFile, selfFile []float64
	}{
		{"caller -> agent", cLocal, aRemote, callerFile, agentFile},
		{"agent -> caller", aLocal, cRemote, agentFile, callerFile},
	} {
		right, wrong := bestCircular(d.wantFile, d.heard), bestCircular(d.selfFile, d.heard)
		t.Logf("%s: sent %.4f rms, heard %.4f rms; heard vs the sender's clip r=%.3f, vs the listener's own clip r=%.3f",
			d.dir, mean(d.sent), mean(d.heard), right, wrong)
		if mean(d.heard) < 0.1*mean(d.sent) {
			t.Errorf("%s: nearly silent (%.5f heard vs %.5f sent)", d.dir, mean(d.heard), mean(d.sent))
		}
		if right < 0.5 || right < wrong+0.2 {
			t.Errorf("%s: what was heard does not follow the sender's clip (r=%.3f; own clip r=%.3f)", d.dir, right, wrong)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// The agent hangs up from the softphone: the caller's call ends, by agent.
	if err := chromedp.Do(agent, chromedp.Click(`parley-softphone [data-act="hangup"]`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(caller, chromedp.Poll[chromedp.Void](`!window.parleyCall.state.startsWith("in call")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("caller page still in call after the agent hung up: %v", err)
	}
	tr, kinds := endedCall(t, base, callID)
	t.Logf("call %s: state %s, events %v", callID, tr.Call.State, kinds)
	var bridged map[string]string
	for _, e := range tr.Events {
		if e.Type == "bridged" {
			bridged = e.Data
		}
	}
	want := "recording:system answered:system bridged:agent hangup:agent"
	if tr.Call.State != "ended" || tr.Call.To != "2001" || strings.Join(kinds, " ") != want || bridged["agent_id"] != "ana" {
		t.Fatalf("call %+v, events %v (bridged %v); want ended call to 2001 with events %s and agent_id ana", tr.Call, kinds, bridged, want)
	}
}

// TestBrowserInbandDTMF: Chromium's fake microphone plays the DTMF tones of
// ../shared/data/dtmf (no RFC 4733: the keys are sound); the gateway's
// Goertzel fallback detects them, in order, as dtmf events with source
// inband. A later silence of --webrtc-media-timeout is not involved: the
// browser keeps sending.
func TestBrowserInbandDTMF(t *testing.T) {
	const digits = "159#0*"
	names := map[rune]string{'#': "soundroute.wav", '*': "soundstar.wav"}
	var pcm []int16
	rate := 0
	silence := func(sec float64) { pcm = append(pcm, make([]int16, int(sec*float64(rate)))...) }
	for i, d := range digits {
		name, ok := names[d]
		if !ok {
			name = "sound" + string(d) + ".wav"
		}
		f, err := os.Open(shareddata.Path(t, "dtmf", name))
		if err != nil {
			t.Fatal(err)
		}
		a, err := wav.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			rate = a.SampleRate
			silence(1)
		}
		if a.SampleRate != rate {
			t.Fatalf("%s: %d Hz, the others %d Hz", name, a.SampleRate, rate)
		}
		pcm = append(pcm, a.Mono()...)
		silence(0.3)
	}
	silence(0.7)
	mic := filepath.Join(t.TempDir(), "dtmf-keys.wav")
	f, err := os.Create(mic)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wav.NewWriter(f, wav.Format{SampleRate: rate, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(pcm); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	loop := time.Duration(len(pcm)) * time.Second / time.Duration(rate)

	base := startWebRTCNode(t, nil)
	bctx := browser.New(t, browser.Options{FakeAudio: mic, Timeout: 90 * time.Second})
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/call?extension=echo"),
		chromedp.Poll[chromedp.Void](`window.parleyReady === true`, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Click("#call"),
		chromedp.Poll[chromedp.Void](`window.parleyCall && (window.parleyCall.state === "in call" || window.parleyCall.errors.length > 0)`, chromedp.WithPollingTimeout(20*time.Second)),
	); err != nil {
		t.Fatalf("call echo: %v", err)
	}
	callID, err := chromedp.Run(bctx, chromedp.Evaluate[string](`window.parleyCall.callId`))
	if err != nil {
		t.Fatal(err)
	}
	// Two loops of the file: every key at least once after media is up.
	time.Sleep(2*loop + 500*time.Millisecond)
	if err := chromedp.Do(bctx, chromedp.Click("#hangup")); err != nil {
		t.Fatal(err)
	}
	tr, kinds := endedCall(t, base, callID)
	var got string
	for _, e := range tr.Events {
		if e.Type == "dtmf" {
			if e.Data["source"] != "inband" {
				t.Errorf("dtmf %q from %q, want inband", e.Data["digit"], e.Data["source"])
			}
			got += e.Data["digit"]
		}
	}
	t.Logf("file loop %v: keys %q; detected %q; events %v", loop.Round(time.Millisecond), digits, got, kinds)
	// The fake microphone starts when the page asks for it, before media is
	// up: the detected keys are the file's sequence from some point on.
	if len(got) < len(digits) || !strings.Contains(strings.Repeat(digits, 2+len(got)/len(digits)), got) {
		t.Fatalf("detected %q; want the looped sequence %q, in order, at least once through", got, digits)
	}
}

// TestBrowserMediaTimeout: with --webrtc-media-timeout 2s, a muted browser
// (it still sends silence) stays up for 3 s; once its audio stops (the
// sender's track replaced by none: no more RTP) the node hangs up: the
// call's hangup event is by system, reason media_timeout, and the page is
// told.
func TestBrowserMediaTimeout(t *testing.T) {
	speech := shareddata.Path(t, webrtcSpeech...)
	base := startWebRTCNode(t, func(c *Config) { c.WebRTCMediaTimeout = 2 * time.Second })
	bctx := browser.New(t, browser.Options{FakeAudio: speech, Timeout: 60 * time.Second})
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/call?extension=echo"),
		chromedp.Poll[chromedp.Void](`window.parleyReady === true`, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Click("#call"),
		chromedp.Poll[chromedp.Void](`window.parleyCall && (window.parleyCall.state === "in call" || window.parleyCall.errors.length > 0)`, chromedp.WithPollingTimeout(20*time.Second)),
	); err != nil {
		t.Fatalf("call echo: %v", err)
	}
	callID, err := chromedp.Run(bctx, chromedp.Evaluate[string](`window.parleyCall.callId`))
	if err != nil {
		t.Fatal(err)
	}
	// Muted (the track disabled) for longer than the timeout: the browser
	// keeps sending RTP (silence), so the call stays up.
	if err := chromedp.Do(bctx, chromedp.Click("#mute")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if st, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`window.parleyCall.state`)); !strings.HasPrefix(st, "in call") {
		t.Fatalf("call dropped while the browser was muted (still sending silence): page state %q", st)
	}
	silent := time.Now()
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(window.parleyCall.pc.getSenders()[0].replaceTrack(null), true)`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Poll[chromedp.Void](`!window.parleyCall.state.startsWith("in call")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("page still in call after its audio stopped: %v", err)
	}
	after := time.Since(silent)
	page, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`window.parleyCall.state`))
	tr, kinds := endedCall(t, base, callID)
	var reason string
	for _, e := range tr.Events {
		if e.Type == "hangup" {
			reason = e.Data["reason"]
		}
	}
	t.Logf("hung up %v after the browser went silent; page %q; events %v (reason %s)", after.Round(10*time.Millisecond), page, kinds, reason)
	// The clock starts before replaceTrack is even sent to the page, but the
	// browser's last packets may already be in flight (and a muted Chrome
	// paces its silence loosely): allow that much slack, not a whole second.
	if after < 2*time.Second-300*time.Millisecond {
		t.Fatalf("hung up %v after the audio stopped, well before the 2 s timeout", after)
	}
	if tr.Call.State != "ended" || kinds[len(kinds)-1] != "hangup:system" || reason != webrtc.MediaTimeoutReason {
		t.Fatalf("call %+v events %v reason %q; want ended, hangup by system, reason %s", tr.Call, kinds, reason, webrtc.MediaTimeoutReason)
	}
}

// TestSoftphoneWrongTokenInBrowser: the <parley-softphone> element with a
// wrong token (as the desktop page would create it) says it is not
// authorized and stops retrying, instead of reconnecting forever; with the
// right token the same element registers.
func TestSoftphoneWrongTokenInBrowser(t *testing.T) {
	base := startWebRTCNode(t, func(c *Config) { c.RoutingAgentTokens = []string{"ana=ana-secret"} })
	bctx := browser.New(t, browser.Options{Timeout: 60 * time.Second})
	add := func(id, token string) string {
		return `import("/static/softphone.js").then(() => {
  const el = document.createElement("parley-softphone");
  el.id = "` + id + `"; el.setAttribute("agent", "ana"); el.setAttribute("token", "` + token + `");
  document.body.append(el); return true; })`
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/call")); err != nil { // any page of the node: same origin
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](add("bad", "not-anas"), chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx,
		chromedp.Poll[chromedp.Void](`document.getElementById("bad").textContent.includes("not authorized")`, chromedp.WithPollingTimeout(15*time.Second)),
	); err != nil {
		st, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("bad")?.textContent ?? "no element"`))
		t.Fatalf("softphone with a wrong token: %v (shows %q)", err, st)
	}
	time.Sleep(4 * time.Second) // longer than the softphone's reconnect delay
	type state struct {
		State  string
		Closed bool
		Text   string
	}
	read := func(id string) state {
		st, err := chromedp.Run(bctx, chromedp.Evaluate[state](`(() => { const e = document.getElementById("`+id+`"); return {state: e.phone.state, closed: e.phone._closed, text: e.textContent}; })()`))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	bad := read("bad")
	t.Logf("wrong token: %+v", bad)
	if bad.State != "disconnected" || !bad.Closed || !strings.Contains(bad.Text, `missing or wrong token for agent "ana"`) {
		t.Fatalf("softphone %+v; want disconnected, not retrying, showing the token error", bad)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](add("good", "ana-secret"), chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx,
		chromedp.Poll[chromedp.Void](`document.getElementById("good").phone.state === "idle"`, chromedp.WithPollingTimeout(15*time.Second)),
	); err != nil {
		t.Fatalf("softphone with the right token did not register: %+v", read("good"))
	}
}
