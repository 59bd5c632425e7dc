package audio

import (
	"math"
	"testing"
)

func sine(freq float64, rate, n int, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

func rms(x []int16) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

func TestResamplePassbandAndStopband(t *testing.T) {
	cases := []struct {
		in, out int
		freq    float64
		pass    bool
	}{
		{8000, 16000, 1000, true},
		{16000, 8000, 1000, true},
		{16000, 8000, 6000, false}, // would alias to 2 kHz
		{44100, 8000, 1336, true},
		{44100, 8000, 10000, false},
		{22050, 8000, 3000, true},
		{22050, 8000, 5000, false},
		{48000, 8000, 697, true},
	}
	for _, c := range cases {
		in := sine(c.freq, c.in, c.in, 10000) // one second
		out, err := Resample(in, c.in, c.out)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != c.out {
			t.Errorf("%d->%d: %d samples out, want %d", c.in, c.out, len(out), c.out)
		}
		mid := out[len(out)/4 : 3*len(out)/4]
		gain := rms(mid) / rms(in)
		if c.pass && math.Abs(gain-1) > 0.02 {
			t.Errorf("%d->%d at %.0f Hz: pass-band gain %.4f, want 1±0.02", c.in, c.out, c.freq, gain)
		}
		if !c.pass && 20*math.Log10(gain+1e-12) > -60 {
			t.Errorf("%d->%d at %.0f Hz: stop-band gain %.1f dB, want < -60 dB", c.in, c.out, c.freq, 20*math.Log10(gain))
		}
	}
}

// Streaming in uneven chunks gives the same samples as one call.
func TestResamplerChunkedMatchesWhole(t *testing.T) {
	in := sine(440, 44100, 44100/2, 8000)
	whole, _ := NewResampler(44100, 8000)
	want := whole.Process(nil, in)
	chunked, _ := NewResampler(44100, 8000)
	var got []int16
	for i := 0; i < len(in); {
		n := min(1+i%97, len(in)-i)
		got = chunked.Process(got, in[i:i+n])
		i += n
	}
	if len(got) != len(want) {
		t.Fatalf("chunked produced %d samples, whole %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sample %d differs: %d vs %d", i, got[i], want[i])
		}
	}
}

// 8k -> 16k -> 8k keeps a voice-band tone (no naive duplication images).
func TestUpDownRoundTrip(t *testing.T) {
	up := NewUpsampler()
	down, err := NewDownsampler(16000)
	if err != nil {
		t.Fatal(err)
	}
	frames := Frames(sine(1000, 8000, 8000, 12000))
	var wide []int16
	var back []Frame
	for i := range frames {
		n := len(wide)
		wide = up.Upsample(wide, &frames[i])
		back = down.Write(back, wide[n:])
	}
	if len(wide) != 16000 {
		t.Fatalf("upsampled %d samples, want 16000", len(wide))
	}
	// Images of 1 kHz at 7 kHz would show as energy at 7 kHz in the 16 kHz stream.
	var re, im float64
	for i, v := range wide[4000:12000] {
		ph := 2 * math.Pi * 7000 * float64(i) / 16000
		re += float64(v) * math.Cos(ph)
		im += float64(v) * math.Sin(ph)
	}
	image := math.Sqrt(re*re+im*im) / 4000
	if image > 5 {
		t.Errorf("7 kHz image amplitude %.1f after upsampling, want < 5 (tone 12000)", image)
	}
	got := Samples(back)
	if g := rms(got[2000:6000]) / rms(Samples(frames)[2000:6000]); math.Abs(g-1) > 0.02 {
		t.Errorf("8k->16k->8k gain %.4f, want 1±0.02", g)
	}
}

func TestNewResamplerRejectsBadRates(t *testing.T) {
	for _, c := range [][2]int{{0, 8000}, {8000, -1}, {44101, 8000}} {
		if _, err := NewResampler(c[0], c[1]); err == nil {
			t.Errorf("NewResampler(%d, %d) accepted", c[0], c[1])
		}
	}
}

func BenchmarkUpsampleFrame(b *testing.B) {
	u := NewUpsampler()
	f := Frames(sine(1000, 8000, 160, 8000))[0]
	dst := make([]int16, 0, 400)
	for b.Loop() {
		dst = u.Upsample(dst[:0], &f)
	}
}

func BenchmarkDownsample16kFrame(b *testing.B) {
	d, _ := NewDownsampler(16000)
	in := sine(1000, 16000, 320, 8000)
	dst := make([]Frame, 0, 4)
	for b.Loop() {
		dst = d.Write(dst[:0], in)
	}
}
