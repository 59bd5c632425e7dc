package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/internal/shareddata"
)

// memFile is an in-memory io.WriteSeeker.
type memFile struct {
	b   []byte
	pos int
}

func (m *memFile) Write(p []byte) (int, error) {
	if need := m.pos + len(p); need > len(m.b) {
		m.b = append(m.b, make([]byte, need-len(m.b))...)
	}
	copy(m.b[m.pos:], p)
	m.pos += len(p)
	return len(p), nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		m.pos = int(off)
	case io.SeekEnd:
		m.pos = len(m.b) + int(off)
	default:
		m.pos += int(off)
	}
	return int64(m.pos), nil
}

func encode(t *testing.T, f Format, samples []int16) []byte {
	t.Helper()
	var m memFile
	w, err := NewWriter(&m, f)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(samples); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return m.b
}

func TestWriteReadRoundTrip(t *testing.T) {
	for _, f := range []Format{{8000, 1}, {44100, 2}, {22050, 1}} {
		samples := make([]int16, 1000*f.Channels)
		for i := range samples {
			samples[i] = int16(i*37 - 20000)
		}
		b := encode(t, f, samples)
		if len(b) != 44+2*len(samples) {
			t.Fatalf("%+v: file is %d bytes, want %d", f, len(b), 44+2*len(samples))
		}
		if got := binary.LittleEndian.Uint32(b[4:8]); got != uint32(len(b)-8) {
			t.Errorf("RIFF size %d, want %d", got, len(b)-8)
		}
		a, err := Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if a.Format != f || len(a.Samples) != len(samples) {
			t.Fatalf("decoded %+v with %d samples, want %+v with %d", a.Format, len(a.Samples), f, len(samples))
		}
		for i := range samples {
			if a.Samples[i] != samples[i] {
				t.Fatalf("sample %d: %d, want %d", i, a.Samples[i], samples[i])
			}
		}
	}
}

func TestDecodeSkipsUnknownChunksAndOddPadding(t *testing.T) {
	b := encode(t, Format{8000, 1}, []int16{1, 2, 3})
	// Insert a 3-byte LIST chunk (padded to 4) between fmt and data.
	extra := []byte{'L', 'I', 'S', 'T', 3, 0, 0, 0, 'a', 'b', 'c', 0}
	out := append(append(append([]byte{}, b[:36]...), extra...), b[36:]...)
	a, err := Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Samples) != 3 || a.Samples[2] != 3 {
		t.Fatalf("got %v", a.Samples)
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	good := encode(t, Format{8000, 1}, []int16{1, 2, 3, 4})
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	cases := map[string]struct {
		data []byte
		want string
	}{
		"empty":      {nil, "too short"},
		"not riff":   {mut(func(b []byte) []byte { copy(b, "RIFX"); return b }), "RIFF signature"},
		"not wave":   {mut(func(b []byte) []byte { copy(b[8:], "AVI "); return b }), "not WAVE"},
		"8 bit":      {mut(func(b []byte) []byte { b[34] = 8; return b }), "bits per sample"},
		"float":      {mut(func(b []byte) []byte { b[20] = 3; return b }), "not PCM"},
		"6 channels": {mut(func(b []byte) []byte { b[22] = 6; return b }), "channels"},
		"zero rate":  {mut(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[24:], 0); return b }), "sample rate"},
		"bad align":  {mut(func(b []byte) []byte { b[32] = 3; return b }), "block align"},
		"no data":    {good[:36], "no data chunk"},
		"truncated":  {good[:len(good)-3], "truncated"},
		"odd data":   {mut(func(b []byte) []byte { b[40] = 7; return b }), "whole number"},
		"data first": {append(append(append([]byte{}, good[:12]...), good[36:]...), good[12:36]...), "before fmt"},
		"huge fmt":   {mut(func(b []byte) []byte { b[16] = 0xFF; b[17] = 0xFF; return b }), "fmt chunk size"},
		"cut fmt":    {good[:30], "fmt chunk truncated"},
	}
	for name, c := range cases {
		_, err := Decode(bytes.NewReader(c.data))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want ErrMalformed mentioning %q", name, err, c.want)
		}
	}
}

func TestDecodeUnpatchedSizeReadsToEOF(t *testing.T) {
	b := encode(t, Format{8000, 1}, []int16{5, 6, 7})
	binary.LittleEndian.PutUint32(b[40:], 0xFFFFFFFF)
	a, err := Decode(bytes.NewReader(b))
	if err != nil || len(a.Samples) != 3 {
		t.Fatalf("got %v, %v", a, err)
	}
}

func TestDecodeSharedDTMFPrompt(t *testing.T) {
	f, err := os.Open(shareddata.Path(t, "dtmf", "sound5.wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if a.SampleRate != 44100 || a.Channels != 1 || len(a.Samples) != 17640 {
		t.Fatalf("got %+v with %d samples, want 44100 Hz mono 17640 samples", a.Format, len(a.Samples))
	}
}

// fakeClock advances only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestRecorderStereoAlignedWithGaps(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: time.Unix(1000, 0)}
	rec, err := NewRecorder(dir, "call-42", WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	var caller, agent audio.Frame
	for i := range caller {
		caller[i], agent[i] = 1000, -2000
	}
	// The agent starts 0.5 s after the caller and talks 0.5 s after the caller stops.
	for i := 0; i < 100; i++ {
		if err := rec.Write(Caller, &caller); err != nil {
			t.Fatal(err)
		}
		if i >= 25 {
			if err := rec.Write(Agent, &agent); err != nil {
				t.Fatal(err)
			}
		}
		clk.advance(20 * time.Millisecond)
	}
	for i := 0; i < 25; i++ {
		rec.Write(Agent, &agent)
		clk.advance(20 * time.Millisecond)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	f, err := os.Open(filepath.Join(dir, "recordings", "call-42.wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if a.Format != (Format{8000, 2}) {
		t.Fatalf("format %+v, want 8 kHz stereo", a.Format)
	}
	if frames := len(a.Samples) / 2; frames != 125*160 {
		t.Fatalf("%d sample frames (%.3f s), want %d (2.5 s)", frames, float64(frames)/8000, 125*160)
	}
	at := func(sec float64) (int16, int16) {
		i := int(sec * 8000)
		return a.Samples[2*i], a.Samples[2*i+1]
	}
	// Caller: slots 0-99 (0-2 s); agent: slots 25-124 (0.5-2.5 s).
	for _, c := range []struct {
		sec  float64
		l, r int16
	}{{0.1, 1000, 0}, {0.49, 1000, 0}, {0.51, 1000, -2000}, {1.99, 1000, -2000}, {2.01, 0, -2000}, {2.49, 0, -2000}} {
		if l, r := at(c.sec); l != c.l || r != c.r {
			t.Errorf("at %.2f s: left %d right %d, want %d %d", c.sec, l, r, c.l, c.r)
		}
	}
}

func TestRecorderPadToNowSpansTheCall(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	rec, err := NewRecorder(t.TempDir(), "call-43", WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	var caller audio.Frame
	caller[0] = 1000
	for i := 0; i < 10; i++ { // 200 ms of caller audio, then 1 s with none
		if err := rec.Write(Caller, &caller); err != nil {
			t.Fatal(err)
		}
		clk.advance(20 * time.Millisecond)
	}
	clk.advance(time.Second)
	if err := rec.PadToNow(); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(rec.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if frames := len(a.Samples) / 2; frames != 60*160 {
		t.Fatalf("%d sample frames (%.3f s), want 1.2 s", frames, float64(frames)/8000)
	}
	if a.Samples[2*9*160] != 1000 || a.Samples[2*10*160] != 0 {
		t.Fatalf("caller audio not where it was spoken: slot 9 %d, slot 10 %d", a.Samples[2*9*160], a.Samples[2*10*160])
	}
	if err := rec.PadToNow(); err == nil {
		t.Fatal("PadToNow after Close succeeded")
	}
}

func TestRecorderRejectsPathNames(t *testing.T) {
	for _, n := range []string{"", "../x", "a/b", ".."} {
		if _, err := NewRecorder(t.TempDir(), n); err == nil {
			t.Errorf("name %q accepted", n)
		}
	}
}
