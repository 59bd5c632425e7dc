package voicebot

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/voicebot/calltest"
	"github.com/parley-cc/parley/voicebot/dialog"
	"github.com/parley-cc/parley/voicebot/openaitest"
	"github.com/parley-cc/parley/voicebot/tts"
)

// timedTTS records when each sentence reached the synthesizer.
type timedTTS struct {
	tts.Synthesizer
	mu    sync.Mutex
	texts []string
	at    []time.Time
}

func (s *timedTTS) Synthesize(ctx context.Context, text string, out func([]audio.Frame) error) error {
	s.mu.Lock()
	s.texts, s.at = append(s.texts, text), append(s.at, time.Now())
	s.mu.Unlock()
	return s.Synthesizer.Synthesize(ctx, text, out)
}

// LLM mode through the whole pipeline: the dialog's openai engine streams
// a three-sentence answer slowly from an OpenAI-compatible server; each
// sentence goes to TTS as soon as it is complete, and the caller hears the
// first one while the model is still generating the last.
func TestLLMTokensReachTTSSentenceBySentence(t *testing.T) {
	a, voice, _ := localProviders(t)
	dep, err := dialog.LoadDir("../deploy/demo")
	if err != nil {
		t.Fatal(err)
	}
	kb, err := dialog.NewKnowledgeBase(context.Background(), dep)
	if err != nil {
		t.Fatal(err)
	}
	const tokenDelay = 60 * time.Millisecond
	answer := "We're open from eight in the morning until eight at night on weekdays. " +
		"On Saturdays we're open from nine until five. " +
		"You can also use the Lumen app at any time of day."
	srv := openaitest.New()
	defer srv.Close()
	srv.OnChat(func(r *openaitest.ChatRequest) openaitest.Reply {
		return openaitest.Reply{Text: answer, TokenDelay: tokenDelay}
	})
	engine, err := dialog.NewOpenAI(context.Background(), dialog.Options{Deployment: dep, KB: kb},
		dialog.LLMOptions{BaseURL: srv.URL, APIKey: "sk-test"})
	if err != nil {
		t.Fatal(err)
	}
	rec := &timedTTS{Synthesizer: voice}
	bot, err := New(Config{Engine: engine, ASR: a, TTS: rec})
	if err != nil {
		t.Fatal(err)
	}
	botLeg, caller := calltest.Pair(t.Name())
	var mu sync.Mutex
	var heard []time.Time
	go func() {
		for r := range caller.Wire() {
			if r.Sent {
				mu.Lock()
				heard = append(heard, r.At)
				mu.Unlock()
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- bot.Run(ctx, botLeg) }()
	defer func() {
		caller.Hangup(context.Background())
		<-done
	}()

	// Let the greeting play out, then ask.
	time.Sleep(500 * time.Millisecond)
	for deadline := time.Now().Add(20 * time.Second); ; {
		mu.Lock()
		last := time.Time{}
		if len(heard) > 0 {
			last = heard[len(heard)-1]
		}
		mu.Unlock()
		if !last.IsZero() && time.Since(last) > 400*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("greeting never finished")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rec.mu.Lock()
	greetCalls := len(rec.texts)
	rec.mu.Unlock()
	asked := time.Now()
	if err := caller.Speak(context.Background(), append(say(t, "what are your opening hours"), make([]audio.Frame, 5)...)); err != nil {
		t.Fatal(err)
	}
	streamFor := time.Duration(len(strings.Fields(answer))) * tokenDelay

	var texts []string
	var at []time.Time
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		rec.mu.Lock()
		texts, at = append([]string(nil), rec.texts[greetCalls:]...), append([]time.Time(nil), rec.at[greetCalls:]...)
		rec.mu.Unlock()
		if len(texts) >= 3 {
			break
		}
	}
	if len(srv.ChatRequests()) == 0 {
		t.Fatal("the engine never asked the model")
	}
	if len(texts) != 3 {
		t.Fatalf("TTS got %d pieces after the question, want the 3 sentences: %q", len(texts), texts)
	}
	for i, want := range []string{"We're open from eight", "On Saturdays", "You can also use"} {
		if !strings.HasPrefix(strings.TrimSpace(texts[i]), want) {
			t.Fatalf("TTS piece %d = %q, want the sentence starting %q", i, texts[i], want)
		}
	}
	// Sentence by sentence: the first went to TTS a good while before the
	// last, as the tokens arrived, not all at the end of the stream.
	gap := at[2].Sub(at[0])
	t.Logf("stream ~%s; sentences reached TTS %s and %s after the first", streamFor, at[1].Sub(at[0]).Round(time.Millisecond), gap.Round(time.Millisecond))
	if gap < streamFor/2 {
		t.Errorf("the last sentence reached TTS only %s after the first (stream %s): not streamed", gap, streamFor)
	}
	// The caller heard the answer begin before the model finished generating it.
	mu.Lock()
	var first time.Time
	for _, h := range heard {
		if h.After(at[0]) {
			first = h
			break
		}
	}
	mu.Unlock()
	if first.IsZero() || !first.Before(at[2]) {
		t.Errorf("first answer audio at %v, last sentence to TTS at %v: the caller should hear sentence 1 while sentence 3 is generated", first, at[2])
	}
	t.Logf("asked at +0; first answer audio at +%s; last sentence to TTS at +%s", first.Sub(asked).Round(time.Millisecond), at[2].Sub(asked).Round(time.Millisecond))
}
