// Package openai is the Synthesizer for any OpenAI-compatible speech
// endpoint through go-openai: it asks for raw 24 kHz PCM and resamples the
// response body to 8 kHz frames while it is still arriving, so playback
// starts on the first bytes.
package openai

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/wav"
)

// PCMRate is the sample rate of the API's "pcm" response format.
const PCMRate = 24000

// Config names the endpoint, model and voice.
type Config struct {
	BaseURL string
	APIKey  string
	Model   string  // default tts-1
	Voice   string  // default alloy
	Speed   float64 // 0: the endpoint's default
}

// Synthesizer is safe for concurrent use.
type Synthesizer struct {
	cfg    Config
	client *goopenai.Client
}

// New returns a Synthesizer for cfg.
func New(cfg Config) *Synthesizer {
	if cfg.Model == "" {
		cfg.Model = string(goopenai.TTSModel1)
	}
	if cfg.Voice == "" {
		cfg.Voice = string(goopenai.VoiceAlloy)
	}
	oc := goopenai.DefaultConfig(cfg.APIKey)
	if cfg.BaseURL != "" {
		oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	}
	return &Synthesizer{cfg: cfg, client: goopenai.NewClientWithConfig(oc)}
}

// Synthesize streams text's speech to out as the response body arrives.
func (s *Synthesizer) Synthesize(ctx context.Context, text string, out func([]audio.Frame) error) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	resp, err := s.client.CreateSpeech(ctx, goopenai.CreateSpeechRequest{
		Model: goopenai.SpeechModel(s.cfg.Model), Input: text, Voice: goopenai.SpeechVoice(s.cfg.Voice),
		ResponseFormat: goopenai.SpeechResponseFormatPcm, Speed: s.cfg.Speed,
	})
	if err != nil {
		return fmt.Errorf("tts openai: speech: %w", err)
	}
	defer resp.Close()
	// Some OpenAI-compatible servers ignore response_format and send a WAV
	// (at their own rate): read its header and resample from that rate
	// instead of playing the header as noise at the wrong speed.
	body := bufio.NewReader(resp)
	var src io.Reader = body
	rate := PCMRate
	if head, _ := body.Peek(12); len(head) == 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WAVE" {
		wr, err := wav.NewReader(body)
		if err != nil {
			return fmt.Errorf("tts openai: the endpoint sent a WAV that cannot be read: %w", err)
		}
		rate = wr.Format().SampleRate
		src = &monoReader{r: wr, channels: wr.Format().Channels}
	}
	down, err := audio.NewDownsampler(rate)
	if err != nil {
		return fmt.Errorf("tts openai: speech at %d Hz: %w", rate, err)
	}
	buf := make([]byte, 4800) // 100 ms at 24 kHz
	var carry []byte          // an odd byte split across reads
	var pcm []int16
	var frames []audio.Frame
	total := 0
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			data := append(carry, buf[:n]...)
			even := len(data) &^ 1
			pcm = pcm[:0]
			for i := 0; i < even; i += 2 {
				pcm = append(pcm, int16(binary.LittleEndian.Uint16(data[i:])))
			}
			carry = append(carry[:0], data[even:]...)
			frames = down.Write(frames[:0], pcm)
			if len(frames) > 0 {
				total += len(frames)
				if err := out(append([]audio.Frame(nil), frames...)); err != nil {
					return err
				}
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return fmt.Errorf("tts openai: reading speech: %w", rerr)
		}
	}
	frames = down.Flush(frames[:0])
	if len(frames) > 0 {
		total += len(frames)
		if err := out(frames); err != nil {
			return err
		}
	}
	if total == 0 {
		return fmt.Errorf("tts openai: empty audio for %q", text)
	}
	return nil
}

// monoReader turns a WAV's samples (first channel) back into little-endian
// 16-bit bytes, the shape the raw PCM path reads.
type monoReader struct {
	r        *wav.Reader
	channels int
	pcm      []int16
}

func (m *monoReader) Read(p []byte) (int, error) {
	ch := max(1, m.channels)
	n := len(p) / 2 * ch
	if n == 0 {
		return 0, nil
	}
	if cap(m.pcm) < n {
		m.pcm = make([]int16, n)
	}
	got, err := m.r.Read(m.pcm[:n])
	out := 0
	for i := 0; i+ch <= got; i += ch {
		binary.LittleEndian.PutUint16(p[out:], uint16(m.pcm[i]))
		out += 2
	}
	return out, err
}
