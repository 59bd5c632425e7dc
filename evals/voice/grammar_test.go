package voice

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-cc/parley/deploy/demo"
	"github.com/parley-cc/parley/evals"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/g711"
	asrlocal "github.com/parley-cc/parley/voicebot/asr/local"
	"github.com/parley-cc/parley/voicebot/dialog"
	"github.com/parley-cc/parley/voicebot/tts"
	ttslocal "github.com/parley-cc/parley/voicebot/tts/local"
)

func TestSpellNumber(t *testing.T) {
	for in, want := range map[string]string{
		"30": "thirty", "£2": "two pounds", "14": "fourteen", "60060": "sixty thousand and sixty", "105": "one hundred and five",
		"0800": "zero eight zero zero", "50%": "fifty percent", "2.5": "two point five", "24": "twenty four",
	} {
		if got := strings.TrimSpace(spellNumber(in)); got != want {
			t.Errorf("spellNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFragmentsCutAtPunctuationFieldsAndUnknownWords(t *testing.T) {
	dict := asrlocal.Dictionary{}
	for _, w := range strings.Fields("that's account paying on is that right you can check your balance in the lumen app or at under bills and payments") {
		dict[w] = true
	}
	got := fragments("That's account {account_number}, paying on {pay_date}. Is that right?", dict)
	want := []string{"that's account", "paying on", "is that right"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("fragments %q, want %q", got, want)
	}
	got = fragments(`You can check your balance in the Lumen app or at lumenfibre.example/account under "Bills and payments".`, dict)
	want = []string{"you can check your balance in the lumen app or at", "under bills and payments"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("fragments %q, want %q", got, want)
	}
}

// What the demo bot says, spoken by its voice (flite slt) through the
// phone's G.711 codec, is transcribed by the caller-side grammar well
// enough for the suite's mention checks (fuzzy, as the judges match).
func TestBotGrammarHearsTheDemoBot(t *testing.T) {
	dep, err := dialog.Load(demo.FS, demo.Source)
	if err != nil {
		t.Fatal(err)
	}
	dict, err := asrlocal.LoadDictionary("")
	if err != nil {
		t.Skipf("pocketsphinx-en-us not installed: %v", err)
	}
	g, err := BotGrammar(dep, dict)
	if err != nil {
		t.Fatal(err)
	}
	slt, err := ttslocal.New(ttslocal.Config{Voice: "slt"})
	if err != nil {
		t.Skipf("flite not installed: %v", err)
	}
	r, err := asrlocal.New(asrlocal.Config{Mode: "grammar", Grammar: g, MaxDecoders: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	warm(t, r, slt, "Thanks for calling.")
	cases := []struct{ said, mention string }{
		// The first seconds of a long turn decode poorly (the decoder's
		// cepstral mean adapts to flite's voice as it goes), so checks
		// aim at the rest of the greeting.
		{dep.Greeting, "press one for billing"},
		{"Billing: for your balance press 1, to arrange a later payment press 2, for questions about your bill press 3, or press 0 for the billing team.", "balance"},
		{dep.Prompts.CardNumber, "card numbers"},
		{"All our colleagues are busy right now; the wait is about 5 minutes. Would you like us to call you back instead?", "call you back"},
		{"What number should we call you back on? You can say \"this number\" to use the one you're calling from.", "number"},
		{"Our phone lines are open from 8 am to 8 pm Monday to Friday, and from 9 am to 5 pm on Saturdays and Sundays. Is there anything else I can help with?", "anything else"},
		{"You can check your balance any time in the Lumen app or at lumenfibre.example/account under \"Bills and payments\". Is there anything else I can help with?", "app"},
		{"So we'll call 0 7 7 0 0 9 0 0 1 2 3, tomorrow morning. Shall I book that?", "shall i book that"},
	}
	for _, c := range cases {
		start := time.Now()
		heard := decode(t, r, slt, c.said)
		audioLen := time.Duration(len(synth(t, slt, c.said))) * 20 * time.Millisecond
		t.Logf("%.1fs of speech decoded in %v: %q", audioLen.Seconds(), time.Since(start).Round(time.Millisecond), heard)
		if !evals.HeardContains(heard, c.mention) {
			t.Errorf("said %q, heard %q: lacks %q", c.said, heard, c.mention)
		}
	}
}

func synth(t *testing.T, s tts.Synthesizer, text string) []audio.Frame {
	t.Helper()
	frames, err := tts.Collect(context.Background(), s, text)
	if err != nil {
		t.Fatal(err)
	}
	// Through the phone: G.711 mu-law both ways.
	var b []byte
	var pcm []int16
	for i := range frames {
		b = g711.EncodeUlaw(b[:0], frames[i][:])
		pcm = g711.DecodeUlaw(pcm[:0], b)
		copy(frames[i][:], pcm)
	}
	return frames
}

func decode(t *testing.T, r *asrlocal.Recognizer, s tts.Synthesizer, text string) string {
	t.Helper()
	st, err := r.NewStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, f := range synth(t, s, text) {
		if err := st.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	res, err := st.Final(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res.Text
}

func warm(t *testing.T, r *asrlocal.Recognizer, s tts.Synthesizer, text string) {
	t.Helper()
	_ = decode(t, r, s, text)
}
