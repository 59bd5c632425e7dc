package knowledge_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/knowledge/embed/local"
	"github.com/parley-cc/parley/knowledge/feedback"
	"github.com/parley-cc/parley/knowledge/index"
	"github.com/parley-cc/parley/knowledge/index/embedded"
)

// countingIndex records writes reaching the vector index.
type countingIndex struct {
	index.Index
	mu       sync.Mutex
	upserted []string
	deleted  []string
}

func (c *countingIndex) Upsert(ctx context.Context, pts []index.Point) error {
	c.mu.Lock()
	for _, p := range pts {
		c.upserted = append(c.upserted, p.ID)
	}
	c.mu.Unlock()
	return c.Index.Upsert(ctx, pts)
}

func (c *countingIndex) Delete(ctx context.Context, ids []string) error {
	c.mu.Lock()
	c.deleted = append(c.deleted, ids...)
	c.mu.Unlock()
	return c.Index.Delete(ctx, ids)
}

func (c *countingIndex) reset() {
	c.mu.Lock()
	c.upserted, c.deleted = nil, nil
	c.mu.Unlock()
}

func newBase(t *testing.T, cfg knowledge.Config) (*knowledge.Base, *countingIndex) {
	t.Helper()
	emb := local.New(local.Options{})
	x, err := embedded.Open(embedded.Options{Dimension: emb.Dimension()})
	if err != nil {
		t.Fatal(err)
	}
	ci := &countingIndex{Index: x}
	t.Cleanup(func() { x.Close() })
	return knowledge.New(cfg, emb, ci), ci
}

func article(id, title, body string) knowledge.Document {
	return knowledge.Document{ID: id, Title: title, Body: body, Format: knowledge.FormatMarkdown, Status: knowledge.StatusPublished, Language: "en", Version: 1}
}

func TestIncrementalReindex(t *testing.T) {
	ctx := context.Background()
	kb, ci := newBase(t, knowledge.Config{Chunking: knowledge.ChunkOptions{MaxChars: 120}})
	body := "# Refunds\nOpen the order and choose refund. Money returns in five days.\n\n# Card\nCard refunds go to the same card.\n\n# Cash\nCash refunds need a receipt."
	res, err := kb.Ingest(ctx, article("refund", "Refunds", body))
	if err != nil {
		t.Fatal(err)
	}
	if res.Upserted != 3 || res.Deleted != 0 || res.Unchanged != 0 {
		t.Fatalf("first ingest = %+v, want 3 upserted", res)
	}
	ci.reset()
	res, _ = kb.Ingest(ctx, article("refund", "Refunds", body))
	if res.Upserted != 0 || res.Unchanged != 3 || len(ci.upserted) != 0 {
		t.Fatalf("unchanged re-ingest = %+v, index writes %v; want a no-op", res, ci.upserted)
	}
	ci.reset()
	changed := strings.Replace(body, "same card", "same card within a week", 1)
	res, _ = kb.Ingest(ctx, article("refund", "Refunds", changed))
	if res.Upserted != 1 || res.Unchanged != 2 || len(ci.upserted) != 1 || ci.upserted[0] != "refund#1" {
		t.Fatalf("one changed section = %+v, writes %v; want only refund#1", res, ci.upserted)
	}
	ci.reset()
	shorter := "# Refunds\nOpen the order and choose refund. Money returns in five days."
	res, _ = kb.Ingest(ctx, article("refund", "Refunds", shorter))
	if res.Deleted != 2 || res.Upserted != 0 || strings.Join(ci.deleted, ",") != "refund#1,refund#2" {
		t.Fatalf("shrunk document = %+v, deletes %v", res, ci.deleted)
	}
	hits, _ := kb.Search(ctx, knowledge.Query{Text: "cash receipt"})
	for _, h := range hits {
		if strings.Contains(h.Passage, "receipt") {
			t.Fatalf("removed chunk still searchable: %+v", h)
		}
	}

	// A fresh Base over the same index (a restart) skips unchanged chunks.
	kb2 := knowledge.New(knowledge.Config{Chunking: knowledge.ChunkOptions{MaxChars: 120}}, local.New(local.Options{}), ci)
	ci.reset()
	res, _ = kb2.Ingest(ctx, article("refund", "Refunds", shorter))
	if res.Unchanged != 1 || len(ci.upserted) != 0 {
		t.Fatalf("re-ingest after restart = %+v, writes %v; want no vector writes", res, ci.upserted)
	}
	if _, err := kb.Ingest(ctx, knowledge.Document{ID: "x", Format: "pdf", Body: "b", Status: knowledge.StatusPublished}); !errors.Is(err, knowledge.ErrUnsupportedFormat) {
		t.Fatalf("invalid document: %v", err)
	}
}

func TestSearchFiltersAndCitations(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	kb, _ := newBase(t, knowledge.Config{Now: func() time.Time { return now }})
	docs := []knowledge.Document{
		{ID: "roam-en", Title: "Roaming charges", Body: "Roaming in the EU costs nothing extra. Outside the EU daily passes apply.", Category: []string{"mobile", "roaming"}, Language: "en", Tags: []string{"travel"}},
		{ID: "roam-fr", Title: "Frais d'itinérance", Body: "L'itinérance dans l'UE ne coûte rien. Roaming pass.", Category: []string{"mobile", "roaming"}, Language: "fr"},
		{ID: "roam-old", Title: "Roaming charges 2020", Body: "Roaming costs 2 euros a day.", Category: []string{"mobile", "roaming"}, Language: "en", ValidUntil: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)},
		{ID: "roam-draft", Title: "Roaming charges draft", Body: "Roaming will change.", Category: []string{"mobile", "roaming"}, Language: "en", Status: knowledge.StatusDraft},
		{ID: "router", Title: "Restart the router", Body: "<h1>Router</h1><p>Unplug the router for ten seconds.</p>", Format: knowledge.FormatHTML, Category: []string{"internet"}, Language: "en", Version: 4},
	}
	for _, d := range docs {
		if d.Format == "" {
			d.Format = knowledge.FormatText
		}
		if d.Status == "" {
			d.Status = knowledge.StatusPublished
		}
		if _, err := kb.Ingest(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(q knowledge.Query) string {
		hits, err := kb.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, h := range hits {
			out = append(out, h.DocumentID)
		}
		return strings.Join(out, ",")
	}
	// Vector search ranks every passing chunk, so filters are checked by
	// what is absent and by who comes first.
	if got := ids(knowledge.Query{Text: "roaming charges", Filter: index.Filter{Language: "en"}}); !strings.HasPrefix(got, "roam-en") ||
		strings.Contains(got, "roam-fr") || strings.Contains(got, "roam-old") || strings.Contains(got, "roam-draft") {
		t.Errorf("published, valid, english roaming = %q, want roam-en first and no fr, expired or draft", got)
	}
	if got := ids(knowledge.Query{Text: "roaming charges", Filter: index.Filter{Language: "en"}, IncludeDrafts: true}); !strings.Contains(got, "roam-draft") || strings.Contains(got, "roam-old") {
		t.Errorf("with drafts = %q", got)
	}
	if got := ids(knowledge.Query{Text: "roaming", Filter: index.Filter{Language: "en", At: time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC)}}); !strings.Contains(got, "roam-old") {
		t.Errorf("search as of 2020 = %q, want roam-old included", got)
	}
	if got := ids(knowledge.Query{Text: "roaming", Filter: index.Filter{Tags: []string{"travel"}}}); got != "roam-en" { // only one doc has the tag
		t.Errorf("tag filter = %q", got)
	}
	if got := ids(knowledge.Query{Text: "router", Filter: index.Filter{CategoryPrefix: []string{"mobile"}}}); strings.Contains(got, "router") {
		t.Errorf("category filter let router through: %q", got)
	}
	hits, _ := kb.Search(ctx, knowledge.Query{Text: "how do I restart my router"})
	if len(hits) == 0 {
		t.Fatal("no hit for router")
	}
	h := hits[0]
	if h.DocumentID != "router" || h.Version != 4 || h.ChunkID != "router#0" || h.Passage != "Unplug the router for ten seconds." ||
		strings.Join(h.Headings, ">") != "Router" || h.LexicalRank != 1 || h.VectorRank != 1 || h.Score <= 0 {
		t.Errorf("citation = %+v", h)
	}
	if _, err := kb.Search(ctx, knowledge.Query{Text: "  "}); !errors.Is(err, knowledge.ErrEmptyQuery) {
		t.Errorf("empty query: %v", err)
	}
	if err := kb.Delete(ctx, "router"); err != nil {
		t.Fatal(err)
	}
	if got := ids(knowledge.Query{Text: "router"}); strings.Contains(got, "router") {
		t.Errorf("deleted document found: %q", got)
	}
}

func TestFeedbackBoostIsBounded(t *testing.T) {
	ctx := context.Background()
	fb := feedback.NewMemory()
	kb, _ := newBase(t, knowledge.Config{Booster: fb, Observer: fb})
	for _, d := range []knowledge.Document{
		article("pin-a", "Change your SIM PIN", "Open settings, then security, then SIM PIN."),
		article("pin-b", "Change your SIM PIN", "Open settings, then security, then SIM PIN."),
		article("bill", "Understand your bill", "Your bill lists calls, data and roaming."),
	} {
		if _, err := kb.Ingest(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	first := func(q string) string {
		hits, err := kb.Search(ctx, knowledge.Query{Text: q})
		if err != nil || len(hits) == 0 {
			t.Fatalf("search %q: %v %v", q, hits, err)
		}
		return hits[0].DocumentID
	}
	if got := first("change SIM PIN"); got != "pin-a" {
		t.Fatalf("tie should break by id, got %s", got)
	}
	for i := 0; i < 5; i++ {
		fb.Record(ctx, feedback.Vote{Query: "change SIM PIN", DocumentID: "pin-b", Helpful: true, Source: feedback.SourceAgent})
		fb.Record(ctx, feedback.Vote{Query: "change SIM PIN", DocumentID: "pin-a", Helpful: false, Source: feedback.SourceBot})
	}
	if got := first("change SIM PIN"); got != "pin-b" {
		t.Fatalf("helpful votes should lift pin-b among equals, got %s", got)
	}
	for i := 0; i < 50; i++ {
		fb.Record(ctx, feedback.Vote{Query: "change SIM PIN", DocumentID: "bill", Helpful: true, Source: feedback.SourceAgent})
	}
	if got := first("change SIM PIN"); got == "bill" {
		t.Fatal("the boost must stay small: an off-topic article outranked exact matches")
	}
	if never := fb.NeverUsed(kb.DocumentIDs()); len(never) != 0 {
		t.Fatalf("all three were shown or voted on, NeverUsed = %v", never)
	}
	if top := fb.TopQueries(1); len(top) != 1 || top[0].Count != 3 {
		t.Fatalf("TopQueries = %+v", top)
	}
}

func TestRetrainReembedsAndConcurrentSearch(t *testing.T) {
	ctx := context.Background()
	kb, ci := newBase(t, knowledge.Config{})
	topics := strings.Fields("invoice roaming password router voicemail porting contract refund upgrade coverage " +
		"esim tethering hotspot fibre modem outage billing discount insurance warranty")
	for i, topic := range topics {
		d := article(fmt.Sprintf("d%02d", i), "About "+topic, fmt.Sprintf("This article explains %s in detail. It also covers %s settings.", topic, topic))
		if _, err := kb.Ingest(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := kb.Search(ctx, knowledge.Query{Text: topics[i]}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	ci.reset()
	n, err := kb.Retrain(ctx)
	wg.Wait()
	if err != nil || n != 20 || len(ci.upserted) != 20 {
		t.Fatalf("retrain re-embedded %d (%d writes), err %v; want 20", n, len(ci.upserted), err)
	}
	hits, _ := kb.Search(ctx, knowledge.Query{Text: "refunds", Mode: knowledge.VectorOnly})
	if len(hits) == 0 || hits[0].DocumentID != "d07" {
		t.Fatalf("vector search after retrain: %+v", hits)
	}
	ci.reset()
	res, _ := kb.Ingest(ctx, article("d07", "About refund", "This article explains refund in detail. It also covers refund settings."))
	if res.Upserted != 0 {
		t.Fatalf("re-ingest after retrain re-embedded %d chunks; hashes must track the trained model", res.Upserted)
	}
}
