package openai

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"bytes"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/wav"
	"github.com/parley-cc/parley/voicebot/openaitest"
)

func TestTranscribesUtteranceAsWAV(t *testing.T) {
	srv := openaitest.New()
	defer srv.Close()
	var got *openaitest.TranscriptionRequest
	srv.OnTranscribe(func(r *openaitest.TranscriptionRequest) openaitest.TranscriptionReply {
		got = r
		return openaitest.TranscriptionReply{Text: " I want to check my account balance. "}
	})
	r := New(Config{BaseURL: srv.URL, APIKey: "k", Language: "en", Prompt: "Parley bank"})
	s, _ := r.NewStream(context.Background())
	frames := make([]audio.Frame, 75)
	for i := range frames {
		frames[i][i%160] = int16(i * 100)
		if err := s.Write(frames[i]); err != nil {
			t.Fatal(err)
		}
	}
	if s.Partial() != "" {
		t.Fatal("batch endpoint has no partials")
	}
	res, err := s.Final(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "I want to check my account balance." || res.Confidence != 1 {
		t.Fatalf("result %+v", res)
	}
	if got.Model != goopenai.Whisper1 || got.Language != "en" || got.Prompt != "Parley bank" {
		t.Fatalf("request %+v", got)
	}
	a, err := wav.Decode(bytes.NewReader(got.Audio))
	if err != nil {
		t.Fatalf("uploaded audio is not WAV: %v", err)
	}
	if a.SampleRate != 8000 || len(a.Mono()) != 75*160 || a.Mono()[160+1] != 100 {
		t.Fatalf("uploaded %d Hz, %d samples", a.SampleRate, len(a.Mono()))
	}
}

func TestErrorsAndTimeouts(t *testing.T) {
	srv := openaitest.New()
	defer srv.Close()
	var n atomic.Int32 // the handler runs on the server's goroutines
	srv.OnTranscribe(func(r *openaitest.TranscriptionRequest) openaitest.TranscriptionReply {
		if n.Add(1) == 1 {
			return openaitest.TranscriptionReply{Error: openaitest.ErrServer}
		}
		return openaitest.TranscriptionReply{Text: "late", Delay: 2 * time.Second}
	})
	r := New(Config{BaseURL: srv.URL, APIKey: "k"})
	s, _ := r.NewStream(context.Background())
	s.Write(audio.Frame{1})
	if _, err := s.Final(context.Background()); err == nil {
		t.Fatal("500 not reported")
	}
	s, _ = r.NewStream(context.Background())
	s.Write(audio.Frame{1})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := s.Final(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow endpoint: %v", err)
	}
	// Nothing heard: no request at all.
	s, _ = r.NewStream(context.Background())
	if res, err := s.Final(context.Background()); err != nil || res.Text != "" || n.Load() != 2 {
		t.Fatalf("empty utterance: %+v %v (requests %d)", res, err, n.Load())
	}
}
