package g711

import (
	"math/rand/v2"
	"testing"
)

// Known vectors from ITU-T G.711 tables (and the Sun reference g711.c);
// µ-law never encodes to 0x7F (negative zero): 14-bit -1 belongs to 0x7E.
func TestKnownVectors(t *testing.T) {
	ulawDec := map[uint8]int16{0x00: -32124, 0x80: 32124, 0xFF: 0, 0x7F: 0, 0xFE: 8, 0x7E: -8, 0xF0: 120, 0x70: -120, 0xEF: 132, 0x6F: -132}
	for c, want := range ulawDec {
		if got := DecodeUlawSample(c); got != want {
			t.Errorf("µ-law decode %#02x = %d, want %d", c, got, want)
		}
	}
	alawDec := map[uint8]int16{0xD5: 8, 0x55: -8, 0xAA: 32256, 0x2A: -32256, 0xD4: 24, 0x54: -24, 0xC5: 264, 0x45: -264}
	for c, want := range alawDec {
		if got := DecodeAlawSample(c); got != want {
			t.Errorf("A-law decode %#02x = %d, want %d", c, got, want)
		}
	}
	ulawEnc := []struct {
		in   int16
		want uint8
	}{{0, 0xFF}, {-1, 0x7E}, {32767, 0x80}, {-32768, 0x00}, {8, 0xFE}, {-8, 0x7E}, {1000, 0xCE}, {-1000, 0x4E}}
	for _, c := range ulawEnc {
		if got := EncodeUlawSample(c.in); got != c.want {
			t.Errorf("µ-law encode %d = %#02x, want %#02x", c.in, got, c.want)
		}
	}
	alawEnc := []struct {
		in   int16
		want uint8
	}{{0, 0xD5}, {-1, 0x55}, {32767, 0xAA}, {-32768, 0x2A}, {1000, 0xFA}, {-1000, 0x7A}}
	for _, c := range alawEnc {
		if got := EncodeAlawSample(c.in); got != c.want {
			t.Errorf("A-law encode %d = %#02x, want %#02x", c.in, got, c.want)
		}
	}
}

// Every code decodes to a value that re-encodes to a code with the same value.
func TestCodeRoundTrip(t *testing.T) {
	for c := 0; c < 256; c++ {
		u := DecodeUlawSample(uint8(c))
		if got := DecodeUlawSample(EncodeUlawSample(u)); got != u {
			t.Errorf("µ-law code %#02x: %d re-encodes to value %d", c, u, got)
		}
		a := DecodeAlawSample(uint8(c))
		if got := EncodeAlawSample(a); got != uint8(c) {
			t.Errorf("A-law code %#02x: %d re-encodes to %#02x", c, a, got)
		}
	}
}

// Linear -> code -> linear stays within half a quantization step, and the
// decoded values are monotonic in the input.
func TestLinearRoundTripError(t *testing.T) {
	prevU, prevA := int16(-32768), int16(-32768)
	for i := -32768; i <= 32767; i++ {
		s := int16(i)
		u := DecodeUlawSample(EncodeUlawSample(s))
		a := DecodeAlawSample(EncodeAlawSample(s))
		if u < prevU || a < prevA {
			t.Fatalf("not monotonic at %d: µ %d<%d or A %d<%d", i, u, prevU, a, prevA)
		}
		prevU, prevA = u, a
		mag := i
		if mag < 0 {
			mag = -mag
		}
		// Step size doubles per segment; bound error by 1/16 of magnitude plus the smallest step.
		tol := mag/16 + 16
		if mag > 32124 {
			tol = mag - 32124 + 1100
		}
		if d := abs(int(u) - i); d > tol {
			t.Fatalf("µ-law error at %d: decoded %d (err %d > %d)", i, u, d, tol)
		}
		if d := abs(int(a) - i); d > tol {
			t.Fatalf("A-law error at %d: decoded %d (err %d > %d)", i, a, d, tol)
		}
	}
}

func TestSliceAPIsMatchSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]int16, 160)
	for i := range src {
		src[i] = int16(rng.IntN(65536) - 32768)
	}
	u := EncodeUlaw(nil, src)
	a := EncodeAlaw(nil, src)
	du := DecodeUlaw(nil, u)
	da := DecodeAlaw(nil, a)
	for i, s := range src {
		if u[i] != EncodeUlawSample(s) || a[i] != EncodeAlawSample(s) {
			t.Fatalf("sample %d encodes differently in slice API", i)
		}
		if du[i] != DecodeUlawSample(u[i]) || da[i] != DecodeAlawSample(a[i]) {
			t.Fatalf("sample %d decodes differently in slice API", i)
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func benchFrame() []int16 {
	f := make([]int16, 160)
	for i := range f {
		f[i] = int16((i * 977) % 30000)
	}
	return f
}

func BenchmarkEncodeUlawFrame(b *testing.B) {
	f := benchFrame()
	dst := make([]byte, 0, 160)
	for b.Loop() {
		dst = EncodeUlaw(dst[:0], f)
	}
}

func BenchmarkDecodeUlawFrame(b *testing.B) {
	p := EncodeUlaw(nil, benchFrame())
	dst := make([]int16, 0, 160)
	for b.Loop() {
		dst = DecodeUlaw(dst[:0], p)
	}
}

func BenchmarkEncodeAlawFrame(b *testing.B) {
	f := benchFrame()
	dst := make([]byte, 0, 160)
	for b.Loop() {
		dst = EncodeAlaw(dst[:0], f)
	}
}

func BenchmarkDecodeAlawFrame(b *testing.B) {
	p := EncodeAlaw(nil, benchFrame())
	dst := make([]int16, 0, 160)
	for b.Loop() {
		dst = DecodeAlaw(dst[:0], p)
	}
}
