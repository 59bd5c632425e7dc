package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"

	"github.com/parley-cc/parley/gateway/rtp"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
)

// dialogSession is what a call needs from sipgo's UAS and UAC dialog sessions alike.
type dialogSession interface {
	Do(ctx context.Context, req *siplib.Request) (*siplib.Response, error)
	Context() context.Context
}

// Call is one answered call leg, inbound or outbound; it is the media.Call
// its application runs on.
type Call struct {
	id          string // Parley call id (CallRef of the SIP Call-ID)
	sipCallID   string
	srv         *Server
	dialogID    string
	inbound     bool
	remoteParty Party
	agentLeg    bool
	noRecording bool
	from, to    string
	destination string
	app         media.Application
	uas         *sipgo.DialogServerSession
	uac         *sipgo.DialogClientSession
	contact     siplib.ContactHeader
	release     func()

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	ended  sync.Once
	acked  chan struct{}

	media       atomic.Pointer[callMedia] // set once before the call is answered
	mediaClosed atomic.Bool

	mu          sync.Mutex
	sessionID   uint64
	version     uint64
	remote      Media
	agreement   Agreement
	remoteHold  bool
	answered    bool
	ackBody     []byte
	ackAnswer   bool
	hangupBy    Party
	hangupWhy   string
	referResult chan string
	remoteCSeq  uint32
	digits      chan string
}

func newCall(s *Server, dialogID, callID string, inbound bool, remote Party) *Call {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Call{
		id: CallRef(callID), sipCallID: callID, srv: s, dialogID: dialogID, inbound: inbound, remoteParty: remote,
		ctx: ctx, cancel: cancel, done: make(chan struct{}), acked: make(chan struct{}, 1),
		sessionID: randomUint63(), version: 1,
		referResult: make(chan string, 4), digits: make(chan string, 32),
	}
	if ua := s.dialogUA["udp"]; ua != nil {
		c.contact = ua.ContactHDR
	}
	return c
}

// ID is the call's Parley id: CallRef of its SIP Call-ID. Recordings and call events use it.
func (c *Call) ID() string { return c.id }

// SIPCallID is the SIP Call-ID header of the leg.
func (c *Call) SIPCallID() string { return c.sipCallID }

// Inbound tells whether the caller called the gateway (true) or the gateway dialled out (false).
func (c *Call) Inbound() bool { return c.inbound }

// From returns the caller URI.
func (c *Call) From() string { return c.from }

// To returns the callee URI.
func (c *Call) To() string { return c.to }

// Destination returns the dialplan name (inbound) or the dialled target (outbound).
func (c *Call) Destination() string { return c.destination }

// Context is cancelled when the call ends.
func (c *Call) Context() context.Context { return c.ctx }

// Done is closed when the call has ended and its media is released.
func (c *Call) Done() <-chan struct{} { return c.done }

// Agreement returns the negotiated codec, DTMF payload type and ptime.
func (c *Call) Agreement() Agreement {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agreement
}

// RemoteMedia returns the peer's current SDP media description.
func (c *Call) RemoteMedia() Media {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remote
}

// OnHold tells whether the peer has put the call on hold.
func (c *Call) OnHold() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteHold
}

// Hangup ends the call with a BYE (reported as by=system).
func (c *Call) Hangup(ctx context.Context) error {
	c.endCtx(ctx, BySystem, "hangup", true)
	return nil
}

// acceptCSeq enforces increasing CSeq numbers for in-dialog requests from the peer.
// It is kept apart from sipgo's own counter, which its ACK matching relies on:
// a REFER racing the initial ACK must not make that ACK look stale.
func (c *Call) acceptCSeq(req *siplib.Request) bool {
	cseq := req.CSeq()
	if cseq == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cseq.SeqNo <= c.remoteCSeq {
		return false
	}
	c.remoteCSeq = cseq.SeqNo
	return true
}

func (c *Call) dialog() dialogSession {
	if c.uas != nil {
		return c.uas
	}
	return c.uac
}

func (c *Call) event(kind EventKind) Event {
	return Event{Kind: kind, CallID: c.id, SIPCallID: c.sipCallID, Destination: c.destination, From: c.from, To: c.to, Inbound: c.inbound, AgentLeg: c.agentLeg}
}

// start reports the answer and runs the call's application.
func (c *Call) start() {
	c.mu.Lock()
	c.answered = true
	c.mu.Unlock()
	e := c.event(EventAnswered)
	e.Path = c.RecordingPath()
	c.srv.emit(e)
	if c.app == nil {
		return
	}
	c.srv.wg.Add(1)
	go func() {
		defer c.srv.wg.Done()
		err := c.app.Run(c.ctx, c)
		if c.ctx.Err() != nil {
			return
		}
		reason := "application finished"
		if err != nil {
			reason = "application failed: " + err.Error()
			c.srv.log.Warn("sip: call application failed", "call_id", c.id, "destination", c.destination, "error", err)
		} else {
			c.drainOutput()
		}
		c.end(BySystem, reason, true)
	}()
}

// drainOutput lets audio the application queued reach the peer before the
// BYE: after this many silence frames nothing else is queued (the send queue
// holds fewer).
func (c *Call) drainOutput() {
	ctx, cancel := context.WithTimeout(c.ctx, time.Second)
	defer cancel()
	var silence audio.Frame
	for range 10 {
		if c.Write(ctx, silence) != nil {
			return
		}
	}
}

func (c *Call) end(by Party, reason string, sendBye bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.endCtx(ctx, by, reason, sendBye)
}

// endCtx tears the call down once: BYE when asked, media, registry, capacity slot, hangup event.
func (c *Call) endCtx(ctx context.Context, by Party, reason string, sendBye bool) {
	c.ended.Do(func() {
		// Who ended it is known before the BYE (which may take seconds to a dead peer).
		c.mu.Lock()
		c.hangupBy, c.hangupWhy = by, reason
		c.mu.Unlock()
		c.cancel()
		if sendBye {
			var err error
			if c.uas != nil {
				err = c.uas.Bye(ctx)
			} else if c.uac != nil {
				err = c.uac.Bye(ctx)
			}
			if err != nil {
				c.srv.log.Warn("sip: BYE failed", "call_id", c.id, "error", err)
			}
		}
		if c.uas != nil {
			c.uas.Close()
		}
		if c.uac != nil {
			c.uac.Close()
		}
		var stats *rtp.Stats
		if m := c.media.Load(); m != nil {
			st := m.session.Stats()
			stats = &st
		}
		recording := c.closeMedia()
		c.srv.removeCall(c.dialogID)
		if c.release != nil {
			c.release()
		}
		c.mu.Lock()
		answered := c.answered
		c.mu.Unlock()
		if recording != "" {
			e := c.event(EventRecording)
			e.Path = recording
			c.srv.emit(e)
		}
		if answered {
			e := c.event(EventHangup)
			e.By, e.Reason, e.Media = by, reason, stats
			c.srv.emit(e)
		}
		c.srv.log.Info("sip: call ended", "call_id", c.id, "sip_call_id", c.sipCallID, "by", by, "reason", reason)
		close(c.done)
	})
}

func (c *Call) openMedia() error {
	m, err := c.srv.openMedia(c)
	if err != nil {
		return err
	}
	c.media.Store(m)
	return nil
}

// closeMedia ends the RTP session and the recording once and returns the recording's path.
func (c *Call) closeMedia() string {
	m := c.media.Load()
	if m == nil || !c.mediaClosed.CompareAndSwap(false, true) {
		return ""
	}
	path, err := m.Close()
	if err != nil {
		c.srv.log.Warn("sip: closing media failed", "call_id", c.id, "error", err)
	}
	return path
}

// localOffer renders an SDP offer with every supported codec.
func (c *Call) localOffer() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.media.Load() == nil {
		return nil, errors.New("offer: call has no media")
	}
	c.version++
	m := Media{
		Addr: c.localAddr(), Codecs: c.srv.codecs, DTMF: true, DTMFPayloadType: DefaultDTMFPayloadType,
		Ptime: DefaultPtime, Direction: SendRecv, SessionID: c.sessionID, SessionVersion: c.version,
	}
	return m.Marshal()
}

func (c *Call) localAddr() netip.AddrPort {
	return netip.AddrPortFrom(c.srv.publicIP, c.media.Load().LocalAddr().Port())
}

// setRemote applies the peer's SDP (offer or answer) to the media and, for an offer, renders our answer.
func (c *Call) setRemote(m Media, a Agreement, answer bool) ([]byte, error) {
	c.mu.Lock()
	rtpLeg := c.media.Load()
	if rtpLeg == nil {
		c.mu.Unlock()
		return nil, errors.New("apply SDP: call has no media")
	}
	wasHeld, answered := c.remoteHold, c.answered
	c.remote, c.agreement, c.remoteHold = m, a, m.OnHold()
	var body []byte
	var err error
	if answer {
		dir := m.Direction.Reverse()
		if m.Addr.Addr().IsUnspecified() {
			// c=0.0.0.0 (RFC 2543 hold): the peer cannot receive, whatever its direction says.
			switch dir {
			case SendRecv:
				dir = RecvOnly
			case SendOnly:
				dir = Inactive
			}
		}
		c.version++
		ours := Media{
			Addr: c.localAddr(), Codecs: []Codec{a.Codec}, DTMF: a.DTMF, DTMFPayloadType: a.DTMFPayloadType,
			Ptime: DefaultPtime, Direction: dir, SessionID: c.sessionID, SessionVersion: c.version,
		}
		body, err = ours.Marshal()
	}
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := rtpLeg.SetRemote(m, a); err != nil {
		return nil, fmt.Errorf("apply SDP to media: %w", err)
	}
	if answered && wasHeld != m.OnHold() {
		kind := EventResume
		if m.OnHold() {
			kind = EventHold
		}
		c.srv.emit(c.event(kind))
	}
	return body, nil
}

func (c *Call) expectAckAnswer(v bool) {
	c.mu.Lock()
	c.ackAnswer = v
	c.mu.Unlock()
}

func (c *Call) takeAckBody() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.ackBody
	c.ackBody = nil
	return b
}

// readAck confirms the dialog; an ACK may carry the answer to an offer we sent in a 2xx.
func (c *Call) readAck(req *siplib.Request, tx siplib.ServerTransaction) {
	c.mu.Lock()
	c.ackBody = append([]byte(nil), req.Body()...)
	reinviteAnswer := c.ackAnswer
	c.ackAnswer = false
	c.mu.Unlock()
	if reinviteAnswer {
		m, err := ParseSDP(req.Body())
		var a Agreement
		if err == nil {
			a, err = Negotiate(m, c.srv.codecs)
		}
		if err == nil {
			_, err = c.setRemote(m, a, false)
		}
		if err != nil {
			c.srv.log.Warn("sip: re-INVITE answer in ACK unusable", "call_id", c.id, "error", err)
		}
	}
	if c.uas != nil {
		if err := c.uas.ReadAck(req, tx); err != nil {
			c.srv.log.Debug("sip: ACK not matching the dialog", "call_id", c.id, "error", err)
		}
	}
	select {
	case c.acked <- struct{}{}:
	default:
	}
}

// respond2xx sends a 2xx to a re-INVITE and retransmits it until the ACK arrives (RFC 3261 13.3.1.4).
func (c *Call) respond2xx(tx siplib.ServerTransaction, res *siplib.Response) {
	select {
	case <-c.acked: // drop a stale signal
	default:
	}
	if err := tx.Respond(res); err != nil {
		c.srv.log.Warn("sip: re-INVITE response failed", "call_id", c.id, "error", err)
		return
	}
	interval := siplib.T1
	deadline := time.NewTimer(64 * siplib.T1)
	defer deadline.Stop()
	for {
		select {
		case <-c.acked:
			return
		case <-c.ctx.Done():
			return
		case <-deadline.C:
			c.srv.log.Warn("sip: no ACK for re-INVITE 2xx", "call_id", c.id)
			return
		case <-time.After(interval):
			if err := tx.Respond(res); err != nil {
				return
			}
			interval = min(2*interval, siplib.T2)
		}
	}
}
