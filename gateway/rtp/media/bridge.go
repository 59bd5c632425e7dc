package media

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/wav"
)

// Bridge connects a caller's leg to an agent's leg, with mute, hold with
// music, and optional two-channel recording of what each party said.
type Bridge struct {
	caller, agent Call
	music         []audio.Frame
	recorder      *wav.Recorder

	mutedCaller atomic.Bool
	mutedAgent  atomic.Bool
	held        atomic.Bool
}

// BridgeOption configures a Bridge.
type BridgeOption func(*Bridge)

// WithHoldMusic sets the frames looped to the caller while on hold (silence if unset).
func WithHoldMusic(frames []audio.Frame) BridgeOption {
	return func(b *Bridge) { b.music = frames }
}

// WithRecorder records the caller on the left channel and the agent on the right.
func WithRecorder(r *wav.Recorder) BridgeOption {
	return func(b *Bridge) { b.recorder = r }
}

// NewBridge returns a Bridge between caller and agent; Run starts it.
func NewBridge(caller, agent Call, opts ...BridgeOption) *Bridge {
	b := &Bridge{caller: caller, agent: agent}
	for _, o := range opts {
		o(b)
	}
	return b
}

// MuteCaller stops (or resumes) passing the caller's audio to the agent.
func (b *Bridge) MuteCaller(on bool) { b.mutedCaller.Store(on) }

// MuteAgent stops (or resumes) passing the agent's audio to the caller.
func (b *Bridge) MuteAgent(on bool) { b.mutedAgent.Store(on) }

// Hold puts the caller on hold (music to the caller, silence to the agent) or takes them off.
func (b *Bridge) Hold(on bool) { b.held.Store(on) }

// Held reports whether the caller is on hold.
func (b *Bridge) Held() bool { return b.held.Load() }

// Run passes audio both ways until either leg ends or ctx is done, and
// returns the leg that ended (nil on ctx); it does not hang up the other leg.
func (b *Bridge) Run(ctx context.Context) (ended Call, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	finish := func(c Call) {
		once.Do(func() { ended = c })
		cancel()
	}
	wg.Add(2)
	go func() { defer wg.Done(); b.pump(ctx, b.caller, b.agent, wav.Caller, finish) }()
	go func() { defer wg.Done(); b.pump(ctx, b.agent, b.caller, wav.Agent, finish) }()
	wg.Wait()
	return ended, ctx.Err()
}

// pump carries one direction: from's audio to to, applying mute and hold.
func (b *Bridge) pump(ctx context.Context, from, to Call, ch wav.Channel, finish func(Call)) {
	musicAt := 0
	var silence audio.Frame
	for {
		select {
		case <-ctx.Done():
			return
		case <-from.Done():
			finish(from)
			return
		case <-to.Done():
			finish(to)
			return
		case f := <-from.Frames():
			if b.recorder != nil {
				// Recording failures must not drop the call; Close reports them.
				_ = b.recorder.Write(ch, &f)
			}
			out := &f
			switch {
			case b.held.Load() && ch == wav.Agent:
				// The caller on hold hears music instead of the agent.
				out = &silence
				if len(b.music) > 0 {
					out = &b.music[musicAt%len(b.music)]
					musicAt++
				}
			case b.held.Load():
				out = &silence
			case ch == wav.Caller && b.mutedCaller.Load(), ch == wav.Agent && b.mutedAgent.Load():
				out = &silence
			}
			if err := to.Write(ctx, *out); err != nil {
				select {
				case <-to.Done():
					finish(to)
				default:
					// A leg that hung up can fail a write before its Done
					// closes: it still ended the bridge.
					if errors.Is(err, ErrHungUp) {
						finish(to)
					} else {
						finish(nil)
					}
				}
				return
			}
		}
	}
}
