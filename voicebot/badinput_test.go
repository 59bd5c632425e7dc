package voicebot

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-cc/parley/deploy/demo"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/wav"
	"github.com/parley-cc/parley/internal/shareddata"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/voicebot/asr"
	"github.com/parley-cc/parley/voicebot/dialog"
	"github.com/parley-cc/parley/voicebot/openaitest"
)

// Bad input on the line: whatever the caller's side sends, the call ends
// or the bot answers within a bound; it never hangs.

// answered waits until the bot speaks after since, or fails after limit.
func (h *harness) answered(since time.Time, limit time.Duration) time.Duration {
	h.t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if a := h.botAudio(since); len(a) > 0 {
			return a[0].Sub(since)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("the bot did not answer within %s", limit)
	return 0
}

// ended waits until Run returned, or fails after limit.
func (h *harness) ended(limit time.Duration) {
	h.t.Helper()
	select {
	case err := <-h.done:
		h.done <- err
	case <-time.After(limit):
		h.t.Fatalf("the call did not end within %s", limit)
	}
}

// inputs are the caller turns the dialog received so far.
func (s *scripted) got() []dialog.Input {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]dialog.Input(nil), s.inputs...)
}

func echoing() *scripted {
	return newScripted("Hello, how can I help?", func(n int, in dialog.Input) (string, dialog.Result, error, bool) {
		if in.Text == "" && in.DTMF == "" {
			return "Sorry, I didn't catch that. How can I help?", dialog.Result{}, nil, false
		}
		return "You said " + in.Text + ".", dialog.Result{Intent: "echo"}, nil, false
	})
}

func TestSilentLineRepromptsThenHangsUp(t *testing.T) {
	h := newHarness(t, echoing(), func(c *Config) {
		c.NoInputTimeout = time.Second
		c.NoInputMax = 3
	})
	// The caller sends nothing but silence (calltest fills every slot).
	if got := h.event("respond:", 8*time.Second); got != "" {
		t.Fatalf("first no-input turn carried %q", got)
	}
	h.event("respond:", 8*time.Second)
	h.ended(15 * time.Second)
	select {
	case a := <-h.acts:
		if a.Kind != dialog.ActionEnd || a.Reason != "no_input" {
			t.Fatalf("action %+v", a)
		}
	default:
		t.Fatal("no end action")
	}
	time.Sleep(100 * time.Millisecond)
	var no, bye int
	for _, tr := range h.turns.all() {
		if tr.Speaker == store.SpeakerCaller && tr.Text == "(no input)" {
			no++
		}
		if tr.Speaker == store.SpeakerBot && tr.Text == DefaultNoInputGoodbye {
			bye++
		}
	}
	if no != 2 || bye != 1 {
		t.Fatalf("%d no-input turns and %d goodbyes recorded: %+v", no, bye, h.turns.all())
	}
}

// white and pink noise at about dbfs RMS.
func noise(kind string, d time.Duration, dbfs float64, seed uint64) []audio.Frame {
	r := rand.New(rand.NewPCG(seed, 7))
	n := int(d/frameDur) * audio.FrameSamples
	raw := make([]float64, n)
	var rows [12]float64
	sq := 0.0
	for i := range raw {
		if kind == "white" {
			raw[i] = r.Float64()*2 - 1
		} else { // Voss-McCartney pink noise
			for k := range rows {
				if i%(1<<k) == 0 {
					rows[k] = r.Float64()*2 - 1
				}
			}
			for _, x := range rows {
				raw[i] += x
			}
		}
		sq += raw[i] * raw[i]
	}
	scale := 32768 * math.Pow(10, dbfs/20) / math.Sqrt(sq/float64(n))
	pcm := make([]int16, n)
	for i, v := range raw {
		pcm[i] = int16(max(-32768, min(32767, v*scale)))
	}
	return audio.Frames(pcm)
}

// TestNoiseNeverHangsTheCall: seconds of white or pink noise at several
// levels (some taken for speech until the floor adapts), then the caller
// speaks: whatever the noise did, the bot hears the request and answers.
func TestNoiseNeverHangsTheCall(t *testing.T) {
	for i, tc := range []struct {
		kind string
		dbfs float64
	}{{"white", -45}, {"white", -30}, {"pink", -35}, {"pink", -22}} {
		t.Run(fmt.Sprintf("%s_%.0fdBFS", tc.kind, tc.dbfs), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, echoing(), nil)
			h.waitQuiet(time.Time{}, 300*time.Millisecond, 10*time.Second)
			if err := h.caller.Speak(context.Background(), noise(tc.kind, 5*time.Second, tc.dbfs, uint64(i))); err != nil {
				t.Fatal(err)
			}
			h.waitQuietOrSilent(time.Now(), 6*time.Second)
			spoke := h.speak("I want to check my account balance")
			h.answered(spoke, 12*time.Second)
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				for _, in := range h.conv.got() {
					if in.Text == "i want to check my account balance" {
						t.Logf("dialog inputs %q", texts(h.conv.got()))
						return
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Fatalf("the request after the noise never reached the dialog; inputs %q", texts(h.conv.got()))
		})
	}
}

func texts(in []dialog.Input) []string {
	var out []string
	for _, i := range in {
		out = append(out, i.Text+i.DTMF)
	}
	return out
}

// waitQuietOrSilent waits until the bot has not spoken for 600 ms (it may
// answer the noise or not).
func (h *harness) waitQuietOrSilent(since time.Time, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		a := h.botAudio(since)
		if (len(a) == 0 && time.Since(since) > 2*time.Second) || (len(a) > 0 && time.Since(a[len(a)-1]) > 600*time.Millisecond) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClippedSpeechIsAnswered: the caller's audio overdriven 30x and hard
// clipped at full scale still gets an answer.
func TestClippedSpeechIsAnswered(t *testing.T) {
	h := newHarness(t, echoing(), nil)
	h.waitQuiet(time.Time{}, 300*time.Millisecond, 10*time.Second)
	f := say(t, "I want to check my account balance")
	gain := 30 // about 30 dB: most of the speech is past full scale
	clipped := 0
	for i := range f {
		for j, v := range f[i] {
			x := int(v) * gain
			if x > 32767 || x < -32768 {
				clipped++
			}
			f[i][j] = int16(max(-32768, min(32767, x)))
		}
	}
	if clipped < 5000 {
		t.Fatalf("only %d samples clipped", clipped)
	}
	start := time.Now()
	if err := h.caller.Speak(context.Background(), append(f, make([]audio.Frame, 5)...)); err != nil {
		t.Fatal(err)
	}
	h.answered(start, 15*time.Second)
	got := h.event("respond:", 10*time.Second)
	t.Logf("clipped speech heard as %q", got)
	if got == "" {
		t.Fatal("the dialog got an empty turn for clipped speech")
	}
}

// TestWrongRateAudioIsAnswered: 16 kHz speech arriving as if it were 8 kHz
// (half speed, an octave down) and 8 kHz speech with every other sample
// dropped (double speed): the bot answers each within a bound, a
// transcript or "didn't catch that", and the call goes on.
func TestWrongRateAudioIsAnswered(t *testing.T) {
	path := shareddata.Path(t, "asr", "librispeech-arm", "testing_routine.wav")
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := wav.Decode(fh)
	fh.Close()
	if err != nil {
		t.Fatal(err)
	}
	if a.SampleRate != 16000 {
		t.Fatalf("%s is %d Hz", path, a.SampleRate)
	}
	slow := audio.Frames(a.Mono()) // 16 kHz samples played as 8 kHz
	var fastPCM []int16
	for i, v := range audio.Samples(say(t, "I want to check my account balance")) {
		if i%2 == 0 {
			fastPCM = append(fastPCM, v)
		}
	}
	h := newHarness(t, echoing(), nil)
	h.waitQuiet(time.Time{}, 300*time.Millisecond, 10*time.Second)
	for _, tc := range []struct {
		name   string
		frames []audio.Frame
	}{{"16 kHz as 8 kHz", slow}, {"double speed", audio.Frames(fastPCM)}} {
		start := time.Now()
		if err := h.caller.Speak(context.Background(), append(tc.frames, make([]audio.Frame, 10)...)); err != nil {
			t.Fatal(err)
		}
		wait := h.answered(start, 20*time.Second)
		t.Logf("%s: answered %s after the audio began; dialog inputs so far %q", tc.name, wait, texts(h.conv.got()))
		h.waitQuiet(start, 500*time.Millisecond, 20*time.Second)
	}
	// The call still works.
	spoke := h.speak("let me talk to a person")
	h.answered(spoke, 10*time.Second)
	if got := h.conv.got(); len(got) == 0 || got[len(got)-1].Text != "let me talk to a person" {
		t.Fatalf("after wrong-rate audio the dialog got %q", texts(got))
	}
}

// scriptedASR transcribes each utterance as the next of texts (after the
// last: the last again); an entry "!" fails the utterance.
type scriptedASR struct {
	mu    sync.Mutex
	texts []string
	n     int
}

func (s *scriptedASR) NewStream(context.Context) (asr.Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.texts[min(s.n, len(s.texts)-1)]
	s.n++
	return &scriptedStream{text: t}, nil
}

type scriptedStream struct{ text string }

func (s *scriptedStream) Write(audio.Frame) error { return nil }
func (s *scriptedStream) Partial() string         { return "" }
func (s *scriptedStream) Close() error            { return nil }
func (s *scriptedStream) Final(context.Context) (asr.Result, error) {
	if s.text == "!" {
		return asr.Result{}, context.DeadlineExceeded
	}
	return asr.Result{Text: s.text, Confidence: 0.4}, nil
}

// demoEngine is the real local dialog engine on the demo deployment.
func demoEngine(t *testing.T) dialog.Engine {
	t.Helper()
	ctx := context.Background()
	dep, err := dialog.Load(demo.FS, demo.Source)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := dialog.NewKnowledgeBase(ctx, dep)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := dialog.NewLocal(ctx, dialog.Options{Deployment: dep, KB: kb, Callbacks: &dialog.MemoryCallbacks{}})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// TestEmptyAndGarbledTranscripts, with the demo deployment's engine: an
// empty transcript of real speech gets "didn't catch that", a garbled one
// reaches the dialog (which offers help or a person), a failing recogniser
// twice in a row hands the call to a person; each answered within a bound.
func TestEmptyAndGarbledTranscripts(t *testing.T) {
	rec := &scriptedASR{texts: []string{"", "zxq blorp fnord wibble", "!", "!"}}
	h := newHarness(t, nil, func(c *Config) {
		c.Engine = demoEngine(t)
		c.ASR = rec
	})
	h.waitQuiet(time.Time{}, 400*time.Millisecond, 30*time.Second)
	utter := say(t, "I want to check my account balance")

	step := func(name string) []store.Turn {
		before := len(h.turns.all())
		start := h.speak("I want to check my account balance")
		h.answered(start.Add(time.Duration(len(utter))*frameDur), 10*time.Second)
		h.waitQuiet(start, 500*time.Millisecond, 30*time.Second)
		time.Sleep(100 * time.Millisecond)
		turns := h.turns.all()[before:]
		t.Logf("%s: %+v", name, turns)
		return turns
	}
	if turns := step("empty"); len(turns) != 1 || turns[0].Text != DefaultNotHeard {
		t.Fatalf("empty transcript: turns %+v", turns)
	}
	turns := step("garbled")
	if len(turns) != 2 || turns[0].Text != "zxq blorp fnord wibble" || turns[0].Intent != "out_of_scope" || !strings.Contains(turns[1].Text, "person") {
		t.Fatalf("garbled transcript: turns %+v", turns)
	}
	step("asr error")
	start := h.speak("I want to check my account balance")
	select {
	case a := <-h.acts:
		if a.Kind != dialog.ActionTransfer || a.Reason != "asr_error" {
			t.Fatalf("action %+v", a)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no hand-off after the recogniser failed twice")
	}
	if len(h.botAudio(start)) < 50 {
		t.Fatal("the hand-off message was not spoken")
	}
}

// TestInvalidToolArgumentsNeverHang: the LLM engine on the demo deployment
// against the OpenAI-compatible test server. A model that sends a tool call
// with broken JSON arguments is told so and then answers: the caller hears
// the answer. A model that sends nothing but broken tool calls and then
// fails is a dialog error: the caller hears an apology and is handed to a
// person.
func TestInvalidToolArgumentsNeverHang(t *testing.T) {
	ctx := context.Background()
	dep, err := dialog.Load(demo.FS, demo.Source)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := dialog.NewKnowledgeBase(ctx, dep)
	if err != nil {
		t.Fatal(err)
	}
	srv := openaitest.New()
	defer srv.Close()
	eng, err := dialog.NewOpenAI(ctx, dialog.Options{Deployment: dep, KB: kb, Callbacks: &dialog.MemoryCallbacks{}},
		dialog.LLMOptions{BaseURL: srv.URL, APIKey: "k", FirstTokenTimeout: 3 * time.Second, StallTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	broken := openaitest.Reply{ToolCalls: []openaitest.ToolCall{{Name: "transfer_to_human", Arguments: `{"reason": "caller asked`}}}
	var mu sync.Mutex
	recover := true
	srv.OnChat(func(r *openaitest.ChatRequest) openaitest.Reply {
		mu.Lock()
		defer mu.Unlock()
		if len(r.ToolResults()) > 0 && recover {
			return openaitest.Reply{Text: "Sorry about that. You can check your balance in the Lumen app."}
		}
		if len(r.Tools) == 0 { // the last round: the engine gives up on tools, the model fails
			return openaitest.Reply{Error: openaitest.ErrServer}
		}
		return broken
	})
	h := newHarness(t, nil, func(c *Config) {
		c.Engine = eng
		c.ASR = &scriptedASR{texts: []string{"how do I check my balance"}} // the tool path is under test, not recognition
	})
	h.waitQuiet(time.Time{}, 400*time.Millisecond, 30*time.Second)

	start := h.speak("I want to check my account balance")
	h.answered(start, 10*time.Second)
	h.waitQuiet(start, 500*time.Millisecond, 30*time.Second)
	time.Sleep(100 * time.Millisecond)
	turns := h.turns.all()
	if last := turns[len(turns)-1]; last.Speaker != store.SpeakerBot || !strings.Contains(last.Text, "Lumen app") {
		t.Fatalf("after a broken tool call the caller heard %+v", last)
	}

	mu.Lock()
	recover = false
	mu.Unlock()
	start = h.speak("I want to check my account balance")
	select {
	case a := <-h.acts:
		if a.Kind != dialog.ActionTransfer {
			t.Fatalf("action %+v", a)
		}
		t.Logf("hand-off %+v after %s", a, time.Since(start))
	case <-time.After(30 * time.Second):
		t.Fatalf("no hand-off while the model only sends broken tool calls; turns %+v", h.turns.all())
	}
	if len(h.botAudio(start)) < 50 {
		t.Fatal("nothing was said before the hand-off")
	}
}
