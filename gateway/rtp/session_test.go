package rtp

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/g711"
	"github.com/parley-cc/parley/internal/pcapfile"
	"github.com/parley-cc/parley/internal/shareddata"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newTestSession(t testing.TB, cfg Config) *Session {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	if cfg.Ports == (PortRange{}) {
		cfg.Ports = PortRange{30000, 39999}
	}
	s, err := NewSession(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func toneFrame(n int) audio.Frame {
	var f audio.Frame
	for i := range f {
		f[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(n*audio.FrameSamples+i)/audio.SampleRate))
	}
	return f
}

func TestSessionsExchangeAudioOnLoopback(t *testing.T) {
	a := newTestSession(t, Config{LearnRemote: true})
	b := newTestSession(t, Config{Remote: a.LocalAddr()})
	a.SetRemote(b.LocalAddr())
	if p := a.LocalAddr().Port; p%2 != 0 || p < 30000 || p > 39999 {
		t.Fatalf("local port %d is not an even port in range", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const n = 100 // 2 s
	go func() {
		for i := 0; i < n; i++ {
			if err := b.Write(ctx, toneFrame(i)); err != nil {
				return
			}
		}
	}()
	var loud int
	deadline := time.After(5 * time.Second)
	for loud < n-10 {
		select {
		case f := <-a.Frames():
			if !f.IsSilent(-30) {
				loud++
			}
		case <-deadline:
			t.Fatalf("only %d loud frames received", loud)
		}
	}
	if got := a.Remote(); got == nil || got.Port != b.LocalAddr().Port {
		t.Fatalf("a latched %v, want %v", got, b.LocalAddr())
	}
	waitFor(t, func() bool { return a.Stats().PacketsReceived >= n })
	st := a.Stats()
	if st.Lost != 0 || st.PacketsReceived < n {
		t.Fatalf("loss %d, received %d (want 0 lost, >= %d received)", st.Lost, st.PacketsReceived, n)
	}
	if st.Jitter <= 0 || st.Jitter > 50*time.Millisecond {
		t.Errorf("jitter %v, want a small positive figure", st.Jitter)
	}
	t.Logf("loopback: received %d, lost %d, jitter %v (%.1f samples), buffer %+v", st.PacketsReceived, st.Lost, st.Jitter, st.JitterSamples, st.Buffer)
}

func TestSessionLatchDropsForeignAndSurvivesGarbage(t *testing.T) {
	a := newTestSession(t, Config{LearnRemote: true})
	peer, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	intruder, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer peer.Close()
	defer intruder.Close()
	pkt := func(seq uint16, pt uint8) []byte {
		p := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 7}, Payload: make([]byte, 160)}
		b, _ := p.Marshal()
		return b
	}
	// Garbage first: must not latch, must not crash.
	for _, g := range [][]byte{{}, {0x80}, make([]byte, 11), {0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, pkt(1, 96), {0x80, 0xC8, 0xFF, 0xFF}} {
		intruder.WriteToUDP(g, a.LocalAddr())
	}
	for i := 0; i < 5; i++ {
		peer.WriteToUDP(pkt(uint16(i), PCMU), a.LocalAddr())
		intruder.WriteToUDP(pkt(uint16(i), PCMU), a.LocalAddr())
		time.Sleep(5 * time.Millisecond)
	}
	waitFor(t, func() bool { st := a.Stats(); return st.PacketsReceived == 5 && st.ForeignDropped >= 4 })
	st := a.Stats()
	if st.Remote != peer.LocalAddr().String() {
		t.Errorf("latched %s, want %s", st.Remote, peer.LocalAddr())
	}
	if st.Malformed < 4 || st.UnknownPayload != 1 {
		t.Errorf("malformed %d, unknown payload %d; want >= 4 and 1", st.Malformed, st.UnknownPayload)
	}
	// The session keeps sending to the latched peer.
	peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	n, _, err := peer.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("peer got nothing back: %v", err)
	}
	var back pionrtp.Packet
	if err := back.Unmarshal(buf[:n]); err != nil || back.PayloadType != PCMU || len(back.Payload) != 160 || back.SSRC != a.SSRC() {
		t.Fatalf("reply %v %+v", err, back.Header)
	}
}

func TestSessionSDPRemoteRejectsOthers(t *testing.T) {
	peer, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	other, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer peer.Close()
	defer other.Close()
	a := newTestSession(t, Config{Remote: peer.LocalAddr().(*net.UDPAddr)})
	p := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: PCMU, SSRC: 9}, Payload: make([]byte, 160)}
	b, _ := p.Marshal()
	other.WriteToUDP(b, a.LocalAddr())
	peer.WriteToUDP(b, a.LocalAddr())
	waitFor(t, func() bool { st := a.Stats(); return st.PacketsReceived == 1 && st.ForeignDropped == 1 })
}

func TestSessionMediaTimeout(t *testing.T) {
	var fired atomic.Int32
	s := newTestSession(t, Config{MediaTimeout: 100 * time.Millisecond, OnMediaTimeout: func(time.Duration) { fired.Add(1) }})
	waitFor(t, func() bool { return fired.Load() == 1 })
	time.Sleep(200 * time.Millisecond)
	if fired.Load() != 1 {
		t.Fatalf("timeout fired %d times, want once per silence", fired.Load())
	}
	_ = s
}

func TestSessionRFC4733BetweenSessions(t *testing.T) {
	a := newTestSession(t, Config{LearnRemote: true, RTCPInterval: 100 * time.Millisecond})
	b := newTestSession(t, Config{Remote: a.LocalAddr(), RTCPInterval: 100 * time.Millisecond})
	a.SetRemote(b.LocalAddr())
	for _, d := range []byte("4#") {
		if err := b.SendDigit(d); err != nil {
			t.Fatal(err)
		}
	}
	var got []byte
	timeout := time.After(3 * time.Second)
	for len(got) < 2 {
		select {
		case kp := <-a.KeyPresses():
			got = append(got, kp.Digit)
		case <-timeout:
			t.Fatalf("got keys %q, want \"4#\"", got)
		}
	}
	if string(got) != "4#" {
		t.Fatalf("got keys %q, want \"4#\"", got)
	}
	// Both send SRs, so later reports carry LSR/DLSR and a round-trip time.
	waitFor(t, func() bool { return a.Stats().PeerReports >= 3 && b.Stats().PeerReports >= 3 })
	for name, st := range map[string]Stats{"a": a.Stats(), "b": b.Stats()} {
		if st.PeerTotalLost != 0 || st.RoundTrip > 100*time.Millisecond {
			t.Errorf("%s: peer reported %d lost, round trip %v on loopback", name, st.PeerTotalLost, st.RoundTrip)
		}
	}
}

func TestSessionCountsLossFromSequenceGaps(t *testing.T) {
	a := newTestSession(t, Config{LearnRemote: true})
	peer, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer peer.Close()
	// Sequence numbers wrap at 65535; 3 and 7 never arrive, 5 arrives twice.
	for _, i := range []int{0, 1, 2, 4, 5, 5, 6, 8, 9} {
		seq := uint16(65530 + i)
		p := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: PCMU, SequenceNumber: seq, Timestamp: uint32(i * 160), SSRC: 3}, Payload: make([]byte, 160)}
		b, _ := p.Marshal()
		peer.WriteToUDP(b, a.LocalAddr())
		time.Sleep(2 * time.Millisecond)
	}
	waitFor(t, func() bool { return a.Stats().PacketsReceived == 9 })
	st := a.Stats()
	if st.Expected != 10 || st.Lost != 1 {
		t.Fatalf("expected %d lost %d; want 10 expected and 1 lost (2 missing, 1 duplicate, as RFC 3550 counts)", st.Expected, st.Lost)
	}
	if st.Buffer.Duplicate != 1 {
		t.Errorf("jitter buffer saw %d duplicates, want 1", st.Buffer.Duplicate)
	}
}

func TestSessionInbandDTMF(t *testing.T) {
	a := newTestSession(t, Config{LearnRemote: true, InbandDTMF: true})
	b := newTestSession(t, Config{Remote: a.LocalAddr()})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		for i := 0; i < 10; i++ { // 200 ms of '9': 852 + 1477 Hz
			var f audio.Frame
			for k := range f {
				tt := float64(i*160+k) / 8000
				f[k] = int16(5000*math.Sin(2*math.Pi*852*tt) + 5000*math.Sin(2*math.Pi*1477*tt))
			}
			b.Write(ctx, f)
		}
	}()
	select {
	case kp := <-a.KeyPresses():
		if kp.Digit != '9' || !kp.InBand {
			t.Fatalf("got %+v, want in-band '9'", kp)
		}
	case <-ctx.Done():
		t.Fatal("no in-band key detected")
	}
}

func TestNewSessionRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Ports: PortRange{80, 90}},
		{Ports: PortRange{40000, 40000}},
		{PayloadType: 18},
		{EventPayloadType: 50},
	} {
		if s, err := NewSession(context.Background(), cfg); err == nil {
			s.Close()
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

// The SIPp G.711 A-law capture, replayed into a session's receive path,
// decodes to about 7 s of non-silent audio.
func TestG711aCaptureDecodes(t *testing.T) {
	f, err := os.Open(shareddata.Path(t, "sipp", "pcap", "g711a.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dgs, err := pcapfile.ReadUDP(f)
	if err != nil {
		t.Fatal(err)
	}
	var pcm []int16
	var first, last uint32
	var pkt pionrtp.Packet
	for i, d := range dgs {
		if err := pkt.Unmarshal(d.Payload); err != nil {
			t.Fatalf("datagram %d is not RTP: %v", i, err)
		}
		if pkt.PayloadType != PCMA {
			t.Fatalf("datagram %d: payload type %d, want 8", i, pkt.PayloadType)
		}
		if i == 0 {
			first = pkt.Timestamp
		}
		last = pkt.Timestamp + uint32(len(pkt.Payload))
		pcm = g711.DecodeAlaw(pcm, pkt.Payload)
	}
	secs := float64(len(pcm)) / 8000
	span := float64(last-first) / 8000
	if secs < 6.5 || secs > 9 {
		t.Fatalf("decoded %.2f s of audio, want about 7-8 s", secs)
	}
	frames := audio.Frames(pcm)
	var loud int
	for i := range frames {
		if !frames[i].IsSilent(-45) {
			loud++
		}
	}
	if float64(loud) < 0.5*float64(len(frames)) {
		t.Fatalf("only %d of %d frames above -45 dBFS", loud, len(frames))
	}
	t.Logf("g711a.pcap: %d packets, %.2f s decoded, RTP span %.2f s, %d/%d frames non-silent", len(dgs), secs, span, loud, len(frames))

	// Through a Session's receive path and jitter buffer as well.
	s := newTestSession(t, Config{Remote: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 7000}, PayloadType: PCMA})
	from := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 7000}
	var scratch []int16
	start := time.Now()
	for i, d := range dgs {
		scratch = s.handleDatagram(d.Payload, from, start.Add(time.Duration(i)*30*time.Millisecond), &pkt, scratch[:0])
	}
	if st := s.Stats(); st.PacketsReceived != uint64(len(dgs)) || st.Lost != 0 {
		t.Fatalf("session received %d lost %d of %d", st.PacketsReceived, st.Lost, len(dgs))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSetPayloadTypesAndHold switches both ends to PCMA after binding (as a
// late SDP answer does), then holds one end: it stops sending, and a held
// session does not time out while the peer is silent.
func TestSetPayloadTypesAndHold(t *testing.T) {
	var timeouts atomic.Int32
	a := newTestSession(t, Config{LearnRemote: true, MediaTimeout: 300 * time.Millisecond, OnMediaTimeout: func(time.Duration) { timeouts.Add(1) }})
	b := newTestSession(t, Config{Remote: a.LocalAddr()})
	a.SetRemote(b.LocalAddr())
	for _, s := range []*Session{a, b} {
		if err := s.SetPayloadTypes(PCMA, 96); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SetPayloadTypes(18, 0); err == nil {
		t.Fatal("SetPayloadTypes accepted G.729")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			if b.Write(ctx, toneFrame(i)) != nil {
				return
			}
		}
	}()
	loud := 0
	for loud < 20 {
		select {
		case f := <-a.Frames():
			if !f.IsSilent(-30) {
				loud++
			}
		case <-ctx.Done():
			t.Fatalf("only %d loud PCMA frames arrived", loud)
		}
	}
	if st := a.Stats(); st.UnknownPayload != 0 {
		t.Fatalf("%d packets with an unexpected payload type after the switch", st.UnknownPayload)
	}
	a.Hold(true)
	b.Hold(true)
	time.Sleep(100 * time.Millisecond) // packets in flight
	sent := b.Stats().PacketsSent
	time.Sleep(600 * time.Millisecond)
	if got := b.Stats().PacketsSent; got != sent {
		t.Fatalf("held session sent %d packets", got-sent)
	}
	if n := timeouts.Load(); n != 0 {
		t.Fatalf("held session reported %d media timeouts", n)
	}
	a.Hold(false) // b stays silent: the timeout counts from the resume
	waitFor(t, func() bool { return timeouts.Load() == 1 })
}
