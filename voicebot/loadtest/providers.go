// Package loadtest measures the voice pipeline under concurrent calls: it
// runs many voicebot calls over in-memory call pairs (paced like RTP),
// wraps the ASR, dialog and TTS providers so the time spent inside each is
// known per turn, and reports the platform overhead of each turn: the
// caller's end of turn (the frame that completed endpointing, on the wire)
// to the bot's first reply frame handed to the call, minus the time inside
// the providers. Fixed-latency providers isolate the platform; the real
// offline stack shows where a node's CPU runs out.
package loadtest

import (
	"context"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/voicebot/asr"
	"github.com/parley-cc/parley/voicebot/chunker"
	"github.com/parley-cc/parley/voicebot/dialog"
	"github.com/parley-cc/parley/voicebot/tts"
)

// Fixed-latency providers: each takes a known time and does no work, so
// what a turn costs beyond those times is the platform's own.

// FixedASR transcribes every utterance as Text after Delay in Final.
type FixedASR struct {
	Delay time.Duration
	Text  string
}

// NewStream starts an utterance.
func (a FixedASR) NewStream(context.Context) (asr.Stream, error) { return &fixedStream{a: a}, nil }

type fixedStream struct{ a FixedASR }

func (s *fixedStream) Write(audio.Frame) error { return nil }
func (s *fixedStream) Partial() string         { return "" }
func (s *fixedStream) Close() error            { return nil }
func (s *fixedStream) Final(ctx context.Context) (asr.Result, error) {
	if err := sleep(ctx, s.a.Delay); err != nil {
		return asr.Result{}, err
	}
	return asr.Result{Text: s.a.Text, Confidence: 1}, nil
}

// FixedDialog greets with Greeting (may be empty) and answers every turn
// with Reply, streamed word by word after Delay.
type FixedDialog struct {
	Delay    time.Duration
	Greeting string
	Reply    string
}

// NewConversation starts a call's conversation.
func (d FixedDialog) NewConversation(context.Context, dialog.CallInfo) (dialog.Conversation, error) {
	return fixedConv{d}, nil
}

type fixedConv struct{ d FixedDialog }

func (c fixedConv) Greet(_ context.Context, emit func(string)) (dialog.Result, error) {
	if c.d.Greeting != "" {
		emit(c.d.Greeting)
	}
	return dialog.Result{Text: c.d.Greeting}, nil
}

func (c fixedConv) Respond(ctx context.Context, _ dialog.Input, emit func(string)) (dialog.Result, error) {
	if err := sleep(ctx, c.d.Delay); err != nil {
		return dialog.Result{}, err
	}
	for i, w := range strings.Fields(c.d.Reply) {
		if i > 0 {
			w = " " + w
		}
		emit(w)
	}
	return dialog.Result{Text: c.d.Reply, Intent: "check_balance", Confidence: 1}, nil
}

func (fixedConv) Interrupted(string) {}

// FixedTTS hands over Audio in 200 ms chunks, the first after Delay.
type FixedTTS struct {
	Delay time.Duration
	Audio []audio.Frame
}

// Synthesize speaks text (ignored) as Audio.
func (t FixedTTS) Synthesize(ctx context.Context, _ string, out func([]audio.Frame) error) error {
	if err := sleep(ctx, t.Delay); err != nil {
		return err
	}
	for i := 0; i < len(t.Audio); i += 10 {
		if err := out(t.Audio[i:min(i+10, len(t.Audio))]); err != nil {
			return err
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Voiced is d of a voiced-speech stand-in at about -20 dBFS: harmonics of
// 120 Hz with a syllable-rate envelope, loud enough for the VAD and the
// same every run.
func Voiced(d time.Duration) []audio.Frame {
	n := int(d / (audio.FrameDurationMs * time.Millisecond))
	pcm := make([]int16, n*audio.FrameSamples)
	for i := range pcm {
		t := float64(i) / audio.SampleRate
		env := 0.6 + 0.4*math.Sin(2*math.Pi*4*t)
		v := 0.0
		for h := 1; h <= 8; h++ {
			v += math.Sin(2*math.Pi*120*float64(h)*t) / float64(h)
		}
		pcm[i] = int16(2600 * env * v)
	}
	return audio.Frames(pcm)
}

// ---- timing wrappers ----

// span is one provider call's interval.
type span struct{ from, to time.Time }

// clock holds one call's provider times for the turn in progress; the
// wrappers write it from the pipeline's goroutines, the runner reads it.
type clock struct {
	mu         sync.Mutex
	writes     [128]span // the latest ASR Write calls (a ring)
	nw         int
	asrFinal   span
	respondAt  time.Time
	dialog     time.Duration // Respond entered -> first sentence complete
	dialogDone bool
	tts        time.Duration // first Synthesize of the turn -> its first audio
	ttsStarted bool
	firstWrite time.Time
	wrote      chan struct{} // signalled on the turn's first reply frame
}

func newClock() *clock { return &clock{wrote: make(chan struct{}, 1)} }

// asrTime is the time inside the recognizer after the end-of-turn decision:
// Final, plus the Writes of frames still queued at the decision.
func (c *clock) asrTime(decision time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.asrFinal.to.Sub(c.asrFinal.from)
	for i := 0; i < min(c.nw, len(c.writes)); i++ {
		s := c.writes[i]
		if s.to.After(decision) {
			from := s.from
			if from.Before(decision) {
				from = decision
			}
			d += s.to.Sub(from)
		}
	}
	return d
}

// TimedASR measures the time inside a recognizer for one call.
type timedASR struct {
	asr.Recognizer
	clk *clock
}

func (t timedASR) NewStream(ctx context.Context) (asr.Stream, error) {
	s, err := t.Recognizer.NewStream(ctx)
	if err != nil {
		return nil, err
	}
	return &timedStream{Stream: s, clk: t.clk}, nil
}

type timedStream struct {
	asr.Stream
	clk *clock
}

func (s *timedStream) Write(f audio.Frame) error {
	from := time.Now()
	err := s.Stream.Write(f)
	to := time.Now()
	s.clk.mu.Lock()
	s.clk.writes[s.clk.nw%len(s.clk.writes)] = span{from, to}
	s.clk.nw++
	s.clk.mu.Unlock()
	return err
}

func (s *timedStream) Final(ctx context.Context) (asr.Result, error) {
	from := time.Now()
	r, err := s.Stream.Final(ctx)
	to := time.Now()
	s.clk.mu.Lock()
	s.clk.asrFinal = span{from, to}
	s.clk.mu.Unlock()
	return r, err
}

// timedEngine measures a conversation's time to its first complete sentence.
type timedEngine struct {
	dialog.Engine
	clk *clock
}

func (e timedEngine) NewConversation(ctx context.Context, ci dialog.CallInfo) (dialog.Conversation, error) {
	c, err := e.Engine.NewConversation(ctx, ci)
	if err != nil {
		return nil, err
	}
	return &timedConv{Conversation: c, clk: e.clk}, nil
}

type timedConv struct {
	dialog.Conversation
	clk *clock
}

func (c *timedConv) Respond(ctx context.Context, in dialog.Input, emit func(string)) (dialog.Result, error) {
	start := time.Now()
	c.clk.mu.Lock()
	c.clk.respondAt, c.clk.dialog, c.clk.dialogDone, c.clk.ttsStarted, c.clk.firstWrite = start, 0, false, false, time.Time{}
	c.clk.tts = 0
	c.clk.mu.Unlock()
	select { // a stale signal from an earlier reply
	case <-c.clk.wrote:
	default:
	}
	var ch chunker.Chunker
	done := func() {
		c.clk.mu.Lock()
		if !c.clk.dialogDone {
			c.clk.dialog, c.clk.dialogDone = time.Since(start), true
		}
		c.clk.mu.Unlock()
	}
	res, err := c.Conversation.Respond(ctx, in, func(s string) {
		if len(ch.Write(s)) > 0 {
			done()
		}
		emit(s)
	})
	done() // an engine that completes its first sentence only at the end
	return res, err
}

// timedTTS measures the turn's first synthesis up to its first audio.
type timedTTS struct {
	tts.Synthesizer
	clk *clock
}

func (t timedTTS) Synthesize(ctx context.Context, text string, out func([]audio.Frame) error) error {
	start := time.Now()
	c := t.clk
	c.mu.Lock()
	first := !c.ttsStarted && !c.respondAt.IsZero()
	c.ttsStarted = true
	c.mu.Unlock()
	if !first {
		return t.Synthesizer.Synthesize(ctx, text, out)
	}
	got := false
	return t.Synthesizer.Synthesize(ctx, text, func(f []audio.Frame) error {
		if !got {
			got = true
			c.mu.Lock()
			c.tts = time.Since(start)
			c.mu.Unlock()
		}
		return out(f)
	})
}
