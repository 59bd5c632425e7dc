package dtmf

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
)

// FuzzTelephoneEvent parses arbitrary RFC 4733 payloads: no panic, and any
// accepted block marshals back to its own first four bytes.
func FuzzTelephoneEvent(f *testing.F) {
	f.Add([]byte{0x01, 0x0a, 0x00, 0xa0}, uint32(1000))
	f.Add([]byte{0x0b, 0x8a, 0x03, 0x20}, uint32(0xFFFFFFF0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, uint32(0))
	f.Add([]byte{1, 2, 3}, uint32(5))
	var r EventReceiver
	f.Fuzz(func(t *testing.T, payload []byte, ts uint32) {
		ev, err := ParseTelephoneEvent(payload)
		if err != nil {
			if _, _, rerr := r.Receive(ts, payload); rerr == nil {
				t.Fatal("receiver accepted a payload the parser rejected")
			}
			return
		}
		if ev.Volume > 63 {
			t.Fatalf("volume %d out of range", ev.Volume)
		}
		if got := ev.Marshal(nil); !bytes.Equal(got[:2], []byte{payload[0], payload[1] &^ 0x40}) || !bytes.Equal(got[2:], payload[2:4]) {
			t.Fatalf("re-marshal %x of %x", got, payload[:4])
		}
		kp, ok, err := r.Receive(ts, payload)
		if err != nil {
			t.Fatal(err)
		}
		if ok && kp.Digit != Digits[ev.Event] {
			t.Fatalf("event %d reported as %q", ev.Event, kp.Digit)
		}
	})
}

// FuzzInbandAndDedup runs arbitrary audio through the Goertzel detector and
// the reports of both sources through Dedup: no panic, only DTMF keys, and
// Dedup never reports more presses than it is given.
func FuzzInbandAndDedup(f *testing.F) {
	tone := make([]byte, 2*audio.FrameSamples*4)
	for i := 0; i < len(tone)/2; i++ {
		tt := float64(i) / audio.SampleRate
		v := int16(6000*math.Sin(2*math.Pi*770*tt) + 6000*math.Sin(2*math.Pi*1336*tt))
		binary.LittleEndian.PutUint16(tone[2*i:], uint16(v))
	}
	f.Add(tone, []byte("5*#1"))
	f.Add(bytes.Repeat([]byte{0xff, 0x7f, 0x00, 0x80}, 400), []byte{0, 1, 2, 0xff})
	f.Fuzz(func(t *testing.T, pcm []byte, events []byte) {
		d := NewDetector(DetectorConfig{})
		var dd Dedup
		now := time.Unix(0, 0)
		given, reported := 0, 0
		var fr audio.Frame
		for len(pcm) >= 2*audio.FrameSamples {
			for i := range fr {
				fr[i] = int16(binary.LittleEndian.Uint16(pcm[2*i:]))
			}
			pcm = pcm[2*audio.FrameSamples:]
			now = now.Add(20 * time.Millisecond)
			if kp, ok := d.Process(&fr); ok {
				if strings.IndexByte(Digits, kp.Digit) < 0 || !kp.InBand {
					t.Fatalf("detector reported %+v", kp)
				}
				given++
				if dd.Accept(kp, now) {
					reported++
				}
			}
			if len(events) > 0 {
				digit, _ := EventDigit(events[0] % 16)
				events = events[1:]
				given++
				if dd.Accept(KeyPress{Digit: digit}, now) {
					reported++
				}
			}
		}
		if reported > given || (given > 0 && reported == 0) {
			t.Fatalf("dedup reported %d of %d presses", reported, given)
		}
	})
}
