package local

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Sentence markers and the out-of-vocabulary token as pocketsphinx's ARPA
// reader expects them: <s> starts every sentence and is never predicted
// (log10 probability -99, as CMU's tools write it); </s> ends it; <unk>
// stands for corpus words the dictionary lacks, so they hold probability
// mass and do not join their neighbours into false n-grams. Pocketsphinx
// never hypothesizes <unk> (it has no pronunciation).
const (
	sentStart = "<s>"
	sentEnd   = "</s>"
	unkWord   = "<unk>"
)

// BuildLanguageModel writes an ARPA back-off language model of the given
// order (2 to 5; 3 when 0) trained on corpus, one utterance a string,
// normalized as BuildGrammar does (lower case, digits spelled out). It is
// smoothed with interpolated Kneser-Ney (one absolute discount an order,
// D = n1/(n1+2*n2)): a stored probability already holds the interpolated
// lower-order share, so a context's back-off weight is exactly the mass its
// discount freed and every context's distribution over the vocabulary
// (every corpus word, </s> and <unk>) sums to 1.
func BuildLanguageModel(corpus []string, dict Dictionary, order int) (string, error) {
	if order == 0 {
		order = 3
	}
	if order < 2 || order > 5 {
		return "", fmt.Errorf("asr local: language model order %d not in 2..5", order)
	}
	m := newKNModel(order)
	for _, s := range corpus {
		if words := dict.lmWords(s); len(words) > 0 {
			m.add(words)
		}
	}
	if m.sentences == 0 {
		return "", errors.New("asr local: no usable sentence for the language model")
	}
	m.estimate()
	return m.arpa(), nil
}

// lmWords are the dictionary words of an utterance, <unk> for the others.
func (d Dictionary) lmWords(s string) []string {
	var out []string
	for _, chunk := range strings.Fields(s) {
		words, bad := d.normalize(chunk)
		if bad != "" {
			if len(out) == 0 || out[len(out)-1] != unkWord {
				out = append(out, unkWord)
			}
			continue
		}
		out = append(out, words...)
	}
	return out
}

// gramKey joins an n-gram's words (words hold no space).
func gramKey(words []string) string { return strings.Join(words, " ") }

type knModel struct {
	order     int
	sentences int
	// raw[k] counts the (k+1)-grams of the corpus by key.
	raw []map[string]int
	// prob[k] and bow[k] are the log10 probability and back-off weight of
	// each (k+1)-gram kept; bow only for n-grams that are contexts.
	prob, bow []map[string]float64
	vocab     []string // predicted words: corpus words, </s>, <unk>
}

func newKNModel(order int) *knModel {
	m := &knModel{order: order}
	for k := 0; k < order; k++ {
		m.raw = append(m.raw, map[string]int{})
		m.prob = append(m.prob, map[string]float64{})
		m.bow = append(m.bow, map[string]float64{})
	}
	return m
}

func (m *knModel) add(words []string) {
	m.sentences++
	toks := append(append([]string{sentStart}, words...), sentEnd)
	for i := range toks {
		for k := 0; k < m.order && i+k < len(toks); k++ {
			g := toks[i : i+k+1]
			if k == 0 && g[0] == sentStart {
				continue // <s> is a context only
			}
			m.raw[k][gramKey(g)]++
		}
	}
	// <s> is a unigram (with a back-off weight), never predicted.
	m.raw[0][sentStart] += 0
}

// estimate fills prob and bow, lowest order first.
func (m *knModel) estimate() {
	// Kneser-Ney counts: the highest order and n-grams that start a
	// sentence keep their raw counts; lower orders count the distinct
	// words seen before them (how many contexts a word continues).
	adj := make([]map[string]int, m.order)
	for k := 0; k < m.order; k++ {
		adj[k] = map[string]int{}
		for g, c := range m.raw[k] {
			if k == m.order-1 || strings.HasPrefix(g, sentStart+" ") || g == sentStart {
				adj[k][g] = c
			}
		}
	}
	for k := 1; k < m.order; k++ {
		for g := range m.raw[k] {
			// g's distinct first words are its suffix's continuation count.
			w := strings.Fields(g)
			adj[k-1][gramKey(w[1:])]++
		}
	}
	vocabSet := map[string]bool{sentEnd: true, unkWord: true}
	for g := range m.raw[0] {
		if g != sentStart {
			vocabSet[g] = true
		}
	}
	for w := range vocabSet {
		m.vocab = append(m.vocab, w)
	}
	sort.Strings(m.vocab)

	for k := 0; k < m.order; k++ {
		d := discount(adj[k])
		// Per context: total count and number of distinct followers.
		total := map[string]int{}
		types := map[string]int{}
		for g, c := range adj[k] {
			if k == 0 && g == sentStart {
				continue
			}
			h := ngramContext(g)
			total[h] += c
			types[h]++
		}
		gamma := map[string]float64{}
		for h, t := range total {
			gamma[h] = d * float64(types[h]) / float64(t)
		}
		if k == 0 {
			// Unigrams interpolate with the uniform distribution, so words
			// with no count (<unk>) keep a share.
			uniform := 1 / float64(len(m.vocab))
			for _, w := range m.vocab {
				p := gamma[""] * uniform
				if c := adj[0][w]; c > 0 {
					p += (float64(c) - d) / float64(total[""])
				}
				m.prob[0][w] = math.Log10(p)
			}
			m.prob[0][sentStart] = -99
			continue
		}
		for g, c := range adj[k] {
			h := ngramContext(g)
			w := g[strings.LastIndexByte(g, ' ')+1:]
			lower := m.lookup(k-1, strings.Fields(h)[1:], w)
			p := (float64(c)-d)/float64(total[h]) + gamma[h]*lower
			m.prob[k][g] = math.Log10(p)
		}
		for h, gm := range gamma {
			m.bow[k-1][h] = math.Log10(gm)
		}
	}
}

// lookup is P(w | h) from the orders up to k+1 estimated so far, backing
// off through the stored weights as a decoder does.
func (m *knModel) lookup(k int, h []string, w string) float64 {
	if len(h) > k {
		h = h[len(h)-k:]
	}
	logp := 0.0
	for {
		g := gramKey(append(append([]string{}, h...), w))
		if p, ok := m.prob[len(h)][g]; ok {
			return math.Pow(10, logp+p)
		}
		if len(h) == 0 {
			return 0 // not in the vocabulary
		}
		logp += m.bow[len(h)-1][gramKey(h)]
		h = h[1:]
	}
}

// ngramContext is an n-gram's words but the last ("" for a unigram).
func ngramContext(g string) string {
	if i := strings.LastIndexByte(g, ' '); i >= 0 {
		return g[:i]
	}
	return ""
}

// discount is the Kneser-Ney absolute discount from the count-of-counts,
// 0.5 when the corpus is too small to say.
func discount(counts map[string]int) float64 {
	var n1, n2 int
	for _, c := range counts {
		switch c {
		case 1:
			n1++
		case 2:
			n2++
		}
	}
	if n1 == 0 || n2 == 0 {
		return 0.5
	}
	d := float64(n1) / float64(n1+2*n2)
	return math.Min(math.Max(d, 0.1), 0.9)
}

func (m *knModel) arpa() string {
	var b strings.Builder
	b.WriteString("\\data\\\n")
	for k := 0; k < m.order; k++ {
		fmt.Fprintf(&b, "ngram %d=%d\n", k+1, len(m.prob[k]))
	}
	for k := 0; k < m.order; k++ {
		fmt.Fprintf(&b, "\n\\%d-grams:\n", k+1)
		grams := make([]string, 0, len(m.prob[k]))
		for g := range m.prob[k] {
			grams = append(grams, g)
		}
		sort.Strings(grams)
		for _, g := range grams {
			fmt.Fprintf(&b, "%.6f\t%s", m.prob[k][g], g)
			if bw, ok := m.bow[k][g]; ok && k < m.order-1 {
				fmt.Fprintf(&b, "\t%.6f", bw)
			}
			b.WriteByte('\n')
		}
	}
	b.WriteString("\n\\end\\\n")
	return b.String()
}
