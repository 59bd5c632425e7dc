package webrtc

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"

	"github.com/parley-cc/parley/gateway/dialplan"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/gateway/rtp/wav"
)

// TestEchoCallFromPionPeer calls "echo" from a pion peer (offer, trickle
// ICE, PCMU), sends a tone pattern and gets it back; an RFC 4733 key and a
// signalled key reach the call record; the caller's hang-up ends the call;
// the call is recorded in stereo.
func TestEchoCallFromPionPeer(t *testing.T) {
	log := newMemLog()
	dataDir := t.TempDir()
	g, srv := startGateway(t, Config{Apps: apps(t, map[string]media.Application{"echo": media.Echo{}}), Calls: log, DataDir: dataDir})
	c := dialWS(t, srv, "/call/ws")
	p := newPeer(t)
	id := p.offer(c, "echo")

	if m := c.next(func(Message) {}); m.Type != TypeState || m.State != "answered" {
		t.Fatalf("want state answered, got %+v", m)
	}
	select {
	case <-p.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no remote track from the gateway")
	}
	sent := testSignal(4)
	p.mu.Lock()
	p.start = time.Now()
	p.recv = nil
	p.mu.Unlock()
	p.sendAudio(sent)
	time.Sleep(500 * time.Millisecond) // the echo's tail

	p.mu.Lock()
	recv := append([]int16(nil), p.recv...)
	p.mu.Unlock()
	lag, r := bestLag(envelope(audio.Samples(sent)), envelope(recv), 50)
	t.Logf("echo: round trip %d ms (envelope correlation %.3f over %d ms sent)", lag*20, r, len(sent)*20)
	if r < 0.7 {
		t.Fatalf("echoed audio does not match what was sent: correlation %.3f at lag %d frames", r, lag)
	}

	// Keys: RFC 4733 on the negotiated payload type, then over signalling.
	leg := g.Leg(id)
	if leg == nil {
		t.Fatal("leg not registered")
	}
	p.sendKey(uint8(leg.format.EventPT), '5')
	c.send(Message{Type: TypeDTMF, CallID: id, Digit: "#"})
	deadline := time.Now().Add(5 * time.Second)
	var digits string
	for time.Now().Before(deadline) {
		digits = ""
		for _, e := range log.eventsOf(id) {
			if e.Type == "dtmf" {
				digits += e.Data["digit"] + "/" + e.Data["source"] + " "
			}
		}
		if strings.Count(digits, "/") == 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if digits != "5/rfc4733 #/signalling " {
		t.Fatalf("dtmf events = %q, want 5 (RFC 4733) then # (signalling)", digits)
	}
	st := leg.Stats()
	t.Logf("leg stats: %+v", st)

	c.send(Message{Type: TypeHangup, CallID: id})
	select {
	case got := <-log.endCh:
		if got != id {
			t.Fatalf("ended %s, want %s", got, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("call not ended after the caller's hangup")
	}
	log.mu.Lock()
	end, call := log.ended[id], log.calls[id]
	log.mu.Unlock()
	if end[0] != "caller" || call.Channel != "webrtc" || call.To != "echo" || call.From != "test-peer" {
		t.Fatalf("call %+v ended %v; want channel webrtc to echo from test-peer, ended by caller", call, end)
	}
	var kinds []string
	for _, e := range log.eventsOf(id) {
		kinds = append(kinds, e.Type)
	}
	if strings.Join(kinds, ",") != "recording,answered,dtmf,dtmf" {
		t.Fatalf("events %v, want recording,answered,dtmf,dtmf", kinds)
	}
	if g.Active() != 0 {
		t.Fatalf("%d legs still active", g.Active())
	}

	// The recording: caller left, echo right, both carrying the tone.
	f, err := os.Open(filepath.Join(dataDir, "recordings", id+".wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := wav.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if a.Channels != 2 || a.SampleRate != 8000 {
		t.Fatalf("recording %d ch %d Hz", a.Channels, a.SampleRate)
	}
	var left, right float64
	for i := 0; i+1 < len(a.Samples); i += 2 {
		left += float64(a.Samples[i]) * float64(a.Samples[i])
		right += float64(a.Samples[i+1]) * float64(a.Samples[i+1])
	}
	secs := float64(len(a.Samples)/2) / 8000
	t.Logf("recording %.1f s, caller energy %.3g, echo energy %.3g", secs, left, right)
	if secs < 3.5 || left == 0 || right == 0 {
		t.Fatalf("recording %.1f s with caller energy %g and echo energy %g", secs, left, right)
	}
}

// TestSignallingErrors sends malformed and out-of-place messages: each
// gets an error naming the problem, and the socket stays usable.
func TestSignallingErrors(t *testing.T) {
	_, srv := startGateway(t, Config{Apps: apps(t, map[string]media.Application{"echo": media.Echo{}})})
	c := dialWS(t, srv, "/call/ws")
	opusOnly := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"
	cases := []struct {
		raw, code, mention string
	}{
		{`{"type":"offer","sdp":`, CodeBadMessage, "invalid JSON"},
		{`{"sdp":"v=0"}`, CodeBadMessage, `missing "type"`},
		{`{"type":"ring"}`, CodeBadMessage, `unknown type "ring"`},
		{`{"type":"offer","extension":"echo","sdp":""}`, CodeBadMessage, `"sdp" is empty`},
		{`{"type":"offer","extension":"echo","sdp":"v=0","colour":"red"}`, CodeBadMessage, `unknown field "colour"`},
		{`{"type":"dtmf","digit":"55"}`, CodeBadMessage, `"digit" "55"`},
		{`{"type":"dtmf","digit":"5"}`, CodeBadMessage, "without a call"},
		{`{"type":"candidate","candidate":{"candidate":"bogus"}}`, CodeBadMessage, `does not start with "candidate:"`},
		{`{"type":"offer","extension":5,"sdp":"v=0"}`, CodeBadMessage, `field "extension" must be a string`},
		{`{"type":"offer","extension":"nobody","sdp":"v=0\r\n"}`, CodeNotFound, `"nobody"`},
		{`{"type":"offer","extension":"","sdp":"v=0\r\n"}`, CodeBadMessage, `"extension" is empty`},
		{`{"type":"offer","extension":"echo","sdp":` + jsonString(opusOnly) + `}`, CodeNoCodec, "PCMU or PCMA"},
		{`{"type":"offer","extension":"echo","sdp":"v=0\r\nnonsense"}`, CodeBadMessage, "sdp"},
	}
	for _, tc := range cases {
		c.sendRaw(tc.raw)
		m := c.next(nil)
		if m.Type != TypeError || m.Code != tc.code || !strings.Contains(m.Error, tc.mention) {
			t.Errorf("%s\n  got %+v\n  want error %s mentioning %q", tc.raw, m, tc.code, tc.mention)
		}
	}
	// Still usable: a real call goes through on the same socket.
	p := newPeer(t)
	if id := p.offer(c, "echo"); id == "" {
		t.Fatal("no call id")
	}
}

func jsonString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", `\r`, "\n", `\n`).Replace(s) + `"`
}

// TestDrainAndBusy: a draining gateway refuses offers; at the call limit
// offers get busy; Close hangs up live calls by the system.
func TestDrainAndBusy(t *testing.T) {
	log := newMemLog()
	g, srv := startGateway(t, Config{Apps: apps(t, map[string]media.Application{"echo": media.Echo{}}), Calls: log, MaxCalls: 1})
	c1 := dialWS(t, srv, "/call/ws")
	id := newPeer(t).offer(c1, "echo")
	c2 := dialWS(t, srv, "/call/ws")
	o, _ := newPeer(t).pc.CreateOffer(nil)
	c2.send(Message{Type: TypeOffer, Extension: "echo", SDP: o.SDP})
	if m := c2.next(nil); m.Code != CodeBusy {
		t.Fatalf("second call at limit 1: got %+v, want busy", m)
	}
	g.Drain()
	c1.send(Message{Type: TypeOffer, Extension: "echo", SDP: o.SDP})
	if m := c1.next(func(Message) {}); m.Type == TypeState {
		m = c1.next(func(Message) {})
		if m.Code != CodeBadMessage {
			t.Fatalf("second offer on a busy socket: %+v", m)
		}
	} else if m.Code != CodeBadMessage {
		t.Fatalf("second offer on a busy socket: %+v", m)
	}
	c2.send(Message{Type: TypeOffer, Extension: "echo", SDP: o.SDP})
	if m := c2.next(nil); m.Code != CodeUnavailable {
		t.Fatalf("offer while draining: got %+v, want unavailable", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Close(ctx); err != nil {
		t.Fatal(err)
	}
	log.mu.Lock()
	end := log.ended[id]
	log.mu.Unlock()
	if end != [2]string{"system", "shutdown"} {
		t.Fatalf("after Close the call ended %v, want system/shutdown", end)
	}
	for {
		m := c1.next(func(Message) {})
		if m.Type == TypeHangup {
			break
		}
	}
}

// TestPlaybackEndsCall: playback's prompt reaches the peer, then the
// gateway hangs up (by system).
func TestPlaybackEndsCall(t *testing.T) {
	log := newMemLog()
	prompt := testSignal(1)
	_, srv := startGateway(t, Config{Apps: apps(t, map[string]media.Application{"playback": media.Playback{Prompt: prompt}}), Calls: log})
	c := dialWS(t, srv, "/call/ws")
	p := newPeer(t)
	p.mu.Lock()
	p.start = time.Now()
	p.mu.Unlock()
	id := p.offer(c, "playback")
	for {
		m := c.next(func(Message) {})
		if m.Type == TypeHangup {
			if m.Reason != "application ended" {
				t.Fatalf("hangup reason %q", m.Reason)
			}
			break
		}
	}
	<-log.endCh
	log.mu.Lock()
	end := log.ended[id]
	log.mu.Unlock()
	if end[0] != "system" {
		t.Fatalf("ended by %v", end)
	}
	p.mu.Lock()
	recv := append([]int16(nil), p.recv...)
	p.mu.Unlock()
	_, r := bestLag(envelope(audio.Samples(prompt)), envelope(recv), 100)
	if r < 0.7 {
		t.Fatalf("prompt not received: correlation %.3f", r)
	}
}

// TestSoftphoneAgentLeg registers a softphone (a pion peer on
// /softphone/ws), dials the agent, runs echo on the agent's leg and checks
// the agent hears itself; a rejected offer and an unknown agent fail with
// their errors.
func TestSoftphoneAgentLeg(t *testing.T) {
	g, srv := startGateway(t, Config{Apps: apps(t, nil), AnswerTimeout: 5 * time.Second})
	ctx := context.Background()
	if _, err := g.DialAgent(ctx, "nobody", "call-1"); !errors.Is(err, ErrAgentNotRegistered) {
		t.Fatalf("dial unregistered: %v", err)
	}
	c := dialWS(t, srv, "/softphone/ws?agent=a1&token=secret-a1")
	c.send(Message{Type: TypeDTMF, Digit: "1"})
	if m := c.next(nil); m.Code != CodeBadMessage || !strings.Contains(m.Error, "register the agent first") {
		t.Fatalf("before register: %+v", m)
	}
	c.send(Message{Type: TypeRegister, Agent: "a1"})
	if m := c.next(nil); m.Type != TypeRegistered || m.Agent != "a1" {
		t.Fatalf("register: %+v", m)
	}
	if !g.Registered("a1") {
		t.Fatal("a1 not registered")
	}

	// First offer: rejected.
	errc := make(chan error, 1)
	go func() { _, err := g.DialAgent(ctx, "a1", "call-1"); errc <- err }()
	o := c.next(func(Message) {})
	if o.Type != TypeOffer || o.Ref != "call-1" {
		t.Fatalf("want offer for call-1, got %+v", o)
	}
	c.send(Message{Type: TypeReject, CallID: o.CallID})
	if err := <-errc; !errors.Is(err, ErrAgentRejected) {
		t.Fatalf("rejected dial: %v", err)
	}

	// Second offer: the pion softphone answers.
	type dialed struct {
		call media.Call
		err  error
	}
	dc := make(chan dialed, 1)
	go func() { call, err := g.DialAgent(ctx, "a1", "call-2"); dc <- dialed{call, err} }()
	p := newPeer(t)
	var early []Message
	o = c.next(func(m Message) { early = append(early, m) })
	if o.Type != TypeOffer {
		t.Fatalf("want offer, got %+v", o)
	}
	p.pc.OnICECandidate(func(ci *pion.ICECandidate) {
		m := Message{Type: TypeCandidate, CallID: o.CallID}
		if ci != nil {
			j := ci.ToJSON()
			m.Candidate = &Candidate{Candidate: j.Candidate, SDPMid: j.SDPMid, SDPMLineIndex: j.SDPMLineIndex}
		}
		c.send(m)
	})
	if err := p.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: o.SDP}); err != nil {
		t.Fatal(err)
	}
	ans, err := p.pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.pc.SetLocalDescription(ans); err != nil {
		t.Fatal(err)
	}
	c.send(Message{Type: TypeAnswer, CallID: o.CallID, SDP: p.pc.LocalDescription().SDP})
	for _, m := range early {
		if m.CallID != o.CallID {
			continue // the rejected offer's
		}
		if err := addRemoteCandidate(p.pc, m.Candidate); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		for m := range c.msgs {
			if m.Type == TypeCandidate && m.CallID == o.CallID {
				_ = addRemoteCandidate(p.pc, m.Candidate)
			}
		}
	}()
	d := <-dc
	if d.err != nil {
		t.Fatalf("dial a1: %v", d.err)
	}
	go media.Echo{}.Run(ctx, d.call)
	select {
	case <-p.got:
	case <-time.After(10 * time.Second):
		t.Fatal("softphone got no track")
	}
	sent := testSignal(2)
	p.mu.Lock()
	p.start, p.recv = time.Now(), nil
	p.mu.Unlock()
	p.sendAudio(sent)
	time.Sleep(400 * time.Millisecond)
	p.mu.Lock()
	recv := append([]int16(nil), p.recv...)
	p.mu.Unlock()
	lag, r := bestLag(envelope(audio.Samples(sent)), envelope(recv), 50)
	t.Logf("agent leg echo: round trip %d ms, correlation %.3f", lag*20, r)
	if r < 0.7 {
		t.Fatalf("agent did not hear its echo: correlation %.3f", r)
	}
	// The agent hangs up: the application sees Hangup; the leg was not lost.
	c.send(Message{Type: TypeHangup, CallID: o.CallID})
	select {
	case <-d.call.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("agent leg not ended by the agent's hangup")
	}
	if d.call.(dialplan.LostLeg).Lost() {
		t.Fatal("an agent's hang-up reported as a lost leg")
	}
}

// TestSoftphoneAuthorization: a softphone registers only with its agent's
// credentials (Config.AuthorizeAgent, checked on the upgrade request);
// refused sockets are told why and closed, and nothing is registered.
func TestSoftphoneAuthorization(t *testing.T) {
	g, srv := startGateway(t, Config{Apps: apps(t, nil)})
	for _, tc := range []struct{ name, path, want string }{
		{"wrong token", "/softphone/ws?agent=a1&token=secret-a2", `missing or wrong token for agent "a1"`},
		{"missing token", "/softphone/ws?agent=a1", `missing or wrong token for agent "a1"`},
		{"no agent", "/softphone/ws?token=secret-a1", "query parameter agent is required"},
		{"bad agent", "/softphone/ws?agent=%3Cb%3E&token=secret-%3Cb%3E", "must be 1-64 letters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWS(t, srv, tc.path)
			if m := c.next(nil); m.Type != TypeError || m.Code != CodeUnauthorized || !strings.Contains(m.Error, tc.want) {
				t.Fatalf("got %+v, want an unauthorized error saying %q", m, tc.want)
			}
			select {
			case m, ok := <-c.msgs:
				if ok {
					t.Fatalf("refused socket still answers: %+v", m)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("refused socket not closed")
			}
			if g.Registered("a1") {
				t.Fatal("a1 registered without its token")
			}
		})
	}

	// The right token, but a register message naming someone else.
	c := dialWS(t, srv, "/softphone/ws?agent=a1&token=secret-a1")
	c.send(Message{Type: TypeRegister, Agent: "a2"})
	if m := c.next(nil); m.Code != CodeUnauthorized || !strings.Contains(m.Error, `opened for agent "a1"`) {
		t.Fatalf("register as another agent: %+v", m)
	}
	if g.Registered("a2") || g.Registered("a1") {
		t.Fatal("registered after a mismatched register")
	}
	// Accepted: the agent named by the URL.
	c.send(Message{Type: TypeRegister, Agent: "a1"})
	if m := c.next(nil); m.Type != TypeRegistered || m.Agent != "a1" {
		t.Fatalf("register: %+v", m)
	}
	if !g.Registered("a1") {
		t.Fatal("a1 not registered with its token")
	}

	// A gateway without an authorizer takes no softphones at all.
	g2, err := New(Config{Apps: apps(t, nil), ICE: ICEConfig{Loopback: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := g2.authorize(httptest.NewRequest("GET", "/softphone/ws?agent=a1", nil), "a1"); err == nil || !strings.Contains(err.Error(), "not accepted") {
		t.Fatalf("nil AuthorizeAgent: %v", err)
	}
}

// TestMediaTimeoutHangsUp: a browser whose RTP stops (or never starts) is
// hung up after Config.MediaTimeout, by system with reason media_timeout,
// and told so over signalling.
func TestMediaTimeoutHangsUp(t *testing.T) {
	log := newMemLog()
	g, srv := startGateway(t, Config{Apps: apps(t, map[string]media.Application{"echo": media.Echo{}}), Calls: log, MediaTimeout: time.Second})
	for _, tc := range []struct {
		name   string
		frames int
	}{{"stops sending", 25}, {"never sends", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWS(t, srv, "/call/ws")
			p := newPeer(t)
			id := p.offer(c, "echo")
			if m := c.next(func(Message) {}); m.State != "answered" {
				t.Fatalf("want answered, got %+v", m)
			}
			leg := g.Leg(id)
			if leg == nil {
				t.Fatal("no leg")
			}
			start := time.Now()
			p.sendAudio(testSignal(float64(tc.frames) / 50))
			stopped := time.Now()
			m := c.next(func(Message) {})
			if m.Type != TypeHangup || m.CallID != id || m.Reason != MediaTimeoutReason {
				t.Fatalf("want hangup %s with reason %s, got %+v", id, MediaTimeoutReason, m)
			}
			idle := time.Since(stopped)
			t.Logf("hung up %v after the last RTP (%v after answer)", idle.Round(10*time.Millisecond), time.Since(start).Round(10*time.Millisecond))
			if idle < time.Second-50*time.Millisecond {
				t.Fatalf("hung up after %v of silence, before the 1 s timeout", idle)
			}
			select {
			case got := <-log.endCh:
				if got != id {
					t.Fatalf("ended %s, want %s", got, id)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("call record not ended")
			}
			log.mu.Lock()
			end := log.ended[id]
			log.mu.Unlock()
			if end != [2]string{"system", MediaTimeoutReason} {
				t.Fatalf("ended %v, want by system, reason %s", end, MediaTimeoutReason)
			}
			if !leg.Lost() {
				t.Fatal("a leg ended by the media timeout is not reported lost (dialplan.LostLeg)")
			}
		})
	}
}

// TestClientCallsEcho: the browser-like Client (what `parley bench webrtc`
// drives) calls echo through /call/ws and hears its tone pattern back; its
// stats count the node's stream with no sequence gaps.
func TestClientCallsEcho(t *testing.T) {
	log := newMemLog()
	_, srv := startGateway(t, Config{Apps: apps(t, map[string]media.Application{"echo": media.Echo{}}), Calls: log})
	cl, err := NewClient(ICEConfig{Loopback: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	leg, err := cl.Call(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/call/ws", "echo", "client-test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Call(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/call/ws", "nowhere", "client-test"); err == nil || !strings.Contains(err.Error(), CodeNotFound) {
		t.Fatalf("call to an unknown extension: %v, want %s", err, CodeNotFound)
	}
	sent := testSignal(3)
	var recv []int16
	done := make(chan struct{})
	go func() {
		defer close(done)
		for f := range leg.Frames() {
			recv = append(recv, f[:]...)
			if len(recv) >= (len(sent)+25)*audio.FrameSamples {
				return
			}
		}
	}()
	for _, f := range sent {
		if err := leg.Write(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("echo not received")
	}
	lag, r := bestLag(envelope(audio.Samples(sent)), envelope(recv), 25)
	st := leg.Stats()
	t.Logf("client: round trip %d ms, correlation %.3f; stats %+v", lag*20, r, st)
	if r < 0.6 {
		t.Fatalf("echo does not follow the tone pattern: correlation %.3f", r)
	}
	if st.PacketsReceived < uint64(len(sent)) || st.Lost != 0 || st.FramesSent < uint64(len(sent)) {
		t.Fatalf("stats %+v: want >= %d packets each way, no loss", st, len(sent))
	}
	id := leg.ID()
	if err := leg.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-log.endCh:
		if got != id {
			t.Fatalf("ended %s, want %s", got, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("node did not see the client's hang-up")
	}
	log.mu.Lock()
	end := log.ended[id]
	log.mu.Unlock()
	if end[0] != "caller" {
		t.Fatalf("ended %v, want by caller", end)
	}
}
