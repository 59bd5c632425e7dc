// Package media defines how applications (the voicebot, IVR prompts, agent
// bridges) use one call leg's audio without knowing its transport: SIP/RTP
// and WebRTC legs both implement Call.
package media

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/wav"
)

// EventKind says what happened on a call leg.
type EventKind int

const (
	// KeyPress is a DTMF key from the caller.
	KeyPress EventKind = iota + 1
	// Hangup means the far end hung up; no more audio will arrive.
	Hangup
	// MediaTimeout means no audio arrived for the configured time.
	MediaTimeout
)

// String names the event kind for logs.
func (k EventKind) String() string {
	switch k {
	case KeyPress:
		return "key-press"
	case Hangup:
		return "hangup"
	case MediaTimeout:
		return "media-timeout"
	}
	return fmt.Sprintf("event-%d", int(k))
}

// Event is something that happened on a call leg besides audio.
type Event struct {
	Kind   EventKind
	Digit  byte // KeyPress: 0-9, *, #, A-D
	InBand bool // KeyPress: detected in the audio rather than sent as RFC 4733
}

// Call is one leg of a call as a media application sees it.
type Call interface {
	// ID is the call leg's identifier (the call id for the caller's leg).
	ID() string
	// Frames delivers the far end's audio, one Frame every 20 ms; it is not
	// closed at hang-up: select on Done as well.
	Frames() <-chan audio.Frame
	// Write queues one Frame to the far end; it blocks while a few frames
	// are queued, so writers are paced at real time.
	Write(ctx context.Context, f audio.Frame) error
	// Flush discards queued output so the far end stops hearing it at once (barge-in).
	Flush()
	// Events delivers key presses, media timeouts and the far end's hang-up.
	Events() <-chan Event
	// Hangup ends the call from this side.
	Hangup(ctx context.Context) error
	// Done is closed when the leg has ended, from either side.
	Done() <-chan struct{}
}

// Application is a media function run on a call, such as the voicebot or echo.
type Application interface {
	Run(ctx context.Context, call Call) error
}

// ApplicationFunc adapts a function to Application.
type ApplicationFunc func(ctx context.Context, call Call) error

// Run calls f.
func (f ApplicationFunc) Run(ctx context.Context, call Call) error { return f(ctx, call) }

// ErrHungUp is returned when the call ended while an application was using it.
var ErrHungUp = errors.New("call hung up")

// Play writes frames to the call in real time; it stops early with
// ErrHungUp if the call ends, or with the context's error.
func Play(ctx context.Context, call Call, frames []audio.Frame) error {
	for i := range frames {
		select {
		case <-call.Done():
			return ErrHungUp
		default:
		}
		if err := call.Write(ctx, frames[i]); err != nil {
			if errors.Is(err, ctx.Err()) {
				return err
			}
			return fmt.Errorf("play frame %d of %d on call %s: %w", i, len(frames), call.ID(), err)
		}
	}
	return nil
}

// LoadPrompt reads a 16-bit PCM WAV file at any rate (mono or stereo) and
// returns it as 8 kHz Frames for playback.
func LoadPrompt(path string) ([]audio.Frame, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load prompt: %w", err)
	}
	defer f.Close()
	a, err := wav.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("load prompt %s: %w", path, err)
	}
	pcm, err := audio.Resample(a.Mono(), a.SampleRate, audio.SampleRate)
	if err != nil {
		return nil, fmt.Errorf("load prompt %s: %w", path, err)
	}
	return audio.Frames(pcm), nil
}
