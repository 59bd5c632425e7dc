package media

import (
	"context"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/wav"
)

// Monitored is a Call seen through a gateway's monitor: every frame the far
// end sends and every frame written to it goes to a recorder, and every event
// to an observer, whether or not the application reads them (a prompt that
// never reads the caller's audio still leaves it in the recording, and the
// call record still gets every key press).
type Monitored struct {
	Call
	rec     *wav.Recorder
	onEvent func(Event)
	frames  chan audio.Frame
	events  chan Event
	stopped chan struct{}
}

// Monitor wraps call; rec (left: far end, right: what is written to it) and
// onEvent may be nil. onEvent runs on the monitor's goroutine and must not block.
func Monitor(call Call, rec *wav.Recorder, onEvent func(Event)) *Monitored {
	m := &Monitored{Call: call, rec: rec, onEvent: onEvent,
		frames: make(chan audio.Frame, 50), events: make(chan Event, 16), stopped: make(chan struct{})}
	go m.run()
	return m
}

func (m *Monitored) run() {
	defer close(m.stopped)
	for {
		select {
		case f := <-m.Call.Frames():
			if m.rec != nil {
				_ = m.rec.Write(wav.Caller, &f) // Close reports recording errors; the call goes on
			}
			select {
			case m.frames <- f:
			default: // nobody is listening: drop, as the leg itself would
			}
		case ev := <-m.Call.Events():
			m.event(ev)
		case <-m.Call.Done():
			// The hang-up event is queued before Done closes: pass on what is left.
			for {
				select {
				case ev := <-m.Call.Events():
					m.event(ev)
				default:
					return
				}
			}
		}
	}
}

func (m *Monitored) event(ev Event) {
	if m.onEvent != nil {
		m.onEvent(ev)
	}
	select {
	case m.events <- ev:
	default:
	}
}

// Frames delivers the far end's audio.
func (m *Monitored) Frames() <-chan audio.Frame { return m.frames }

// Events delivers the leg's events after the observer saw them.
func (m *Monitored) Events() <-chan Event { return m.events }

// Write records the frame on the right channel and sends it.
func (m *Monitored) Write(ctx context.Context, f audio.Frame) error {
	if m.rec != nil {
		_ = m.rec.Write(wav.Agent, &f)
	}
	return m.Call.Write(ctx, f)
}

// Stopped is closed once the monitor has passed on the leg's last event.
func (m *Monitored) Stopped() <-chan struct{} { return m.stopped }
