package voice

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// desk is an agent logged in on the node's agent desktop WebSocket
// (GET /ws/agent, protocol in routing/desk) for a scenario that expects a
// hand-off: the agent goes available, so routing offers the contact at once
// instead of estimating a long wait, and accepts every offer, so the node
// rings the agent's phone and bridges the call. Closing the desktop logs the
// agent out (routing/desk does that when the socket goes away).
type desk struct {
	agent string
	ws    *websocket.Conn
	wmu   sync.Mutex
	done  chan struct{}
}

// deskMsg is the part of the desktop's messages the eval reads.
type deskMsg struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Error string `json:"error"`
	Offer struct {
		ID string `json:"id"`
	} `json:"offer"`
}

// staff logs agent in at the node whose HTTP API is api and makes them
// available; the desk answers offers until close.
func staff(ctx context.Context, api, agent, token string) (*desk, error) {
	u, err := url.Parse(api)
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = "/ws/agent"
	q := url.Values{"agent": {agent}}
	if token != "" {
		q.Set("token", token)
	}
	u.RawQuery = q.Encode()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ws, res, err := websocket.DefaultDialer.DialContext(dctx, u.String(), nil)
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("agent desktop for %s: %s: %w", agent, res.Status, err)
		}
		return nil, fmt.Errorf("agent desktop for %s: %w", agent, err)
	}
	d := &desk{agent: agent, ws: ws, done: make(chan struct{})}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := d.expect("hello", ""); err != nil {
		ws.Close()
		return nil, err
	}
	if err := d.send(map[string]any{"type": "presence", "presence": "available", "id": "staff"}); err != nil {
		ws.Close()
		return nil, err
	}
	if err := d.expect("ack", "staff"); err != nil {
		ws.Close()
		return nil, fmt.Errorf("agent %s available: %w", agent, err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	go d.serve()
	return d, nil
}

// expect reads until a message of type typ (with id, when given); an
// error message fails.
func (d *desk) expect(typ, id string) error {
	for {
		var m deskMsg
		if err := d.ws.ReadJSON(&m); err != nil {
			return fmt.Errorf("agent desktop for %s: waiting for %s: %w", d.agent, typ, err)
		}
		if m.Type == "error" && (id == "" || m.ID == id) {
			return fmt.Errorf("agent desktop for %s: %s", d.agent, m.Error)
		}
		if m.Type == typ && (id == "" || m.ID == id) {
			return nil
		}
	}
}

func (d *desk) send(m any) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	_ = d.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return d.ws.WriteJSON(m)
}

// serve accepts offers and ends wrap-up at once, so the agent can take the
// next scenario's call.
func (d *desk) serve() {
	defer close(d.done)
	for {
		var m deskMsg
		if err := d.ws.ReadJSON(&m); err != nil {
			return
		}
		switch m.Type {
		case "offer":
			_ = d.send(map[string]any{"type": "accept", "offer_id": m.Offer.ID})
		case "ended":
			_ = d.send(map[string]any{"type": "end_wrap_up"})
		}
	}
}

// close logs the agent out (by leaving the desktop).
func (d *desk) close() {
	d.wmu.Lock()
	_ = d.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	d.wmu.Unlock()
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
	}
	d.ws.Close()
}
