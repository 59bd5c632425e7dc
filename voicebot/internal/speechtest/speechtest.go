// Package speechtest finds the shared public speech data for the voicebot's
// tests and benchmarks and turns clips into 8 kHz telephony frames.
package speechtest

import (
	"testing"

	"github.com/parley-cc/parley/internal/shareddata"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
)

// DataDir returns the shared public data folder's sub folder (see
// internal/shareddata); the test is skipped when it is absent.
func DataDir(tb testing.TB, sub string) string {
	tb.Helper()
	return shareddata.Path(tb, sub)
}

// LoadClip reads a WAV clip at any rate as 8 kHz frames.
func LoadClip(tb testing.TB, path string) []audio.Frame {
	tb.Helper()
	f, err := media.LoadPrompt(path)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// Silence is n ms of digital silence.
func Silence(ms int) []audio.Frame { return make([]audio.Frame, ms/audio.FrameDurationMs) }
