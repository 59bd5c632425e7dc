package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-cc/parley/gateway/sip/internal/media"
)

// ErrNoMedia is returned by audio calls on a call whose media is gone.
var ErrNoMedia = errors.New("call has no media")

// callMedia is the RTP side of one call leg.
type callMedia interface {
	LocalAddr() netip.AddrPort
	SetRemote(m Media, a Agreement) error
	Idle() time.Duration
	Close() error
}

// rtpLeg adapts the media session to a call: DTMF and the recording path become call events.
type rtpLeg struct {
	session *media.Session
	call    *Call
	pool    *portPool
	port    int
	closed  chan struct{}
}

func (s *Server) openMedia(c *Call) (callMedia, error) {
	conn, err := s.ports.open()
	if err != nil {
		return nil, err
	}
	session := media.New(conn)
	leg := &rtpLeg{session: session, call: c, pool: s.ports, port: int(session.LocalAddr().Port()), closed: make(chan struct{})}
	if s.cfg.DataDir != "" {
		dir := filepath.Join(s.cfg.DataDir, "recordings")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			leg.Close()
			return nil, fmt.Errorf("recordings folder: %w", err)
		}
		if err := leg.session.Record(filepath.Join(dir, recordingName(c.ID)+".wav")); err != nil {
			leg.Close()
			return nil, err
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		leg.forwardDigits()
	}()
	return leg, nil
}

// recordingName makes a Call-ID safe as a file name.
func recordingName(callID string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, callID)
}

func (l *rtpLeg) forwardDigits() {
	for {
		select {
		case d := <-l.session.Digits():
			e := l.call.event(EventDTMF)
			e.Digit = d
			l.call.srv.emit(e)
			select {
			case l.call.digits <- d:
			default:
			}
		case <-l.closed:
			return
		}
	}
}

func (l *rtpLeg) LocalAddr() netip.AddrPort { return l.session.LocalAddr() }

func (l *rtpLeg) SetRemote(m Media, a Agreement) error {
	l.session.Configure(media.Stream{
		Codec: a.Codec.Name, PayloadType: a.Codec.PayloadType, DTMF: a.DTMF, DTMFPayloadType: a.DTMFPayloadType,
		Remote: m.Addr, Send: m.Direction != SendOnly && m.Direction != Inactive && !m.Addr.Addr().IsUnspecified(),
	})
	return nil
}

func (l *rtpLeg) Idle() time.Duration { return l.session.Idle() }

func (l *rtpLeg) Close() error {
	path, err := l.session.Close()
	close(l.closed)
	l.pool.release(l.port)
	if path != "" {
		e := l.call.event(EventRecording)
		e.Path = path
		l.call.srv.emit(e)
	}
	return err
}

// ReadAudio returns the next block of the peer's audio as 8 kHz 16-bit linear PCM.
func (c *Call) ReadAudio(ctx context.Context) ([]int16, error) {
	l := c.leg()
	if l == nil {
		return nil, ErrNoMedia
	}
	return l.session.ReadFrame(ctx)
}

// WriteAudio sends 8 kHz 16-bit linear PCM to the peer, blocking to pace it in real time.
func (c *Call) WriteAudio(ctx context.Context, pcm []int16) error {
	l := c.leg()
	if l == nil {
		return ErrNoMedia
	}
	return l.session.WriteFrame(ctx, pcm)
}

// Digits delivers the peer's RFC 4733 DTMF digits (they are also reported as EventDTMF).
func (c *Call) Digits() <-chan string { return c.digits }

func (c *Call) leg() *rtpLeg {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, _ := c.media.(*rtpLeg)
	return l
}
