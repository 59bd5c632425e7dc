package voicebot

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/voicebot/asr"
	asrlocal "github.com/parley-cc/parley/voicebot/asr/local"
	"github.com/parley-cc/parley/voicebot/calltest"
	"github.com/parley-cc/parley/voicebot/dialog"
	"github.com/parley-cc/parley/voicebot/tts"
	ttslocal "github.com/parley-cc/parley/voicebot/tts/local"
)

// scripted is a Conversation whose replies the test decides; it records
// what the pipeline told it. Replies stream word by word like LLM tokens.
type scripted struct {
	greet   string
	respond func(n int, in dialog.Input) (text string, res dialog.Result, err error, stall bool)

	mu          sync.Mutex
	inputs      []dialog.Input
	interrupted []string
	events      chan string
}

func newScripted(greet string, respond func(n int, in dialog.Input) (string, dialog.Result, error, bool)) *scripted {
	return &scripted{greet: greet, respond: respond, events: make(chan string, 32)}
}

func (s *scripted) NewConversation(context.Context, dialog.CallInfo) (dialog.Conversation, error) {
	return s, nil
}

func stream(ctx context.Context, text string, emit func(string)) error {
	for i, w := range strings.Fields(text) {
		if i > 0 {
			w = " " + w
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		emit(w)
	}
	return nil
}

func (s *scripted) Greet(ctx context.Context, emit func(string)) (dialog.Result, error) {
	err := stream(ctx, s.greet, emit)
	return dialog.Result{Text: s.greet}, err
}

func (s *scripted) Respond(ctx context.Context, in dialog.Input, emit func(string)) (dialog.Result, error) {
	s.mu.Lock()
	s.inputs = append(s.inputs, in)
	n := len(s.inputs)
	s.mu.Unlock()
	s.events <- "respond:" + in.Text + in.DTMF
	text, res, err, stall := s.respond(n, in)
	if stall {
		<-ctx.Done()
		return res, ctx.Err()
	}
	if err != nil {
		return res, err
	}
	res.Text = text
	return res, stream(ctx, text, emit)
}

func (s *scripted) Interrupted(heard string) {
	s.mu.Lock()
	s.interrupted = append(s.interrupted, heard)
	s.mu.Unlock()
	s.events <- "interrupted:" + heard
}

// memTurns records turns in memory (the store's Call grain in production).
type memTurns struct {
	mu    sync.Mutex
	turns []store.Turn
}

func (m *memTurns) RecordTurn(_ context.Context, _ string, t store.Turn) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.turns = append(m.turns, t)
	return len(m.turns), nil
}

func (m *memTurns) all() []store.Turn {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.Turn(nil), m.turns...)
}

var (
	provOnce sync.Once
	provASR  *asrlocal.Recognizer
	provTTS  *ttslocal.Synthesizer
	caller   *ttslocal.Synthesizer
	provErr  error
)

var phrases = []string{
	"I want to check my account balance", "let me talk to a person", "I lost my card",
	"what are your opening hours", "tell me about my last payment",
}

// localProviders are the offline stack: pocketsphinx with the test
// deployment's grammar, flite slt for the bot and kal16 for the caller.
func localProviders(t testing.TB) (asr.Recognizer, tts.Synthesizer, tts.Synthesizer) {
	provOnce.Do(func() {
		dict, err := asrlocal.LoadDictionary("")
		if err != nil {
			provErr = err
			return
		}
		g, _, err := asrlocal.BuildGrammar(asrlocal.GrammarSpec{Phrases: phrases, Digits: true, YesNo: true}, dict)
		if err != nil {
			provErr = err
			return
		}
		if provASR, provErr = asrlocal.New(asrlocal.Config{Grammar: g, MaxDecoders: 16}); provErr != nil {
			return
		}
		if provTTS, provErr = ttslocal.New(ttslocal.Config{}); provErr != nil {
			return
		}
		caller, provErr = ttslocal.New(ttslocal.Config{Voice: "kal16"})
	})
	if provErr != nil {
		t.Fatal(provErr)
	}
	return provASR, provTTS, caller
}

func say(t testing.TB, text string) []audio.Frame {
	_, _, c := localProviders(t)
	f, err := tts.Collect(context.Background(), c, text)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// harness runs a bot on one leg of a call pair and listens on the other.
type harness struct {
	t      *testing.T
	bot    *Bot
	conv   *scripted
	turns  *memTurns
	botLeg *calltest.Leg
	caller *calltest.Leg
	done   chan error
	mu     sync.Mutex
	heard  []calltest.Received // bot audio frames the caller received
	acts   chan dialog.Action
}

func newHarness(t *testing.T, conv *scripted, tweak func(*Config)) *harness {
	a, s, _ := localProviders(t)
	h := &harness{t: t, conv: conv, turns: &memTurns{}, done: make(chan error, 1), acts: make(chan dialog.Action, 4)}
	cfg := Config{Engine: conv, ASR: a, TTS: s, Turns: h.turns, Metrics: NewMetrics(nil),
		Actions: ActionFunc(func(ctx context.Context, call media.Call, act dialog.Action, r dialog.Result) error {
			h.acts <- act
			return nil
		})}
	if tweak != nil {
		tweak(&cfg)
	}
	bot, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.bot = bot
	h.botLeg, h.caller = calltest.Pair(t.Name())
	go func() {
		for r := range h.caller.Wire() {
			h.mu.Lock()
			h.heard = append(h.heard, r)
			h.mu.Unlock()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { h.done <- bot.Run(ctx, h.botLeg) }()
	t.Cleanup(func() {
		h.caller.Hangup(context.Background())
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
			t.Error("bot did not return after hang-up")
		}
		cancel()
	})
	return h
}

// botAudio returns the arrival times of frames the bot wrote, after since.
func (h *harness) botAudio(since time.Time) []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Time
	for _, r := range h.heard {
		if r.Sent && r.At.After(since) {
			out = append(out, r.At)
		}
	}
	return out
}

// waitQuiet waits until the bot has spoken after since and then written
// nothing for d.
func (h *harness) waitQuiet(since time.Time, d, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		a := h.botAudio(since)
		if len(a) > 0 && time.Since(a[len(a)-1]) > d {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("bot still talking (or never talked) after %s", limit)
}

func (h *harness) event(prefix string, limit time.Duration) string {
	h.t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case e := <-h.conv.events:
			if strings.HasPrefix(e, prefix) {
				return strings.TrimPrefix(e, prefix)
			}
		case <-deadline:
			h.t.Fatalf("no %q event within %s", prefix, limit)
		}
	}
}

func (h *harness) speak(text string) time.Time {
	f := append(say(h.t, text), make([]audio.Frame, 5)...)
	start := time.Now()
	if err := h.caller.Speak(context.Background(), f); err != nil {
		h.t.Fatal(err)
	}
	return start
}

const longReply = "Your current balance is two hundred and fifty dollars. Your last payment of forty dollars was received on Monday. " +
	"Your next statement will be issued on the first of next month. You can also check your balance any time in the mobile app."

func TestGreetingTurnAndReplyRecorded(t *testing.T) {
	conv := newScripted("Hello, thanks for calling Parley bank. How can I help?", func(n int, in dialog.Input) (string, dialog.Result, error, bool) {
		return "Your balance is two hundred and fifty dollars.", dialog.Result{Intent: "check_balance", Confidence: 0.93, Sentiment: 0.1}, nil, false
	})
	h := newHarness(t, conv, nil)
	h.waitQuiet(time.Time{}, 300*time.Millisecond, 10*time.Second)
	greet := len(h.botAudio(time.Time{}))
	if greet < 50 {
		t.Fatalf("greeting was %d frames of audio", greet)
	}
	spoke := h.speak("I want to check my account balance")
	if got := h.event("respond:", 5*time.Second); got != "i want to check my account balance" {
		t.Fatalf("dialog got %q", got)
	}
	h.waitQuiet(spoke, 300*time.Millisecond, 10*time.Second)
	reply := h.botAudio(spoke)
	if len(reply) < 50 {
		t.Fatalf("reply was %d frames", len(reply))
	}
	time.Sleep(100 * time.Millisecond)
	turns := h.turns.all()
	if len(turns) != 3 || turns[0].Speaker != store.SpeakerBot || turns[1].Speaker != store.SpeakerCaller || turns[2].Speaker != store.SpeakerBot {
		t.Fatalf("turns %+v", turns)
	}
	ct := turns[1]
	if ct.Intent != "check_balance" || ct.Confidence != 0.93 || ct.Sentiment != 0.1 {
		t.Fatalf("caller turn %+v", ct)
	}
	tm := ct.Timings
	if !(tm.ASRFinalMs > 0 && tm.ASRFinalMs <= tm.LLMFirstTokenMs && tm.LLMFirstTokenMs <= tm.TTSFirstAudioMs && tm.TTSFirstAudioMs <= tm.FirstRTPOutMs) {
		t.Fatalf("timings out of order: %+v", tm)
	}
	// The first reply frame reached the caller shortly after the stored first-RTP time.
	eos := reply[0].Add(-time.Duration(tm.FirstRTPOutMs * float64(time.Millisecond)))
	t.Logf("timings %+v; caller audio ended %s before the end of speech the bot measured", tm, eos.Sub(spoke.Add(time.Duration(len(say(t, "I want to check my account balance")))*20*time.Millisecond)))
	if turns[2].Text != "Your balance is two hundred and fifty dollars." {
		t.Fatalf("bot turn %q", turns[2].Text)
	}
}

func TestBargeInStopsPlaybackAndKeepsHeardWords(t *testing.T) {
	conv := newScripted("Hi.", func(n int, in dialog.Input) (string, dialog.Result, error, bool) {
		if n == 1 {
			return longReply, dialog.Result{Intent: "check_balance"}, nil, false
		}
		return "Sure, transferring you now.", dialog.Result{Intent: "agent"}, nil, false
	})
	h := newHarness(t, conv, nil)
	h.waitQuiet(time.Time{}, 300*time.Millisecond, 10*time.Second)
	h.speak("I want to check my account balance")
	h.event("respond:", 5*time.Second)
	time.Sleep(3 * time.Second) // well into the reply
	utter := say(t, "let me talk to a person")
	// Onset: the first frame of the barge-in loud enough to be speech.
	lead := 0
	for lead < len(utter) && utter[lead].Level() < -50 { // the VAD's speech floor
		lead++
	}
	start := time.Now()
	go h.caller.Speak(context.Background(), append(utter, make([]audio.Frame, 5)...))
	onset := start.Add(time.Duration(lead) * 20 * time.Millisecond)
	heard := h.event("interrupted:", 5*time.Second)
	if got := h.event("respond:", 5*time.Second); got != "let me talk to a person" {
		t.Fatalf("after barge-in the dialog got %q", got)
	}
	after := time.Now()
	// Last bot frame of the long reply on the wire after the onset.
	var last time.Time
	for _, at := range h.botAudio(onset) {
		if at.Before(onset.Add(time.Second)) {
			last = at
		}
	}
	stop := time.Duration(0)
	if !last.IsZero() {
		stop = last.Sub(onset)
	}
	t.Logf("bot audio stopped %s after caller speech onset; heard %q", stop, heard)
	if stop > 200*time.Millisecond {
		t.Fatalf("bot kept talking %s after the caller started", stop)
	}
	if heard == "" || !strings.HasPrefix(longReply, heard) || len(heard) >= len(longReply) {
		t.Fatalf("heard %q is not a proper prefix of the reply", heard)
	}
	// ~3 s of a reply at flite's pace is 6-12 words.
	if n := len(strings.Fields(heard)); n < 4 || n > 16 {
		t.Fatalf("heard %d words after ~3 s: %q", n, heard)
	}
	h.waitQuiet(after, 300*time.Millisecond, 10*time.Second)
	time.Sleep(100 * time.Millisecond)
	turns := h.turns.all()
	var botTexts []string
	for _, tr := range turns {
		if tr.Speaker == store.SpeakerBot {
			botTexts = append(botTexts, tr.Text)
		}
	}
	if len(botTexts) < 2 || botTexts[1] != heard {
		t.Fatalf("the stored bot turn must be what was heard %q, got %q", heard, botTexts)
	}
}

func TestBackchannelDoesNotInterrupt(t *testing.T) {
	conv := newScripted("Hi.", func(n int, in dialog.Input) (string, dialog.Result, error, bool) {
		return longReply, dialog.Result{}, nil, false
	})
	h := newHarness(t, conv, nil)
	h.waitQuiet(time.Time{}, 300*time.Millisecond, 10*time.Second)
	h.speak("I want to check my account balance")
	h.event("respond:", 5*time.Second)
	time.Sleep(2 * time.Second)
	h.speak("okay")
	h.waitQuiet(time.Now(), 400*time.Millisecond, 20*time.Second)
	time.Sleep(100 * time.Millisecond)
	conv.mu.Lock()
	n, inputs := len(conv.interrupted), len(conv.inputs)
	conv.mu.Unlock()
	if n != 0 || inputs != 1 {
		t.Fatalf("backchannel interrupted the reply (%d interruptions, %d inputs)", n, inputs)
	}
	turns := h.turns.all()
	if last := turns[len(turns)-1]; last.Speaker != store.SpeakerBot || last.Text != strings.Join(strings.Fields(longReply), " ") {
		t.Fatalf("the whole reply must have been spoken; last turn %+v", last)
	}
	if h.bot.cfg.Metrics == nil {
		t.Fatal("metrics")
	}
}

func TestDTMFReachesDialogAndEndHangsUp(t *testing.T) {
	conv := newScripted("Press 1 for billing or 2 to end.", func(n int, in dialog.Input) (string, dialog.Result, error, bool) {
		if in.DTMF == "2" {
			return "Goodbye.", dialog.Result{Action: &dialog.Action{Kind: dialog.ActionEnd}}, nil, false
		}
		return "Billing.", dialog.Result{}, nil, false
	})
	h := newHarness(t, conv, nil)
	time.Sleep(300 * time.Millisecond) // during the greeting: keys barge in too
	h.caller.SendKey('2')
	if got := h.event("respond:", 5*time.Second); got != "2" {
		t.Fatalf("dialog got %q", got)
	}
	select {
	case err := <-h.done:
		h.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("bot did not hang up after the end action")
	}
	select {
	case <-h.caller.Done():
	default:
		t.Fatal("call not hung up")
	}
	if a := <-h.acts; a.Kind != dialog.ActionEnd {
		t.Fatalf("action %+v", a)
	}
	if len(h.botAudio(time.Time{})) < 20 {
		t.Fatal("goodbye not spoken before hanging up")
	}
}

func TestProviderErrorApologisesRetriesThenHandsOff(t *testing.T) {
	conv := newScripted("Hi.", func(n int, in dialog.Input) (string, dialog.Result, error, bool) {
		switch n {
		case 1:
			return "", dialog.Result{}, errors.New("500 from the LLM"), false
		case 2:
			return "Recovered answer.", dialog.Result{}, nil, false
		case 3:
			return "", dialog.Result{}, nil, true // stall
		default:
			return "", dialog.Result{}, errors.New("still down"), false
		}
	})
	h := newHarness(t, conv, func(c *Config) {
		c.StallTimeout = 400 * time.Millisecond
		c.FirstTokenTimeout = 400 * time.Millisecond
	})
	h.waitQuiet(time.Time{}, 300*time.Millisecond, 10*time.Second)
	spoke := h.speak("I lost my card")
	h.event("respond:", 5*time.Second)
	h.event("respond:", 10*time.Second) // the retry
	h.waitQuiet(time.Now(), 400*time.Millisecond, 10*time.Second)
	turns := h.turns.all()
	last := turns[len(turns)-1]
	if last.Text != DefaultApology+" Recovered answer." {
		t.Fatalf("want apology then the retried answer, got %q", last.Text)
	}
	if len(h.botAudio(spoke)) < 100 {
		t.Fatal("apology and answer not audible")
	}
	// A stall and then an error: apology, then hand-off to a human.
	h.speak("I lost my card")
	h.event("respond:", 5*time.Second)
	h.event("respond:", 10*time.Second)
	select {
	case a := <-h.acts:
		if a.Kind != dialog.ActionTransfer || a.Reason != "provider_error" || a.Queue != "support" {
			t.Fatalf("action %+v", a)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no hand-off after repeated provider failures")
	}
	turns = h.turns.all()
	if last := turns[len(turns)-1]; last.Text != DefaultApology+" "+DefaultHandOff {
		t.Fatalf("last bot turn %q", last.Text)
	}
}
