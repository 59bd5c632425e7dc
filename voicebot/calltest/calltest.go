// Package calltest connects two in-memory media.Call legs like an RTP
// session pair: each side's Write is paced at real time through a queue of
// a few frames that Flush empties, and the far side receives a frame every
// 20 ms (silence when nothing is queued), stamped with its arrival time so
// tests can measure on the "wire".
package calltest

import (
	"context"
	"sync"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
)

// QueueFrames is how many frames Write queues before it blocks (as rtp.Session).
const QueueFrames = 10

// Received is a frame as the far end got it.
type Received struct {
	Frame audio.Frame
	At    time.Time
	// Sent: the frame was written by the application (not fill-in silence).
	Sent bool
}

// Leg is one side of a Pair.
type Leg struct {
	id     string
	out    chan audio.Frame // queued by Write, taken by the ticker
	in     chan audio.Frame
	wire   chan Received
	events chan media.Event
	peer   *Leg
	done   chan struct{}
	once   *sync.Once
	mu     sync.Mutex
	flush  int
}

// Pair returns the two legs of a call (a is typically the bot's, b the caller's).
func Pair(id string) (a, b *Leg) {
	done := make(chan struct{})
	once := &sync.Once{}
	mk := func(suffix string) *Leg {
		return &Leg{id: id + suffix, out: make(chan audio.Frame, QueueFrames), in: make(chan audio.Frame, 100),
			wire: make(chan Received, 500), events: make(chan media.Event, 16), done: done, once: once}
	}
	a, b = mk(""), mk("-peer")
	a.peer, b.peer = b, a
	go a.tick()
	go b.tick()
	return a, b
}

// tick sends this leg's queued audio to the peer every 20 ms.
func (l *Leg) tick() {
	t := time.NewTicker(audio.FrameDurationMs * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case now := <-t.C:
			var r Received
			select {
			case f := <-l.out:
				r = Received{Frame: f, At: now, Sent: true}
			default:
				r = Received{At: now}
			}
			select {
			case l.peer.in <- r.Frame:
			default: // a reader that fell behind loses audio, as on a network
			}
			select {
			case l.peer.wire <- r:
			default:
			}
		}
	}
}

// ID returns the leg's identifier.
func (l *Leg) ID() string { return l.id }

// Frames delivers the far end's audio every 20 ms.
func (l *Leg) Frames() <-chan audio.Frame { return l.in }

// Wire is the far end's audio as received, with arrival times and whether
// the far end's application wrote it; read it or Frames, not both.
func (l *Leg) Wire() <-chan Received { return l.wire }

// Write queues a frame, blocking while QueueFrames are queued.
func (l *Leg) Write(ctx context.Context, f audio.Frame) error {
	select {
	case <-l.done:
		return media.ErrHungUp
	default:
	}
	select {
	case l.out <- f:
		return nil
	case <-l.done:
		return media.ErrHungUp
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Flush drops queued output.
func (l *Leg) Flush() {
	l.mu.Lock()
	l.flush++
	l.mu.Unlock()
	for {
		select {
		case <-l.out:
		default:
			return
		}
	}
}

// Flushes counts Flush calls.
func (l *Leg) Flushes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flush
}

// Events delivers the far end's key presses and hang-up.
func (l *Leg) Events() <-chan media.Event { return l.events }

// SendKey makes the far end see a key press (RFC 4733).
func (l *Leg) SendKey(d byte) {
	select {
	case l.peer.events <- media.Event{Kind: media.KeyPress, Digit: d}:
	default:
	}
}

// Hangup ends the call for both legs; the far end gets a Hangup event.
func (l *Leg) Hangup(context.Context) error {
	l.once.Do(func() {
		select {
		case l.peer.events <- media.Event{Kind: media.Hangup}:
		default:
		}
		close(l.done)
	})
	return nil
}

// Done is closed when either side hung up.
func (l *Leg) Done() <-chan struct{} { return l.done }

// Speak writes frames in real time (the caller talking); it returns early
// if the call ends.
func (l *Leg) Speak(ctx context.Context, frames []audio.Frame) error {
	return media.Play(ctx, l, frames)
}
