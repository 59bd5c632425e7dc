package audio

import (
	"fmt"
	"math"
)

// Resampler converts a mono 16-bit PCM stream from one rate to another with a
// polyphase Kaiser-windowed sinc low-pass filter; it keeps state between
// calls, so a stream can be fed in chunks of any size.
type Resampler struct {
	inRate, outRate int
	l, m            int         // upsampling and downsampling factors (outRate/inRate = l/m)
	k               int         // taps per phase
	taps            [][]float32 // taps[phase], reversed, each phase summing to 1
	hist            []float32   // input history: k-1 samples before the current one, then pending input
	idx             int         // index in hist of the input sample under the current output
	phase           int         // (n*m) mod l of the next output n
}

// resampleZeroCrossings is how many sinc zero crossings each side of the
// filter keeps: 16 gives a stop band well below the 8-bit G.711 noise floor.
const resampleZeroCrossings = 16

// NewResampler returns a Resampler from inRate to outRate Hz; both must be
// positive and their reduced ratio small enough to keep the filter bank compact.
func NewResampler(inRate, outRate int) (*Resampler, error) {
	if inRate <= 0 || outRate <= 0 {
		return nil, fmt.Errorf("resampler: rates must be positive, got %d Hz -> %d Hz", inRate, outRate)
	}
	g := gcd(inRate, outRate)
	l, m := outRate/g, inRate/g
	if l > 1024 {
		return nil, fmt.Errorf("resampler: ratio %d/%d (%d Hz -> %d Hz) needs %d filter phases, more than 1024", l, m, inRate, outRate, l)
	}
	r := &Resampler{inRate: inRate, outRate: outRate, l: l, m: m}
	if l == 1 && m == 1 {
		return r, nil
	}
	// Cut off at 90% of the lower Nyquist frequency (3.6 kHz for 8 kHz):
	// the telephone band ends at 3.4 kHz, and the transition band must fit
	// below the new Nyquist frequency to keep aliases out.
	fc := 0.45 * float64(min(inRate, outRate)) / float64(inRate) // cycles per input sample
	half := int(math.Ceil(resampleZeroCrossings / (2 * fc)))     // input samples each side
	r.k = 2 * half
	n := r.k * l // prototype length at rate l*inRate
	const beta = 8.6
	proto := make([]float64, n)
	center := float64(n-1) / 2
	i0b := besselI0(beta)
	for j := range proto {
		t := (float64(j) - center) / float64(l) // in input samples
		x := 2 * fc * t
		sinc := 1.0
		if x != 0 {
			sinc = math.Sin(math.Pi*x) / (math.Pi * x)
		}
		w := (float64(j) - center) / (center + 1)
		win := besselI0(beta*math.Sqrt(math.Max(0, 1-w*w))) / i0b
		proto[j] = 2 * fc * sinc * win
	}
	r.taps = make([][]float32, l)
	for p := 0; p < l; p++ {
		row := make([]float32, r.k)
		var sum float64
		for k := 0; k < r.k; k++ {
			sum += proto[p+k*l]
		}
		for k := 0; k < r.k; k++ {
			// Normalizing each phase to unit DC gain removes the ripple a
			// plain prototype normalization leaves at the phase rate. Stored
			// reversed (row[k-1-i] multiplies x[idx-i]) so the inner loop is a
			// forward dot product over the history window.
			row[r.k-1-k] = float32(proto[p+k*l] / sum)
		}
		r.taps[p] = row
	}
	r.hist = make([]float32, r.k-1, r.k+4096)
	r.idx = r.k - 1
	return r, nil
}

// InRate returns the input sample rate in Hz.
func (r *Resampler) InRate() int { return r.inRate }

// OutRate returns the output sample rate in Hz.
func (r *Resampler) OutRate() int { return r.outRate }

// Delay returns the filter's group delay in output samples.
func (r *Resampler) Delay() int {
	if r.k == 0 {
		return 0
	}
	return (r.k*r.l - 1) / 2 / r.m
}

// Process resamples src, appends the output to dst and returns it.
func (r *Resampler) Process(dst, src []int16) []int16 {
	if r.k == 0 {
		return append(dst, src...)
	}
	for _, s := range src {
		r.hist = append(r.hist, float32(s))
	}
	for r.idx < len(r.hist) {
		taps := r.taps[r.phase]
		x := r.hist[r.idx-r.k+1 : r.idx+1]
		x = x[:len(taps)]
		// Four accumulators break the add dependency chain (k is always even).
		var a0, a1, a2, a3 float32
		k := 0
		for ; k+4 <= len(taps); k += 4 {
			a0 += taps[k] * x[k]
			a1 += taps[k+1] * x[k+1]
			a2 += taps[k+2] * x[k+2]
			a3 += taps[k+3] * x[k+3]
		}
		for ; k < len(taps); k++ {
			a0 += taps[k] * x[k]
		}
		acc := (a0 + a1) + (a2 + a3)
		dst = append(dst, clip16(float64(acc)))
		r.phase += r.m
		r.idx += r.phase / r.l
		r.phase %= r.l
	}
	// Keep only the k-1 samples the next output still needs.
	drop := r.idx - (r.k - 1)
	if drop > 0 {
		if drop > len(r.hist) {
			drop = len(r.hist)
		}
		n := copy(r.hist, r.hist[drop:])
		r.hist = r.hist[:n]
		r.idx -= drop
	}
	return dst
}

// Flush feeds enough silence to push the filter's delayed tail out, appends it to dst and returns it.
func (r *Resampler) Flush(dst []int16) []int16 {
	if r.k == 0 {
		return dst
	}
	return r.Process(dst, make([]int16, r.k/2+1))
}

// Resample converts a whole buffer from inRate to outRate, including the
// filter tail, and compensates the filter delay so output aligns with input.
func Resample(samples []int16, inRate, outRate int) ([]int16, error) {
	r, err := NewResampler(inRate, outRate)
	if err != nil {
		return nil, err
	}
	want := int(int64(len(samples)) * int64(outRate) / int64(inRate))
	out := r.Process(make([]int16, 0, want+r.k), samples)
	out = r.Flush(out)
	d := r.Delay()
	if d > len(out) {
		d = len(out)
	}
	out = out[d:]
	if len(out) > want {
		out = out[:want]
	}
	return out, nil
}

// Upsampler turns 8 kHz Frames into 16 kHz blocks of 320 samples for consumers such as ASR.
type Upsampler struct{ r *Resampler }

// NewUpsampler returns a stateful 8 kHz to 16 kHz converter.
func NewUpsampler() *Upsampler {
	r, _ := NewResampler(SampleRate, 2*SampleRate) // fixed valid rates cannot fail
	return &Upsampler{r: r}
}

// Upsample converts one Frame to 320 samples at 16 kHz, appended to dst.
func (u *Upsampler) Upsample(dst []int16, f *Frame) []int16 {
	return u.r.Process(dst, f[:])
}

// Downsampler turns 16 kHz audio (for example TTS output) into 8 kHz Frames.
type Downsampler struct {
	r       *Resampler
	pending []int16
}

// NewDownsampler returns a stateful converter from inRate Hz to 8 kHz Frames.
func NewDownsampler(inRate int) (*Downsampler, error) {
	r, err := NewResampler(inRate, SampleRate)
	if err != nil {
		return nil, err
	}
	return &Downsampler{r: r}, nil
}

// Write resamples src and appends every complete Frame it yields to dst.
func (d *Downsampler) Write(dst []Frame, src []int16) []Frame {
	d.pending = d.r.Process(d.pending, src)
	for len(d.pending) >= FrameSamples {
		var f Frame
		copy(f[:], d.pending)
		dst = append(dst, f)
		d.pending = d.pending[:copy(d.pending, d.pending[FrameSamples:])]
	}
	return dst
}

// Flush emits the filter tail and any partial Frame, zero-padded, appended to dst.
func (d *Downsampler) Flush(dst []Frame) []Frame {
	d.pending = d.r.Flush(d.pending)
	for len(d.pending) > 0 {
		var f Frame
		n := copy(f[:], d.pending)
		dst = append(dst, f)
		d.pending = d.pending[:copy(d.pending, d.pending[n:])]
	}
	return dst
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// besselI0 is the zeroth-order modified Bessel function of the first kind, for the Kaiser window.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return sum
}
