// Package desk is the agent desktop's connection: a WebSocket per agent
// (GET /ws/agent?agent=ID) that delivers offers with their hand-off summary,
// takes accept/reject, presence changes (available, break with a reason
// code, logged out), finish and end-of-wrap-up, pushes queue positions and
// estimated waits, the live transcript of the agent's call and agent-assist
// suggestions for each final utterance.
//
// Protocol: JSON text messages with a "type".
//
//	server → desktop: hello {agent, state, break_reasons, queues}, state {state},
//	  offer {offer, summary, expires_in_ms}, offer_ended {offer, reason},
//	  connected {contact, summary}, ended {contact, reason}, queues {queues},
//	  turn {call_id, turn}, suggestion {suggestion}, ack {id, ...}, error {id, error}
//	desktop → server: accept {offer_id}, reject {offer_id},
//	  presence {presence, reason}, finish {contact_id}, end_wrap_up {}
//	  (each may carry an "id" echoed in its ack or error)
//
// Auth: with tokens configured, each agent needs its token (?token= or
// "Authorization: Bearer"); without any, only loopback clients may connect.
package desk

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-cc/parley/actors"
	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/knowledge/assist"
	"github.com/parley-cc/parley/routing/acd"
	"github.com/parley-cc/parley/routing/handoff"
	"github.com/parley-cc/parley/store"
)

// Assist produces suggestions for utterances: *assist.Service ("kb.assist").
type Assist interface {
	Utterance(ctx context.Context, u assist.Utterance) (assist.Suggestion, error)
}

// Options configure the desktop handler.
type Options struct {
	Service *acd.Service
	Store   store.Store // the agents to list
	// Tokens maps agent id to its desktop token; empty allows loopback
	// clients only.
	Tokens map[string]string
	// Assist returns the agent-assist service if the node has one.
	Assist func() Assist
	// StatsEvery is how often queue stats are pushed; default 2s.
	StatsEvery time.Duration
	// TranscriptEvery is how often the agent's call is read for new turns;
	// default 500ms.
	TranscriptEvery time.Duration
	Logger          *slog.Logger
}

// Desk serves agent desktops.
type Desk struct {
	o        Options
	upgrader websocket.Upgrader
	mu       sync.Mutex
	conns    map[*conn]bool
	draining bool
}

// New builds the handler.
func New(o Options) *Desk {
	if o.StatsEvery <= 0 {
		o.StatsEvery = 2 * time.Second
	}
	if o.TranscriptEvery <= 0 {
		o.TranscriptEvery = 500 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Desk{o: o, conns: map[*conn]bool{}, upgrader: websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096}}
}

// authorize checks the agent's token, or that the client is on loopback
// when no tokens are configured.
func (d *Desk) authorize(r *http.Request, agent string) error {
	return Authorize(d.o.Tokens, r, agent)
}

// Authorize is the agent check of the desktop, shared with the WebRTC
// softphone's socket: with tokens, agent's token (?token= or "Authorization:
// Bearer"); without any, loopback clients only. Errors are httpapi errors
// (403 off loopback, 401 for a missing or wrong token).
func Authorize(tokens map[string]string, r *http.Request, agent string) error {
	if len(tokens) == 0 {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return httpapi.Error(http.StatusForbidden, "", "agent desktops connect from loopback only unless routing-agent-tokens is set")
		}
		return nil
	}
	tok := r.URL.Query().Get("token")
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		tok = strings.TrimPrefix(h, "Bearer ")
	}
	want, ok := tokens[agent]
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(want)) != 1 {
		return httpapi.Error(http.StatusUnauthorized, "token", "missing or wrong token for agent %q", agent)
	}
	return nil
}

// Drain closes every desktop connection (the agents reconnect to another
// node) and refuses new ones.
func (d *Desk) Drain() {
	d.mu.Lock()
	d.draining = true
	cs := make([]*conn, 0, len(d.conns))
	for c := range d.conns {
		cs = append(cs, c)
	}
	d.mu.Unlock()
	for _, c := range cs {
		c.close(websocket.CloseGoingAway, "node draining")
	}
}

// ServeHTTP upgrades GET /ws/agent?agent=ID.
func (d *Desk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	agent := r.URL.Query().Get("agent")
	if agent == "" {
		httpapi.WriteError(w, r, httpapi.Error(http.StatusBadRequest, "agent", "query parameter agent is required"))
		return
	}
	if err := d.authorize(r, agent); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	d.mu.Lock()
	draining := d.draining
	d.mu.Unlock()
	if draining {
		httpapi.WriteError(w, r, httpapi.Unavailable(1, "this node (draining)", nil))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	st, err := d.o.Service.Login(ctx, agent)
	cancel()
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			httpapi.WriteError(w, r, httpapi.Error(http.StatusNotFound, "agent", "agent %q is not known", agent))
		} else {
			httpapi.WriteError(w, r, httpapi.Unavailable(1, "routing", err))
		}
		return
	}
	ws, err := d.upgrader.Upgrade(hijacker{w}, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	c := &conn{d: d, ws: ws, agent: agent, out: make(chan any, 64), done: make(chan struct{}), watching: map[string]context.CancelFunc{}}
	d.mu.Lock()
	d.conns[c] = true
	d.mu.Unlock()
	c.run(st)
	d.mu.Lock()
	delete(d.conns, c)
	d.mu.Unlock()
}

// hijacker reaches the connection through the API's response wrappers
// (they expose Unwrap for http.ResponseController, not http.Hijacker).
type hijacker struct{ http.ResponseWriter }

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(h.ResponseWriter).Hijack()
}

// Connections is the number of open desktops.
func (d *Desk) Connections() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

// conn is one desktop.
type conn struct {
	d     *Desk
	ws    *websocket.Conn
	agent string
	out   chan any
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	// watching holds the transcript watchers of the agent's calls.
	watching map[string]context.CancelFunc
}

// Outgoing messages.
type (
	helloMsg struct {
		Type         string              `json:"type"`
		Agent        string              `json:"agent"`
		State        *actors.AgentStatus `json:"state"`
		BreakReasons []string            `json:"break_reasons"`
		Queues       []QueueView         `json:"queues"`
		Offers       []offerMsg          `json:"offers"`
		Contacts     []contactMsg        `json:"contacts"`
	}
	stateMsg struct {
		Type  string              `json:"type"`
		State *actors.AgentStatus `json:"state"`
	}
	offerMsg struct {
		Type        string          `json:"type"`
		Offer       actors.Offer    `json:"offer"`
		Summary     handoff.Summary `json:"summary"`
		ExpiresInMs int64           `json:"expires_in_ms"`
	}
	offerEndedMsg struct {
		Type   string       `json:"type"`
		Offer  actors.Offer `json:"offer"`
		Reason string       `json:"reason"`
	}
	contactMsg struct {
		Type    string               `json:"type"`
		Contact actors.ActiveContact `json:"contact"`
		Summary handoff.Summary      `json:"summary"`
		Reason  string               `json:"reason,omitempty"`
	}
	queuesMsg struct {
		Type   string      `json:"type"`
		Queues []QueueView `json:"queues"`
	}
	turnMsg struct {
		Type   string     `json:"type"`
		CallID string     `json:"call_id"`
		Turn   store.Turn `json:"turn"`
	}
	suggestionMsg struct {
		Type       string            `json:"type"`
		Suggestion assist.Suggestion `json:"suggestion"`
	}
	ackMsg struct {
		Type      string                `json:"type"`
		ID        string                `json:"id,omitempty"`
		State     *actors.AgentStatus   `json:"state,omitempty"`
		Contact   *actors.ActiveContact `json:"contact,omitempty"`
		Duplicate bool                  `json:"duplicate,omitempty"`
	}
	errorMsg struct {
		Type  string `json:"type"`
		ID    string `json:"id,omitempty"`
		Error string `json:"error"`
	}
)

// inMsg is a desktop request.
type inMsg struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	OfferID   string `json:"offer_id"`
	Presence  string `json:"presence"`
	Reason    string `json:"reason"`
	ContactID string `json:"contact_id"`
}

func summaryOf(s string) handoff.Summary {
	sum, _ := handoff.Parse(s)
	return sum
}

func newOfferMsg(o actors.Offer) offerMsg {
	return offerMsg{Type: "offer", Offer: o, Summary: summaryOf(o.Summary), ExpiresInMs: max(0, time.Until(o.Expires).Milliseconds())}
}

func (c *conn) send(m any) {
	select {
	case c.out <- m:
	case <-c.done:
	}
}

func (c *conn) close(code int, text string) {
	c.once.Do(func() {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
		close(c.done)
		_ = c.ws.Close()
	})
}

func (c *conn) run(st *actors.AgentStatus) {
	svc := c.d.o.Service
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	sub, st2, err := svc.Subscribe(sctx, c.agent)
	scancel()
	if err != nil {
		_ = c.ws.WriteJSON(errorMsg{Type: "error", Error: "subscribe: " + err.Error()})
		c.close(websocket.CloseInternalServerErr, "subscribe failed")
		return
	}
	if st2 != nil {
		st = st2
	}
	go c.writer()
	hello := helloMsg{Type: "hello", Agent: c.agent, State: st, BreakReasons: svc.Config().BreakReasons, Offers: []offerMsg{}, Contacts: []contactMsg{}}
	hello.Queues = c.queueViews(ctx)
	for _, o := range st.Offers {
		hello.Offers = append(hello.Offers, newOfferMsg(o))
	}
	for _, a := range st.Active {
		hello.Contacts = append(hello.Contacts, contactMsg{Type: "connected", Contact: a, Summary: summaryOf(a.Summary)})
		c.watch(ctx, a.CallID)
	}
	c.send(hello)
	go c.events(ctx, sub)
	go c.statsLoop(ctx)
	c.reader(ctx)
	// The desktop went away: unless the agent logged out on purpose, pending
	// offers go back to their queues and the agent is logged out.
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	if err := sub.Close(cctx, true); err != nil {
		c.d.o.Logger.Warn("agent desktop close not recorded", "agent", c.agent, "err", err)
	}
	c.close(websocket.CloseNormalClosure, "")
	c.mu.Lock()
	for _, stop := range c.watching {
		stop()
	}
	c.mu.Unlock()
}

func (c *conn) writer() {
	for {
		select {
		case m := <-c.out:
			_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := c.ws.WriteJSON(m); err != nil {
				c.close(websocket.CloseAbnormalClosure, "write failed")
				return
			}
		case <-c.done:
			return
		}
	}
}

func (c *conn) events(ctx context.Context, sub *actors.AgentSubscription) {
	for {
		select {
		case <-c.done:
			return
		case ev := <-sub.C:
			switch ev.Kind {
			case actors.EventOffer:
				c.send(newOfferMsg(*ev.Offer))
			case actors.EventOfferEnded:
				c.send(offerEndedMsg{Type: "offer_ended", Offer: *ev.Offer, Reason: ev.Reason})
			case actors.EventConnected:
				c.send(contactMsg{Type: "connected", Contact: *ev.Contact, Summary: summaryOf(ev.Contact.Summary)})
				c.watch(ctx, ev.Contact.CallID)
			case actors.EventEnded:
				c.send(contactMsg{Type: "ended", Contact: *ev.Contact, Reason: ev.Reason})
				c.unwatch(ev.Contact.CallID)
			}
			c.send(stateMsg{Type: "state", State: ev.State})
		}
	}
}

func (c *conn) reader(ctx context.Context) {
	c.ws.SetReadLimit(64 << 10)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var m inMsg
		if err := json.Unmarshal(data, &m); err != nil {
			c.send(errorMsg{Type: "error", Error: "bad message: " + err.Error()})
			continue
		}
		c.handle(ctx, m)
	}
}

func (c *conn) handle(ctx context.Context, m inMsg) {
	svc := c.d.o.Service
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fail := func(err error) { c.send(errorMsg{Type: "error", ID: m.ID, Error: err.Error()}) }
	switch m.Type {
	case "accept", "reject":
		if m.OfferID == "" {
			fail(errors.New(m.Type + ": offer_id is required"))
			return
		}
		a, err := svc.Answer(rctx, c.agent, m.OfferID, m.Type == "accept")
		if err != nil {
			fail(err)
			return
		}
		c.send(ackMsg{Type: "ack", ID: m.ID, State: a.State, Contact: a.Contact, Duplicate: a.Duplicate})
	case "presence":
		st, err := svc.SetPresence(rctx, c.agent, m.Presence, m.Reason)
		if err != nil {
			fail(err)
			return
		}
		c.send(ackMsg{Type: "ack", ID: m.ID, State: st})
	case "finish":
		st, err := svc.Finish(rctx, c.agent, m.ContactID)
		if err != nil {
			fail(err)
			return
		}
		c.send(ackMsg{Type: "ack", ID: m.ID, State: st})
	case "end_wrap_up":
		st, err := svc.EndWrapUp(rctx, c.agent)
		if err != nil {
			fail(err)
			return
		}
		c.send(ackMsg{Type: "ack", ID: m.ID, State: st})
	default:
		fail(errors.New("unknown message type " + strconvQuote(m.Type)))
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

func (c *conn) queueViews(ctx context.Context) []QueueView {
	svc := c.d.o.Service
	var out []QueueView
	for _, q := range svc.Queues() {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := svc.Stats(qctx, q)
		cancel()
		if err != nil {
			continue
		}
		out = append(out, viewOf(svc, st, time.Now()))
	}
	return out
}

func (c *conn) statsLoop(ctx context.Context) {
	t := time.NewTicker(c.d.o.StatsEvery)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.send(queuesMsg{Type: "queues", Queues: c.queueViews(ctx)})
		}
	}
}

// watch follows a call the agent is on: new turns go to the desktop and
// final utterances to agent assist, whose suggestions go to the desktop.
func (c *conn) watch(ctx context.Context, callID string) {
	if callID == "" {
		return
	}
	c.mu.Lock()
	if _, ok := c.watching[callID]; ok {
		c.mu.Unlock()
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	c.watching[callID] = cancel
	c.mu.Unlock()
	go func() {
		svc := c.d.o.Service
		next := 0 // turns before the agent joined are sent too: the desktop shows the whole call
		t := time.NewTicker(c.d.o.TranscriptEvery)
		defer t.Stop()
		for {
			tctx, tcancel := context.WithTimeout(wctx, 5*time.Second)
			tr, err := svc.Transcript(tctx, callID)
			tcancel()
			if err == nil {
				for _, turn := range tr.Turns {
					if turn.Seq <= next {
						continue
					}
					next = turn.Seq
					c.send(turnMsg{Type: "turn", CallID: callID, Turn: turn})
					c.suggest(wctx, callID, turn)
				}
			}
			select {
			case <-wctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (c *conn) suggest(ctx context.Context, callID string, turn store.Turn) {
	if c.d.o.Assist == nil || turn.Speaker == store.SpeakerBot {
		return
	}
	a := c.d.o.Assist()
	if a == nil {
		return
	}
	s, err := a.Utterance(ctx, assist.Utterance{CallID: callID, Speaker: turn.Speaker, Text: turn.Text, Final: true, At: turn.At})
	if err != nil {
		return // nothing relevant, too short or a duplicate: nothing to show
	}
	c.send(suggestionMsg{Type: "suggestion", Suggestion: s})
}

func (c *conn) unwatch(callID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if stop, ok := c.watching[callID]; ok {
		stop()
		delete(c.watching, callID)
	}
}
