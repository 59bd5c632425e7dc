package local

import (
	"bufio"
	"context"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-cc/parley/voicebot/asr"
	"github.com/parley-cc/parley/voicebot/tts"
	flite "github.com/parley-cc/parley/voicebot/tts/local"
)

var lmCorpus = append([]string{
	"my account number is 2 4 6 8",
	"the card number is 1 3 5 7 9 0",
	"yes", "no", "yes please", "no thank you",
	"Xyzzyplugh is not a word", // <unk>
	"can you call me back tomorrow morning",
	"I want to pay my bill",
}, deploymentPhrases...)

// arpaModel is an ARPA file read back: log10 probabilities and back-off
// weights by n-gram.
type arpaModel struct {
	order     int
	prob, bow map[string]float64
	vocab     []string
}

func parseARPA(t *testing.T, text string) *arpaModel {
	m := &arpaModel{prob: map[string]float64{}, bow: map[string]float64{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	declared := map[int]int{}
	seen := map[int]int{}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || line == "\\data\\" || line == "\\end\\":
		case strings.HasPrefix(line, "ngram "):
			var k, c int
			if _, err := fmtSscanf(line, &k, &c); err != nil {
				t.Fatalf("bad header %q", line)
			}
			declared[k] = c
			m.order = max(m.order, k)
		case strings.HasPrefix(line, "\\") && strings.HasSuffix(line, "-grams:"):
			n, _ = strconv.Atoi(line[1 : len(line)-len("-grams:")])
		default:
			f := strings.Split(line, "\t")
			if len(f) < 2 || len(f) > 3 || len(strings.Fields(f[1])) != n {
				t.Fatalf("bad %d-gram line %q", n, line)
			}
			p, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				t.Fatal(err)
			}
			m.prob[f[1]] = p
			if len(f) == 3 {
				b, err := strconv.ParseFloat(f[2], 64)
				if err != nil {
					t.Fatal(err)
				}
				m.bow[f[1]] = b
			}
			if n == 1 && f[1] != "<s>" {
				m.vocab = append(m.vocab, f[1])
			}
			seen[n]++
		}
	}
	for k, c := range declared {
		if seen[k] != c {
			t.Fatalf("header says %d %d-grams, file has %d", c, k, seen[k])
		}
	}
	return m
}

func fmtSscanf(line string, k, c *int) (int, error) {
	kv := strings.SplitN(strings.TrimPrefix(line, "ngram "), "=", 2)
	var err error
	if *k, err = strconv.Atoi(kv[0]); err != nil {
		return 0, err
	}
	*c, err = strconv.Atoi(kv[1])
	return 2, err
}

// p is P(w | h) as a decoder computes it: the longest stored n-gram,
// times the back-off weights of the contexts given up.
func (m *arpaModel) p(h []string, w string) float64 {
	logp := 0.0
	for {
		if v, ok := m.prob[strings.Join(append(append([]string{}, h...), w), " ")]; ok {
			return math.Pow(10, logp+v)
		}
		if len(h) == 0 {
			return 0
		}
		logp += m.bow[strings.Join(h, " ")]
		h = h[1:]
	}
}

// Every context's distribution over the vocabulary sums to 1, for the
// empty context and every n-gram that can precede a word.
func TestLanguageModelSumsToOne(t *testing.T) {
	for _, order := range []int{2, 3, 4} {
		text, err := BuildLanguageModel(lmCorpus, testDict(t), order)
		if err != nil {
			t.Fatal(err)
		}
		m := parseARPA(t, text)
		if m.order != order {
			t.Fatalf("order %d written as %d", order, m.order)
		}
		if m.prob["<s>"] != -99 {
			t.Errorf("<s> has log10 probability %v, want -99", m.prob["<s>"])
		}
		for _, w := range []string{"</s>", "<unk>", "account", "eight"} {
			if _, ok := m.prob[w]; !ok {
				t.Errorf("%q missing from the unigrams", w)
			}
		}
		if _, ok := m.prob["xyzzyplugh"]; ok {
			t.Error("a word the dictionary lacks is in the model")
		}
		contexts := [][]string{nil}
		for g := range m.prob {
			words := strings.Fields(g)
			if len(words) < order && words[len(words)-1] != "</s>" {
				contexts = append(contexts, words)
			}
		}
		for _, h := range contexts {
			sum := 0.0
			for _, w := range m.vocab {
				sum += m.p(h, w)
			}
			if math.Abs(sum-1) > 1e-4 {
				t.Errorf("order %d: P(. | %q) sums to %.6f", order, strings.Join(h, " "), sum)
			}
		}
		t.Logf("order %d: %d contexts sum to 1 over %d words", order, len(contexts), len(m.vocab))
	}
	if _, err := BuildLanguageModel([]string{"xyzzyplugh"}, testDict(t), 3); err != nil {
		t.Logf("only <unk>: %v", err)
	}
	if _, err := BuildLanguageModel(nil, testDict(t), 3); err == nil {
		t.Error("empty corpus accepted")
	}
}

// Pocketsphinx loads the written model and decodes in-corpus speech with
// it, including a word sequence no corpus line holds whole.
func TestDomainLanguageModelDecodes(t *testing.T) {
	r, err := New(Config{Mode: "lm", Corpus: lmCorpus, MaxDecoders: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	voice, err := flite.New(flite.Config{Voice: "kal16"})
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, utt := range []string{"I want to check my account balance", "let me talk to a person", "my account number is eight six four two", "I lost my card"} {
		f, err := tts.Collect(context.Background(), voice, utt)
		if err != nil {
			t.Fatal(err)
		}
		res := recognize(t, r, f)
		e, n := asr.WordErrors(utt, res.Text)
		t.Logf("%q -> %q (%d/%d errors)", utt, res.Text, e, n)
		if e > 0 {
			bad++
		}
	}
	if bad > 1 {
		t.Errorf("%d of 4 in-corpus utterances misheard with the domain model", bad)
	}
}

// Decode cost per utterance of each model, against
// BenchmarkGrammarUtterance (the same utterance and decoder pool):
//
//	go test -run XXX -bench Utterance ./voicebot/asr/local/
func BenchmarkDomainLMUtterance(b *testing.B) {
	benchLM(b, Config{Mode: "lm", Corpus: lmCorpus, MaxDecoders: 4})
}

func BenchmarkOpenLMUtterance(b *testing.B) { benchLM(b, Config{Mode: "lm", MaxDecoders: 4}) }

func benchLM(b *testing.B, cfg Config) {
	r, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.Close)
	frames := speak(b, "I want to check my account balance")
	recognize(b, r, frames) // the decoder's first utterance is decoded twice
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		recognize(b, r, frames)
	}
	b.ReportMetric(float64(len(frames))*0.02*float64(b.N)/b.Elapsed().Seconds(), "x-realtime")
}
