package wav

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode parses arbitrary bytes as WAV: no panic, failures wrap
// ErrMalformed, and what decodes re-encodes to the same samples.
func FuzzDecode(f *testing.F) {
	var m memFile
	w, _ := NewWriter(&m, Format{SampleRate: 8000, Channels: 2})
	w.Write([]int16{1, -1, 300, -300})
	w.Close()
	f.Add(m.b)
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00"))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVELIST\x03\x00\x00\x00abc\x00fmt "))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Decode(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		var out memFile
		w, err := NewWriter(&out, a.Format)
		if err != nil {
			t.Fatalf("decoded format %+v cannot be written: %v", a.Format, err)
		}
		if err := w.Write(a.Samples); err != nil {
			t.Fatal(err)
		}
		w.Close()
		b, err := Decode(bytes.NewReader(out.b))
		if err != nil || len(b.Samples) != len(a.Samples) {
			t.Fatalf("re-decode: %v, %d vs %d samples", err, len(b.Samples), len(a.Samples))
		}
	})
}
