package openai

import (
	"context"
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/voicebot/openaitest"
)

func TestStreamsPCMResampledTo8k(t *testing.T) {
	srv := openaitest.New()
	defer srv.Close()
	var req *openaitest.SpeechRequest
	srv.OnSpeech(func(r *openaitest.SpeechRequest) openaitest.SpeechReply {
		req = r
		// 1 s of a 440 Hz tone, sent in 4801-byte pieces (odd: samples split
		// across reads) 30 ms apart, as a streaming endpoint does.
		return openaitest.SpeechReply{Audio: openaitest.Tone(time.Second), ChunkSize: 4801, ChunkDelay: 30 * time.Millisecond}
	})
	s := New(Config{BaseURL: srv.URL, APIKey: "k", Voice: "nova"})
	var chunks int
	var frames []audio.Frame
	var first time.Duration
	start := time.Now()
	err := s.Synthesize(context.Background(), "Your balance is fifty dollars.", func(f []audio.Frame) error {
		if chunks == 0 {
			first = time.Since(start)
		}
		chunks++
		frames = append(frames, f...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if req.ResponseFormat != "pcm" || req.Voice != "nova" || req.Model != "tts-1" || req.Input != "Your balance is fifty dollars." {
		t.Fatalf("request %+v", req)
	}
	if n := len(frames); n < 49 || n > 52 {
		t.Fatalf("1 s of speech became %d frames", n)
	}
	if chunks < 5 {
		t.Fatalf("audio arrived in %d pieces: the body was not streamed", chunks)
	}
	// The tone survives resampling at its level (openaitest.Tone: about -15 dBFS).
	if lvl := frames[25].Level(); lvl < -20 || lvl > -10 {
		t.Fatalf("mid frame level %.1f dBFS", lvl)
	}
	t.Logf("first audio after %s, %d pieces", first, chunks)
}

func TestSpeechErrors(t *testing.T) {
	srv := openaitest.New()
	defer srv.Close()
	srv.OnSpeech(func(r *openaitest.SpeechRequest) openaitest.SpeechReply {
		return openaitest.SpeechReply{Error: openaitest.ErrOverloaded}
	})
	s := New(Config{BaseURL: srv.URL, APIKey: "k"})
	if err := s.Synthesize(context.Background(), "Hello.", func([]audio.Frame) error { return nil }); err == nil {
		t.Fatal("503 not reported")
	}
	srv.OnSpeech(func(r *openaitest.SpeechRequest) openaitest.SpeechReply {
		return openaitest.SpeechReply{Audio: openaitest.Tone(time.Second), Delay: 3 * time.Second}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Synthesize(ctx, "Hello.", func([]audio.Frame) error { return nil }); err == nil {
		t.Fatal("stalled endpoint not bounded by the context")
	}
}

// TestWAVAtAnotherRate: a server that ignores response_format=pcm and sends
// a WAV at its own rate (16 kHz stereo, 22.05 kHz mono) is played at the
// right speed, without its header turned into a click.
func TestWAVAtAnotherRate(t *testing.T) {
	for _, tc := range []struct {
		rate, channels int
	}{{16000, 2}, {22050, 1}} {
		srv := openaitest.New()
		srv.OnSpeech(func(r *openaitest.SpeechRequest) openaitest.SpeechReply {
			return openaitest.SpeechReply{Audio: wavTone(tc.rate, tc.channels, time.Second), ChunkSize: 999, ChunkDelay: 5 * time.Millisecond}
		})
		s := New(Config{BaseURL: srv.URL, APIKey: "k"})
		frames, err := ttsCollect(s)
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n := len(frames); n < 49 || n > 52 {
			t.Fatalf("%d Hz x%d: 1 s of speech became %d frames", tc.rate, tc.channels, n)
		}
		// The first frame holds the tone's start, not the 44-byte header read as samples.
		if lvl := frames[0].Level(); lvl < -30 {
			t.Fatalf("%d Hz: first frame %.1f dBFS", tc.rate, lvl)
		}
		for i, f := range frames[2 : len(frames)-2] {
			if lvl := f.Level(); lvl < -20 || lvl > -10 {
				t.Fatalf("%d Hz: frame %d level %.1f dBFS (a 440 Hz tone at about -15)", tc.rate, i+2, lvl)
			}
		}
	}
}

// TestBrokenWAVIsAnError: a RIFF body with a broken header fails the
// sentence with an error naming the problem (the pipeline's fallback voice
// takes over) instead of playing noise.
func TestBrokenWAVIsAnError(t *testing.T) {
	srv := openaitest.New()
	defer srv.Close()
	srv.OnSpeech(func(r *openaitest.SpeechRequest) openaitest.SpeechReply {
		return openaitest.SpeechReply{Audio: []byte("RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")}
	})
	_, err := ttsCollect(New(Config{BaseURL: srv.URL, APIKey: "k"}))
	if err == nil || !strings.Contains(err.Error(), "WAV") {
		t.Fatalf("err %v", err)
	}
}

func ttsCollect(s *Synthesizer) ([]audio.Frame, error) {
	var frames []audio.Frame
	err := s.Synthesize(context.Background(), "Hello there.", func(f []audio.Frame) error {
		frames = append(frames, f...)
		return nil
	})
	return frames, err
}

// wavTone is d of a 440 Hz tone at about -15 dBFS as a 16-bit WAV.
func wavTone(rate, channels int, d time.Duration) []byte {
	n := int(d.Seconds() * float64(rate))
	data := make([]byte, 0, n*2*channels)
	for i := 0; i < n; i++ {
		v := int16(5800 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
		for range channels {
			data = binary.LittleEndian.AppendUint16(data, uint16(v))
		}
	}
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+len(data)))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], uint16(channels))
	binary.LittleEndian.PutUint32(h[24:], uint32(rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(rate*2*channels))
	binary.LittleEndian.PutUint16(h[32:], uint16(2*channels))
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	return append(h, data...)
}
