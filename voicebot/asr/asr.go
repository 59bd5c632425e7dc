// Package asr is the speech-recognition contract of the voice pipeline:
// the pipeline cuts the caller's speech into utterances with its VAD and
// streams each one, frame by frame, to a Recognizer chosen per deployment
// (asr/local: pocketsphinx; asr/openai: any OpenAI-compatible endpoint).
package asr

import (
	"context"
	"errors"

	"github.com/parley-cc/parley/gateway/rtp/audio"
)

// Recognizer starts one Stream per caller utterance; it is safe for
// concurrent use by many calls.
type Recognizer interface {
	NewStream(ctx context.Context) (Stream, error)
}

// Stream recognises one utterance. Its methods are called from one goroutine.
type Stream interface {
	// Write adds the next 20 ms of 8 kHz caller audio.
	Write(f audio.Frame) error
	// Partial is the best hypothesis so far; "" when the provider has none
	// (a batch endpoint) or has heard nothing yet.
	Partial() string
	// Final ends the utterance and returns the transcript.
	Final(ctx context.Context) (Result, error)
	// Close releases the stream; safe after Final and more than once.
	Close() error
}

// Result is an utterance's transcript.
type Result struct {
	Text string
	// Confidence in [0,1]; providers without a score report 1 for a
	// non-empty transcript.
	Confidence float64
}

// ErrTooLong is returned by Write when an utterance exceeds the provider's limit.
var ErrTooLong = errors.New("asr: utterance too long")
