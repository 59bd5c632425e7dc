package local

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/voicebot/asr"
	"github.com/parley-cc/parley/voicebot/internal/speechtest"
	"github.com/parley-cc/parley/voicebot/tts"
	flite "github.com/parley-cc/parley/voicebot/tts/local"
	"github.com/parley-cc/parley/voicebot/vad"
)

var (
	dictOnce sync.Once
	dict     Dictionary
	dictErr  error
)

func testDict(t testing.TB) Dictionary {
	dictOnce.Do(func() { dict, dictErr = LoadDictionary("") })
	if dictErr != nil {
		t.Fatal(dictErr)
	}
	return dict
}

var deploymentPhrases = []string{
	"I want to check my account balance",
	"let me talk to a person",
	"I lost my card",
	"what are your opening hours",
	"I'd like to make a payment",
	"cancel my subscription",
	"Speak to an agent",
	"report fraud on my account",
	"my card was declined at the store",
	"billing", "technical support", "sales",
	"Xyzzyplugh order", // not in the dictionary: skipped
}

func grammarRecognizer(t testing.TB) *Recognizer {
	g, skipped, err := BuildGrammar(GrammarSpec{Phrases: deploymentPhrases, Digits: true, YesNo: true}, testDict(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0], "xyzzyplugh") {
		t.Fatalf("skipped %q, want only the phrase with the unknown word", skipped)
	}
	r, err := New(Config{Grammar: g, MaxDecoders: 4})
	if err != nil {
		t.Fatalf("%v\n%s", err, g)
	}
	t.Cleanup(r.Close)
	return r
}

func recognize(t testing.TB, r asr.Recognizer, frames []audio.Frame) asr.Result {
	s, err := r.NewStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, f := range frames {
		if err := s.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.Final(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func speak(t testing.TB, text string) []audio.Frame {
	s, err := flite.New(flite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := tts.Collect(context.Background(), s, text)
	if err != nil {
		t.Fatal(err)
	}
	return append(append(make([]audio.Frame, 10), f...), make([]audio.Frame, 10)...)
}

// Caller utterances synthesized by flite (another voice than the bot's)
// decode exactly against the deployment grammar.
func TestGrammarModeOnSynthesizedCallers(t *testing.T) {
	r := grammarRecognizer(t)
	voice, err := flite.New(flite.Config{Voice: "kal16"})
	if err != nil {
		t.Fatal(err)
	}
	for _, utt := range []string{"I want to check my account balance", "let me talk to a person", "four one two seven", "yes please", "technical support", "my card was declined at the store"} {
		f, err := tts.Collect(context.Background(), voice, utt)
		if err != nil {
			t.Fatal(err)
		}
		res := recognize(t, r, f)
		if e, n := asr.WordErrors(utt, res.Text); e != 0 {
			t.Errorf("%q heard as %q (%d/%d errors)", utt, res.Text, e, n)
		}
		if res.Confidence <= 0 || res.Confidence > 1 {
			t.Errorf("confidence %v out of (0,1]", res.Confidence)
		}
	}
}

func TestPartialsAndBadAudio(t *testing.T) {
	r := grammarRecognizer(t)
	recognize(t, r, speak(t, "billing")) // warm the decoder's CMN
	s, _ := r.NewStream(context.Background())
	var partial string
	for _, f := range speak(t, "I lost my card") {
		if err := s.Write(f); err != nil {
			t.Fatal(err)
		}
		if p := s.Partial(); p != "" {
			partial = p
		}
	}
	if !strings.Contains(partial, "card") {
		t.Fatalf("no partial hypothesis during the utterance (last %q)", partial)
	}
	if res, err := s.Final(context.Background()); err != nil || res.Text != "i lost my card" {
		t.Fatalf("final %+v %v", res, err)
	}
	if _, err := s.Final(context.Background()); err == nil {
		t.Fatal("second Final accepted")
	}
	// Silence gives an empty transcript, not an error or a made-up phrase.
	if res := recognize(t, r, make([]audio.Frame, 50)); res.Text != "" {
		t.Fatalf("silence heard as %q", res.Text)
	}
	// Clipped audio (full-scale square wave) must not crash or hang.
	clip := make([]audio.Frame, 50)
	for i := range clip {
		for j := range clip[i] {
			if (j/20)%2 == 0 {
				clip[i][j] = 32767
			} else {
				clip[i][j] = -32768
			}
		}
	}
	_ = recognize(t, r, clip)
	// Over-long utterance is refused.
	long, _ := r.NewStream(context.Background())
	defer long.Close()
	var err error
	for i := 0; i < 31*50 && err == nil; i++ {
		err = long.Write(audio.Frame{})
	}
	if err != asr.ErrTooLong {
		t.Fatalf("31 s utterance: %v", err)
	}
	if _, err := New(Config{Mode: "grammar"}); err == nil {
		t.Fatal("grammar mode without grammar accepted")
	}
	if _, err := New(Config{Grammar: "#JSGF V1.0;\ngrammar g;\npublic <a> = zzqqx;\n"}); err == nil {
		t.Fatal("grammar with an unknown word accepted")
	}
}

// Every decoder busy: an utterance is buffered and decoded when one frees.
func TestDecoderPoolExhausted(t *testing.T) {
	g, _, _ := BuildGrammar(GrammarSpec{Phrases: deploymentPhrases[:4]}, testDict(t))
	r, err := New(Config{Grammar: g, MaxDecoders: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	frames := speak(t, "I lost my card")
	a, _ := r.NewStream(context.Background())
	b, _ := r.NewStream(context.Background())
	for _, f := range frames {
		a.Write(f)
		b.Write(f)
	}
	ra, err := a.Final(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Final(context.Background())
	if err != nil || ra.Text != "i lost my card" || rb.Text != ra.Text {
		t.Fatalf("a %+v b %+v %v", ra, rb, err)
	}
}

// TestOpenModelWER reports the open language model's word error rate on
// real speech: four LibriSpeech clips and the 8 kHz Harvard sentences,
// cut into utterances by the VAD as on a call.
//
//	go test -run TestOpenModelWER -v ./voicebot/asr/local/
func TestOpenModelWER(t *testing.T) {
	dir := speechtest.DataDir(t, "asr")
	r, err := New(Config{Mode: "lm", MaxDecoders: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	libri := map[string]string{
		"testing_routine.wav":  "This isn't part of your testing routine is it",
		"another_engineer.wav": "Another engineer rushed toward the door to see what was happening outside",
		"another_door.wav":     "And he walked immediately out of the apartment by another door",
		"i_tell_you.wav":       "I tell you it is not poison she cried",
	}
	var totE, totN int
	names := make([]string, 0, len(libri))
	for name := range libri {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ref := libri[name]
		frames := speechtest.LoadClip(t, filepath.Join(dir, "librispeech-arm", name))
		hyp := recognize(t, r, frames).Text
		e, n := asr.WordErrors(ref, hyp)
		totE, totN = totE+e, totN+n
		t.Logf("librispeech %s: WER %.2f  %q", name, float64(e)/float64(n), hyp)
	}
	t.Logf("LibriSpeech (16 kHz clips through the 8 kHz phone path): WER %.3f (%d/%d)", float64(totE)/float64(totN), totE, totN)

	var meta []struct{ Filename, Transcription string }
	raw, err := os.ReadFile(filepath.Join(dir, "osr-harvard-8k", "test_samples.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	frames := speechtest.LoadClip(t, filepath.Join(dir, "osr-harvard-8k", meta[0].Filename))
	var hyps []string
	utts := 0
	for _, u := range cutUtterances(frames) {
		utts++
		hyps = append(hyps, recognize(t, r, u).Text)
	}
	e, n := asr.WordErrors(meta[0].Transcription, strings.Join(hyps, " "))
	t.Logf("Harvard 8 kHz telephone (%d VAD utterances): WER %.3f (%d/%d)\n%s", utts, float64(e)/float64(n), e, n, strings.Join(hyps, " | "))
	if utts < 8 || utts > 12 {
		t.Errorf("VAD cut the 10 Harvard sentences into %d utterances", utts)
	}
	if float64(totE+e)/float64(totN+n) > 0.8 {
		t.Errorf("open-model WER %.2f: decoder not working", float64(totE+e)/float64(totN+n))
	}
}

// cutUtterances splits a recording at pauses as the pipeline does: VAD
// onset with 200 ms pre-roll, end after 500 ms of silence.
func cutUtterances(frames []audio.Frame) [][]audio.Frame {
	d := vad.New(vad.Config{HangoverFrames: 25})
	var out [][]audio.Frame
	start := -1
	for i := range frames {
		switch d.Process(&frames[i]) {
		case vad.SpeechStart:
			start = max(0, i-11)
		case vad.SpeechEnd:
			if start >= 0 {
				out = append(out, frames[start:i+1])
				start = -1
			}
		}
	}
	if start >= 0 {
		out = append(out, frames[start:])
	}
	return out
}

func BenchmarkGrammarUtterance(b *testing.B) {
	r := grammarRecognizer(b)
	frames := speak(b, "I want to check my account balance")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		recognize(b, r, frames)
	}
	b.ReportMetric(float64(len(frames))*0.02*float64(b.N)/b.Elapsed().Seconds(), "x-realtime")
}
