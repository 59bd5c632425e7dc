package loadtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/voicebot"
	"github.com/parley-cc/parley/voicebot/asr"
	"github.com/parley-cc/parley/voicebot/calltest"
	"github.com/parley-cc/parley/voicebot/dialog"
	"github.com/parley-cc/parley/voicebot/tts"
	"github.com/parley-cc/parley/voicebot/turn"
	"github.com/parley-cc/parley/voicebot/vad"
)

// Config is a load run: providers shared by every call (each call wraps
// them for timing), what callers say, and how many talk at once.
type Config struct {
	ASR    asr.Recognizer
	TTS    tts.Synthesizer
	Engine dialog.Engine
	// Utterances are what callers say, in turn (cycled, each call from its
	// own offset); trailing silence is added by the runner.
	Utterances [][]audio.Frame
	Calls      int
	// TurnsPerCall ends the run once every call slot has had this many
	// measured turns (or Duration passes, whichever is first).
	TurnsPerCall int
	Duration     time.Duration
	// EndOfTurn is the endpointing silence (every turn rule gets the same,
	// so the runner can find the deciding frame on the wire) [300 ms].
	EndOfTurn time.Duration
	// Stagger spreads call starts over this long [2 s].
	Stagger time.Duration
	// ReplyTimeout bounds the wait for a reply's first audio [15 s].
	ReplyTimeout time.Duration
	// ListenMax: the caller waits at most this long for the bot to finish
	// before saying the next thing (a barge-in) [60 s].
	ListenMax time.Duration
	// Tweak adjusts each call's bot configuration (optional).
	Tweak func(*voicebot.Config)
}

// Sample is one measured turn.
type Sample struct {
	// Overhead: Total minus ASR, Dialog and TTS.
	Overhead time.Duration
	// Total: the frame that completed endpointing arrived -> first reply frame handed to the call.
	Total  time.Duration
	ASR    time.Duration // inside the recognizer after the decision
	Dialog time.Duration // inside the dialog up to its first complete sentence
	TTS    time.Duration // inside the synthesizer up to its first audio
	// VoiceToVoice: the caller's last voiced frame on the wire (its end) to
	// the first reply frame received by the caller, endpointing included.
	VoiceToVoice time.Duration
}

// Result is a run's samples and failures.
type Result struct {
	Calls    int
	Samples  []Sample
	NoReply  int // turns without reply audio within ReplyTimeout
	Restarts int // calls the bot ended (goodbye, transfer) and the runner redialled
	Elapsed  time.Duration
}

// Percentile of f over the samples (p in [0,1]); 0 without samples.
func (r Result) Percentile(p float64, f func(Sample) time.Duration) time.Duration {
	if len(r.Samples) == 0 {
		return 0
	}
	v := make([]time.Duration, len(r.Samples))
	for i, s := range r.Samples {
		v[i] = f(s)
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	i := int(p*float64(len(v))+0.5) - 1
	return v[max(0, min(i, len(v)-1))]
}

// Overhead, Total and V2V pick a Sample's fields for Percentile.
func Overhead(s Sample) time.Duration { return s.Overhead }
func Total(s Sample) time.Duration    { return s.Total }
func V2V(s Sample) time.Duration      { return s.VoiceToVoice }

func (c Config) withDefaults() Config {
	if c.EndOfTurn <= 0 {
		c.EndOfTurn = 300 * time.Millisecond
	}
	if c.Stagger <= 0 {
		c.Stagger = 2 * time.Second
	}
	if c.ReplyTimeout <= 0 {
		c.ReplyTimeout = 15 * time.Second
	}
	if c.ListenMax <= 0 {
		c.ListenMax = 60 * time.Second
	}
	if c.Calls <= 0 {
		c.Calls = 1
	}
	return c
}

// Run runs cfg.Calls calls at once until each slot had TurnsPerCall turns,
// Duration passed, or ctx ends.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	if cfg.ASR == nil || cfg.TTS == nil || cfg.Engine == nil || len(cfg.Utterances) == 0 {
		return Result{}, fmt.Errorf("loadtest: ASR, TTS, Engine and Utterances are required")
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	res := Result{Calls: cfg.Calls}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < cfg.Calls; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			delay := time.Duration(0)
			if cfg.Calls > 1 {
				delay = cfg.Stagger * time.Duration(i) / time.Duration(cfg.Calls)
			}
			if sleep(ctx, delay) != nil {
				return
			}
			turns := 0
			for n := 0; ctx.Err() == nil && (cfg.TurnsPerCall <= 0 || turns < cfg.TurnsPerCall); n++ {
				s := &slot{cfg: &cfg, id: fmt.Sprintf("load-%d-%d", i, n), utter: i}
				samples, noReply, ended, err := s.call(ctx, cfg.TurnsPerCall-turns)
				mu.Lock()
				res.Samples = append(res.Samples, samples...)
				res.NoReply += noReply
				if ended {
					res.Restarts++
				}
				mu.Unlock()
				turns += len(samples) + noReply
				if err != nil || !ended {
					return
				}
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res, nil
}

// slot is one caller placing one call.
type slot struct {
	cfg   *Config
	id    string
	utter int
}

// timedCall stamps the first reply frame the bot hands to the call.
type timedCall struct {
	*calltest.Leg
	clk *clock
}

func (c *timedCall) Write(ctx context.Context, f audio.Frame) error {
	err := c.Leg.Write(ctx, f)
	if err == nil {
		now := time.Now()
		c.clk.mu.Lock()
		if !c.clk.respondAt.IsZero() && c.clk.firstWrite.IsZero() {
			c.clk.firstWrite = now
			select {
			case c.clk.wrote <- struct{}{}:
			default:
			}
		}
		c.clk.mu.Unlock()
	}
	return err
}

// call runs one call for up to want turns (<= 0: until ctx ends); ended
// reports that the bot ended the call.
func (s *slot) call(ctx context.Context, want int) (samples []Sample, noReply int, ended bool, err error) {
	cfg := s.cfg
	clk := newClock()
	tc := turn.Config{Silence: cfg.EndOfTurn, CompleteSilence: cfg.EndOfTurn, IncompleteSilence: cfg.EndOfTurn}
	bc := voicebot.Config{
		Engine: timedEngine{cfg.Engine, clk}, ASR: timedASR{cfg.ASR, clk}, TTS: timedTTS{cfg.TTS, clk},
		Turn: tc, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if cfg.Tweak != nil {
		cfg.Tweak(&bc)
	}
	bot, err := voicebot.New(bc)
	if err != nil {
		return nil, 0, false, err
	}
	botLeg, caller := calltest.Pair(s.id)
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		_ = bot.Run(ctx, &timedCall{Leg: botLeg, clk: clk})
	}()
	defer func() {
		caller.Hangup(context.Background())
		<-runDone
	}()

	// The caller's audio as the bot received it: find the frame that
	// completed endpointing, with the bot's own VAD and turn rules.
	var decision, lastVoiced atomic.Int64
	go func() {
		v := vad.New(bc.VAD)
		t := turn.New(tc)
		in := false
		var last time.Time
		for {
			var r calltest.Received
			select {
			case r = <-botLeg.Wire():
			case <-botLeg.Done():
				return
			}
			voiced := v.Voiced(&r.Frame)
			ev := v.Process(&r.Frame)
			if voiced {
				last = r.At
			}
			if !in {
				if ev == vad.SpeechStart {
					in = true
					t.Reset()
				}
				continue
			}
			switch t.Observe(voiced, audio.FrameDurationMs*time.Millisecond, "") {
			case turn.EndOfTurn:
				in = false
				lastVoiced.Store(last.UnixNano())
				decision.Store(r.At.UnixNano())
			case turn.Discard:
				in = false
			}
		}
	}()
	// The bot's audio as the caller received it.
	var heardMu sync.Mutex
	var lastHeard time.Time
	var recent [100]time.Time // arrival of the latest bot frames (a ring)
	var nRecent int
	// heardAfter is the arrival of the first bot frame written at or after
	// t (frames queued before a barge-in were flushed, so it is the reply's).
	heardAfter := func(t time.Time) time.Time {
		heardMu.Lock()
		defer heardMu.Unlock()
		var first time.Time
		for i := 0; i < min(nRecent, len(recent)); i++ {
			if at := recent[i]; !at.Before(t) && (first.IsZero() || at.Before(first)) {
				first = at
			}
		}
		return first
	}
	go func() {
		for {
			var r calltest.Received
			select {
			case r = <-caller.Wire():
			case <-caller.Done():
				return
			}
			if !r.Sent {
				continue
			}
			heardMu.Lock()
			lastHeard = r.At
			recent[nRecent%len(recent)] = r.At
			nRecent++
			heardMu.Unlock()
		}
	}()
	// quiet waits until the bot has said something and then nothing for 400 ms.
	// (or nothing at all for 1.5 s: no greeting).
	quiet := func(limit time.Duration) bool {
		begin := time.Now()
		deadline := begin.Add(limit)
		for time.Now().Before(deadline) {
			heardMu.Lock()
			lh := lastHeard
			heardMu.Unlock()
			if lh.IsZero() && time.Since(begin) > 1500*time.Millisecond {
				return true
			}
			if !lh.IsZero() && time.Since(lh) > 400*time.Millisecond {
				return true
			}
			select {
			case <-ctx.Done():
				return false
			case <-caller.Done():
				return false
			case <-time.After(50 * time.Millisecond):
			}
		}
		return false
	}
	quiet(cfg.ListenMax)
	gap := make([]audio.Frame, cfg.EndOfTurn/(audio.FrameDurationMs*time.Millisecond)+10)
	for n := 0; (want <= 0 || n < want) && ctx.Err() == nil; n++ {
		select {
		case <-caller.Done():
			return samples, noReply, true, nil
		default:
		}
		u := cfg.Utterances[(s.utter+n)%len(cfg.Utterances)]
		// A short random pause first, so calls do not stay in step.
		if sleep(ctx, time.Duration(rand.IntN(500))*time.Millisecond) != nil {
			break
		}
		if err := caller.Speak(ctx, append(u, gap...)); err != nil {
			break
		}
		var first time.Time
		select {
		case <-clk.wrote:
			clk.mu.Lock()
			fw := clk.firstWrite
			clk.mu.Unlock()
			// The frame reaches the caller on the call's next 20 ms tick.
			for wait := 0; first.IsZero() && wait < 20; wait++ {
				if sleep(ctx, 20*time.Millisecond) != nil {
					break
				}
				first = heardAfter(fw)
			}
		case <-time.After(cfg.ReplyTimeout):
			noReply++
			continue
		case <-caller.Done():
			return samples, noReply, true, nil
		case <-ctx.Done():
			return samples, noReply, false, nil
		}
		dec := time.Unix(0, decision.Load())
		clk.mu.Lock()
		fw, respondAt, dlg, tt := clk.firstWrite, clk.respondAt, clk.dialog, clk.tts
		clk.mu.Unlock()
		if decision.Load() == 0 || dec.After(respondAt) {
			noReply++ // the bot and the runner disagree on the end of turn
			continue
		}
		a := clk.asrTime(dec)
		total := fw.Sub(dec)
		smp := Sample{Total: total, ASR: a, Dialog: dlg, TTS: tt, Overhead: total - a - dlg - tt}
		if !first.IsZero() {
			smp.VoiceToVoice = first.Sub(time.Unix(0, lastVoiced.Load()).Add(audio.FrameDurationMs * time.Millisecond))
		}
		samples = append(samples, smp)
		quiet(cfg.ListenMax)
	}
	return samples, noReply, false, nil
}
