package media

import (
	"context"
	"sync"
	"time"

	"github.com/parley-cc/parley/gateway/rtp"
	"github.com/parley-cc/parley/gateway/rtp/audio"
)

// SessionLeg is a Call carried by an RTP Session (a SIP call's media).
type SessionLeg struct {
	id       string
	session  *rtp.Session
	events   chan Event
	done     chan struct{}
	once     sync.Once
	onHangup func(ctx context.Context) error
}

// NewSessionLeg wraps s as a Call; onHangup (for example sending a SIP BYE)
// runs when the application hangs up, and may be nil.
func NewSessionLeg(id string, s *rtp.Session, onHangup func(ctx context.Context) error) *SessionLeg {
	l := &SessionLeg{id: id, session: s, events: make(chan Event, 16), done: make(chan struct{}), onHangup: onHangup}
	s.OnMediaTimeout(l.MediaTimedOut)
	go l.relay()
	return l
}

// relay turns the session's key presses into Events until the leg ends.
func (l *SessionLeg) relay() {
	for {
		select {
		case <-l.done:
			return
		case <-l.session.Done():
			l.end(Event{Kind: Hangup})
			return
		case kp := <-l.session.KeyPresses():
			l.send(Event{Kind: KeyPress, Digit: kp.Digit, InBand: kp.InBand})
		}
	}
}

func (l *SessionLeg) send(ev Event) {
	select {
	case l.events <- ev:
	default: // a reader that ignores events must not stall the media path
	}
}

func (l *SessionLeg) end(ev Event) {
	l.once.Do(func() {
		l.send(ev)
		close(l.done)
	})
}

// ID returns the leg's identifier.
func (l *SessionLeg) ID() string { return l.id }

// Session returns the underlying RTP session.
func (l *SessionLeg) Session() *rtp.Session { return l.session }

// Frames delivers the far end's audio every 20 ms.
func (l *SessionLeg) Frames() <-chan audio.Frame { return l.session.Frames() }

// Write queues one frame to the far end, paced at real time.
func (l *SessionLeg) Write(ctx context.Context, f audio.Frame) error {
	select {
	case <-l.done:
		return ErrHungUp
	default:
	}
	return l.session.Write(ctx, f)
}

// Flush discards queued outbound audio.
func (l *SessionLeg) Flush() { l.session.Flush() }

// Events delivers key presses, media timeouts and hang-ups.
func (l *SessionLeg) Events() <-chan Event { return l.events }

// Done is closed when the leg ends.
func (l *SessionLeg) Done() <-chan struct{} { return l.done }

// RemoteHangup is called by the signaling layer when the far end hung up (SIP BYE).
func (l *SessionLeg) RemoteHangup() { l.end(Event{Kind: Hangup}) }

// MediaTimedOut reports a media timeout to the application; NewSessionLeg wires it to the session.
func (l *SessionLeg) MediaTimedOut(time.Duration) { l.send(Event{Kind: MediaTimeout}) }

// Hangup ends the leg from this side: runs onHangup and closes the session.
func (l *SessionLeg) Hangup(ctx context.Context) error {
	var err error
	if l.onHangup != nil {
		err = l.onHangup(ctx)
	}
	l.end(Event{Kind: Hangup})
	if cerr := l.session.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}
