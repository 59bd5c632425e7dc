// Package tts is the speech-synthesis contract of the voice pipeline: a
// Synthesizer turns one sentence into 8 kHz telephony frames, handing them
// over as soon as they exist so playback starts before synthesis ends
// (tts/local: flite; tts/openai: any OpenAI-compatible speech endpoint).
package tts

import (
	"context"

	"github.com/parley-cc/parley/gateway/rtp/audio"
)

// Synthesizer is safe for concurrent use by many calls.
type Synthesizer interface {
	// Synthesize speaks text, calling out with consecutive 8 kHz frames in
	// order as they become ready. An error from out stops synthesis and is
	// returned.
	Synthesize(ctx context.Context, text string, out func([]audio.Frame) error) error
}

// Collect synthesizes text into one slice (prompts cached at start-up).
func Collect(ctx context.Context, s Synthesizer, text string) ([]audio.Frame, error) {
	var frames []audio.Frame
	err := s.Synthesize(ctx, text, func(f []audio.Frame) error {
		frames = append(frames, f...)
		return nil
	})
	return frames, err
}

type urgentKey struct{}

// Urgent marks a synthesis the caller is waiting for in silence (a
// reply's first sentence); a synthesizer that serialises its work may
// serve it before others.
func Urgent(ctx context.Context) context.Context { return context.WithValue(ctx, urgentKey{}, true) }

// IsUrgent reports whether ctx was marked by Urgent.
func IsUrgent(ctx context.Context) bool { v, _ := ctx.Value(urgentKey{}).(bool); return v }
