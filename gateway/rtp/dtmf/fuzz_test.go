package dtmf

import (
	"bytes"
	"testing"
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
