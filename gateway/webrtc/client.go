package webrtc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/gorilla/websocket"
	pion "github.com/pion/webrtc/v4"
)

// Client places calls to a Parley node's /call/ws as a browser would
// (offer, trickle ICE, G.711), with the same Leg as the gateway's end: for
// load tests (`parley bench webrtc`) and tests of other packages. One Client
// serves many concurrent calls.
type Client struct {
	api *pion.API
	log *slog.Logger
}

// NewClient builds a Client gathering candidates as ice says (Loopback for
// a node on the same host).
func NewClient(ice ICEConfig, log *slog.Logger) (*Client, error) {
	if err := ice.Validate(); err != nil {
		return nil, fmt.Errorf("webrtc client: %w", err)
	}
	api, err := newAPI(ice)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Client{api: api, log: log}, nil
}

// Call dials extension at wsURL (ws://host/call/ws) and returns the caller's
// end of the call once the node answered and media is connected. The Leg's
// Frames are the node's audio; Write sends to the node; Hangup ends the
// call; Stats count what arrived (loss by sequence gaps, RFC 3550 jitter).
func (c *Client) Call(ctx context.Context, wsURL, extension, from string) (*Leg, error) {
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("webrtc client: signalling %s: %w", wsURL, err)
	}
	ws.SetReadLimit(MaxMessageSize)
	sig := &conn{ws: ws, done: make(chan struct{}), remote: wsURL}
	pc, err := c.api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		sig.close()
		return nil, fmt.Errorf("webrtc client: peer connection: %w", err)
	}
	leg, err := newLeg("", "gateway", pc, audioFormat{MimeType: pion.MimeTypePCMU, PT: 0, EventPT: -1}, 0, c.log)
	if err != nil {
		pc.Close()
		sig.close()
		return nil, fmt.Errorf("webrtc client: audio track: %w", err)
	}
	leg.onEnd = func(string, string) { sig.close() }
	tr := &trickle{sig: sig}
	pc.OnICECandidate(tr.local)
	fail := func(err error) (*Leg, error) {
		leg.end("system", "set-up failed")
		return nil, fmt.Errorf("webrtc client: call %s: %w", extension, err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fail(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return fail(err)
	}
	if err := sig.send(Message{Type: TypeOffer, Extension: extension, From: from, SDP: pc.LocalDescription().SDP}); err != nil {
		return fail(err)
	}

	answered := make(chan error, 1)
	var once sync.Once
	reply := func(err error) { once.Do(func() { answered <- err }) }
	go func() {
		defer leg.end("gateway", "signalling closed")
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				reply(fmt.Errorf("signalling closed before the answer: %w", err))
				return
			}
			var m Message
			if err := json.Unmarshal(b, &m); err != nil {
				reply(fmt.Errorf("node sent invalid JSON: %w", err))
				return
			}
			switch m.Type {
			case TypeAnswer:
				f, err := pickAudio(m.SDP)
				if err != nil || f.MimeType != pion.MimeTypePCMU {
					reply(fmt.Errorf("answer: %v (the client offers PCMU)", err))
					return
				}
				leg.id = m.CallID
				leg.format.EventPT = f.EventPT
				if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: m.SDP}); err != nil {
					reply(fmt.Errorf("answer: %w", err))
					return
				}
				tr.mu.Lock()
				tr.callID = m.CallID
				tr.mu.Unlock()
				tr.release()
				reply(nil)
			case TypeCandidate:
				_ = addRemoteCandidate(pc, m.Candidate)
			case TypeError:
				reply(fmt.Errorf("%s: %s", m.Code, m.Error))
			case TypeHangup:
				leg.end("gateway", m.Reason)
				return
			}
		}
	}()
	select {
	case err := <-answered:
		if err != nil {
			return fail(err)
		}
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	leg.signal = func(m Message) error { m.CallID = leg.id; return sig.send(m) }
	select {
	case <-leg.connected:
		return leg, nil
	case <-leg.done:
		return nil, fmt.Errorf("webrtc client: call %s: %w", extension, errors.New("ended before media connected"))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
}
