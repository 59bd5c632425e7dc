// Package openai is the Recognizer for any OpenAI-compatible transcription
// endpoint (OpenAI, faster-whisper servers, LocalAI, vLLM) through go-openai:
// the pipeline's VAD cuts the utterance, and it is sent as one 8 kHz WAV.
package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/wav"
	"github.com/parley-cc/parley/voicebot/asr"
)

// Config names the endpoint and model.
type Config struct {
	BaseURL  string // e.g. https://api.openai.com/v1; empty: OpenAI's
	APIKey   string
	Model    string // default whisper-1
	Language string // ISO 639-1 hint, e.g. "en"
	Prompt   string // vocabulary hint: product names, the deployment's terms
	// MaxUtteranceFrames bounds what one request carries; default 30 s.
	MaxUtteranceFrames int
}

// Recognizer transcribes utterances; safe for concurrent use.
type Recognizer struct {
	cfg    Config
	client *goopenai.Client
}

// New returns a Recognizer for cfg.
func New(cfg Config) *Recognizer {
	if cfg.Model == "" {
		cfg.Model = goopenai.Whisper1
	}
	if cfg.MaxUtteranceFrames <= 0 {
		cfg.MaxUtteranceFrames = 30 * 50
	}
	oc := goopenai.DefaultConfig(cfg.APIKey)
	if cfg.BaseURL != "" {
		oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	}
	return &Recognizer{cfg: cfg, client: goopenai.NewClientWithConfig(oc)}
}

// NewStream starts buffering an utterance.
func (r *Recognizer) NewStream(context.Context) (asr.Stream, error) {
	return &stream{r: r}, nil
}

type stream struct {
	r      *Recognizer
	frames []audio.Frame
	done   bool
}

func (s *stream) Write(f audio.Frame) error {
	if s.done {
		return errors.New("asr openai: write after Final")
	}
	if len(s.frames) >= s.r.cfg.MaxUtteranceFrames {
		return asr.ErrTooLong
	}
	s.frames = append(s.frames, f)
	return nil
}

// Partial: a batch endpoint has none.
func (s *stream) Partial() string { return "" }

func (s *stream) Close() error { s.done, s.frames = true, nil; return nil }

// wavBuffer is an in-memory io.WriteSeeker for the WAV writer.
type wavBuffer struct {
	b   []byte
	pos int
}

func (w *wavBuffer) Write(p []byte) (int, error) {
	if need := w.pos + len(p); need > len(w.b) {
		w.b = append(w.b, make([]byte, need-len(w.b))...)
	}
	copy(w.b[w.pos:], p)
	w.pos += len(p)
	return len(p), nil
}

func (w *wavBuffer) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		w.pos = int(off)
	case io.SeekCurrent:
		w.pos += int(off)
	case io.SeekEnd:
		w.pos = len(w.b) + int(off)
	}
	return int64(w.pos), nil
}

// Final sends the utterance and returns the transcript.
func (s *stream) Final(ctx context.Context) (asr.Result, error) {
	if s.done {
		return asr.Result{}, errors.New("asr openai: Final called twice")
	}
	s.done = true
	if len(s.frames) == 0 {
		return asr.Result{}, nil
	}
	buf := &wavBuffer{}
	w, err := wav.NewWriter(buf, wav.Format{SampleRate: audio.SampleRate, Channels: 1})
	if err != nil {
		return asr.Result{}, err
	}
	if err := w.Write(audio.Samples(s.frames)); err != nil {
		return asr.Result{}, err
	}
	if err := w.Close(); err != nil {
		return asr.Result{}, err
	}
	resp, err := s.r.client.CreateTranscription(ctx, goopenai.AudioRequest{
		Model: s.r.cfg.Model, FilePath: "utterance.wav", Reader: bytes.NewReader(buf.b),
		Language: s.r.cfg.Language, Prompt: s.r.cfg.Prompt, Format: goopenai.AudioResponseFormatJSON,
	})
	if err != nil {
		return asr.Result{}, fmt.Errorf("asr openai: transcription: %w", err)
	}
	text := strings.TrimSpace(resp.Text)
	conf := 0.0
	if text != "" {
		conf = 1
	}
	return asr.Result{Text: text, Confidence: conf}, nil
}
