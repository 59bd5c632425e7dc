package media

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRecorderAlignsChannels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "call.wav")
	start := time.Now().Add(-2 * time.Second) // the call started 2 s ago
	r, err := NewRecorder(path, start)
	if err != nil {
		t.Fatal(err)
	}
	tone := make([]int16, 160)
	for i := range tone {
		tone[i] = 1000
	}
	for range 50 { // 1 s received
		r.Received(tone)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || binary.LittleEndian.Uint16(b[22:]) != 2 {
		t.Fatalf("not a stereo WAV header: %q", b[:44])
	}
	data := binary.LittleEndian.Uint32(b[40:])
	if int(data) != len(b)-44 {
		t.Fatalf("data size %d, file has %d bytes of samples", data, len(b)-44)
	}
	secs := float64(data) / 4 / 8000
	if secs < 2.9 || secs > 3.1 {
		t.Fatalf("recording is %.2f s, want about 3 s (audio arriving at once 2 s into the call lasts 1 s)", secs)
	}
	var left, right int
	for i := 44; i+4 <= len(b); i += 4 {
		if int16(binary.LittleEndian.Uint16(b[i:])) != 0 {
			left++
		}
		if int16(binary.LittleEndian.Uint16(b[i+2:])) != 0 {
			right++
		}
	}
	if left != 8000 || right != 0 {
		t.Fatalf("non-silent samples left=%d right=%d, want 8000 and 0", left, right)
	}
}
