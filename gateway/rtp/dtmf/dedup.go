package dtmf

import "time"

// DefaultDedupWindow is how far apart the RFC 4733 event and the in-band tone
// of one press may be reported: the tone is confirmed after the jitter
// buffer's delay (up to 200 ms) plus two frames, the event on arrival.
const DefaultDedupWindow = time.Second

// Dedup reports each key press once when a peer sends it both ways, as
// RFC 4733 events and as tones in the audio (many gateways do both, or
// send tones to a peer that did not negotiate telephone-event at all).
// Each press of one source cancels at most one unmatched press of the same
// key from the other source within Window, in order, so a quickly repeated
// key ("11") still counts twice. Not safe for concurrent use.
type Dedup struct {
	// Window bounds how late the second report of a press may come (default DefaultDedupWindow).
	Window time.Duration
	// unmatched presses per source, oldest first: [0] RFC 4733, [1] in-band.
	unmatched [2][]pressAt
}

type pressAt struct {
	digit byte
	at    time.Time
}

// maxUnmatched bounds the memory of a peer that only ever uses one source.
const maxUnmatched = 16

// Accept tells whether kp, seen at now, is a new press to report (true) or
// the other source's report of a press already reported (false).
func (d *Dedup) Accept(kp KeyPress, now time.Time) bool {
	window := d.Window
	if window <= 0 {
		window = DefaultDedupWindow
	}
	src := 0
	if kp.InBand {
		src = 1
	}
	other := d.unmatched[1-src]
	// Forget the other source's presses too old to pair with this one.
	for len(other) > 0 && now.Sub(other[0].at) > window {
		other = other[1:]
	}
	for i, p := range other {
		if p.digit == kp.Digit {
			// The presses before it had no counterpart (a tone too short to
			// detect, a lost event): they stay reported, and are done with.
			d.unmatched[1-src] = other[i+1:]
			return false
		}
	}
	d.unmatched[1-src] = other
	own := append(d.unmatched[src], pressAt{digit: kp.Digit, at: now})
	if len(own) > maxUnmatched {
		own = own[len(own)-maxUnmatched:]
	}
	d.unmatched[src] = own
	return true
}
