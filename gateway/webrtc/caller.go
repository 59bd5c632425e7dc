package webrtc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	pion "github.com/pion/webrtc/v4"

	"github.com/parley-cc/parley/gateway/dialplan"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/store"
)

// ServeCaller upgrades to the caller signalling WebSocket: the browser sends
// an offer naming the extension, trickles candidates, may send dtmf and
// hangup; the gateway answers, trickles its candidates, reports state and
// errors. One call at a time per socket; closing the socket hangs up.
func (g *Gateway) ServeCaller(w http.ResponseWriter, r *http.Request) {
	c, err := g.upgrade(w, r)
	if err != nil {
		g.log.Debug("webrtc caller upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	defer c.close()
	var leg *Leg
	for {
		m, err := c.read()
		if errors.Is(err, errTransport) {
			break
		}
		if err != nil {
			c.sendError(m.CallID, CodeBadMessage, err)
			continue
		}
		live := leg != nil && !isDone(leg)
		if m.Type != TypeOffer && !live {
			if m.Type == TypeHangup || m.Type == TypeCandidate && leg != nil {
				continue // the call already ended: a late hang-up or candidate is harmless
			}
			c.sendError(m.CallID, CodeBadMessage, fmt.Errorf("%w: %s without a call: send an offer first", ErrBadMessage, m.Type))
			continue
		}
		switch m.Type {
		case TypeOffer:
			if live {
				c.sendError(m.CallID, CodeBadMessage, fmt.Errorf("%w: offer: call %s is still up on this connection; hang up first", ErrBadMessage, leg.id))
				continue
			}
			if l := g.startCall(r.Context(), c, m); l != nil {
				leg = l
			}
		case TypeCandidate:
			if err := addRemoteCandidate(leg.pc, m.Candidate); err != nil {
				c.sendError(leg.id, CodeBadMessage, err)
			}
		case TypeDTMF:
			leg.key(m.Digit[0], keySignalling)
		case TypeHangup:
			leg.end("caller", "hangup")
		default:
			c.sendError(m.CallID, CodeBadMessage, fmt.Errorf("%w: %s is not a caller's message (offer, candidate, dtmf, hangup)", ErrBadMessage, m.Type))
		}
	}
	if leg != nil {
		leg.end("caller", "signalling closed")
	}
}

func isDone(l *Leg) bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// startCall answers an offer and runs the extension's application once media
// is connected. On failure the browser gets an error and nil is returned.
func (g *Gateway) startCall(ctx context.Context, c *conn, m Message) *Leg {
	if e := g.admit(); e != nil {
		_ = c.send(*e)
		return nil
	}
	if m.Extension == "" {
		c.sendError("", CodeBadMessage, fmt.Errorf("%w: offer: \"extension\" is empty: name the extension to call", ErrBadMessage))
		return nil
	}
	app, err := g.cfg.Apps.Resolve(ctx, m.Extension)
	switch {
	case errors.Is(err, dialplan.ErrNoRoute):
		c.sendError("", CodeNotFound, err)
		return nil
	case errors.Is(err, dialplan.ErrUnavailable):
		c.sendError("", CodeUnavailable, err)
		return nil
	case err != nil:
		c.sendError("", CodeFailed, fmt.Errorf("route extension %q: %w", m.Extension, err))
		return nil
	}
	f, err := pickAudio(m.SDP)
	if err != nil {
		code := CodeBadMessage
		if errors.Is(err, ErrNoCodec) {
			code = CodeNoCodec
		}
		c.sendError("", code, err)
		return nil
	}
	id := newCallID()
	leg, tr, err := g.newLeg(id, "caller", f, c)
	if err != nil {
		c.sendError(id, CodeFailed, err)
		return nil
	}
	fail := func(code string, err error) *Leg {
		c.sendError(id, code, err)
		leg.onEnd = nil
		leg.end("system", "set-up failed")
		g.forget(id)
		return nil
	}
	if err := leg.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: m.SDP}); err != nil {
		return fail(CodeBadMessage, fmt.Errorf("%w: offer: %v", ErrBadMessage, err))
	}
	answer, err := leg.pc.CreateAnswer(nil)
	if err != nil {
		return fail(CodeFailed, fmt.Errorf("create answer: %w", err))
	}
	if err := leg.pc.SetLocalDescription(answer); err != nil {
		return fail(CodeFailed, fmt.Errorf("set answer: %w", err))
	}

	from := m.From
	if from == "" {
		from = "webrtc:" + c.remote
	}
	if !g.hold(2) { // the call's record writer and runCall
		return fail(CodeUnavailable, errors.New("this node is shutting down and takes no new calls; try again"))
	}
	cl := g.startCallLog(id)
	cl.do(func(ctx context.Context) error {
		return cl.log.Started(ctx, store.Call{ID: id, Direction: store.DirectionInbound, Channel: "webrtc", From: from, To: m.Extension, StartedAt: time.Now()})
	})
	leg.onKey = func(ev media.Event, source string) {
		cl.event("dtmf", "caller", map[string]string{"digit": string(ev.Digit), "source": source})
	}
	leg.onEnd = func(by, reason string) {
		g.forget(id)
		cl.finish(by, reason)
		g.log.Info("webrtc call ended", "call", id, "extension", m.Extension, "by", by, "reason", reason)
	}
	if err := c.send(Message{Type: TypeAnswer, CallID: id, SDP: leg.pc.LocalDescription().SDP}); err != nil {
		leg.end("caller", "signalling closed")
		g.wg.Done() // runCall's, never started
		return nil
	}
	tr.release()
	g.log.Info("webrtc call offered", "call", id, "extension", m.Extension, "codec", f.MimeType, "from", from)

	go func() {
		defer g.wg.Done()
		g.runCall(leg, app, cl, c, m.Extension)
	}()
	return leg
}

// runCall waits for media, records the answer and runs the application
// until it returns (the gateway then hangs up) or the call ends.
func (g *Gateway) runCall(leg *Leg, app media.Application, cl *callLog, c *conn, ext string) {
	timer := time.NewTimer(g.cfg.ConnectTimeout)
	defer timer.Stop()
	select {
	case <-leg.connected:
	case <-leg.done:
		return
	case <-timer.C:
		c.sendError(leg.id, CodeFailed, fmt.Errorf("media not connected within %s (ICE/DTLS): check STUN/TURN settings", g.cfg.ConnectTimeout))
		leg.terminate("system", "media not connected")
		return
	}
	g.startRecording(leg, cl)
	cl.event("answered", "system", map[string]string{"extension": ext})
	_ = c.send(Message{Type: TypeState, CallID: leg.id, State: "answered"})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-leg.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := app.Run(ctx, leg)
	if err != nil && !errors.Is(err, media.ErrHungUp) && ctx.Err() == nil {
		g.log.Warn("webrtc application failed", "call", leg.id, "extension", ext, "err", err)
	}
	// Let the last queued audio play out before hanging up.
	for i := 0; i < outQueue+1 && len(leg.out) > 0; i++ {
		select {
		case <-leg.done:
		case <-time.After(frameDur):
		}
	}
	leg.terminate("system", "application ended")
}
