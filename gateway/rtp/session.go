// Package rtp carries a call's audio over RTP/RTCP (RFC 3550) for the SIP
// gateway: G.711 framing, paced sending, symmetric-RTP latching, an adaptive
// jitter buffer, RFC 4733 and in-band DTMF, media timeouts and RTCP reports.
package rtp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	pionrtcp "github.com/pion/rtcp"
	pionrtp "github.com/pion/rtp"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/dtmf"
	"github.com/parley-cc/parley/gateway/rtp/g711"
)

// Static RTP payload types of G.711 (RFC 3551).
const (
	PCMU uint8 = 0
	PCMA uint8 = 8
)

// PortRange is the inclusive UDP port range RTP sessions bind in; RTP takes an even port, RTCP the next odd one.
type PortRange struct{ Min, Max int }

// Config describes one call's RTP session; zero fields take defaults.
type Config struct {
	LocalIP     net.IP    // address to bind (default 127.0.0.1)
	Ports       PortRange // default 10000-20000
	PayloadType uint8     // PCMU (default) or PCMA
	// EventPayloadType is the RFC 4733 telephone-event payload type (default 101).
	EventPayloadType uint8
	// Remote is the peer's RTP address from SDP; nil waits for the first packet.
	Remote *net.UDPAddr
	// LearnRemote latches onto the source of the first valid packets
	// (symmetric RTP, for callers behind NAT) instead of trusting Remote.
	LearnRemote bool
	// RTCPMux sends and receives RTCP on the RTP port (RFC 5761) instead of port+1.
	RTCPMux bool
	Jitter  JitterConfig
	// MediaTimeout fires OnMediaTimeout when no RTP arrives for this long (default 30 s; negative disables).
	MediaTimeout   time.Duration
	OnMediaTimeout func(idle time.Duration)
	// RTCPInterval is the time between RTCP reports (default 5 s).
	RTCPInterval time.Duration
	// InbandDTMF runs the Goertzel detector on received audio, for peers that do not send RFC 4733.
	InbandDTMF bool
	// SuppressSilence sends nothing while no audio is queued, instead of silence frames.
	SuppressSilence bool
	Logger          *slog.Logger
}

// Stats is a snapshot of a Session's counters.
type Stats struct {
	PacketsSent, OctetsSent uint64
	PacketsReceived         uint64 // valid RTP packets from the remote source
	Expected                uint64 // by sequence numbers since the first packet
	Lost                    int64  // Expected minus received (RFC 3550 cumulative loss; negative with duplicates)
	Jitter                  time.Duration
	JitterSamples           float64 // RFC 3550 interarrival jitter in timestamp units
	ForeignDropped          uint64  // packets from an address other than the latched remote
	Malformed               uint64  // datagrams that were not valid RTP or RTCP
	UnknownPayload          uint64  // RTP with a payload type the session does not handle
	RTCPReceived            uint64
	// What the peer last reported about our stream in RTCP (zero until a report arrives).
	PeerReports      uint64  // RTCP report blocks received about our stream
	PeerFractionLost float64 // fraction of our packets lost in the peer's last interval
	PeerTotalLost    uint32
	PeerJitter       time.Duration
	RoundTrip        time.Duration // from the peer's LSR/DLSR fields (RFC 3550 6.4.1)
	EventsDropped    uint64        // key presses or frames lost because the reader was slow
	KeysDeduplicated uint64        // in-band tones (or RFC 4733 events) of a press the other source already reported
	FramesDropped    uint64
	Buffer           JitterStats
	Remote           string
}

// Session is one call leg's RTP endpoint bound to a UDP port.
type Session struct {
	cfg    Config
	log    *slog.Logger
	conn   *net.UDPConn
	rtcp   *net.UDPConn // nil with RTCPMux
	frames chan audio.Frame
	events chan dtmf.KeyPress
	out    chan audio.Frame
	digits chan byte
	done   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once

	mu         sync.Mutex
	remote     *net.UDPAddr
	latched    bool
	stale      *net.UDPAddr // address latched before the peer moved its media (Relatch)
	movedAt    time.Time    // when the peer moved its media
	jb         *JitterBuffer
	recv       receiveStats
	prior      priorSources // sources before the current one
	evrx       dtmf.EventReceiver
	lastRecv   time.Time
	timedOut   bool
	held       bool
	detector   *dtmf.Detector
	dedup      dtmf.Dedup // one report per press when it comes both as RFC 4733 and in-band
	lastSR     uint32     // middle 32 bits of the last SR's NTP time
	lastSRAt   time.Time
	remoteSSRC uint32
	haveSSRC   bool
	stats      Stats
	started    time.Time
	onTimeout  func(time.Duration)

	// Sender state, used by the pacer goroutine only (and by tests/benchmarks before Start).
	ssrc      uint32
	seq       uint16
	ts        uint32
	marker    bool
	pkt       pionrtp.Packet
	payload   []byte
	wire      []byte
	sent      atomic.Uint64
	sentBytes atomic.Uint64
}

// receiveStats tracks sequence numbers and jitter per RFC 3550 appendix A.
// priorSources holds the counts of the sources a session received from
// before its current one, so a call's statistics cover the whole call.
type priorSources struct {
	received, expected uint64
	buffer             JitterStats
}

type receiveStats struct {
	init      bool
	baseSeq   uint32
	maxSeq    uint16
	cycles    uint32
	received  uint64
	transit   int64
	jitter    float64
	expPrior  uint64
	recvPrior uint64
}

// NewSession binds a UDP port pair in cfg.Ports and starts receiving, pacing and reporting; Close ends it.
func NewSession(ctx context.Context, cfg Config) (*Session, error) {
	s, err := newSession(cfg)
	if err != nil {
		return nil, err
	}
	s.wg.Add(2)
	go s.receive(s.conn)
	go s.pace(ctx)
	if s.rtcp != nil {
		s.wg.Add(1)
		go s.receive(s.rtcp)
	}
	return s, nil
}

// newSession validates cfg and binds the ports without starting goroutines.
func newSession(cfg Config) (*Session, error) {
	if cfg.LocalIP == nil {
		cfg.LocalIP = net.IPv4(127, 0, 0, 1)
	}
	if cfg.Ports == (PortRange{}) {
		cfg.Ports = PortRange{10000, 20000}
	}
	if cfg.Ports.Min < 1024 || cfg.Ports.Max > 65535 || cfg.Ports.Min+1 > cfg.Ports.Max {
		return nil, fmt.Errorf("rtp session: port range %d-%d must lie within 1024-65535 and hold a port pair", cfg.Ports.Min, cfg.Ports.Max)
	}
	if cfg.EventPayloadType == 0 {
		cfg.EventPayloadType = 101
	}
	if err := checkPayloadTypes(cfg.PayloadType, cfg.EventPayloadType); err != nil {
		return nil, err
	}
	if cfg.MediaTimeout == 0 {
		cfg.MediaTimeout = 30 * time.Second
	}
	if cfg.RTCPInterval <= 0 {
		cfg.RTCPInterval = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	conn, rtcpConn, err := bindPair(cfg.LocalIP, cfg.Ports, cfg.RTCPMux)
	if err != nil {
		return nil, err
	}
	s := &Session{
		cfg:     cfg,
		conn:    conn,
		rtcp:    rtcpConn,
		frames:  make(chan audio.Frame, 50),
		events:  make(chan dtmf.KeyPress, 16),
		out:     make(chan audio.Frame, 10),
		digits:  make(chan byte, 32),
		done:    make(chan struct{}),
		jb:      NewJitterBuffer(cfg.Jitter),
		ssrc:    rand.Uint32(),
		seq:     uint16(rand.Uint32()),
		ts:      rand.Uint32(),
		marker:  true,
		payload: make([]byte, 0, audio.FrameSamples),
		wire:    make([]byte, 1500),
		started: time.Now(),
	}
	s.log = log.With("rtp_local", conn.LocalAddr().String())
	if cfg.Remote != nil {
		s.remote = cfg.Remote
	}
	if cfg.InbandDTMF {
		s.detector = dtmf.NewDetector(dtmf.DetectorConfig{})
	}
	s.lastRecv = time.Now()
	s.onTimeout = cfg.OnMediaTimeout
	return s, nil
}

func checkPayloadTypes(pt, eventPT uint8) error {
	if pt != PCMU && pt != PCMA {
		return fmt.Errorf("rtp session: payload type %d is neither PCMU (0) nor PCMA (8)", pt)
	}
	if eventPT < 96 || eventPT > 127 {
		return fmt.Errorf("rtp session: telephone-event payload type %d is outside the dynamic range 96-127", eventPT)
	}
	return nil
}

// SetPayloadTypes switches the audio codec and telephone-event payload type,
// for when the SDP answer arrives after the port was bound (late offer,
// outbound calls, re-INVITE); eventPT 0 keeps the current one.
func (s *Session) SetPayloadTypes(pt, eventPT uint8) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if eventPT == 0 {
		eventPT = s.cfg.EventPayloadType
	}
	if err := checkPayloadTypes(pt, eventPT); err != nil {
		return err
	}
	s.cfg.PayloadType, s.cfg.EventPayloadType = pt, eventPT
	return nil
}

// Hold stops (or resumes) sending while the peer cannot receive (SIP hold);
// queued audio is still consumed at real time so writers stay paced, and the
// media timeout is paused because a held peer may stop sending too.
func (s *Session) Hold(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held && !on {
		s.lastRecv = time.Now() // the timeout counts from the resume
		s.timedOut = false
	}
	s.held = on
}

func bindPair(ip net.IP, r PortRange, mux bool) (*net.UDPConn, *net.UDPConn, error) {
	lo := r.Min + r.Min%2
	pairs := (r.Max - lo) / 2
	if !mux {
		pairs = (r.Max - 1 - lo) / 2
	}
	if pairs < 0 {
		return nil, nil, fmt.Errorf("rtp session: port range %d-%d holds no even port pair", r.Min, r.Max)
	}
	start := rand.IntN(pairs + 1)
	var lastErr error
	for i := 0; i <= pairs && i < 200; i++ {
		port := lo + 2*((start+i)%(pairs+1))
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
		if err != nil {
			lastErr = err
			continue
		}
		if mux {
			return c, nil, nil
		}
		c2, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port + 1})
		if err != nil {
			c.Close()
			lastErr = err
			continue
		}
		return c, c2, nil
	}
	return nil, nil, fmt.Errorf("rtp session: no free port pair in %d-%d on %s: %w", r.Min, r.Max, ip, lastErr)
}

// OnMediaTimeout replaces the callback run when no RTP arrives for Config.MediaTimeout.
func (s *Session) OnMediaTimeout(fn func(idle time.Duration)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onTimeout = fn
}

// LocalAddr returns the bound RTP address (to put in SDP).
func (s *Session) LocalAddr() *net.UDPAddr { return s.conn.LocalAddr().(*net.UDPAddr) }

// SSRC returns the session's own synchronization source identifier.
func (s *Session) SSRC() uint32 { return s.ssrc }

// SetRemote sets the peer's RTP address from SDP (ignored once latched with LearnRemote).
func (s *Session) SetRemote(addr *net.UDPAddr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.LearnRemote && s.latched {
		return
	}
	s.remote = addr
}

// relatchGrace is how long after a media move packets still arriving from
// the old address are taken for ones in flight and dropped; after it the old
// address may latch again (a NAT that kept its mapping).
const relatchGrace = time.Second

// Relatch follows a peer that moved its media to addr (a re-INVITE with a
// new SDP address): RTP goes to addr at once and, with LearnRemote, the
// session latches again onto the first packets from addr or any new source
// (the peer may be behind NAT); stragglers from the old address are dropped.
func (s *Session) Relatch(addr *net.UDPAddr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.latched {
		s.stale = s.remote
	}
	s.remote, s.latched, s.movedAt = addr, false, time.Now()
	s.log.Info("rtp remote moved", "remote", addr.String())
}

// Remote returns the address RTP is sent to, or nil while unknown.
func (s *Session) Remote() *net.UDPAddr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remote
}

// Frames delivers received audio, one Frame every 20 ms once playout started.
func (s *Session) Frames() <-chan audio.Frame { return s.frames }

// KeyPresses delivers DTMF keys received as RFC 4733 events (or in-band, if enabled).
func (s *Session) KeyPresses() <-chan dtmf.KeyPress { return s.events }

// Done is closed when the session is closed.
func (s *Session) Done() <-chan struct{} { return s.done }

// ErrClosed is returned by operations on a closed Session.
var ErrClosed = errors.New("rtp session closed")

// Write queues one frame for sending; it blocks while a few frames are
// already queued, so a writer is paced at real time.
func (s *Session) Write(ctx context.Context, f audio.Frame) error {
	select {
	case s.out <- f:
		return nil
	case <-s.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Flush discards queued outbound audio (barge-in: stop talking at once).
func (s *Session) Flush() {
	for {
		select {
		case <-s.out:
		default:
			return
		}
	}
}

// SendDigit queues an RFC 4733 key press of 100 ms.
func (s *Session) SendDigit(digit byte) error {
	if _, err := dtmf.EventCode(digit); err != nil {
		return err
	}
	select {
	case s.digits <- digit:
		return nil
	case <-s.done:
		return ErrClosed
	default:
		return fmt.Errorf("rtp session: too many key presses queued")
	}
}

// Close stops the session and releases its ports; it is safe to call more than once.
func (s *Session) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		err = s.conn.Close()
		if s.rtcp != nil {
			if e := s.rtcp.Close(); e != nil && err == nil {
				err = e
			}
		}
		s.wg.Wait()
		st := s.Stats()
		s.log.Info("rtp session closed", "sent", st.PacketsSent, "received", st.PacketsReceived,
			"lost", st.Lost, "jitter", st.Jitter, "foreign_dropped", st.ForeignDropped, "malformed", st.Malformed)
	})
	if err != nil {
		return fmt.Errorf("rtp session: close socket: %w", err)
	}
	return nil
}

// Stats returns a snapshot of the session's counters.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.PacketsSent = s.sent.Load()
	st.OctetsSent = s.sentBytes.Load()
	st.PacketsReceived = s.prior.received + s.recv.received
	st.Expected = s.prior.expected + s.recv.expected()
	st.Lost = int64(st.Expected) - int64(st.PacketsReceived)
	st.JitterSamples = s.recv.jitter
	st.Jitter = time.Duration(s.recv.jitter * float64(time.Second) / audio.SampleRate)
	st.Buffer = s.prior.buffer.plus(s.jb.Stats())
	if s.remote != nil {
		st.Remote = s.remote.String()
	}
	return st
}

func (r *receiveStats) extMax() uint32 { return r.cycles + uint32(r.maxSeq) }

func (r *receiveStats) expected() uint64 {
	if !r.init {
		return 0
	}
	return uint64(r.extMax()-r.baseSeq) + 1
}

// update records one packet's sequence number and arrival (RFC 3550 A.1, A.8).
func (r *receiveStats) update(seq uint16, ts uint32, arrival int64) {
	if !r.init {
		r.init = true
		r.baseSeq, r.maxSeq = uint32(seq), seq
		r.transit = arrival - int64(ts)
		r.received = 1
		return
	}
	delta := seq - r.maxSeq
	switch {
	case delta < 3000: // in order, possibly with a gap
		if seq < r.maxSeq {
			r.cycles += 1 << 16
		}
		r.maxSeq = seq
	case delta <= 65536-100: // a huge jump: the source restarted
		r.init = false
		r.update(seq, ts, arrival)
		return
	default: // reordered or duplicate: counted, does not move maxSeq
	}
	r.received++
	transit := arrival - int64(ts)
	d := float64(transit - r.transit)
	r.transit = transit
	if d < 0 {
		d = -d
	}
	r.jitter += (d - r.jitter) / 16
}

// isRTCP tells RTCP from RTP on a multiplexed port (RFC 5761 section 4).
func isRTCP(b []byte) bool { return len(b) >= 2 && b[1] >= 192 && b[1] <= 223 }

func (s *Session) receive(conn *net.UDPConn) {
	defer s.wg.Done()
	buf := make([]byte, 2048)
	var pkt pionrtp.Packet
	pcm := make([]int16, 0, 1024)
	for {
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			s.log.Warn("rtp receive failed", "err", err)
			time.Sleep(10 * time.Millisecond) // avoid a hot loop on a persistent socket error
			continue
		}
		pcm = s.handleDatagram(buf[:n], from, time.Now(), &pkt, pcm[:0])
	}
}

// handleDatagram processes one received datagram; pcm is scratch space it returns for reuse.
func (s *Session) handleDatagram(b []byte, from *net.UDPAddr, now time.Time, pkt *pionrtp.Packet, pcm []int16) []int16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(b) < 12 || b[0]>>6 != 2 {
		s.stats.Malformed++
		return pcm
	}
	if isRTCP(b) {
		s.handleRTCP(b, from, now)
		return pcm
	}
	if err := pkt.Unmarshal(b); err != nil {
		s.stats.Malformed++
		return pcm
	}
	pt := pkt.PayloadType
	if pt != s.cfg.PayloadType && pt != s.cfg.EventPayloadType {
		s.stats.UnknownPayload++
		return pcm
	}
	if !s.acceptSource(from, pkt.SSRC, now) {
		s.stats.ForeignDropped++
		return pcm
	}
	if s.haveSSRC && pkt.SSRC != s.remoteSSRC {
		// A new source on the same address (re-INVITE, transfer): start over,
		// keeping the old source's counts in the call's totals.
		s.prior.received += s.recv.received
		s.prior.expected += s.recv.expected()
		s.prior.buffer = s.prior.buffer.plus(s.jb.Stats())
		s.recv = receiveStats{}
		s.evrx = dtmf.EventReceiver{}
		s.jb = NewJitterBuffer(s.cfg.Jitter)
	}
	s.remoteSSRC, s.haveSSRC = pkt.SSRC, true
	if s.timedOut {
		s.timedOut = false
		s.log.Info("rtp media resumed", "remote", from.String())
	}
	s.lastRecv = now
	arrival := now.Sub(s.started).Nanoseconds() * audio.SampleRate / int64(time.Second)
	s.recv.update(pkt.SequenceNumber, pkt.Timestamp, arrival)
	if pt == s.cfg.EventPayloadType {
		kp, ok, err := s.evrx.Receive(pkt.Timestamp, pkt.Payload)
		if err != nil {
			s.stats.Malformed++
		} else if ok {
			s.emitKey(kp, now)
		}
		return pcm
	}
	if s.cfg.PayloadType == PCMA {
		pcm = g711.DecodeAlaw(pcm, pkt.Payload)
	} else {
		pcm = g711.DecodeUlaw(pcm, pkt.Payload)
	}
	s.jb.Adapt(s.recv.jitter)
	s.jb.Push(pkt.Timestamp, pcm)
	return pcm
}

// acceptSource applies the latching policy; called with s.mu held.
func (s *Session) acceptSource(from *net.UDPAddr, ssrc uint32, now time.Time) bool {
	if s.cfg.LearnRemote {
		if !s.latched {
			if s.stale != nil && sameAddr(s.stale, from) && !sameAddr(s.remote, from) && now.Sub(s.movedAt) < relatchGrace {
				return false // sent before the peer moved its media
			}
			s.latched, s.stale = true, nil
			s.remote = &net.UDPAddr{IP: append(net.IP(nil), from.IP...), Port: from.Port}
			s.log.Info("rtp latched remote", "remote", from.String(), "ssrc", ssrc)
			return true
		}
		return sameAddr(s.remote, from)
	}
	if s.remote == nil {
		return true // no SDP yet: accept, but do not send to an unverified source
	}
	return sameAddr(s.remote, from)
}

func sameAddr(a, b *net.UDPAddr) bool {
	return a != nil && b != nil && a.Port == b.Port && a.IP.Equal(b.IP)
}

// emitKey reports a key press unless the other source already reported it; called with s.mu held.
func (s *Session) emitKey(kp dtmf.KeyPress, now time.Time) {
	if !s.dedup.Accept(kp, now) {
		s.stats.KeysDeduplicated++
		return
	}
	select {
	case s.events <- kp:
	default:
		s.stats.EventsDropped++
	}
}

func (s *Session) handleRTCP(b []byte, from *net.UDPAddr, now time.Time) {
	pkts, err := pionrtcp.Unmarshal(b)
	if err != nil {
		s.stats.Malformed++
		return
	}
	if s.remote != nil && !from.IP.Equal(s.remote.IP) {
		s.stats.ForeignDropped++
		return
	}
	s.stats.RTCPReceived++
	for _, p := range pkts {
		var reports []pionrtcp.ReceptionReport
		switch r := p.(type) {
		case *pionrtcp.SenderReport:
			s.lastSR = uint32(r.NTPTime >> 16)
			s.lastSRAt = now
			reports = r.Reports
		case *pionrtcp.ReceiverReport:
			reports = r.Reports
		}
		for _, rr := range reports {
			if rr.SSRC != s.ssrc {
				continue
			}
			s.stats.PeerReports++
			s.stats.PeerFractionLost = float64(rr.FractionLost) / 256
			s.stats.PeerTotalLost = rr.TotalLost
			s.stats.PeerJitter = time.Duration(float64(rr.Jitter) * float64(time.Second) / audio.SampleRate)
			if rr.LastSenderReport != 0 {
				// RTT = arrival - LSR - DLSR, all in 1/65536 s.
				rtt := uint32(ntpTime(now)>>16) - rr.LastSenderReport - rr.Delay
				if rtt < 65536*10 { // ignore nonsense from clock steps
					s.stats.RoundTrip = time.Duration(uint64(rtt) * uint64(time.Second) / 65536)
				}
			}
		}
	}
}

// maxCatchUp is how many overdue 20 ms slots pace sends at once after the
// process was starved of CPU; slots older than that are skipped (the far
// end's jitter buffer would discard them anyway) with the timestamp moved on.
const maxCatchUp = 5

// pace runs the 20 ms clock: send one frame, play out one frame, check the
// media timeout, and send RTCP reports. Slots are counted on the wall clock
// from the start, not by ticker ticks, which a loaded node drops: a late
// wake-up sends every slot that is due, so no audio is lost or slowed.
func (s *Session) pace(ctx context.Context) {
	defer s.wg.Done()
	const slotDur = audio.FrameDurationMs * time.Millisecond
	start := time.Now()
	timer := time.NewTimer(slotDur)
	defer timer.Stop()
	p := pacer{nextRTCP: start.Add(s.cfg.RTCPInterval)}
	done := 0 // slots sent since start
	for {
		select {
		case <-s.done:
			return
		case <-ctx.Done():
			go s.Close()
			return
		case <-timer.C:
		}
		now := time.Now()
		due := int(now.Sub(start) / slotDur)
		if late := due - done - maxCatchUp; late > 0 {
			s.ts += uint32(late) * audio.FrameSamples
			s.marker = true
			done += late
		}
		for ; done < due; done++ {
			s.slot(now, &p)
		}
		timer.Reset(time.Until(start.Add(time.Duration(done+1) * slotDur)))
	}
}

// pacer is the state pace carries from slot to slot.
type pacer struct {
	event    []dtmf.EventPacket // a key press being sent, one packet per slot
	eventTS  uint32
	nextRTCP time.Time
}

// slot sends one 20 ms slot's packet (audio, silence or a telephone-event),
// plays out one received frame and sends RTCP when it is due.
func (s *Session) slot(now time.Time, p *pacer) {
	s.mu.Lock()
	pt, eventPT, held := s.cfg.PayloadType, s.cfg.EventPayloadType, s.held
	s.mu.Unlock()
	if held {
		select { // consume the slot's audio unsent
		case <-s.out:
		default:
		}
		s.marker = true
		s.ts += audio.FrameSamples
		s.playout(now)
		return
	}
	if len(p.event) == 0 {
		select {
		case d := <-s.digits:
			// Validated by SendDigit; 100 ms at 8 kHz, one update per frame.
			p.event, _ = dtmf.GenerateEvent(d, 10, 800, audio.FrameSamples)
			p.eventTS = s.ts
		default:
		}
	}
	if len(p.event) > 0 {
		e := p.event[0]
		p.event = p.event[1:]
		s.sendPacket(eventPT, p.eventTS, e.Marker, e.Payload)
		// Drop the audio of this slot: the key press replaces it.
		select {
		case <-s.out:
		default:
		}
	} else {
		select {
		case f := <-s.out:
			s.sendFrame(pt, &f)
		default:
			if !s.cfg.SuppressSilence {
				var silence audio.Frame
				s.sendFrame(pt, &silence)
			} else {
				s.marker = true // next talkspurt starts with the marker bit
			}
		}
	}
	s.ts += audio.FrameSamples
	s.playout(now)
	if now.After(p.nextRTCP) {
		p.nextRTCP = now.Add(s.cfg.RTCPInterval)
		s.sendReport(now)
	}
}

// sendFrame encodes and sends one frame at the current timestamp.
func (s *Session) sendFrame(pt uint8, f *audio.Frame) {
	if pt == PCMA {
		s.payload = g711.EncodeAlaw(s.payload[:0], f[:])
	} else {
		s.payload = g711.EncodeUlaw(s.payload[:0], f[:])
	}
	s.sendPacket(pt, s.ts, s.marker, s.payload)
	s.marker = false
}

func (s *Session) sendPacket(pt uint8, ts uint32, marker bool, payload []byte) {
	remote := s.Remote()
	s.seq++
	if remote == nil {
		return
	}
	s.pkt.Header = pionrtp.Header{Version: 2, PayloadType: pt, SequenceNumber: s.seq, Timestamp: ts, SSRC: s.ssrc, Marker: marker}
	s.pkt.Payload = payload
	n, err := s.pkt.MarshalTo(s.wire)
	if err != nil {
		s.log.Warn("rtp marshal failed", "err", err)
		return
	}
	if _, err := s.conn.WriteToUDP(s.wire[:n], remote); err != nil {
		select {
		case <-s.done:
		default:
			s.log.Debug("rtp send failed", "remote", remote.String(), "err", err)
		}
		return
	}
	s.sent.Add(1)
	s.sentBytes.Add(uint64(len(payload)))
}

func (s *Session) playout(now time.Time) {
	s.mu.Lock()
	f, st := s.jb.Pop()
	idle := now.Sub(s.lastRecv)
	fire := s.cfg.MediaTimeout > 0 && !s.timedOut && !s.held && idle >= s.cfg.MediaTimeout
	var onTimeout func(time.Duration)
	if fire {
		s.timedOut = true
		onTimeout = s.onTimeout
	}
	var kp dtmf.KeyPress
	var key bool
	if st != Buffering && s.detector != nil {
		kp, key = s.detector.Process(&f)
	}
	s.mu.Unlock()
	if key {
		s.mu.Lock()
		s.emitKey(kp, now)
		s.mu.Unlock()
	}
	if st != Buffering {
		select {
		case s.frames <- f:
		default:
			s.mu.Lock()
			s.stats.FramesDropped++
			s.mu.Unlock()
		}
	}
	if fire {
		s.log.Warn("rtp media timeout", "idle", idle, "remote", s.Remote())
		if onTimeout != nil {
			onTimeout(idle)
		}
	}
}

// ntpTime converts t to the 64-bit NTP format used by RTCP.
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	sec := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return sec<<32 | frac
}

// sendReport sends an SR (or an RR if nothing was sent) with one reception report block.
func (s *Session) sendReport(now time.Time) {
	s.mu.Lock()
	remote := s.remote
	var reports []pionrtcp.ReceptionReport
	if s.recv.init {
		exp := s.recv.expected()
		lost := int64(exp) - int64(s.recv.received)
		expInt := exp - s.recv.expPrior
		recvInt := s.recv.received - s.recv.recvPrior
		s.recv.expPrior, s.recv.recvPrior = exp, s.recv.received
		var frac uint8
		if expInt > 0 && int64(expInt) > int64(recvInt) {
			frac = uint8((expInt - recvInt) * 256 / expInt)
		}
		rr := pionrtcp.ReceptionReport{
			SSRC:               s.remoteSSRC,
			FractionLost:       frac,
			TotalLost:          uint32(min(max(lost, 0), 0x7FFFFF)),
			LastSequenceNumber: s.recv.extMax(),
			Jitter:             uint32(s.recv.jitter),
		}
		if !s.lastSRAt.IsZero() {
			rr.LastSenderReport = s.lastSR
			rr.Delay = uint32(now.Sub(s.lastSRAt).Seconds() * 65536)
		}
		reports = append(reports, rr)
	}
	s.mu.Unlock()
	if remote == nil {
		return
	}
	var pkt pionrtcp.Packet
	if sent := s.sent.Load(); sent > 0 {
		pkt = &pionrtcp.SenderReport{SSRC: s.ssrc, NTPTime: ntpTime(now), RTPTime: s.ts, PacketCount: uint32(sent), OctetCount: uint32(s.sentBytes.Load()), Reports: reports}
	} else {
		pkt = &pionrtcp.ReceiverReport{SSRC: s.ssrc, Reports: reports}
	}
	b, err := pkt.Marshal()
	if err != nil {
		s.log.Warn("rtcp marshal failed", "err", err)
		return
	}
	conn, to := s.conn, remote
	if s.rtcp != nil {
		conn, to = s.rtcp, &net.UDPAddr{IP: remote.IP, Port: remote.Port + 1}
	}
	if _, err := conn.WriteToUDP(b, to); err != nil {
		s.log.Debug("rtcp send failed", "remote", to.String(), "err", err)
	}
}
