package webrtc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	writeWait = 5 * time.Second
	pingEvery = 20 * time.Second
	readIdle  = 3 * pingEvery // a browser answers pings by itself
)

// conn is one signalling WebSocket: JSON messages, writes serialized,
// pings to notice a vanished browser.
type conn struct {
	ws     *websocket.Conn
	wmu    sync.Mutex
	done   chan struct{}
	once   sync.Once
	remote string
}

// errTransport marks a read failure of the socket itself (closed, timed out).
var errTransport = errors.New("signalling socket closed")

func (g *Gateway) upgrade(w http.ResponseWriter, r *http.Request) (*conn, error) {
	// The API's middleware wraps the ResponseWriter; the upgrade needs the
	// connection's own writer, which supports hijacking.
	for {
		if _, ok := w.(http.Hijacker); ok {
			break
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	ws, err := g.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil, err // the upgrader has answered the request
	}
	ws.SetReadLimit(MaxMessageSize)
	c := &conn{ws: ws, done: make(chan struct{}), remote: r.RemoteAddr}
	_ = ws.SetReadDeadline(time.Now().Add(readIdle))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(readIdle)) })
	go c.ping()
	return c, nil
}

func (c *conn) ping() {
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.wmu.Lock()
			err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait))
			c.wmu.Unlock()
			if err != nil {
				c.close()
				return
			}
		}
	}
}

func (c *conn) send(m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.done:
		return errTransport
	default:
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *conn) sendError(callID, code string, err error) {
	_ = c.send(Message{Type: TypeError, CallID: callID, Code: code, Error: err.Error()})
}

// read returns the next message; a socket failure wraps errTransport, a bad
// message wraps ErrBadMessage (the socket stays usable).
func (c *conn) read() (Message, error) {
	kind, b, err := c.ws.ReadMessage()
	if err != nil {
		return Message{}, fmt.Errorf("%w: %v", errTransport, err)
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(readIdle))
	if kind != websocket.TextMessage {
		return Message{}, fmt.Errorf("%w: binary frame; signalling messages are JSON text", ErrBadMessage)
	}
	return ParseMessage(b)
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		c.wmu.Lock()
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.wmu.Unlock()
		_ = c.ws.Close()
	})
}
