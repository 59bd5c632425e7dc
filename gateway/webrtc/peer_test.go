package webrtc

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	pionrtp "github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/parley-cc/parley/gateway/dialplan"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/dtmf"
	"github.com/parley-cc/parley/gateway/rtp/g711"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/store"
)

// memLog is an in-memory CallLog for assertions.
type memLog struct {
	mu     sync.Mutex
	calls  map[string]store.Call
	events map[string][]store.CallEvent
	ended  map[string][2]string
	endCh  chan string
}

func newMemLog() *memLog {
	return &memLog{calls: map[string]store.Call{}, events: map[string][]store.CallEvent{}, ended: map[string][2]string{}, endCh: make(chan string, 16)}
}

func (m *memLog) Started(_ context.Context, c store.Call) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[c.ID] = c
	return nil
}

func (m *memLog) Event(_ context.Context, id string, e store.CallEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events[id] = append(m.events[id], e)
	return nil
}

func (m *memLog) Ended(_ context.Context, id, by, reason string) error {
	m.mu.Lock()
	m.ended[id] = [2]string{by, reason}
	m.mu.Unlock()
	m.endCh <- id
	return nil
}

func (m *memLog) eventsOf(id string) []store.CallEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.CallEvent(nil), m.events[id]...)
}

// apps is the shared dialplan with just these applications.
func apps(t testing.TB, m map[string]media.Application) Resolver {
	t.Helper()
	r := dialplan.NewRegistry()
	for ext, app := range m {
		if err := r.Register(ext, app); err != nil {
			t.Fatal(err)
		}
	}
	return &dialplan.Dialplan{Apps: r}
}

// startGateway serves g's pages on a test HTTP server.
func startGateway(t testing.TB, cfg Config) (*Gateway, *httptest.Server) {
	t.Helper()
	cfg.ICE.Loopback = true
	if cfg.AuthorizeAgent == nil {
		cfg.AuthorizeAgent = testTokens
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for p, h := range g.Pages() {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Close(ctx); err != nil {
			t.Errorf("close gateway: %v", err)
		}
		srv.Close()
	})
	return g, srv
}

// testTokens accepts agent X with ?token=secret-X.
func testTokens(r *http.Request, agent string) error {
	if r.URL.Query().Get("token") != "secret-"+agent {
		return fmt.Errorf("missing or wrong token for agent %q", agent)
	}
	return nil
}

// wsClient is the browser's end of a signalling socket.
type wsClient struct {
	t    *testing.T
	ws   *websocket.Conn
	mu   sync.Mutex
	msgs chan Message
}

func dialWS(t *testing.T, srv *httptest.Server, path string) *wsClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	c := &wsClient{t: t, ws: ws, msgs: make(chan Message, 64)}
	go func() {
		defer close(c.msgs)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var m Message
			if err := json.Unmarshal(b, &m); err != nil {
				t.Errorf("gateway sent invalid JSON %q: %v", b, err)
				return
			}
			c.msgs <- m
		}
	}()
	t.Cleanup(func() { ws.Close() })
	return c
}

func (c *wsClient) sendRaw(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Errorf("send: %v", err)
	}
}

func (c *wsClient) send(m Message) {
	b, _ := json.Marshal(m)
	c.sendRaw(string(b))
}

// next returns the next message that is not a candidate (candidates go to onCand).
func (c *wsClient) next(onCand func(Message)) Message {
	c.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				c.t.Fatal("signalling socket closed")
			}
			if m.Type == TypeCandidate && onCand != nil {
				onCand(m)
				continue
			}
			return m
		case <-timeout:
			c.t.Fatal("no signalling message within 10 s")
		}
	}
}

// peer is a pion endpoint standing in for a browser: it sends a test
// signal as PCMU and decodes what it receives, with arrival times.
type peer struct {
	t     *testing.T
	pc    *pion.PeerConnection
	track *rawTrack
	start time.Time

	mu   sync.Mutex
	recv []int16 // received audio placed by RTP timestamp, from the slot of p.start
	// firstTS is the RTP timestamp of p.start's slot.
	firstTS uint32
	haveTS  bool
	got     chan struct{}
	seq     uint16
	ts      uint32
}

func newPeer(t *testing.T) *peer {
	t.Helper()
	api, err := newAPI(ICEConfig{Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	track := &rawTrack{}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, pc: pc, track: track, got: make(chan struct{})}
	var once sync.Once
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		once.Do(func() { close(p.got) })
		pcm := make([]int16, 0, 160)
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if pkt.PayloadType != 0 {
				continue
			}
			pcm = g711.DecodeUlaw(pcm[:0], pkt.Payload)
			p.mu.Lock()
			if p.start.IsZero() {
				p.mu.Unlock()
				continue // not measuring yet
			}
			// Placed by RTP timestamp: the gateway's own timeline, so the
			// test's scheduling (bursts, late reads) does not slip it.
			if !p.haveTS {
				p.firstTS, p.haveTS = pkt.Timestamp-uint32(time.Since(p.start)/frameDur)*audio.FrameSamples, true
			}
			at := int(int32(pkt.Timestamp-p.firstTS)) / audio.FrameSamples * audio.FrameSamples
			if at < 0 || at > 60*audio.SampleRate {
				p.mu.Unlock()
				continue
			}
			for len(p.recv) < at+audio.FrameSamples {
				p.recv = append(p.recv, make([]int16, audio.FrameSamples)...)
			}
			copy(p.recv[at:], pcm)
			p.mu.Unlock()
		}
	})
	return p
}

// offer makes the offer and trickles candidates through c once sent.
func (p *peer) offer(c *wsClient, ext string) string {
	var mu sync.Mutex
	var pending []Message
	released := false
	var callID string
	p.pc.OnICECandidate(func(ci *pion.ICECandidate) {
		m := Message{Type: TypeCandidate}
		if ci != nil {
			j := ci.ToJSON()
			m.Candidate = &Candidate{Candidate: j.Candidate, SDPMid: j.SDPMid, SDPMLineIndex: j.SDPMLineIndex}
		}
		mu.Lock()
		defer mu.Unlock()
		if !released {
			pending = append(pending, m)
			return
		}
		m.CallID = callID
		c.send(m)
	})
	o, err := p.pc.CreateOffer(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.pc.SetLocalDescription(o); err != nil {
		p.t.Fatal(err)
	}
	c.send(Message{Type: TypeOffer, Extension: ext, SDP: p.pc.LocalDescription().SDP, From: "test-peer"})
	var early []Message
	ans := c.next(func(m Message) { early = append(early, m) })
	if ans.Type != TypeAnswer {
		p.t.Fatalf("want answer, got %+v", ans)
	}
	if err := p.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: ans.SDP}); err != nil {
		p.t.Fatal(err)
	}
	for _, m := range early {
		if err := addRemoteCandidate(p.pc, m.Candidate); err != nil {
			p.t.Fatal(err)
		}
	}
	mu.Lock()
	released, callID = true, ans.CallID
	for _, m := range pending {
		m.CallID = callID
		c.send(m)
	}
	mu.Unlock()
	return ans.CallID
}

// sendAudio sends frames in real time as PCMU, one RTP packet per 20 ms
// slot of the wall clock (late slots are sent at once, as a browser's audio
// clock never skips).
func (p *peer) sendAudio(frames []audio.Frame) {
	buf := make([]byte, audio.FrameSamples)
	next := time.Now()
	for i := range frames {
		next = next.Add(frameDur)
		time.Sleep(time.Until(next))
		buf = g711.EncodeUlaw(buf[:0], frames[i][:])
		p.write(0, i == 0, buf)
		p.ts += audio.FrameSamples
	}
}

func (p *peer) write(pt uint8, marker bool, payload []byte) {
	p.seq++
	p.track.mu.Lock()
	w, ssrc := p.track.w, p.track.ssrc
	p.track.mu.Unlock()
	if w == nil {
		return
	}
	if _, err := w.WriteRTP(&pionrtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: ssrc}, payload); err != nil {
		p.t.Errorf("write rtp: %v", err)
	}
}

// rawTrack sends RTP with the payload types the test chooses (pion's static
// tracks rewrite every packet to the negotiated codec's type, which would
// turn RFC 4733 events into audio).
type rawTrack struct {
	mu   sync.Mutex
	w    pion.TrackLocalWriter
	ssrc uint32
}

func (r *rawTrack) Bind(c pion.TrackLocalContext) (pion.RTPCodecParameters, error) {
	for _, codec := range c.CodecParameters() {
		if codec.MimeType == pion.MimeTypePCMU {
			r.mu.Lock()
			r.w, r.ssrc = c.WriteStream(), uint32(c.SSRC())
			r.mu.Unlock()
			return codec, nil
		}
	}
	return pion.RTPCodecParameters{}, pion.ErrUnsupportedCodec
}

func (r *rawTrack) Unbind(pion.TrackLocalContext) error { return nil }
func (r *rawTrack) ID() string                          { return "audio" }
func (r *rawTrack) RID() string                         { return "" }
func (r *rawTrack) StreamID() string                    { return "test" }
func (r *rawTrack) Kind() pion.RTPCodecType             { return pion.RTPCodecTypeAudio }

// sendKey sends an RFC 4733 key press on payload type pt.
func (p *peer) sendKey(pt uint8, digit byte) {
	pkts, err := dtmf.GenerateEvent(digit, 10, 800, audio.FrameSamples)
	if err != nil {
		p.t.Fatal(err)
	}
	for _, k := range pkts {
		p.write(pt, k.Marker, k.Payload)
		time.Sleep(frameDur)
	}
	p.ts += 800
}

// testSignal is a 440 Hz tone switched on and off in an irregular pattern
// (a distinctive energy envelope for cross-correlation).
func testSignal(seconds float64) []audio.Frame {
	n := int(seconds * audio.SampleRate)
	pcm := make([]int16, n)
	pattern := []int{5, 3, 9, 2, 4, 7, 3, 11, 2, 6} // on/off lengths in frames
	on, left, pi := true, pattern[0], 0
	for i := 0; i < n; i++ {
		if i%audio.FrameSamples == 0 && i > 0 {
			if left--; left == 0 {
				on, pi = !on, (pi+1)%len(pattern)
				left = pattern[pi]
			}
		}
		if on {
			pcm[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/audio.SampleRate))
		}
	}
	return audio.Frames(pcm)
}

// envelope is the RMS of each 20 ms frame.
func envelope(pcm []int16) []float64 {
	out := make([]float64, len(pcm)/audio.FrameSamples)
	for i := range out {
		var s float64
		for _, v := range pcm[i*audio.FrameSamples : (i+1)*audio.FrameSamples] {
			s += float64(v) * float64(v)
		}
		out[i] = math.Sqrt(s / audio.FrameSamples)
	}
	return out
}

// bestLag finds the delay (in frames, 0..maxLag) at which b best matches a,
// with the Pearson correlation there.
func bestLag(a, b []float64, maxLag int) (int, float64) {
	best, bestR := -1, -2.0
	for lag := 0; lag <= maxLag; lag++ {
		n := min(len(a), len(b)-lag)
		if n < 10 {
			break
		}
		r := pearson(a[:n], b[lag:lag+n])
		if r > bestR {
			best, bestR = lag, r
		}
	}
	return best, bestR
}

func pearson(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}
