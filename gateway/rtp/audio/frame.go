// Package audio defines the 20 ms telephony Frame that every media component
// of the gateway exchanges, and resamplers between telephony and other rates.
package audio

import "math"

const (
	// SampleRate is the internal rate of a Frame in Hz (narrowband telephony).
	SampleRate = 8000
	// FrameSamples is the number of samples in one 20 ms Frame at SampleRate.
	FrameSamples = 160
	// FrameDurationMs is the duration of one Frame in milliseconds.
	FrameDurationMs = 20
)

// Frame is 20 ms of 16-bit linear PCM, mono, at 8 kHz: the internal media unit.
type Frame [FrameSamples]int16

// Energy returns the mean square of the frame's samples.
func (f *Frame) Energy() float64 {
	var sum float64
	for _, s := range f {
		v := float64(s)
		sum += v * v
	}
	return sum / FrameSamples
}

// Level returns the frame's RMS level in dBFS (full scale sine = -3 dBFS); silence is -inf.
func (f *Frame) Level() float64 {
	e := f.Energy()
	if e == 0 {
		return math.Inf(-1)
	}
	return 10 * math.Log10(e/(32768.0*32768.0))
}

// IsSilent reports whether the frame's RMS level is below thresholdDBFS.
func (f *Frame) IsSilent(thresholdDBFS float64) bool {
	return f.Level() < thresholdDBFS
}

// Frames splits samples into whole Frames, zero-padding the last partial one.
func Frames(samples []int16) []Frame {
	n := (len(samples) + FrameSamples - 1) / FrameSamples
	out := make([]Frame, n)
	for i := range out {
		copy(out[i][:], samples[i*FrameSamples:])
	}
	return out
}

// Samples concatenates frames into one slice of samples.
func Samples(frames []Frame) []int16 {
	out := make([]int16, 0, len(frames)*FrameSamples)
	for i := range frames {
		out = append(out, frames[i][:]...)
	}
	return out
}

// clip16 saturates v to the int16 range after rounding.
func clip16(v float64) int16 {
	v = math.Round(v)
	if v > math.MaxInt16 {
		return math.MaxInt16
	}
	if v < math.MinInt16 {
		return math.MinInt16
	}
	return int16(v)
}
