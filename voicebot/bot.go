// Package voicebot is the real-time voice pipeline of one call: caller
// audio (20 ms frames) through voice activity detection and end-of-turn
// detection into streaming ASR; the transcript into a dialog.Conversation
// whose reply text is cut into sentences and synthesized sentence by
// sentence, so the first one plays while the rest is still being generated.
// The caller can barge in: playback stops within a frame or two of speech
// onset and the conversation keeps only the words the caller heard; a short
// backchannel ("mm-hm", "okay") lets the reply go on. Every turn is recorded
// with its intent, sentiment and per-stage latencies.
package voicebot

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/voicebot/asr"
	"github.com/parley-cc/parley/voicebot/dialog"
	"github.com/parley-cc/parley/voicebot/tts"
	"github.com/parley-cc/parley/voicebot/turn"
	"github.com/parley-cc/parley/voicebot/vad"
)

// TurnRecorder stores a call's turns; *actors.CallClient (node.Calls()) is one.
type TurnRecorder interface {
	RecordTurn(ctx context.Context, callID string, t store.Turn) (int, error)
}

// ActionHandler carries out what a turn decided once its words were spoken.
type ActionHandler interface {
	// Act runs after the reply that carries a was spoken. For a transfer it
	// owns the call until it returns (queue, hold music, bridge to an agent)
	// and the bot's Run returns what it returns; for a callback the
	// conversation goes on afterwards; for an end the bot hangs up after it.
	Act(ctx context.Context, call media.Call, a dialog.Action, r dialog.Result) error
}

// ActionFunc adapts a function to ActionHandler.
type ActionFunc func(ctx context.Context, call media.Call, a dialog.Action, r dialog.Result) error

// Act calls f.
func (f ActionFunc) Act(ctx context.Context, call media.Call, a dialog.Action, r dialog.Result) error {
	return f(ctx, call, a, r)
}

// Config is a bot: its providers, policies and timeouts. Zero durations
// and empty texts take the defaults in brackets.
type Config struct {
	Engine dialog.Engine
	ASR    asr.Recognizer
	TTS    tts.Synthesizer
	// FallbackTTS speaks when TTS fails (a hosted endpoint down: the local
	// voice keeps the call alive). Optional.
	FallbackTTS tts.Synthesizer
	Turns       TurnRecorder  // optional
	Actions     ActionHandler // optional: without it a transfer hangs up after the hand-off message
	Metrics     *Metrics      // optional
	Log         *slog.Logger  // optional
	// CallInfo describes a call to the dialog [ID, channel "sip", language "en"].
	CallInfo func(call media.Call) dialog.CallInfo

	VAD  vad.Config
	Turn turn.Config
	// BackchannelMax: caller speech during a reply that is shorter than
	// this and says only backchannel words lets the reply go on [700 ms].
	BackchannelMax time.Duration
	// Backchannels are the words that do not interrupt [DefaultBackchannels].
	Backchannels []string
	// PrerollFrames of audio before VAD onset go to the ASR too, so the
	// first phoneme is not clipped [10].
	PrerollFrames int

	ASRTimeout        time.Duration // Final of one utterance [5 s]
	FirstTokenTimeout time.Duration // dialog silent before its first text [10 s]
	StallTimeout      time.Duration // dialog silent between texts [10 s]
	TTSTimeout        time.Duration // synthesis of one sentence [10 s]
	RecordTimeout     time.Duration // storing one turn [5 s]

	// Apology is spoken when the dialog fails and is retried [DefaultApology].
	Apology string
	// NotHeard is spoken when recognition fails or hears nothing [DefaultNotHeard].
	NotHeard string
	// HandOff is spoken before handing to a human after repeated failures [DefaultHandOff].
	HandOff string
	// HandOffQueue receives calls handed over after failures ["support"].
	HandOffQueue string

	// NoInputTimeout: the caller saying nothing this long after the bot
	// finished gives the dialog an empty turn, so it asks again [8 s].
	NoInputTimeout time.Duration
	// NoInputMax such turns in a row end the call with NoInputGoodbye [3].
	NoInputMax int
	// NoInputGoodbye is said before hanging up on a silent line [DefaultNoInputGoodbye].
	NoInputGoodbye string
}

// Defaults for Config's texts.
const (
	DefaultApology  = "Sorry, I'm having a little trouble. One moment please."
	DefaultNotHeard = "Sorry, I didn't catch that. Could you say it again?"
	DefaultHandOff  = "I'm sorry, I'm having technical difficulties. Let me transfer you to a colleague."
	// DefaultNoInputGoodbye ends a call on which the caller stays silent.
	DefaultNoInputGoodbye = "I can't hear anything on the line, so I'll end the call now. Please call us back. Goodbye."
)

// DefaultBackchannels are short acknowledgements that do not take the turn.
var DefaultBackchannels = []string{"mm", "mhm", "mm-hm", "hmm", "uh-huh", "uh", "um", "okay", "ok", "yeah", "yep", "yes", "right", "sure", "i see", "got it", "alright", "all right"}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.BackchannelMax, 700*time.Millisecond)
	def(&c.ASRTimeout, 5*time.Second)
	def(&c.FirstTokenTimeout, 10*time.Second)
	def(&c.StallTimeout, 10*time.Second)
	def(&c.TTSTimeout, 10*time.Second)
	def(&c.RecordTimeout, 5*time.Second)
	def(&c.NoInputTimeout, 8*time.Second)
	if c.NoInputMax <= 0 {
		c.NoInputMax = 3
	}
	if c.NoInputGoodbye == "" {
		c.NoInputGoodbye = DefaultNoInputGoodbye
	}
	if c.Backchannels == nil {
		c.Backchannels = DefaultBackchannels
	}
	if c.PrerollFrames <= 0 {
		c.PrerollFrames = 10
	}
	if c.Apology == "" {
		c.Apology = DefaultApology
	}
	if c.NotHeard == "" {
		c.NotHeard = DefaultNotHeard
	}
	if c.HandOff == "" {
		c.HandOff = DefaultHandOff
	}
	if c.HandOffQueue == "" {
		c.HandOffQueue = "support"
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.CallInfo == nil {
		c.CallInfo = func(call media.Call) dialog.CallInfo {
			return dialog.CallInfo{CallID: call.ID(), Channel: "sip", Language: "en"}
		}
	}
	c.Turn = c.Turn.WithDefaults()
	return c
}

// Bot is the voicebot media application; one Bot serves many calls.
type Bot struct {
	cfg          Config
	backchannels map[string]bool
}

// New checks cfg and returns the bot.
func New(cfg Config) (*Bot, error) {
	if cfg.Engine == nil || cfg.ASR == nil || cfg.TTS == nil {
		return nil, errors.New("voicebot: Engine, ASR and TTS are required")
	}
	cfg = cfg.withDefaults()
	b := &Bot{cfg: cfg, backchannels: map[string]bool{}}
	for _, w := range cfg.Backchannels {
		b.backchannels[normalizeUtterance(w)] = true
	}
	return b, nil
}

// normalizeUtterance lower-cases and strips punctuation for backchannel lookup.
func normalizeUtterance(s string) string {
	return strings.Join(asr.Words(strings.ReplaceAll(s, "-", "")), " ")
}

// isBackchannel: empty (noise, a breath) or only acknowledgement words.
func (b *Bot) isBackchannel(text string) bool {
	n := normalizeUtterance(text)
	if n == "" || b.backchannels[n] {
		return true
	}
	for _, w := range strings.Fields(n) {
		if !b.backchannels[w] {
			return false
		}
	}
	return len(strings.Fields(n)) <= 3
}

// Run talks with the caller until hang-up, an end action, or a transfer
// (then it returns what the ActionHandler returns).
func (b *Bot) Run(ctx context.Context, call media.Call) error {
	b.cfg.Metrics.callDelta(1)
	defer b.cfg.Metrics.callDelta(-1)
	c := newCallCtl(ctx, b, call)
	return c.run()
}
