package webrtc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	pion "github.com/pion/webrtc/v4"

	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/gateway/rtp/wav"
	"github.com/parley-cc/parley/store"
)

// Resolver maps a dialled extension to the application that answers it:
// the shared *dialplan.Dialplan (errors wrap dialplan.ErrNoRoute or
// dialplan.ErrUnavailable).
type Resolver interface {
	Resolve(ctx context.Context, extension string) (media.Application, error)
}

// Lister is optionally implemented by a Resolver to name its extensions
// for the caller page.
type Lister interface {
	Extensions() []string
}

// CallLog records browser calls (the Call grain in parley serve). Calls for
// one call are made in order from one goroutine, off the media path.
type CallLog interface {
	// Started creates the call record (Channel "webrtc").
	Started(ctx context.Context, c store.Call) error
	// Event appends an event: answered, dtmf, recording (Data["path"]).
	Event(ctx context.Context, callID string, e store.CallEvent) error
	// Ended records the hang-up and who hung up (caller, agent, system).
	Ended(ctx context.Context, callID, by, reason string) error
}

// Config configures a Gateway.
type Config struct {
	ICE ICEConfig
	// Apps resolves the extension a caller dials.
	Apps Resolver
	// Calls records calls; nil records nothing.
	Calls CallLog
	// DataDir, when set, gets a stereo recording of every caller's call
	// under recordings/<call-id>.wav (as SIP calls).
	DataDir string
	// MaxCalls bounds concurrent browser calls (caller and agent legs); 0 means 1000.
	MaxCalls int
	// ConnectTimeout bounds ICE+DTLS set-up after the answer; 0 means 20 s.
	ConnectTimeout time.Duration
	// AnswerTimeout bounds how long an agent's softphone may ring; 0 means 30 s.
	AnswerTimeout time.Duration
	// MediaTimeout reports MediaTimeout when no RTP arrives for this long; 0 disables.
	MediaTimeout time.Duration
	// AuthorizeAgent decides whether a softphone socket may register agent;
	// the upgrade request carries ?agent=ID and the agent's credentials
	// (parley serve: routing/desk.Authorize, the agent desktop's tokens).
	// Nil refuses every softphone.
	AuthorizeAgent func(r *http.Request, agent string) error
	// CheckOrigin accepts WebSocket upgrades; nil accepts same-origin
	// requests and clients without an Origin header.
	CheckOrigin func(r *http.Request) bool
	Log         *slog.Logger
}

// Gateway answers browser calls and rings agents' softphones over WebRTC.
type Gateway struct {
	cfg      Config
	api      *pion.API
	upgrader websocket.Upgrader
	log      *slog.Logger

	mu       sync.Mutex
	draining bool
	stopped  bool
	legs     map[string]*Leg
	agents   map[string]*agentConn
	wg       sync.WaitGroup
}

// New checks cfg and builds a Gateway.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.ICE.Validate(); err != nil {
		return nil, fmt.Errorf("webrtc: %w", err)
	}
	if cfg.Apps == nil {
		return nil, errors.New("webrtc: Config.Apps (the extension resolver) is required")
	}
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = 1000
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 20 * time.Second
	}
	if cfg.AnswerTimeout <= 0 {
		cfg.AnswerTimeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	api, err := newAPI(cfg.ICE)
	if err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, api: api, log: cfg.Log, legs: map[string]*Leg{}, agents: map[string]*agentConn{}}
	g.upgrader = websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096, CheckOrigin: cfg.CheckOrigin}
	return g, nil
}

// Active returns how many legs are up.
func (g *Gateway) Active() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.legs)
}

// Leg returns the live leg of a call, or nil.
func (g *Gateway) Leg(callID string) *Leg {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.legs[callID]
}

// Drain refuses new calls and offers; calls already up continue.
func (g *Gateway) Drain() {
	g.mu.Lock()
	g.draining = true
	g.mu.Unlock()
}

// Close hangs up every call (by "system", reason "shutdown"), closes the
// softphones' sockets and waits for call records to be written, within ctx.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	g.draining, g.stopped = true, true
	legs := make([]*Leg, 0, len(g.legs))
	for _, l := range g.legs {
		legs = append(legs, l)
	}
	agents := make([]*agentConn, 0, len(g.agents))
	for _, a := range g.agents {
		agents = append(agents, a)
	}
	g.mu.Unlock()
	for _, l := range legs {
		_ = l.terminate("system", "shutdown")
	}
	for _, a := range agents {
		a.conn.close()
	}
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("webrtc: %d call records still being written: %w", len(legs), ctx.Err())
	}
}

// admit reserves a leg slot, or says why not.
func (g *Gateway) admit() *Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.draining:
		return &Message{Type: TypeError, Code: CodeUnavailable, Error: "this node is shutting down and takes no new calls; try again"}
	case len(g.legs) >= g.cfg.MaxCalls:
		return &Message{Type: TypeError, Code: CodeBusy, Error: fmt.Sprintf("this node is at its limit of %d calls; try again", g.cfg.MaxCalls)}
	}
	return nil
}

// newLeg creates a peer connection and its leg, registered with the gateway
// until it ends; candidates are trickled through sig once release is called.
func (g *Gateway) newLeg(id, party string, f audioFormat, sig *conn) (*Leg, *trickle, error) {
	pc, err := g.api.NewPeerConnection(pion.Configuration{ICEServers: g.cfg.ICE.pionServers()})
	if err != nil {
		return nil, nil, fmt.Errorf("peer connection: %w", err)
	}
	l, err := newLeg(id, party, pc, f, g.cfg.MediaTimeout, g.log)
	if err != nil {
		pc.Close()
		return nil, nil, fmt.Errorf("audio track: %w", err)
	}
	l.signal = func(m Message) error { return sig.send(m) }
	tr := &trickle{callID: id, sig: sig}
	pc.OnICECandidate(tr.local)
	g.mu.Lock()
	g.legs[id] = l
	g.mu.Unlock()
	return l, tr, nil
}

func (g *Gateway) forget(id string) {
	g.mu.Lock()
	delete(g.legs, id)
	g.mu.Unlock()
}

// trickle holds local candidates until the description they belong to has
// been sent, then forwards each as it is gathered.
type trickle struct {
	mu       sync.Mutex
	callID   string
	sig      *conn
	released bool
	pending  []Message
}

func (t *trickle) local(c *pion.ICECandidate) {
	m := Message{Type: TypeCandidate}
	if c != nil { // nil: gathering complete, sent as a candidate-less message
		ci := c.ToJSON()
		m.Candidate = &Candidate{Candidate: ci.Candidate, SDPMid: ci.SDPMid, SDPMLineIndex: ci.SDPMLineIndex, UsernameFragment: ci.UsernameFragment}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.released {
		t.pending = append(t.pending, m)
		return
	}
	m.CallID = t.callID
	_ = t.sig.send(m)
}

func (t *trickle) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.released = true
	for _, m := range t.pending {
		m.CallID = t.callID // a client learns its call id only with the answer
		_ = t.sig.send(m)
	}
	t.pending = nil
}

// addRemoteCandidate applies a candidate trickled by the browser; an empty
// one marks the end of its candidates.
func addRemoteCandidate(pc *pion.PeerConnection, c *Candidate) error {
	if c == nil || c.Candidate == "" {
		return nil // end of candidates: nothing to do for pion
	}
	err := pc.AddICECandidate(pion.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment})
	if err != nil {
		return fmt.Errorf("%w: candidate %q: %v", ErrBadMessage, truncate(c.Candidate), err)
	}
	return nil
}

// callLog runs one call's record writes in order, off the media path.
type callLog struct {
	log   CallLog
	id    string
	q     chan func(context.Context) error
	slog  *slog.Logger
	close sync.Once
}

// hold reserves n goroutines of a call on g.wg, unless Close has begun
// (Add must not race with Close's Wait).
func (g *Gateway) hold(n int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return false
	}
	g.wg.Add(n)
	return true
}

// startCallLog starts the call's record writer; its g.wg slot is reserved by hold.
func (g *Gateway) startCallLog(id string) *callLog {
	cl := &callLog{log: g.cfg.Calls, id: id, q: make(chan func(context.Context) error, 64), slog: g.log}
	go func() {
		defer g.wg.Done()
		for f := range cl.q {
			if cl.log == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := f(ctx); err != nil {
				g.log.Warn("webrtc call record not written", "call", id, "err", err)
			}
			cancel()
		}
	}()
	return cl
}

func (cl *callLog) do(f func(ctx context.Context) error) {
	defer func() { _ = recover() }() // after finish: dropped (the call has ended)
	select {
	case cl.q <- f:
	default:
		cl.slog.Warn("webrtc call record queue full; event dropped", "call", cl.id)
	}
}

func (cl *callLog) event(kind, by string, data map[string]string) {
	at := time.Now()
	cl.do(func(ctx context.Context) error {
		return cl.log.Event(ctx, cl.id, store.CallEvent{CallID: cl.id, Type: kind, By: by, Data: data, At: at})
	})
}

func (cl *callLog) finish(by, reason string) {
	cl.do(func(ctx context.Context) error { return cl.log.Ended(ctx, cl.id, by, reason) })
	cl.close.Do(func() { close(cl.q) })
}

// startRecording opens the call's stereo recording when a data dir is set.
func (g *Gateway) startRecording(l *Leg, cl *callLog) {
	if g.cfg.DataDir == "" {
		return
	}
	rec, err := wav.NewRecorder(g.cfg.DataDir, l.id)
	if err != nil {
		g.log.Warn("webrtc call not recorded", "call", l.id, "err", err)
		return
	}
	l.record(rec)
	cl.event("recording", "system", map[string]string{"path": rec.Path()})
}

// ConfigJSON is what the browser pages fetch: ICE servers and extensions.
type ConfigJSON struct {
	ICEServers []ICEServer `json:"ice_servers"`
	Extensions []string    `json:"extensions"`
}

func (g *Gateway) serveConfig(w http.ResponseWriter, r *http.Request) {
	c := ConfigJSON{ICEServers: g.cfg.ICE.Servers, Extensions: []string{}}
	if c.ICEServers == nil {
		c.ICEServers = []ICEServer{}
	}
	if ls, ok := g.cfg.Apps.(Lister); ok {
		c.Extensions = ls.Extensions()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(c)
}

func newCallID() string { return uuid.NewString() }
