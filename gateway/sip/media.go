package sip

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"regexp"
	"sync"

	"github.com/parley-cc/parley/gateway/rtp"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/gateway/rtp/wav"
)

// callMedia is the RTP side of one call leg: an rtp.Session seen as a
// media.Call, monitored so the recording and the call events see everything.
type callMedia struct {
	session *rtp.Session
	leg     *media.SessionLeg
	mon     *media.Monitored
	rec     *wav.Recorder  // nil without Config.DataDir
	mu      sync.Mutex     // serializes SetRemote
	sdpAddr netip.AddrPort // the peer's last usable SDP address, to see it move
}

// safeID is what Parley accepts as a call id (the HTTP API's id rule).
var safeID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)

// CallRef turns a SIP Call-ID into the call's Parley id: the Call-ID itself
// when it is a valid id, else "sip-" and a hash of it (Call-IDs often hold
// '@' and may be long). It is stable, so every request of a dialog maps to it.
func CallRef(sipCallID string) string {
	if safeID.MatchString(sipCallID) {
		return sipCallID
	}
	sum := sha256.Sum256([]byte(sipCallID))
	return "sip-" + hex.EncodeToString(sum[:12])
}

func (s *Server) openMedia(c *Call) (*callMedia, error) {
	session, err := rtp.NewSession(c.ctx, rtp.Config{
		LocalIP:      s.bindIP,
		Ports:        rtp.PortRange{Min: s.cfg.RTPPortMin, Max: s.cfg.RTPPortMax},
		PayloadType:  rtp.PCMU, // until the SDP agreement says otherwise
		LearnRemote:  true,     // symmetric RTP for callers behind NAT
		MediaTimeout: s.cfg.MediaTimeout,
		InbandDTMF:   !s.cfg.NoInbandDTMF,
		Logger:       s.log.With("call_id", c.id),
	})
	if err != nil {
		return nil, err
	}
	m := &callMedia{session: session}
	if s.cfg.DataDir != "" && !c.noRecording {
		m.rec, err = wav.NewRecorder(s.cfg.DataDir, c.id)
		if err != nil {
			session.Close()
			return nil, err
		}
	}
	m.leg = media.NewSessionLeg(c.id, session, nil)
	m.mon = media.Monitor(m.leg, m.rec, c.legEvent)
	return m, nil
}

// LocalAddr is the RTP address to put in SDP (the host part is replaced by the public IP).
func (m *callMedia) LocalAddr() netip.AddrPort { return m.session.LocalAddr().AddrPort() }

// SetRemote applies an SDP agreement: codec, telephone-event type, peer address, hold.
func (m *callMedia) SetRemote(remote Media, a Agreement) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var dtmfPT uint8
	if a.DTMF {
		dtmfPT = a.DTMFPayloadType
	}
	if err := m.session.SetPayloadTypes(a.Codec.PayloadType, dtmfPT); err != nil {
		// A telephone-event type outside 96-127: keep the codec, ignore the events.
		if err2 := m.session.SetPayloadTypes(a.Codec.PayloadType, 0); err2 != nil {
			return err2
		}
	}
	if ip := remote.Addr.Addr(); ip.IsValid() && !ip.IsUnspecified() && remote.Addr.Port() != 0 {
		addr := netip.AddrPortFrom(ip.Unmap(), remote.Addr.Port())
		if m.sdpAddr.IsValid() && m.sdpAddr != addr {
			// The peer moved its media (a re-INVITE from a new address or port):
			// symmetric RTP latched the old source, so latch again.
			m.session.Relatch(net.UDPAddrFromAddrPort(addr))
		} else {
			m.session.SetRemote(net.UDPAddrFromAddrPort(addr))
		}
		m.sdpAddr = addr
	}
	// Sending to a peer that asked for no media (sendonly, inactive, c=0.0.0.0) stops until it resumes.
	m.session.Hold(remote.OnHold())
	return nil
}

// Close ends the leg and finishes the recording; it returns the recording's path ("" when none).
func (m *callMedia) Close() (string, error) {
	err := m.session.Close()
	m.leg.RemoteHangup()
	<-m.mon.Stopped() // the recorder has had the last frame
	if m.rec == nil {
		return "", err
	}
	if perr := m.rec.PadToNow(); perr != nil && err == nil {
		err = perr
	}
	if cerr := m.rec.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return m.rec.Path(), err
}

// The Call is a media.Call for applications (echo, prompts, the voicebot, bridges).
var _ media.Call = (*Call)(nil)

// ErrNoMedia is returned by audio calls on a call that never had media.
var ErrNoMedia = errors.New("call has no media")

// Frames delivers the peer's audio, one 20 ms frame at a time.
func (c *Call) Frames() <-chan audio.Frame {
	m := c.media.Load()
	if m == nil {
		return nil
	}
	return m.mon.Frames()
}

// Write queues one 20 ms frame to the peer, paced at real time.
func (c *Call) Write(ctx context.Context, f audio.Frame) error {
	m := c.media.Load()
	if m == nil {
		return ErrNoMedia
	}
	select {
	case <-c.ctx.Done():
		return media.ErrHungUp
	default:
	}
	return m.mon.Write(ctx, f)
}

// Flush discards audio queued to the peer (barge-in).
func (c *Call) Flush() {
	if m := c.media.Load(); m != nil {
		m.session.Flush()
	}
}

// Events delivers key presses, media timeouts and the hang-up.
func (c *Call) Events() <-chan media.Event {
	m := c.media.Load()
	if m == nil {
		return nil
	}
	return m.mon.Events()
}

// SendDigit sends an RFC 4733 key press to the peer.
func (c *Call) SendDigit(digit byte) error {
	m := c.media.Load()
	if m == nil {
		return ErrNoMedia
	}
	return m.session.SendDigit(digit)
}

// Stats returns the call's RTP counters.
func (c *Call) Stats() (rtp.Stats, error) {
	m := c.media.Load()
	if m == nil {
		return rtp.Stats{}, ErrNoMedia
	}
	return m.session.Stats(), nil
}

// RecordingPath returns the file the call is recorded to, "" when it is not recorded.
func (c *Call) RecordingPath() string {
	m := c.media.Load()
	if m == nil || m.rec == nil {
		return ""
	}
	return m.rec.Path()
}

// legEvent turns the leg's key presses and media timeouts into call events.
func (c *Call) legEvent(ev media.Event) {
	switch ev.Kind {
	case media.KeyPress:
		e := c.event(EventDTMF)
		e.Digit = string(ev.Digit)
		if ev.InBand {
			e.Reason = "in-band"
		}
		c.srv.emit(e)
	case media.MediaTimeout:
		if c.OnHold() {
			return
		}
		c.srv.log.Warn("sip: media timeout, hanging up", "call_id", c.id)
		go c.end(BySystem, "media timeout", true)
	}
}
