package voice

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-cc/parley/evals"
	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/voicebot/asr"
	"github.com/parley-cc/parley/voicebot/calltest"
	ttslocal "github.com/parley-cc/parley/voicebot/tts/local"
)

// frameCounter is a recognizer that "hears" how many frames it got.
type frameCounter struct{}

func (frameCounter) NewStream(context.Context) (asr.Stream, error) { return &countStream{}, nil }

type countStream struct{ n int }

func (s *countStream) Write(audio.Frame) error { s.n++; return nil }
func (s *countStream) Partial() string         { return "" }
func (s *countStream) Final(context.Context) (asr.Result, error) {
	return asr.Result{Text: strings.Repeat("word ", s.n/25)}, nil
}
func (s *countStream) Close() error { return nil }

// fakeNode serves GET /api/v1/calls/{id} with as many bot turns as bots says.
func fakeNode(t *testing.T, bots *atomic.Int32, known bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !known {
			http.NotFound(w, r)
			return
		}
		rec := httpapi.CallTranscript{Call: store.Call{ID: "c1", State: store.CallBot}}
		for range bots.Load() {
			rec.Turns = append(rec.Turns, store.Turn{Speaker: store.SpeakerBot, Text: "said"})
		}
		_ = json.NewEncoder(w).Encode(rec)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// speech is flite's voice for d (sentences repeated, no pause longer than
// flite's own between words).
func speechFor(t *testing.T, d time.Duration) []audio.Frame {
	t.Helper()
	s, err := ttslocal.New(ttslocal.Config{Voice: "slt"})
	if err != nil {
		t.Skipf("flite not installed: %v", err)
	}
	var out []audio.Frame
	for time.Duration(len(out))*20*time.Millisecond < d {
		f, err := collect(s, "Our phone lines are open every weekday.")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f...)
	}
	return out
}

func collect(s *ttslocal.Synthesizer, text string) ([]audio.Frame, error) {
	var out []audio.Frame
	err := s.Synthesize(context.Background(), text, func(f []audio.Frame) error { out = append(out, f...); return nil })
	return out, err
}

// lineSession is a session on an in-memory call: bot is the bot's leg.
func lineSession(t *testing.T, cfg Config) (*session, *calltest.Leg) {
	t.Helper()
	cfg.Target = "sip:bot@127.0.0.1:5060"
	cfg.ASR = frameCounter{}
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	c := &Connector{cfg: cfg}
	bot, caller := calltest.Pair("c1")
	l := newLine(c)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = l.Run(ctx, caller) }()
	t.Cleanup(func() { _ = bot.Hangup(context.Background()); cancel(); <-l.gone })
	return &session{c: c, l: l, id: "c1"}, bot
}

// A bot turn longer than FirstAudioTimeout is a turn, not silence: the
// timeout bounds the wait for the bot's first word only. (Before, it
// bounded the whole turn, and every long knowledge answer of the demo —
// 13 s and more of speech — failed as "the bot said nothing for 15s".)
func TestLongBotTurnIsNotSilence(t *testing.T) {
	var bots atomic.Int32
	s, bot := lineSession(t, Config{API: fakeNode(t, &bots, true), FirstAudioTimeout: 2 * time.Second, EndOfTurn: 500 * time.Millisecond})
	frames := speechFor(t, 5*time.Second)
	go func() {
		_ = bot.Speak(context.Background(), frames)
		bots.Add(1) // the voicebot records a reply once it played out
	}()
	turn, err := s.botTurn(context.Background(), time.Time{}, time.Now())
	if err != nil {
		t.Fatalf("a 5 s bot turn with a 2 s first-audio timeout: %v", err)
	}
	if got := turn.Latency["bot_speech"]; got < 4500 {
		t.Errorf("bot_speech %.0f ms, want the whole 5 s turn", got)
	}
}

// A bot that never starts speaking still fails after FirstAudioTimeout,
// and the error says what the node's record holds.
func TestSilentBotTimesOut(t *testing.T) {
	var bots atomic.Int32
	s, _ := lineSession(t, Config{API: fakeNode(t, &bots, true), FirstAudioTimeout: time.Second})
	start := time.Now()
	_, err := s.botTurn(context.Background(), time.Time{}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "said nothing for 1s") || !strings.Contains(err.Error(), "record holds no turn") {
		t.Fatalf("err %v, want a timeout naming what the record holds", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timed out after %v", d)
	}
}

// A pause inside a reply longer than EndOfTurn (TTS falling behind on a
// loaded node) does not end the bot's turn while the node's record does
// not show the reply; with the record unreadable, silence alone decides.
func TestPauseInsideAReplyWaitsForTheRecord(t *testing.T) {
	part := speechFor(t, 1500*time.Millisecond)
	play := func(bot *calltest.Leg, bots *atomic.Int32) {
		_ = bot.Speak(context.Background(), part)
		_ = bot.Speak(context.Background(), make([]audio.Frame, 60)) // 1.2 s pause
		_ = bot.Speak(context.Background(), part)
		bots.Add(1)
	}
	for _, known := range []bool{true, false} {
		var bots atomic.Int32
		s, bot := lineSession(t, Config{API: fakeNode(t, &bots, known), EndOfTurn: 500 * time.Millisecond})
		go play(bot, &bots)
		turn, err := s.botTurn(context.Background(), time.Time{}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		sp := turn.Latency["bot_speech"]
		partMs := float64(len(part) * 20)
		if known && sp < partMs+1500 {
			t.Errorf("record readable: bot_speech %.0f ms, want both %.0f ms parts and the pause (one turn)", sp, partMs)
		}
		if !known && sp > partMs+600 {
			t.Errorf("record unreadable: bot_speech %.0f ms, want the first %.0f ms part only (silence decides)", sp, partMs)
		}
	}
}

// slowCounter is a frameCounter whose transcription takes a while.
type slowCounter struct{ d time.Duration }

func (s slowCounter) NewStream(ctx context.Context) (asr.Stream, error) {
	return &slowStream{d: s.d}, nil
}

type slowStream struct {
	countStream
	d time.Duration
}

func (s *slowStream) Final(ctx context.Context) (asr.Result, error) {
	time.Sleep(s.d)
	return s.countStream.Final(ctx)
}

// The caller answers when the bot stops: a slow transcription (a loaded
// machine) does not hold the turn back; what was heard is filled in once
// the conversation is over.
func TestSlowTranscriptionDoesNotDelayTheCaller(t *testing.T) {
	var bots atomic.Int32
	s, bot := lineSession(t, Config{API: fakeNode(t, &bots, true), EndOfTurn: 500 * time.Millisecond, TranscriptWait: 200 * time.Millisecond})
	s.c.cfg.ASR = slowCounter{d: 3 * time.Second}
	frames := speechFor(t, time.Second)
	go func() {
		_ = bot.Speak(context.Background(), frames)
		bots.Add(1)
	}()
	turn, err := s.botTurn(context.Background(), time.Time{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	if turn.Heard != "" {
		t.Fatalf("heard %q before the transcription could finish", turn.Heard)
	}
	tr := &evals.Transcript{Turns: []evals.Turn{turn}}
	if err := s.fillHeard(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	if tr.Turns[0].Heard == "" || time.Since(ended) < 2*time.Second {
		t.Errorf("heard %q after %v: want the transcription, filled in when it finished", tr.Turns[0].Heard, time.Since(ended))
	}
}
