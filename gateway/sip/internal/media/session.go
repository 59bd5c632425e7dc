package media

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// ErrClosed is returned by reads and writes on a closed session.
var ErrClosed = errors.New("media session closed")

// Stream is what the session sends and expects, taken from the SDP agreement.
type Stream struct {
	Codec           string // "PCMU" or "PCMA"
	PayloadType     uint8
	DTMF            bool
	DTMFPayloadType uint8
	Remote          netip.AddrPort
	// Send is false while the peer cannot receive (hold, c=0.0.0.0).
	Send bool
}

// Session is one call's RTP leg on its own UDP socket.
type Session struct {
	conn   *net.UDPConn
	frames chan []int16
	digits chan string
	closed chan struct{}
	once   sync.Once
	start  time.Time
	last   atomic.Int64 // unix nanos of the last RTP packet received
	latch  atomic.Pointer[netip.AddrPort]

	mu       sync.Mutex
	stream   Stream
	ssrc     uint32
	seq      uint16
	ts       uint32
	nextSend time.Time
	marker   bool
	rec      *Recorder
}

// New starts reading RTP on conn; the session owns and closes it.
func New(conn *net.UDPConn) *Session {
	var b [10]byte
	_, _ = rand.Read(b[:])
	s := &Session{
		conn: conn, frames: make(chan []int16, 50), digits: make(chan string, 16), closed: make(chan struct{}),
		start: time.Now(), ssrc: binary.BigEndian.Uint32(b[0:4]), seq: binary.BigEndian.Uint16(b[4:6]),
		ts: binary.BigEndian.Uint32(b[6:10]), marker: true,
	}
	s.last.Store(s.start.UnixNano())
	go s.read()
	return s
}

// LocalAddr is the bound RTP address.
func (s *Session) LocalAddr() netip.AddrPort { return s.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// Configure applies the negotiated stream; it may be called again on re-INVITE.
func (s *Session) Configure(st Stream) {
	s.mu.Lock()
	s.stream = st
	s.mu.Unlock()
}

// Idle is the time since the last RTP packet arrived (since the start when none did).
func (s *Session) Idle() time.Duration { return time.Since(time.Unix(0, s.last.Load())) }

// Digits delivers RFC 4733 DTMF digits as they start.
func (s *Session) Digits() <-chan string { return s.digits }

// Record starts a dual-channel recording (left: received, right: sent) at path.
func (s *Session) Record(path string) error {
	r, err := NewRecorder(path, s.start)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.rec = r
	s.mu.Unlock()
	return nil
}

// ReadFrame returns the next block of received audio as 8 kHz linear PCM.
func (s *Session) ReadFrame(ctx context.Context) ([]int16, error) {
	select {
	case f := <-s.frames:
		return f, nil
	case <-s.closed:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// WriteFrame encodes 8 kHz linear PCM and sends it, paced in real time by the samples already sent.
func (s *Session) WriteFrame(ctx context.Context, pcm []int16) error {
	s.mu.Lock()
	now := time.Now()
	if s.nextSend.Before(now.Add(-100 * time.Millisecond)) {
		s.nextSend = now // first frame or after a gap: restart the clock
	}
	wait := s.nextSend.Sub(now)
	s.nextSend = s.nextSend.Add(time.Duration(len(pcm)) * time.Second / 8000)
	s.mu.Unlock()
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-s.closed:
			t.Stop()
			return ErrClosed
		}
	}
	s.mu.Lock()
	st, rec := s.stream, s.rec
	payload := make([]byte, len(pcm))
	for i, v := range pcm {
		if st.Codec == "PCMA" {
			payload[i] = EncodeALaw(v)
		} else {
			payload[i] = EncodeULaw(v)
		}
	}
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, Marker: s.marker, PayloadType: st.PayloadType, SequenceNumber: s.seq, Timestamp: s.ts, SSRC: s.ssrc}, Payload: payload}
	s.marker = false
	s.seq++
	s.ts += uint32(len(pcm))
	s.mu.Unlock()
	if rec != nil {
		rec.Sent(pcm)
	}
	dst := st.Remote
	if l := s.latch.Load(); l != nil {
		dst = *l // symmetric RTP: answer where the peer sends from
	}
	if !st.Send || !dst.IsValid() || dst.Addr().IsUnspecified() || dst.Port() == 0 {
		return nil
	}
	b, err := pkt.Marshal()
	if err != nil {
		return err
	}
	if _, err := s.conn.WriteToUDPAddrPort(b, dst); err != nil {
		select {
		case <-s.closed:
			return ErrClosed
		default:
		}
		return err
	}
	return nil
}

var dtmfNames = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D"}

func (s *Session) read() {
	buf := make([]byte, 1500)
	var lastEventTS uint32
	haveEvent := false
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var pkt rtp.Packet
		if err := pkt.Unmarshal(buf[:n]); err != nil || pkt.Version != 2 {
			continue // not RTP: ignore
		}
		s.last.Store(time.Now().UnixNano())
		if l := s.latch.Load(); l == nil || *l != from {
			s.latch.Store(&from)
		}
		s.mu.Lock()
		st, rec := s.stream, s.rec
		s.mu.Unlock()
		switch {
		case st.DTMF && pkt.PayloadType == st.DTMFPayloadType:
			if len(pkt.Payload) < 4 || int(pkt.Payload[0]) >= len(dtmfNames) {
				continue
			}
			if haveEvent && pkt.Timestamp == lastEventTS {
				continue // continuation or retransmitted end of the same event
			}
			haveEvent, lastEventTS = true, pkt.Timestamp
			select {
			case s.digits <- dtmfNames[pkt.Payload[0]]:
			default:
			}
		case pkt.PayloadType == st.PayloadType && (st.Codec == "PCMU" || st.Codec == "PCMA"):
			pcm := make([]int16, len(pkt.Payload))
			for i, b := range pkt.Payload {
				if st.Codec == "PCMA" {
					pcm[i] = DecodeALaw(b)
				} else {
					pcm[i] = DecodeULaw(b)
				}
			}
			if rec != nil {
				rec.Received(pcm)
			}
			select {
			case s.frames <- pcm:
			default: // the application is not reading: drop the oldest block
				select {
				case <-s.frames:
				default:
				}
				select {
				case s.frames <- pcm:
				default:
				}
			}
		}
	}
}

// Close stops the session, finishes the recording and returns its path ("" when none).
func (s *Session) Close() (recording string, err error) {
	s.once.Do(func() {
		close(s.closed)
		err = s.conn.Close()
		s.mu.Lock()
		rec := s.rec
		s.rec = nil
		s.mu.Unlock()
		if rec != nil {
			recording = rec.Path()
			if cerr := rec.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
	})
	return recording, err
}
