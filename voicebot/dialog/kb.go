package dialog

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/knowledge/embed/local"
	"github.com/parley-cc/parley/knowledge/index"
	"github.com/parley-cc/parley/knowledge/index/embedded"
	"github.com/parley-cc/parley/knowledge/textproc"
)

// NewKnowledgeBase builds an in-memory knowledge base (offline embedder,
// embedded index) holding the deployment's articles: what `parley chat`,
// the tests and a node without a knowledge component use.
func NewKnowledgeBase(ctx context.Context, d *Deployment) (*knowledge.Base, error) {
	emb := local.New(local.Options{})
	idx, err := embedded.Open(embedded.Options{Dimension: emb.Dimension()})
	if err != nil {
		return nil, fmt.Errorf("knowledge base: %w", err)
	}
	kb := knowledge.New(knowledge.Config{}, emb, idx)
	if err := IngestArticles(ctx, kb, d); err != nil {
		return nil, err
	}
	return kb, nil
}

// IngestArticles adds (or updates) the deployment's articles in kb and
// retrains a corpus-learning embedder. Unchanged articles cost nothing.
func IngestArticles(ctx context.Context, kb *knowledge.Base, d *Deployment) error {
	for _, a := range d.Articles {
		if _, err := kb.Ingest(ctx, a); err != nil {
			return fmt.Errorf("ingest article %q of %s: %w", a.ID, d.Source, err)
		}
	}
	if _, err := kb.Retrain(ctx); err != nil {
		return fmt.Errorf("knowledge base: %w", err)
	}
	return nil
}

// answerer turns knowledge-base hits into short spoken answers.
type answerer struct {
	kb  *knowledge.Base
	cfg KBConfig
}

// kbAnswer is a grounded answer, or none.
type kbAnswer struct {
	Text      string
	Title     string
	Citations []Citation
	Relevant  bool
}

// answer searches for query (within category prefix cat when given, then
// everywhere) and reads out the best relevant passage's most relevant
// sentences. strict asks for 1.5 times the lexical evidence: the turn matched
// no intent, so the words alone must carry it.
func (a *answerer) answer(ctx context.Context, query string, cat []string, lang string, strict bool) (kbAnswer, error) {
	if a.kb == nil || strings.TrimSpace(query) == "" {
		return kbAnswer{}, nil
	}
	scale := 1.0
	if strict {
		scale = 1.5
	}
	hits, err := a.search(ctx, query, cat, lang, 3)
	if err != nil {
		return kbAnswer{}, err
	}
	best := a.pick(hits, scale)
	if best == nil && len(cat) > 0 {
		if hits, err = a.search(ctx, query, nil, lang, 3); err != nil {
			return kbAnswer{}, err
		}
		best = a.pick(hits, scale)
	}
	if best == nil {
		return kbAnswer{}, nil
	}
	h := *best
	text := bestSentences(h.Passage, query, a.cfg.MaxSentences)
	return kbAnswer{Text: text, Title: h.Title, Relevant: true, Citations: []Citation{{
		DocumentID: h.DocumentID, Version: h.Version, Passage: h.Passage, Score: h.Score,
	}}}, nil
}

func (a *answerer) search(ctx context.Context, query string, cat []string, lang string, k int) ([]knowledge.Hit, error) {
	hits, err := a.kb.Search(ctx, knowledge.Query{Text: query, K: k, Filter: index.Filter{CategoryPrefix: cat, Language: lang}})
	if err != nil {
		if strings.Contains(err.Error(), knowledge.ErrEmptyQuery.Error()) {
			return nil, nil
		}
		return nil, fmt.Errorf("kb search: %w", err)
	}
	return hits, nil
}

// pick returns the first hit that is relevant, or nil.
func (a *answerer) pick(hits []knowledge.Hit, scale float64) *knowledge.Hit {
	for i := range hits {
		if a.relevantAt(hits[i], scale) {
			return &hits[i]
		}
	}
	return nil
}

// relevant: the passage matched the query's words well (top of the BM25
// list with a real score), or its meaning is close.
func (a *answerer) relevant(h knowledge.Hit) bool { return a.relevantAt(h, 1) }

func (a *answerer) relevantAt(h knowledge.Hit, scale float64) bool {
	return h.LexicalRank == 1 && h.LexicalScore >= scale*a.cfg.MinScore || float64(h.VectorScore) >= a.cfg.MinSimilarity
}

var (
	mdNoise     = regexp.MustCompile(`(?m)^#+\s.*$|[*_` + "`" + `>]|\[([^\]]*)\]\([^)]*\)`)
	sentenceEnd = regexp.MustCompile(`([.!?])\s+`)
)

// bestSentences reads the passage's first sentence (articles lead with the
// answer) and then the n-1 sentences sharing the most terms with query, in
// their original order.
func bestSentences(passage, query string, n int) string {
	clean := mdNoise.ReplaceAllStringFunc(passage, func(m string) string {
		if strings.HasPrefix(m, "[") {
			return mdNoise.ReplaceAllString(m, "$1")
		}
		if strings.HasPrefix(m, "#") {
			return ""
		}
		return ""
	})
	var sents []string
	for _, para := range strings.Split(clean, "\n") {
		para = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(para), "-0123456789.) "))
		if para == "" {
			continue
		}
		for _, s := range strings.Split(sentenceEnd.ReplaceAllString(para, "$1\x00"), "\x00") {
			if s = strings.TrimSpace(s); len(s) > 3 {
				if !strings.ContainsAny(s[len(s)-1:], ".!?:") {
					s += "."
				}
				sents = append(sents, s)
			}
		}
	}
	if len(sents) == 0 {
		return strings.TrimSpace(clean)
	}
	q := map[string]bool{}
	for _, t := range textproc.Terms(query) {
		q[t] = true
	}
	type scored struct {
		i     int
		score float64
	}
	sc := make([]scored, len(sents))
	for i, s := range sents {
		var hit float64
		for _, t := range textproc.Terms(s) {
			if q[t] {
				hit++
			}
		}
		sc[i] = scored{i, hit - 0.1*float64(i)}
	}
	sc[0].score = 1e9
	sort.SliceStable(sc, func(a, b int) bool { return sc[a].score > sc[b].score })
	pick := sc[:min(n, len(sc))]
	sort.Slice(pick, func(a, b int) bool { return pick[a].i < pick[b].i })
	out := make([]string, len(pick))
	for i, p := range pick {
		out[i] = sents[p.i]
	}
	return strings.Join(out, " ")
}
