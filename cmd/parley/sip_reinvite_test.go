package main

import (
	"context"
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
	pionrtp "github.com/pion/rtp"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/g711"
	"github.com/parley-cc/parley/gateway/sip"
	"github.com/parley-cc/parley/store"
)

// rtpEnd is one RTP socket of the test caller: it sends a tone and counts
// what the node sends back.
type rtpEnd struct {
	conn     *net.UDPConn
	loud     atomic.Int64 // loud PCMU packets received
	packets  atomic.Int64 // any RTP received
	lastFrom atomic.Value // netip.AddrPort of the last sender
}

func newRTPEnd(t *testing.T) *rtpEnd {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	e := &rtpEnd{conn: c}
	go e.read()
	t.Cleanup(func() { c.Close() })
	return e
}

func (e *rtpEnd) port() int { return e.conn.LocalAddr().(*net.UDPAddr).Port }

func (e *rtpEnd) read() {
	buf := make([]byte, 1500)
	for {
		n, from, err := e.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var p pionrtp.Packet
		if p.Unmarshal(buf[:n]) != nil || p.PayloadType != 0 {
			continue // RTCP arrives on the next port; anything else is not ours
		}
		e.packets.Add(1)
		e.lastFrom.Store(from)
		var sum float64
		for _, v := range g711.DecodeUlaw(nil, p.Payload) {
			sum += float64(v) * float64(v)
		}
		if math.Sqrt(sum/float64(len(p.Payload))) > 300 {
			e.loud.Add(1)
		}
	}
}

// stream sends frames of a hz tone to the node, paced at 20 ms, from e's socket.
func (e *rtpEnd) stream(to *net.UDPAddr, ssrc uint32, hz float64, frames int) {
	pkt := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: 0, SSRC: ssrc, Marker: true}}
	tick := time.NewTicker(audio.FrameDurationMs * time.Millisecond)
	defer tick.Stop()
	for i := range frames {
		<-tick.C
		pcm := make([]int16, audio.FrameSamples)
		for k := range pcm {
			pcm[k] = int16(6000 * math.Sin(2*math.Pi*hz*float64(i*audio.FrameSamples+k)/audio.SampleRate))
		}
		pkt.SequenceNumber = uint16(i)
		pkt.Timestamp = uint32(i * audio.FrameSamples)
		pkt.Payload = g711.EncodeUlaw(nil, pcm)
		b, _ := pkt.Marshal()
		_, _ = e.conn.WriteToUDP(b, to)
		pkt.Marker = false
	}
}

func offerSDP(t *testing.T, port int, version uint64) []byte {
	t.Helper()
	m := sip.Media{Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), Codecs: []sip.Codec{sip.CodecPCMU},
		Ptime: 20, Direction: sip.SendRecv, SessionID: 4242, SessionVersion: version}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServeReinviteMovesMedia: a caller (a sipgo UAC, RTP from its own
// sockets) talks to `echo` from port A, then re-INVITEs with port B, as a
// phone changing networks does. The node follows: what B sends is echoed
// to B, nothing goes to A any more, and the recording holds both parts.
func TestServeReinviteMovesMedia(t *testing.T) {
	n := startSIPNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("mover"), sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := newRTPEnd(t), newRTPEnd(t)
	dialogs := sipgo.NewDialogClientCache(cli, siplib.ContactHeader{Address: siplib.Uri{Scheme: "sip", User: "mover", Host: "127.0.0.1"}})
	target := siplib.Uri{Scheme: "sip", User: "echo", Host: "127.0.0.1", Port: n.sipPort}
	sess, err := dialogs.Invite(ctx, target, offerSDP(t, a.port(), 1), siplib.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatalf("INVITE to echo: %v", err)
	}
	if err := sess.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	answer, err := sip.ParseSDP(sess.InviteResponse.Body())
	if err != nil {
		t.Fatalf("answer SDP: %v", err)
	}
	node := net.UDPAddrFromAddrPort(answer.Addr)

	// Part 1: 1.5 s of 440 Hz from A.
	a.stream(node, 1, 440, 75)
	time.Sleep(300 * time.Millisecond) // the echo's tail
	loudA := a.loud.Load()

	// The re-INVITE moves the media to B.
	reinvite := siplib.NewRequest(siplib.INVITE, sess.InviteResponse.Contact().Address)
	reinvite.AppendHeader(siplib.NewHeader("Content-Type", "application/sdp"))
	reinvite.SetBody(offerSDP(t, b.port(), 2))
	res, err := sess.Do(ctx, reinvite)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("re-INVITE moving media: %v %v", res, err)
	}
	ack := siplib.NewRequest(siplib.ACK, sess.InviteResponse.Contact().Address)
	if err := sess.WriteRequest(ack); err != nil {
		t.Fatal(err)
	}
	moved := time.Now()

	// Part 2: 1.5 s of 1 kHz from B, while a few late packets still leave A.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); a.stream(node, 1, 440, 3) }()
	time.Sleep(time.Until(moved.Add(200 * time.Millisecond)))
	toA := a.packets.Load()
	b.stream(node, 2, 1000, 75)
	wg.Wait()
	time.Sleep(300 * time.Millisecond)
	t.Logf("A got %d loud packets before the move; after it A got %d more packets, B %d (%d loud)",
		loudA, a.packets.Load()-toA, b.packets.Load(), b.loud.Load())
	if loudA < 50 {
		t.Fatalf("A heard only %d loud packets of its echo before the move", loudA)
	}
	if got := b.loud.Load(); got < 50 {
		t.Fatalf("B heard only %d loud packets of its echo after the move: the node did not re-latch", got)
	}
	if from, _ := b.lastFrom.Load().(netip.AddrPort); from != answer.Addr {
		t.Errorf("B got RTP from %v, want the node's %v", from, answer.Addr)
	}
	if extra := a.packets.Load() - toA; extra > 0 {
		t.Errorf("the node still sent %d packets to the old address after the move", extra)
	}
	if err := sess.Bye(ctx); err != nil {
		t.Fatal(err)
	}

	calls := n.waitCalls(t, 10*time.Second, "the call on record", func(c []store.Call) bool { return len(c) == 1 })
	tr := n.waitEnded(t, calls[0].ID, 10*time.Second)
	var hangup store.CallEvent
	for _, e := range tr.Events {
		if e.Type == "hangup" {
			hangup = e
		}
	}
	if hangup.By != store.SpeakerCaller {
		t.Errorf("hangup %+v, want by the caller (not a media timeout)", hangup)
	}
	rec := decodeWAV(t, tr.Call.RecordingPath)
	caller := loudSeconds(rec.Samples, rec.Channels, 0)
	echoed := loudSeconds(rec.Samples, rec.Channels, 1)
	t.Logf("recording: caller audible %.2f s, echoed %.2f s", caller, echoed)
	if caller < 2.7 || echoed < 2.7 {
		t.Fatalf("recording holds %.2f s of the caller and %.2f s echoed, want both parts (~3 s each)", caller, echoed)
	}
}
