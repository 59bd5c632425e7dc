// Package dtmf handles caller key presses: RFC 4733 telephone-event payloads
// (parse, generate, de-duplicate) and in-band tone detection with Goertzel filters.
package dtmf

import (
	"encoding/binary"
	"fmt"
)

// Digits maps RFC 4733 event codes 0-15 to their keys.
const Digits = "0123456789*#ABCD"

// EventCode returns the RFC 4733 event code of a DTMF key (0-9, *, #, A-D).
func EventCode(digit byte) (uint8, error) {
	switch {
	case digit >= '0' && digit <= '9':
		return digit - '0', nil
	case digit == '*':
		return 10, nil
	case digit == '#':
		return 11, nil
	case digit >= 'A' && digit <= 'D':
		return 12 + digit - 'A', nil
	case digit >= 'a' && digit <= 'd':
		return 12 + digit - 'a', nil
	}
	return 0, fmt.Errorf("dtmf: %q is not a DTMF key (0-9, *, #, A-D)", digit)
}

// EventDigit returns the key of an RFC 4733 event code, or false for non-DTMF events.
func EventDigit(code uint8) (byte, bool) {
	if int(code) < len(Digits) {
		return Digits[code], true
	}
	return 0, false
}

// TelephoneEvent is one RFC 4733 telephone-event payload block.
type TelephoneEvent struct {
	Event    uint8  // event code (0-15 are DTMF keys)
	End      bool   // E bit: last packets of the event
	Volume   uint8  // power level in -dBm0, 0..63
	Duration uint16 // in RTP timestamp units since the event began
}

// PayloadSize is the size of one telephone-event block.
const PayloadSize = 4

// ParseTelephoneEvent decodes the first event block of an RFC 4733 payload.
func ParseTelephoneEvent(b []byte) (TelephoneEvent, error) {
	if len(b) < PayloadSize {
		return TelephoneEvent{}, fmt.Errorf("dtmf: telephone-event payload is %d bytes, needs %d", len(b), PayloadSize)
	}
	if len(b)%PayloadSize != 0 {
		return TelephoneEvent{}, fmt.Errorf("dtmf: telephone-event payload is %d bytes, not a multiple of %d", len(b), PayloadSize)
	}
	return TelephoneEvent{
		Event:    b[0],
		End:      b[1]&0x80 != 0,
		Volume:   b[1] & 0x3F,
		Duration: binary.BigEndian.Uint16(b[2:4]),
	}, nil
}

// Marshal appends the 4-byte wire form of e to dst and returns it.
func (e TelephoneEvent) Marshal(dst []byte) []byte {
	b1 := e.Volume & 0x3F
	if e.End {
		b1 |= 0x80
	}
	return append(dst, e.Event, b1, byte(e.Duration>>8), byte(e.Duration))
}

// EventPacket is one RTP packet's worth of a generated telephone event.
type EventPacket struct {
	Marker  bool   // set on the first packet of the event
	Payload []byte // 4-byte RFC 4733 block
}

// GenerateEvent returns the packets that send one key press of duration
// samples (at clockRate 8000 that is 8 per ms), one per packetSamples of
// time, the duration growing in each, ending with three copies of the final
// packet with the E bit set, as RFC 4733 section 2.5.1.4 asks; all share the
// event's start timestamp.
func GenerateEvent(digit byte, volume uint8, duration, packetSamples int) ([]EventPacket, error) {
	code, err := EventCode(digit)
	if err != nil {
		return nil, err
	}
	if packetSamples <= 0 {
		return nil, fmt.Errorf("dtmf: packet interval %d samples must be positive", packetSamples)
	}
	if duration < packetSamples || duration > 0xFFFF {
		return nil, fmt.Errorf("dtmf: duration %d samples must be between %d and 65535", duration, packetSamples)
	}
	if volume > 63 {
		return nil, fmt.Errorf("dtmf: volume %d -dBm0 is above 63", volume)
	}
	var out []EventPacket
	for d := packetSamples; d < duration; d += packetSamples {
		ev := TelephoneEvent{Event: code, Volume: volume, Duration: uint16(d)}
		out = append(out, EventPacket{Marker: len(out) == 0, Payload: ev.Marshal(nil)})
	}
	end := TelephoneEvent{Event: code, End: true, Volume: volume, Duration: uint16(duration)}
	for i := 0; i < 3; i++ {
		out = append(out, EventPacket{Marker: len(out) == 0, Payload: end.Marshal(nil)})
	}
	return out, nil
}

// KeyPress is a detected DTMF key.
type KeyPress struct {
	Digit byte
	// Duration is the tone length in samples at 8 kHz, known once it ended (0 while it lasts).
	Duration int
	// InBand is true for tones detected in the audio, false for RFC 4733 events.
	InBand bool
}

// EventReceiver turns a stream of telephone-event packets into key presses,
// reporting each event once although it arrives in many (and repeated) packets.
type EventReceiver struct {
	started  bool
	lastTS   uint32 // RTP timestamp of the current or last event
	reported bool   // the current event has been reported
	ended    bool   // the current event's end packet has been seen
}

// Receive handles one telephone-event packet with RTP timestamp ts and
// returns the key press to report, if this packet starts a new event.
func (r *EventReceiver) Receive(ts uint32, payload []byte) (KeyPress, bool, error) {
	ev, err := ParseTelephoneEvent(payload)
	if err != nil {
		return KeyPress{}, false, err
	}
	if r.started && ts == r.lastTS {
		if ev.End && !r.ended {
			r.ended = true
		}
		return KeyPress{}, false, nil
	}
	// A timestamp older than the current event is a late retransmission of a
	// previous one (RTP timestamps wrap, hence the signed difference).
	if r.started && int32(ts-r.lastTS) < 0 {
		return KeyPress{}, false, nil
	}
	r.started, r.lastTS, r.ended = true, ts, ev.End
	digit, ok := EventDigit(ev.Event)
	if !ok {
		return KeyPress{}, false, nil
	}
	r.reported = true
	kp := KeyPress{Digit: digit}
	if ev.End {
		kp.Duration = int(ev.Duration)
	}
	return kp, true, nil
}
