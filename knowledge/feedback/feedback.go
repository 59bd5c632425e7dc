// Package feedback records whether knowledge-base answers helped, turns the
// votes into a small ranking signal and aggregates search analytics: top
// queries, queries with no good result, articles never used and articles
// marked unhelpful.
package feedback

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/parley-cc/parley/knowledge/textproc"
)

// Source says who judged an answer.
type Source string

// Judges of an answer.
const (
	SourceAgent Source = "agent" // a human agent rated a suggestion
	SourceBot   Source = "bot"   // the voicebot inferred it from the caller
)

// Vote is one helpful/unhelpful judgement of a document for a query.
type Vote struct {
	Query      string    `json:"query"`
	DocumentID string    `json:"document_id"`
	Version    int       `json:"version,omitempty"`
	Helpful    bool      `json:"helpful"`
	Source     Source    `json:"source"`
	CallID     string    `json:"call_id,omitempty"`
	Actor      string    `json:"actor,omitempty"` // agent id, or empty for the bot
	At         time.Time `json:"at"`
}

func validate(v Vote) error {
	if strings.TrimSpace(v.DocumentID) == "" {
		return fmt.Errorf("record feedback: empty document id")
	}
	switch v.Source {
	case SourceAgent, SourceBot:
	default:
		return fmt.Errorf("record feedback for %q: unknown source %q (want agent or bot)", v.DocumentID, v.Source)
	}
	return nil
}

// QueryStat counts a normalised query; Query is its first wording seen.
type QueryStat struct {
	Query string `json:"query"`
	Count int    `json:"count"`
}

// DocumentStat counts how a document fared.
type DocumentStat struct {
	DocumentID string `json:"document_id"`
	Shown      int    `json:"shown"` // times in the top results of a search
	Helpful    int    `json:"helpful"`
	Unhelpful  int    `json:"unhelpful"`
}

// Store is what the knowledge base needs from feedback storage; Memory is
// the in-memory implementation, a persistent one can follow.
type Store interface {
	Record(ctx context.Context, v Vote) error
	Boost(query, documentID string) float64
	ObserveSearch(query string, documentIDs []string, good bool)
	TopQueries(n int) []QueryStat
	NoGoodResult(n int) []QueryStat
	NeverUsed(documentIDs []string) []string
	Unhelpful(n int) []DocumentStat
}

// shownDepth is how many top results count as "used" by a search.
const shownDepth = 3

// Memory keeps votes and aggregates in memory; safe for concurrent use.
type Memory struct {
	mu       sync.RWMutex
	perQuery map[pair]*tally // normalised query x document
	perDoc   map[string]*DocumentStat
	queries  map[string]*QueryStat
	noGood   map[string]*QueryStat
}

type pair struct{ query, doc string }

type tally struct{ helpful, unhelpful int }

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{perQuery: map[pair]*tally{}, perDoc: map[string]*DocumentStat{}, queries: map[string]*QueryStat{}, noGood: map[string]*QueryStat{}}
}

// Normalize maps wordings of the same question to one key: stemmed terms
// without stop words, sorted.
func Normalize(query string) string {
	terms := textproc.Terms(query)
	sort.Strings(terms)
	return strings.Join(terms, " ")
}

// Record stores a vote.
func (m *Memory) Record(ctx context.Context, v Vote) error {
	if err := validate(v); err != nil {
		return err
	}
	key := pair{Normalize(v.Query), v.DocumentID}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.perQuery[key]
	if t == nil {
		t = &tally{}
		m.perQuery[key] = t
	}
	d := m.doc(v.DocumentID)
	if v.Helpful {
		t.helpful++
		d.Helpful++
	} else {
		t.unhelpful++
		d.Unhelpful++
		if key.query != "" {
			// an answer judged unhelpful means the query had no good result
			m.bump(m.noGood, key.query, v.Query)
		}
	}
	return nil
}

func (m *Memory) doc(id string) *DocumentStat {
	d := m.perDoc[id]
	if d == nil {
		d = &DocumentStat{DocumentID: id}
		m.perDoc[id] = d
	}
	return d
}

func (m *Memory) bump(stats map[string]*QueryStat, key, raw string) {
	s := stats[key]
	if s == nil {
		s = &QueryStat{Query: strings.TrimSpace(raw)}
		stats[key] = s
	}
	s.Count++
}

// Boost returns a helpfulness signal in [-1, 1]: mostly from votes on this
// query and document, a little from the document's votes overall. Few
// votes give a weak signal; it saturates as votes agree.
func (m *Memory) Boost(query, documentID string) float64 {
	key := pair{Normalize(query), documentID}
	m.mu.RLock()
	defer m.mu.RUnlock()
	b := 0.0
	if t := m.perQuery[key]; t != nil {
		b += 0.7 * math.Tanh(float64(t.helpful-t.unhelpful)/2)
	}
	if d := m.perDoc[documentID]; d != nil {
		b += 0.3 * float64(d.Helpful-d.Unhelpful) / float64(d.Helpful+d.Unhelpful+5)
	}
	return math.Max(-1, math.Min(1, b))
}

// ObserveSearch counts a search, its top documents and whether it found a
// good result.
func (m *Memory) ObserveSearch(query string, documentIDs []string, good bool) {
	key := Normalize(query)
	if key == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bump(m.queries, key, query)
	if !good {
		m.bump(m.noGood, key, query)
	}
	for i, id := range documentIDs {
		if i == shownDepth {
			break
		}
		m.doc(id).Shown++
	}
}

func top(stats map[string]*QueryStat, n int) []QueryStat {
	out := make([]QueryStat, 0, len(stats))
	for _, s := range stats {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Query < out[j].Query
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// TopQueries returns the n most frequent queries (n <= 0: all).
func (m *Memory) TopQueries(n int) []QueryStat {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return top(m.queries, n)
}

// NoGoodResult returns queries that found nothing convincing or whose
// answer was voted unhelpful, most frequent first.
func (m *Memory) NoGoodResult(n int) []QueryStat {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return top(m.noGood, n)
}

// NeverUsed returns the given documents that were never in the top results
// of a search nor voted on, sorted.
func (m *Memory) NeverUsed(documentIDs []string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	for _, id := range documentIDs {
		d := m.perDoc[id]
		if d == nil || d.Shown+d.Helpful+d.Unhelpful == 0 {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Unhelpful returns documents with more unhelpful than helpful votes,
// worst first.
func (m *Memory) Unhelpful(n int) []DocumentStat {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []DocumentStat
	for _, d := range m.perDoc {
		if d.Unhelpful > d.Helpful {
			out = append(out, *d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		di, dj := out[i].Unhelpful-out[i].Helpful, out[j].Unhelpful-out[j].Helpful
		if di != dj {
			return di > dj
		}
		return out[i].DocumentID < out[j].DocumentID
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

var _ Store = (*Memory)(nil)

// Analytics is what editors see: where the knowledge base falls short.
type Analytics struct {
	TopQueries   []QueryStat    `json:"top_queries"`
	NoGoodResult []QueryStat    `json:"no_good_result"` // searches whose best hit was weak, or voted unhelpful
	NeverUsed    []string       `json:"never_used"`     // articles never in a top-3 result nor voted on
	Unhelpful    []DocumentStat `json:"unhelpful"`      // more unhelpful than helpful votes, worst first
}

// Report gathers the analytics of s over the given articles, n rows per list.
func Report(s Store, documentIDs []string, n int) Analytics {
	a := Analytics{TopQueries: s.TopQueries(n), NoGoodResult: s.NoGoodResult(n), NeverUsed: s.NeverUsed(documentIDs), Unhelpful: s.Unhelpful(n)}
	if a.NeverUsed == nil {
		a.NeverUsed = []string{}
	}
	if a.Unhelpful == nil {
		a.Unhelpful = []DocumentStat{}
	}
	return a
}
