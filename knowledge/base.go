package knowledge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-cc/parley/knowledge/embed"
	"github.com/parley-cc/parley/knowledge/index"
	"github.com/parley-cc/parley/knowledge/lexical"
)

// Config tunes indexing and ranking; zero values take the defaults noted,
// which were tuned on the even-numbered StackFAQ threads (see kbeval).
type Config struct {
	Chunking ChunkOptions
	Limits   Limits
	// Lexical field weights (BM25F): a title term counts TitleWeight times.
	TitleWeight   float64 // default 3
	HeadingWeight float64 // default 1.5
	// VectorTitleWeight mixes the title's embedding into each chunk's:
	// v = normalize(v_chunk + w * v_title). Default 1.5; negative disables.
	VectorTitleWeight float64
	// Reciprocal rank fusion: score = sum of weight / (RRFK + rank).
	RRFK          float64 // default 10
	LexicalWeight float64 // default 1
	VectorWeight  float64 // default 0.7
	// TitleRRFWeight adds a third, title-only BM25 ranking of documents to
	// hybrid search. Default 0.8; negative disables.
	TitleRRFWeight float64
	Candidates     int // hits taken from each retriever; default 50
	// MaxBoost bounds the feedback boost: the fused score is multiplied by
	// 1 + b with b in [-MaxBoost, MaxBoost]. Default 0.1.
	MaxBoost float64
	// A search counts as answered ("good" for analytics) when its top hit is
	// the best BM25 match with at least GoodLexicalScore (default 2) or has
	// a vector similarity of at least GoodVectorScore (default 0.35).
	GoodLexicalScore float64
	GoodVectorScore  float64
	// VectorTimeout bounds the vector half of a hybrid search (default
	// 2s); with a caller's deadline it gets at most two thirds of the time
	// left, so a hanging vector index still leaves time for lexical
	// results. After a failure hybrid searches skip the vector index for
	// BreakerInterval (default 1s), then try it again.
	VectorTimeout   time.Duration
	BreakerInterval time.Duration
	Booster         Booster        // optional helpfulness signal
	Observer        SearchObserver // optional search analytics
	Logger          *slog.Logger
	Now             func() time.Time // clock for validity filters; default time.Now
}

func (c Config) withDefaults() Config {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.TitleWeight, 3)
	def(&c.HeadingWeight, 1.5)
	def(&c.VectorTitleWeight, 1.5)
	def(&c.RRFK, 10)
	def(&c.LexicalWeight, 1)
	def(&c.VectorWeight, 0.7)
	def(&c.TitleRRFWeight, 0.8)
	def(&c.MaxBoost, 0.1)
	def(&c.GoodLexicalScore, 2)
	def(&c.GoodVectorScore, 0.35)
	if c.Candidates <= 0 {
		c.Candidates = 50
	}
	if c.VectorTimeout <= 0 {
		c.VectorTimeout = 2 * time.Second
	}
	if c.BreakerInterval <= 0 {
		c.BreakerInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Booster scores how helpful a document was for a query, in [-1, 1].
type Booster interface {
	Boost(query, documentID string) float64
}

// SearchObserver is told about every search, for analytics.
type SearchObserver interface {
	ObserveSearch(query string, documentIDs []string, good bool)
}

// Base is a knowledge base: documents chunked into a vector index and a
// BM25 index, searched together. Safe for concurrent use.
type Base struct {
	cfg Config
	emb embed.Embedder
	idx index.Index
	lex *lexical.Index
	// titles ranks whole documents by title alone: in FAQ-style bases the
	// question wording is the strongest single signal.
	titles *lexical.Index

	breaker breaker

	mu     sync.RWMutex
	docs   map[string]*docState
	chunks map[string]*chunkState
}

type docState struct {
	doc    Document
	chunks []string // chunk ids in order
}

type chunkState struct {
	point    index.Point // payload only, no vector
	title    string
	headings []string
	text     string
}

// New returns a knowledge base writing to idx with vectors from emb. The
// lexical index lives in memory: re-ingest documents at start-up (chunks
// whose hash is already in idx are not re-embedded).
func New(cfg Config, emb embed.Embedder, idx index.Index) *Base {
	cfg = cfg.withDefaults()
	return &Base{
		cfg: cfg, emb: emb, idx: idx,
		lex:    lexical.New(lexical.Options{}),
		titles: lexical.New(lexical.Options{}),
		docs:   map[string]*docState{},
		chunks: map[string]*chunkState{},
	}
}

// IngestResult counts what an ingestion changed.
type IngestResult struct {
	Upserted  int // chunks embedded and written
	Deleted   int // stale chunks removed
	Unchanged int // chunks whose hash was already indexed
}

// Ingest validates, chunks and indexes d, replacing only the chunks whose
// content hash changed.
func (b *Base) Ingest(ctx context.Context, d Document) (IngestResult, error) {
	var res IngestResult
	if err := d.Validate(b.cfg.Limits); err != nil {
		return res, fmt.Errorf("ingest: %w", err)
	}
	sections, err := Extract(d.Body, d.Format)
	if err != nil {
		return res, fmt.Errorf("ingest document %q: %w", d.ID, err)
	}
	passages := ChunkSections(sections, b.cfg.Chunking)
	if len(passages) == 0 {
		passages = []Passage{{Text: strings.TrimSpace(d.Title)}}
	}
	states := make([]*chunkState, len(passages))
	for i, p := range passages {
		pt := index.Point{
			ID: d.ID + "#" + strconv.Itoa(i), DocumentID: d.ID, Version: d.Version, Chunk: i,
			Category: d.Category, Language: d.Language, Tags: d.Tags,
			ValidFrom: unixOrZero(d.ValidFrom), ValidUntil: unixOrZero(d.ValidUntil),
			Published: d.Status == StatusPublished,
		}
		cs := &chunkState{point: pt, title: d.Title, headings: p.Headings, text: p.Text}
		cs.point.Hash = cs.hash(b.emb.Model())
		states[i] = cs
	}
	existing, known, err := b.indexedHashes(ctx, d.ID)
	if err != nil {
		return res, err
	}
	if !known {
		// The index could not say what it holds: replace the document whole.
		if err := b.idx.DeleteDocument(ctx, d.ID); err != nil {
			return res, fmt.Errorf("ingest document %q: clear old chunks: %w", d.ID, err)
		}
	}
	var changed []*chunkState
	keep := map[string]bool{}
	for _, cs := range states {
		keep[cs.point.ID] = true
		if h, ok := existing[cs.point.ID]; ok && h == cs.point.Hash {
			res.Unchanged++
			continue
		}
		changed = append(changed, cs)
	}
	var stale []string
	for id := range existing {
		if !keep[id] {
			stale = append(stale, id)
		}
	}
	sort.Strings(stale)
	if len(changed) > 0 {
		points, err := b.embedChunks(ctx, d.Title, changed)
		if err != nil {
			return res, fmt.Errorf("ingest document %q: %w", d.ID, err)
		}
		if err := b.idx.Upsert(ctx, points); err != nil {
			return res, fmt.Errorf("ingest document %q: write %d chunks: %w", d.ID, len(points), err)
		}
		res.Upserted = len(points)
	}
	if len(stale) > 0 {
		if err := b.idx.Delete(ctx, stale); err != nil {
			return res, fmt.Errorf("ingest document %q: delete %d stale chunks: %w", d.ID, len(stale), err)
		}
		res.Deleted = len(stale)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old := b.docs[d.ID]; old != nil {
		for _, id := range old.chunks {
			if !keep[id] {
				delete(b.chunks, id)
				b.lex.Remove(id)
			}
		}
	}
	ds := &docState{doc: d}
	for _, cs := range states {
		ds.chunks = append(ds.chunks, cs.point.ID)
		prev := b.chunks[cs.point.ID]
		b.chunks[cs.point.ID] = cs
		if prev == nil || prev.point.Hash != cs.point.Hash {
			b.lex.Put(cs.point.ID,
				lexical.Field{Text: d.Title, Weight: b.cfg.TitleWeight},
				lexical.Field{Text: strings.Join(cs.headings, " "), Weight: b.cfg.HeadingWeight},
				lexical.Field{Text: cs.text, Weight: 1})
		}
	}
	b.docs[d.ID] = ds
	b.titles.Put(d.ID, lexical.Field{Text: d.Title, Weight: 1})
	return res, nil
}

// indexedHashes returns the chunk hashes of a document, from memory when
// known and from the index otherwise; known is false when the index is
// unavailable and the caller must replace the document whole.
func (b *Base) indexedHashes(ctx context.Context, id string) (hashes map[string]string, known bool, err error) {
	b.mu.RLock()
	ds := b.docs[id]
	if ds != nil {
		out := make(map[string]string, len(ds.chunks))
		for _, cid := range ds.chunks {
			out[cid] = b.chunks[cid].point.Hash
		}
		b.mu.RUnlock()
		return out, true, nil
	}
	b.mu.RUnlock()
	refs, err := b.idx.Chunks(ctx, id)
	if errors.Is(err, index.ErrUnavailable) {
		b.cfg.Logger.Warn("vector index unavailable: re-indexing document whole", "document", id, "err", err)
		return map[string]string{}, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("ingest document %q: list indexed chunks: %w", id, err)
	}
	out := make(map[string]string, len(refs))
	for _, r := range refs {
		out[r.ID] = r.Hash
	}
	return out, true, nil
}

func (cs *chunkState) hash(model string) string {
	h := sha256.New()
	p := cs.point
	for _, s := range []string{model, p.DocumentID, strconv.Itoa(p.Version), strconv.Itoa(p.Chunk), p.Language,
		strings.Join(p.Category, "/"), strings.Join(p.Tags, "\x1f"),
		strconv.FormatInt(p.ValidFrom, 10), strconv.FormatInt(p.ValidUntil, 10), strconv.FormatBool(p.Published),
		cs.title, strings.Join(cs.headings, "\x1f"), cs.text} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (cs *chunkState) embedText() string {
	if len(cs.headings) == 0 {
		return cs.text
	}
	return strings.Join(cs.headings, " / ") + "\n" + cs.text
}

// embedChunks embeds chunk texts (and the title once) into points.
func (b *Base) embedChunks(ctx context.Context, title string, chunks []*chunkState) ([]index.Point, error) {
	texts := make([]string, 0, len(chunks)+1)
	for _, cs := range chunks {
		texts = append(texts, cs.embedText())
	}
	useTitle := b.cfg.VectorTitleWeight > 0 && strings.TrimSpace(title) != ""
	if useTitle {
		texts = append(texts, title)
	}
	vecs, err := b.emb.Embed(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("embed %d texts: %w", len(texts), err)
	}
	if len(vecs) != len(texts) {
		return nil, fmt.Errorf("embed: got %d vectors for %d texts", len(vecs), len(texts))
	}
	points := make([]index.Point, len(chunks))
	for i, cs := range chunks {
		v := vecs[i]
		if useTitle {
			v = mix(v, vecs[len(vecs)-1], float32(b.cfg.VectorTitleWeight))
		}
		points[i] = cs.point
		points[i].Vector = v
	}
	return points, nil
}

// mix returns normalize(a + w*t).
func mix(a, t []float32, w float32) []float32 {
	out := make([]float32, len(a))
	var norm float64
	for i := range a {
		out[i] = a[i] + w*t[i]
		norm += float64(out[i]) * float64(out[i])
	}
	if norm > 0 {
		inv := float32(1 / math.Sqrt(norm))
		for i := range out {
			out[i] *= inv
		}
	}
	return out
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// Delete removes a document and its chunks.
func (b *Base) Delete(ctx context.Context, id string) error {
	if err := b.idx.DeleteDocument(ctx, id); err != nil {
		return fmt.Errorf("delete document %q: %w", id, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if ds := b.docs[id]; ds != nil {
		for _, cid := range ds.chunks {
			delete(b.chunks, cid)
			b.lex.Remove(cid)
		}
		delete(b.docs, id)
		b.titles.Remove(id)
	}
	return nil
}

// Document returns an ingested document.
func (b *Base) Document(id string) (Document, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	ds, ok := b.docs[id]
	if !ok {
		return Document{}, false
	}
	return ds.doc, true
}

// Stats counts what the base holds.
func (b *Base) Stats() (documents, chunks int) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.docs), len(b.chunks)
}

// DocumentIDs lists ingested documents, sorted.
func (b *Base) DocumentIDs() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	ids := make([]string, 0, len(b.docs))
	for id := range b.docs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Retrain teaches a corpus-learning embedder (embed.Trainer) the current
// chunks and re-embeds every chunk; it returns how many were re-indexed.
// With other embedders it does nothing.
func (b *Base) Retrain(ctx context.Context) (int, error) {
	tr, ok := b.emb.(embed.Trainer)
	if !ok {
		return 0, nil
	}
	b.mu.RLock()
	byDoc := map[string][]*chunkState{}
	titles := map[string]string{}
	var corpus []string
	for id, ds := range b.docs {
		titles[id] = ds.doc.Title
		for _, cid := range ds.chunks {
			cs := b.chunks[cid]
			byDoc[id] = append(byDoc[id], cs)
			corpus = append(corpus, cs.title+"\n"+cs.embedText())
		}
	}
	b.mu.RUnlock()
	sort.Strings(corpus) // training must not depend on map order
	if err := tr.Train(ctx, corpus); err != nil {
		return 0, fmt.Errorf("retrain embedder: %w", err)
	}
	model := b.emb.Model()
	ids := make([]string, 0, len(byDoc))
	for id := range byDoc {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	n := 0
	for _, id := range ids {
		chunks := make([]*chunkState, len(byDoc[id]))
		for i, cs := range byDoc[id] {
			c := *cs
			c.point.Hash = c.hash(model)
			chunks[i] = &c
		}
		points, err := b.embedChunks(ctx, titles[id], chunks)
		if err != nil {
			return n, fmt.Errorf("retrain: document %q: %w", id, err)
		}
		if err := b.idx.Upsert(ctx, points); err != nil {
			return n, fmt.Errorf("retrain: document %q: %w", id, err)
		}
		b.mu.Lock()
		for _, c := range chunks {
			if cur := b.chunks[c.point.ID]; cur != nil && cur.text == c.text {
				cur.point.Hash = c.point.Hash
			}
		}
		b.mu.Unlock()
		n += len(points)
	}
	return n, nil
}

// Mode chooses the retrievers a search uses.
type Mode int

// Search modes.
const (
	Hybrid Mode = iota
	LexicalOnly
	VectorOnly
)

// Query is a search request.
type Query struct {
	Text          string
	K             int          // hits wanted (one per document); default 5
	Filter        index.Filter // Filter.At defaults to now
	IncludeDrafts bool         // by default only published documents match
	Mode          Mode
}

// Hit is a ranked document with the passage that matched best, as a
// citation.
type Hit struct {
	DocumentID   string   `json:"document_id"`
	Title        string   `json:"title"`
	Version      int      `json:"version"`
	ChunkID      string   `json:"chunk_id"`
	Chunk        int      `json:"chunk"`
	Headings     []string `json:"headings,omitempty"`
	Passage      string   `json:"passage"`
	Score        float64  `json:"score"`         // fused score after the feedback boost
	LexicalRank  int      `json:"lexical_rank"`  // 1-based rank in the BM25 list, 0 if absent
	VectorRank   int      `json:"vector_rank"`   // 1-based rank in the vector list, 0 if absent
	VectorScore  float32  `json:"vector_score"`  // cosine similarity of the best vector chunk
	LexicalScore float64  `json:"lexical_score"` // BM25 score of the best lexical chunk
}

// ErrEmptyQuery reports a query with no searchable text.
var ErrEmptyQuery = errors.New("empty query")

// Result is a search's hits and how they were found.
type Result struct {
	Hits []Hit
	// Degraded is set when a hybrid search could not reach the vector index
	// and ranked by the lexical retrievers alone; Warning says why.
	Degraded bool
	Warning  string
}

// Search ranks documents for q. In hybrid mode an unavailable vector index
// degrades to lexical results with a logged warning (SearchResult says so).
func (b *Base) Search(ctx context.Context, q Query) ([]Hit, error) {
	r, err := b.SearchResult(ctx, q)
	return r.Hits, err
}

// SearchResult is Search with the degradation made visible to the caller.
func (b *Base) SearchResult(ctx context.Context, q Query) (Result, error) {
	var res Result
	if strings.TrimSpace(q.Text) == "" {
		return res, fmt.Errorf("search: %w", ErrEmptyQuery)
	}
	if q.K <= 0 {
		q.K = 5
	}
	f := q.Filter
	if f.At.IsZero() {
		f.At = b.cfg.Now()
	}
	if !q.IncludeDrafts {
		f.PublishedOnly = true
	}
	cand := max(b.cfg.Candidates, q.K)
	type fused struct {
		doc              string
		score            float64
		lexRank, vecRank int
		lexChunk         string
		vecChunk         string
		lexScore         float64
		vecScore         float32
	}
	byDoc := map[string]*fused{}
	get := func(doc string) *fused {
		fu := byDoc[doc]
		if fu == nil {
			fu = &fused{doc: doc}
			byDoc[doc] = fu
		}
		return fu
	}
	if q.Mode != VectorOnly {
		b.mu.RLock()
		hits := b.lex.Search(q.Text, cand*2, func(id string) bool {
			cs := b.chunks[id]
			return cs != nil && f.Match(&cs.point)
		})
		b.mu.RUnlock()
		rank := 0
		for _, h := range hits {
			doc := docOf(h.ID)
			fu := get(doc)
			if fu.lexRank != 0 {
				continue // documents are ranked by their best chunk
			}
			rank++
			fu.lexRank, fu.lexChunk, fu.lexScore = rank, h.ID, h.Score
			fu.score += b.cfg.LexicalWeight / (b.cfg.RRFK + float64(rank))
		}
	}
	if q.Mode == Hybrid && b.cfg.TitleRRFWeight > 0 {
		b.mu.RLock()
		hits := b.titles.Search(q.Text, cand, func(id string) bool {
			ds := b.docs[id]
			return ds != nil && len(ds.chunks) > 0 && f.Match(&b.chunks[ds.chunks[0]].point)
		})
		b.mu.RUnlock()
		for i, h := range hits {
			get(h.ID).score += b.cfg.TitleRRFWeight / (b.cfg.RRFK + float64(i+1))
		}
	}
	if q.Mode != LexicalOnly {
		var hits []index.Hit
		var err error
		if wait, open := b.breaker.open(b.cfg.Now()); open && q.Mode == Hybrid {
			// The index failed moments ago: don't make every search wait
			// for it to fail again.
			err = fmt.Errorf("%w: failed recently, next attempt in %s", index.ErrUnavailable, wait.Round(time.Millisecond))
		} else {
			vctx, cancel := b.vectorContext(ctx)
			hits, err = b.vectorSearch(vctx, q.Text, cand*2, f)
			cancel()
			if err != nil && ctx.Err() == nil {
				b.breaker.trip(b.cfg.Now(), b.cfg.BreakerInterval)
			}
		}
		switch {
		case err != nil && q.Mode == VectorOnly:
			return res, fmt.Errorf("search: %w", err)
		case err != nil:
			if n, ok := b.breaker.warn(b.cfg.Now()); ok {
				b.cfg.Logger.Warn("knowledge search degraded to lexical: vector index failed", "err", err, "degraded_since_last_warning", n)
			}
			res.Degraded, res.Warning = true, "vector index unavailable; lexical results only: "+err.Error()
		default:
			rank := 0
			for _, h := range hits {
				fu := get(h.DocumentID)
				if fu.vecRank != 0 {
					continue
				}
				rank++
				fu.vecRank, fu.vecChunk, fu.vecScore = rank, h.ID, h.Score
				fu.score += b.cfg.VectorWeight / (b.cfg.RRFK + float64(rank))
			}
		}
	}
	all := make([]*fused, 0, len(byDoc))
	for _, fu := range byDoc {
		if b.cfg.Booster != nil {
			boost := b.cfg.Booster.Boost(q.Text, fu.doc)
			boost = math.Max(-1, math.Min(1, boost))
			fu.score *= 1 + b.cfg.MaxBoost*boost
		}
		all = append(all, fu)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].score != all[j].score {
			return all[i].score > all[j].score
		}
		return all[i].doc < all[j].doc
	})
	if len(all) > q.K {
		all = all[:q.K]
	}
	b.mu.RLock()
	out := make([]Hit, 0, len(all))
	for _, fu := range all {
		cid := fu.lexChunk
		if cid == "" || (fu.vecRank != 0 && (fu.lexRank == 0 || fu.vecRank < fu.lexRank)) {
			cid = fu.vecChunk
		}
		cs := b.chunks[cid]
		if cs == nil {
			continue // indexed in the vector store but not (or no longer) known here
		}
		out = append(out, Hit{
			DocumentID: fu.doc, Title: cs.title, Version: cs.point.Version, ChunkID: cid, Chunk: cs.point.Chunk,
			Headings: cs.headings, Passage: cs.text, Score: fu.score,
			LexicalRank: fu.lexRank, VectorRank: fu.vecRank, VectorScore: fu.vecScore, LexicalScore: fu.lexScore,
		})
	}
	b.mu.RUnlock()
	if b.cfg.Observer != nil {
		ids := make([]string, len(out))
		for i, h := range out {
			ids[i] = h.DocumentID
		}
		b.cfg.Observer.ObserveSearch(q.Text, ids, b.goodResult(out))
	}
	res.Hits = out
	return res, nil
}

// goodResult judges whether the top hit plausibly answers the query: it
// matched words of the query well, or its meaning is close.
func (b *Base) goodResult(hits []Hit) bool {
	if len(hits) == 0 {
		return false
	}
	top := hits[0]
	return top.LexicalRank == 1 && top.LexicalScore >= b.cfg.GoodLexicalScore || float64(top.VectorScore) >= b.cfg.GoodVectorScore
}

func (b *Base) vectorSearch(ctx context.Context, text string, k int, f index.Filter) ([]index.Hit, error) {
	vecs, err := b.emb.Embed(ctx, []string{text})
	if err != nil {
		return nil, fmt.Errorf("embed query: %w", err)
	}
	if len(vecs) != 1 {
		return nil, fmt.Errorf("embed query: got %d vectors", len(vecs))
	}
	hits, err := b.idx.Search(ctx, vecs[0], k, f)
	if err != nil {
		return nil, fmt.Errorf("vector search: %w", err)
	}
	return hits, nil
}

// vectorContext bounds the vector search: VectorTimeout, and at most two
// thirds of the caller's remaining time.
func (b *Base) vectorContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := b.cfg.VectorTimeout
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)*2/3)
	}
	return context.WithTimeout(ctx, d)
}

// breaker remembers a failing vector index so hybrid searches degrade at
// once instead of each waiting for the failure, and rate-limits the
// degradation warning.
type breaker struct {
	mu         sync.Mutex
	openUntil  time.Time
	lastWarn   time.Time
	suppressed int
}

func (br *breaker) open(now time.Time) (time.Duration, bool) {
	br.mu.Lock()
	defer br.mu.Unlock()
	return br.openUntil.Sub(now), now.Before(br.openUntil)
}

func (br *breaker) trip(now time.Time, d time.Duration) {
	br.mu.Lock()
	br.openUntil = now.Add(d)
	br.mu.Unlock()
}

// warn reports whether to log a degraded search now (at most every 10 s)
// and how many degraded searches went unlogged since the last warning.
func (br *breaker) warn(now time.Time) (int, bool) {
	br.mu.Lock()
	defer br.mu.Unlock()
	if now.Sub(br.lastWarn) < 10*time.Second {
		br.suppressed++
		return 0, false
	}
	n := br.suppressed + 1
	br.lastWarn, br.suppressed = now, 0
	return n, true
}

func docOf(chunkID string) string {
	if i := strings.LastIndexByte(chunkID, '#'); i >= 0 {
		return chunkID[:i]
	}
	return chunkID
}
