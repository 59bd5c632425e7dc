package vad

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/internal/shareddata"
)

const frameMs = audio.FrameDurationMs

// segment is one stretch of speech the detector reported, in frames.
type segment struct{ start, end int }

// segments runs d over frames and returns the speech it reported, with
// onsets and offsets moved back to where the speech itself began and
// ended (SpeechStart comes OnsetFrames late, SpeechEnd HangoverFrames late).
func segments(d *Detector, frames []audio.Frame) []segment {
	var out []segment
	for i := range frames {
		switch d.Process(&frames[i]) {
		case SpeechStart:
			out = append(out, segment{start: i + 1 - d.cfg.OnsetFrames, end: -1})
		case SpeechEnd:
			out[len(out)-1].end = i + 1 - d.cfg.HangoverFrames
		}
	}
	if n := len(out); n > 0 && out[n-1].end < 0 {
		out[n-1].end = len(frames)
	}
	return out
}

// merge joins segments separated by less than gap frames (pauses inside a
// sentence), as the end-of-turn rules do.
func merge(s []segment, gap int) []segment {
	var out []segment
	for _, g := range s {
		if n := len(out); n > 0 && g.start-out[n-1].end < gap {
			out[n-1].end = g.end
			continue
		}
		out = append(out, g)
	}
	return out
}

func load(t *testing.T, elems ...string) []audio.Frame {
	t.Helper()
	f, err := media.LoadPrompt(shareddata.Path(t, elems...))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// white is n frames of white noise at about dbfs (RMS).
func white(n int, dbfs float64, seed uint64) []audio.Frame {
	r := rand.New(rand.NewPCG(seed, 1))
	amp := 32768 * math.Pow(10, dbfs/20) * math.Sqrt(3) // uniform: rms = a/sqrt(3)
	pcm := make([]int16, n*audio.FrameSamples)
	for i := range pcm {
		pcm[i] = int16((r.Float64()*2 - 1) * amp)
	}
	return audio.Frames(pcm)
}

// pink is n frames of pink (1/f) noise at about dbfs, by the Voss-McCartney method.
func pink(n int, dbfs float64, seed uint64) []audio.Frame {
	r := rand.New(rand.NewPCG(seed, 2))
	var rows [12]float64
	raw := make([]float64, n*audio.FrameSamples)
	sum, sq := 0.0, 0.0
	for i := range raw {
		for k := range rows { // row k changes every 2^k samples
			if i%(1<<k) == 0 {
				rows[k] = r.Float64()*2 - 1
			}
		}
		v := 0.0
		for _, x := range rows {
			v += x
		}
		raw[i] = v
		sum += v
	}
	mean := sum / float64(len(raw))
	for i := range raw {
		raw[i] -= mean
		sq += raw[i] * raw[i]
	}
	scale := 32768 * math.Pow(10, dbfs/20) / math.Sqrt(sq/float64(len(raw)))
	pcm := make([]int16, len(raw))
	for i, v := range raw {
		pcm[i] = int16(max(-32768, min(32767, v*scale)))
	}
	return audio.Frames(pcm)
}

// mix adds b onto a (same length or shorter), saturating.
func mix(a, b []audio.Frame) []audio.Frame {
	out := append([]audio.Frame(nil), a...)
	for i := range out {
		if i >= len(b) {
			break
		}
		for j := range out[i] {
			out[i][j] = int16(max(-32768, min(32767, int(out[i][j])+int(b[i][j]))))
		}
	}
	return out
}

// TestHarvardSentences: an 8 kHz telephone recording of ten sentences with
// pauses between them; the detector finds each sentence (pauses inside one
// shorter than the end-of-turn silence are merged, as the turn rules do).
func TestHarvardSentences(t *testing.T) {
	frames := load(t, "asr", "osr-harvard-8k", "OSR_us_000_0034_8k.wav")
	segs := segments(New(Config{}), frames)
	sentences := merge(segs, 600/frameMs)
	for _, s := range sentences {
		t.Logf("sentence %5.2f s - %5.2f s", float64(s.start*frameMs)/1000, float64(s.end*frameMs)/1000)
	}
	if len(sentences) != 10 {
		t.Fatalf("found %d sentences in the recording of ten (raw segments %d)", len(sentences), len(segs))
	}
	for i, s := range sentences {
		if d := (s.end - s.start) * frameMs; d < 1200 || d > 4500 {
			t.Errorf("sentence %d lasts %d ms; Harvard sentences take 1.5-3.5 s", i+1, d)
		}
	}
}

// TestSpeechInNoise: the same recording with white and pink noise mixed
// in at several levels; the floor settles on the noise and the sentences
// are still found while the speech stands clear of it.
func TestSpeechInNoise(t *testing.T) {
	frames := load(t, "asr", "osr-harvard-8k", "OSR_us_000_0034_8k.wav")
	for _, tc := range []struct {
		name  string
		noise []audio.Frame
	}{
		{"white -55 dBFS", white(len(frames), -55, 1)},
		{"white -45 dBFS", white(len(frames), -45, 2)},
		{"pink -50 dBFS", pink(len(frames), -50, 3)},
		{"pink -42 dBFS", pink(len(frames), -42, 4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(Config{})
			// 800 ms: noise masks the soft ends of words, so the comma pause
			// in the last sentence ("When you hear the bell, come quickly.")
			// grows a little; the pauses between sentences are 820 ms or more.
			sentences := merge(segments(d, mix(frames, tc.noise)), 800/frameMs)
			if len(sentences) != 10 {
				for _, s := range sentences {
					t.Logf("sentence %5.2f s - %5.2f s", float64(s.start*frameMs)/1000, float64(s.end*frameMs)/1000)
				}
				t.Fatalf("found %d sentences of ten", len(sentences))
			}
			t.Logf("noise floor %.1f dBFS", d.NoiseFloor())
		})
	}
}

// TestSteadyNoiseIsNotSpeech: a line that turns noisy (silence, then
// steady noise well above the speech threshold) is speech for at most the
// adaptation time, then silence again with the floor on the noise.
func TestSteadyNoiseIsNotSpeech(t *testing.T) {
	for _, tc := range []struct {
		name  string
		noise []audio.Frame
		level float64
	}{
		{"white -40 dBFS", white(750, -40, 5), -40},
		{"white -30 dBFS", white(750, -30, 6), -30},
		{"pink -35 dBFS", pink(750, -35, 7), -35},
		{"pink -25 dBFS", pink(750, -25, 8), -25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(Config{})
			frames := append(make([]audio.Frame, 100), tc.noise...) // 2 s silence, 15 s noise
			var speech int
			for i := range frames {
				d.Process(&frames[i])
				if d.Speaking() {
					speech++
					if i >= 100+250 {
						t.Fatalf("still speech %d ms into steady noise (floor %.1f dBFS)", (i-100)*frameMs, d.NoiseFloor())
					}
				}
			}
			t.Logf("noise taken for speech for %d ms; floor %.1f dBFS", speech*frameMs, d.NoiseFloor())
			if f := d.NoiseFloor(); f < tc.level-6 || f > tc.level+1 {
				t.Fatalf("noise floor %.1f dBFS for noise at %.0f dBFS", f, tc.level)
			}
		})
	}
}

// TestSilenceQuietLineAndClicks: digital silence, line hiss below the
// speech threshold, and single clicks never start speech.
func TestSilenceQuietLineAndClicks(t *testing.T) {
	frames := append(make([]audio.Frame, 100), white(500, -62, 9)...)
	click := white(1, -6, 10)[0]
	for i := 150; i < len(frames); i += 50 {
		frames[i] = click
	}
	d := New(Config{})
	for i := range frames {
		if d.Process(&frames[i]) == SpeechStart {
			t.Fatalf("speech started at frame %d (floor %.1f dBFS)", i, d.NoiseFloor())
		}
	}
}

// TestOnsetAndHangover: speech starts OnsetFrames into a loud stretch; a
// pause shorter than the hangover does not end it, a longer one does.
func TestOnsetAndHangover(t *testing.T) {
	loud := white(30, -20, 11)
	var frames []audio.Frame
	frames = append(frames, make([]audio.Frame, 50)...)
	frames = append(frames, loud[:10]...)
	frames = append(frames, make([]audio.Frame, 5)...) // 100 ms pause: inside the word
	frames = append(frames, loud[10:20]...)
	frames = append(frames, make([]audio.Frame, 20)...) // 400 ms: the end
	d := New(Config{})
	var events []string
	for i := range frames {
		switch d.Process(&frames[i]) {
		case SpeechStart:
			events = append(events, "start@"+itoa(i))
		case SpeechEnd:
			events = append(events, "end@"+itoa(i))
		}
	}
	// Onset: second voiced frame (51); end: 8th silent frame after the last voiced (74+8=82).
	if len(events) != 2 || events[0] != "start@51" || events[1] != "end@82" {
		t.Fatalf("events %v, want [start@51 end@82]", events)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
