package rtp

import (
	"math"
	"net"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/dtmf"
	"github.com/parley-cc/parley/gateway/rtp/g711"
)

// rawPeer sends hand-made RTP from its own UDP socket.
type rawPeer struct {
	t    *testing.T
	conn *net.UDPConn
	to   *net.UDPAddr
	seq  uint16
	ssrc uint32
}

func newRawPeer(t *testing.T, to *net.UDPAddr, ssrc uint32) *rawPeer {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawPeer{t: t, conn: c, to: to, ssrc: ssrc}
}

func (p *rawPeer) addr() *net.UDPAddr { return p.conn.LocalAddr().(*net.UDPAddr) }

func (p *rawPeer) send(pt uint8, ts uint32, marker bool, payload []byte) {
	p.t.Helper()
	p.seq++
	pkt := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: pt, SequenceNumber: p.seq, Timestamp: ts, SSRC: p.ssrc, Marker: marker}, Payload: payload}
	b, err := pkt.Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.WriteToUDP(b, p.to); err != nil {
		p.t.Fatal(err)
	}
}

// dtmfTone is frame n of a key's dual tone at about -12 dBFS each.
func dtmfTone(low, high float64, n int) audio.Frame {
	var f audio.Frame
	for k := range f {
		tt := float64(n*audio.FrameSamples+k) / audio.SampleRate
		f[k] = int16(6000*math.Sin(2*math.Pi*low*tt) + 6000*math.Sin(2*math.Pi*high*tt))
	}
	return f
}

// A peer that sends each press both as RFC 4733 events and as tones in the
// audio (with a quick repeat of the same key) gets one report per press.
func TestSessionReportsPressSentBothWaysOnce(t *testing.T) {
	a := newTestSession(t, Config{LearnRemote: true, InbandDTMF: true, MediaTimeout: -1})
	p := newRawPeer(t, a.LocalAddr(), 0x1234)
	const presses = 3 // '5', '5', '5': 770 + 1336 Hz
	var ts uint32 = 1000
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	frame := 0
	for range presses {
		start := ts
		for i := range 6 { // 120 ms of tone, with its events
			<-tick.C
			f := dtmfTone(770, 1336, frame)
			frame++
			p.send(PCMU, ts, false, g711.EncodeUlaw(nil, f[:]))
			ev := dtmf.TelephoneEvent{Event: 5, Volume: 10, Duration: uint16((i + 1) * audio.FrameSamples), End: i == 5}
			p.send(101, start, i == 0, ev.Marshal(nil))
			ts += audio.FrameSamples
		}
		for range 6 { // 120 ms of silence
			<-tick.C
			p.send(PCMU, ts, false, g711.EncodeUlaw(nil, make([]int16, audio.FrameSamples)))
			ts += audio.FrameSamples
		}
	}
	var got []dtmf.KeyPress
	timeout := time.After(1500 * time.Millisecond)
collect:
	for {
		select {
		case kp := <-a.KeyPresses():
			got = append(got, kp)
		case <-timeout:
			break collect
		}
	}
	if len(got) != presses {
		t.Fatalf("got %d key presses %+v, want %d", len(got), got, presses)
	}
	for _, kp := range got {
		if kp.Digit != '5' || kp.InBand {
			t.Errorf("key press %+v, want the RFC 4733 '5' (it arrives before the tone is confirmed)", kp)
		}
	}
	if st := a.Stats(); st.KeysDeduplicated != presses {
		t.Errorf("KeysDeduplicated = %d, want %d (each press's in-band tone)", st.KeysDeduplicated, presses)
	}
}

// Relatch: after the peer moved its media, RTP goes to the new address,
// stragglers from the old one are dropped, and the new source is latched.
func TestSessionRelatchFollowsMovedPeer(t *testing.T) {
	a := newTestSession(t, Config{LearnRemote: true, MediaTimeout: -1})
	old := newRawPeer(t, a.LocalAddr(), 1)
	moved := newRawPeer(t, a.LocalAddr(), 2)
	old.send(PCMU, 0, true, make([]byte, audio.FrameSamples))
	waitFor(t, func() bool { return a.Stats().PacketsReceived == 1 })
	if r := a.Remote(); !sameAddr(r, old.addr()) {
		t.Fatalf("latched %v, want %v", r, old.addr())
	}
	a.SetRemote(moved.addr()) // plain SetRemote keeps a latched address
	if r := a.Remote(); !sameAddr(r, old.addr()) {
		t.Fatalf("SetRemote moved a latched session to %v", r)
	}
	a.Relatch(moved.addr())
	old.send(PCMU, 160, false, make([]byte, audio.FrameSamples))
	waitFor(t, func() bool { return a.Stats().ForeignDropped == 1 })
	moved.send(PCMU, 5000, true, make([]byte, audio.FrameSamples))
	waitFor(t, func() bool {
		return a.Stats().PacketsReceived >= 1 && a.Stats().ForeignDropped == 1 && sameAddr(a.Remote(), moved.addr())
	})
	// Our stream now reaches the moved peer.
	buf := make([]byte, 1500)
	_ = moved.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, from, err := moved.conn.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("the moved peer received no RTP: %v", err)
	}
	var pkt pionrtp.Packet
	if err := pkt.Unmarshal(buf[:n]); err != nil || !sameAddr(from, a.LocalAddr()) {
		t.Fatalf("moved peer got %d bytes from %v (err %v), want RTP from %v", n, from, err, a.LocalAddr())
	}
	// Once the moved peer is latched, the old address is just another foreign source.
	old.send(PCMU, 320, false, make([]byte, audio.FrameSamples))
	waitFor(t, func() bool { return a.Stats().ForeignDropped == 2 })
	if r := a.Remote(); !sameAddr(r, moved.addr()) {
		t.Fatalf("remote %v after a packet from the old address, want %v", r, moved.addr())
	}
}
