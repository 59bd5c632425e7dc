package rtp

import (
	"net"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"
)

// FuzzHandleDatagram feeds arbitrary datagrams to a session's receive path:
// it must never panic, and counters must stay consistent.
func FuzzHandleDatagram(f *testing.F) {
	good := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: PCMU, SequenceNumber: 1, Timestamp: 160, SSRC: 1}, Payload: make([]byte, 160)}
	b, _ := good.Marshal()
	f.Add(b)
	ev := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: 101, SequenceNumber: 2, Timestamp: 160, SSRC: 1}, Payload: []byte{1, 0x8a, 0, 160}}
	b, _ = ev.Marshal()
	f.Add(b)
	f.Add([]byte{0x80, 0xC8, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0xFF, 0xFF})
	f.Add([]byte{0xA0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xFF})
	s := newTestSession(f, Config{LearnRemote: true, InbandDTMF: true}) // playout runs the detector on what arrives
	from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5004}
	var pkt pionrtp.Packet
	var scratch []int16
	start := time.Now()
	i := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		i++
		scratch = s.handleDatagram(data, from, start.Add(time.Duration(i)*20*time.Millisecond), &pkt, scratch[:0])
		s.mu.Lock()
		s.jb.Pop()
		s.mu.Unlock()
		if st := s.Stats(); st.Expected > 0 && st.PacketsReceived == 0 {
			t.Fatalf("expected %d packets but received none", st.Expected)
		}
	})
}

// FuzzJitterBuffer pushes arbitrary timestamps and lengths: no panic, and
// playout always yields whole frames.
func FuzzJitterBuffer(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 0, 0, 0, 160, 1})
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0x00, 0xA0, 0x00, 0x00, 0x01, 0x40, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		jb := NewJitterBuffer(JitterConfig{})
		pcm := make([]int16, 4096)
		for len(data) >= 5 {
			ts := uint32(data[0])<<24 | uint32(data[1])<<16 | uint32(data[2])<<8 | uint32(data[3])
			n := int(data[4]) * 8
			data = data[5:]
			jb.Push(ts, pcm[:n])
			jb.Pop()
		}
		if s := jb.Stats(); s.BufferedAudio < 0 {
			t.Fatalf("negative buffered audio %v", s.BufferedAudio)
		}
	})
}
