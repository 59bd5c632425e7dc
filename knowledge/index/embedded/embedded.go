// Package embedded is the default vector index: in-process float32
// dot-product search, exhaustive for small collections and inverted-file
// (IVF, k-means lists) for large ones, persisted to a directory with atomic
// file replacement.
package embedded

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-cc/parley/knowledge/index"
)

// Options configure the index; zero values take the defaults noted.
type Options struct {
	Dir       string // where index.bin lives; empty keeps the index in memory only
	Dimension int    // vector length; required
	// QuantizedMinPoints switches to two-stage search at this many points:
	// a scan of 1-bit sign codes (Hamming distance) picks candidates that
	// are re-ranked with exact float32 dot products. Default 20000
	// (negative: always exhaustive).
	QuantizedMinPoints int
	Rerank             int // candidates re-ranked per wanted hit; default 96 (at least 256 in all)
	// IVFMinPoints partitions the vectors into k-means lists at this many
	// points (0: never); searches then scan the Probes nearest lists.
	IVFMinPoints  int
	Probes        int           // IVF lists scanned per query; default 16
	FlushInterval time.Duration // how often a dirty index is written; default 2s
	Logger        *slog.Logger
}

// Index is the embedded vector index; safe for concurrent use.
type Index struct {
	o     Options
	words int // uint64 words per sign code
	// scratch recycles per-query buffers of the quantized search.
	scratch sync.Pool
	mu      sync.RWMutex
	// gen counts layout changes (inserts, removals, rebuilds): cached
	// filter selections are valid for one generation.
	gen        uint64
	selMu      sync.Mutex
	selections map[string]*selection
	// lists partition the vectors; one list with no centroid when exhaustive.
	lists     []*list
	byID      map[string]*entry
	byDoc     map[string]map[string]*entry
	builtAt   int         // point count at the last IVF (re)build
	dirty     atomic.Bool // changed since the last write to disk
	flushMu   sync.Mutex  // one file write at a time, in order
	closed    bool
	stop      chan struct{}
	flusherWG sync.WaitGroup
}

type list struct {
	centroid []float32
	vecs     []float32
	codes    []uint64 // sign bits of each vector, words per vector
	entries  []*entry
}

type entry struct {
	p    index.Point // Vector is nil: the vector lives in the list
	list int
	pos  int
}

// Open loads the index from o.Dir (or starts empty) and starts the
// background flusher.
func Open(o Options) (*Index, error) {
	if o.Dimension <= 0 {
		return nil, fmt.Errorf("open embedded index: dimension must be positive, got %d", o.Dimension)
	}
	if o.IVFMinPoints == 0 {
		o.IVFMinPoints = -1
	}
	if o.QuantizedMinPoints == 0 {
		o.QuantizedMinPoints = 20000
	}
	if o.Rerank <= 0 {
		o.Rerank = 96
	}
	if o.Probes <= 0 {
		o.Probes = 16
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	x := &Index{o: o, words: (o.Dimension + 63) / 64, lists: []*list{{}}, byID: map[string]*entry{}, byDoc: map[string]map[string]*entry{}, stop: make(chan struct{})}
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("open embedded index: create %s: %w", o.Dir, err)
		}
		if err := x.load(filepath.Join(o.Dir, fileName)); err != nil {
			return nil, err
		}
		x.flusherWG.Add(1)
		go x.flusher()
	}
	return x, nil
}

func (x *Index) flusher() {
	defer x.flusherWG.Done()
	t := time.NewTicker(x.o.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-x.stop:
			return
		case <-t.C:
			if err := x.Flush(context.Background()); err != nil {
				x.o.Logger.Warn("embedded index flush failed", "dir", x.o.Dir, "err", err)
			}
		}
	}
}

// Len returns the number of points.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byID)
}

// Upsert inserts or replaces points.
func (x *Index) Upsert(ctx context.Context, points []index.Point) error {
	for i := range points {
		if len(points[i].Vector) != x.o.Dimension {
			return fmt.Errorf("upsert point %q: %w: got %d, index has %d", points[i].ID, index.ErrDimension, len(points[i].Vector), x.o.Dimension)
		}
		if points[i].ID == "" {
			return fmt.Errorf("upsert point %d: empty id", i)
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return fmt.Errorf("upsert: index closed")
	}
	for _, p := range points {
		x.removeLocked(p.ID)
		x.insertLocked(p)
	}
	x.dirty.Store(true)
	x.maybeRebuildLocked()
	return nil
}

func (x *Index) insertLocked(p index.Point) {
	x.gen++
	vec := p.Vector
	p.Vector = nil
	li := 0
	if len(x.lists) > 1 {
		li = x.nearestList(vec)
	}
	l := x.lists[li]
	e := &entry{p: p, list: li, pos: len(l.entries)}
	l.entries = append(l.entries, e)
	l.vecs = append(l.vecs, vec...)
	l.codes = appendCode(l.codes, vec)
	x.byID[p.ID] = e
	d := x.byDoc[p.DocumentID]
	if d == nil {
		d = map[string]*entry{}
		x.byDoc[p.DocumentID] = d
	}
	d[p.ID] = e
}

func (x *Index) removeLocked(id string) {
	e, ok := x.byID[id]
	if !ok {
		return
	}
	x.gen++
	delete(x.byID, id)
	if d := x.byDoc[e.p.DocumentID]; d != nil {
		delete(d, id)
		if len(d) == 0 {
			delete(x.byDoc, e.p.DocumentID)
		}
	}
	// swap-remove keeps each list contiguous for scanning
	l := x.lists[e.list]
	dim := x.o.Dimension
	last := len(l.entries) - 1
	if e.pos != last {
		moved := l.entries[last]
		l.entries[e.pos] = moved
		moved.pos = e.pos
		copy(l.vecs[e.pos*dim:(e.pos+1)*dim], l.vecs[last*dim:])
		copy(l.codes[e.pos*x.words:(e.pos+1)*x.words], l.codes[last*x.words:])
	}
	l.entries = l.entries[:last]
	l.vecs = l.vecs[:last*dim]
	l.codes = l.codes[:last*x.words]
}

// Delete removes points by id.
func (x *Index) Delete(ctx context.Context, ids []string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, id := range ids {
		x.removeLocked(id)
	}
	x.dirty.Store(true)
	return nil
}

// DeleteDocument removes every point of a document.
func (x *Index) DeleteDocument(ctx context.Context, documentID string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	for id := range x.byDoc[documentID] {
		x.removeLocked(id)
	}
	x.dirty.Store(true)
	return nil
}

// Chunks lists the indexed chunks of a document.
func (x *Index) Chunks(ctx context.Context, documentID string) ([]index.ChunkRef, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []index.ChunkRef
	for id, e := range x.byDoc[documentID] {
		out = append(out, index.ChunkRef{ID: id, Hash: e.p.Hash})
	}
	return out, nil
}

// Search returns the k best points passing f. With IVF it scans the Probes
// lists nearest to the query and keeps probing further lists until k
// filtered hits are found or every list is scanned.
func (x *Index) Search(ctx context.Context, vector []float32, k int, f index.Filter) ([]index.Hit, error) {
	if len(vector) != x.o.Dimension {
		return nil, fmt.Errorf("search: %w: got %d, index has %d", index.ErrDimension, len(vector), x.o.Dimension)
	}
	if k <= 0 {
		return nil, nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	filtered := !filterIsEmpty(f)
	if x.o.QuantizedMinPoints > 0 && len(x.byID) >= x.o.QuantizedMinPoints {
		return x.searchQuantized(vector, k, f, filtered), nil
	}
	h := make(topK, 0, k)
	scan := func(l *list) {
		dim := x.o.Dimension
		for i, e := range l.entries {
			s := dot(vector, l.vecs[i*dim:(i+1)*dim])
			if len(h) == k && s <= h[0].score {
				continue
			}
			if filtered && !f.Match(&e.p) {
				continue
			}
			if len(h) < k {
				heap.Push(&h, scored{e, s})
			} else {
				h[0] = scored{e, s}
				heap.Fix(&h, 0)
			}
		}
	}
	if len(x.lists) == 1 {
		scan(x.lists[0])
	} else {
		order := x.listOrder(vector)
		for i, li := range order {
			if i >= x.o.Probes && len(h) == k {
				break
			}
			if i%8 == 0 && ctx.Err() != nil {
				return nil, fmt.Errorf("search: %w", ctx.Err())
			}
			scan(x.lists[li])
		}
	}
	return h.hits(), nil
}

// hits empties the heap into best-first hits.
func (h *topK) hits() []index.Hit {
	out := make([]index.Hit, len(*h))
	for i := len(out) - 1; i >= 0; i-- {
		s := heap.Pop(h).(scored)
		out[i] = index.Hit{Point: s.e.p, Score: s.score}
	}
	return out
}

func filterIsEmpty(f index.Filter) bool {
	return len(f.CategoryPrefix) == 0 && f.Language == "" && len(f.Tags) == 0 && f.At.IsZero() && !f.PublishedOnly
}

// Flush writes the index to disk now if it changed.
func (x *Index) Flush(ctx context.Context) error {
	if x.o.Dir == "" {
		return nil
	}
	x.flushMu.Lock()
	defer x.flushMu.Unlock()
	x.mu.RLock()
	if !x.dirty.Load() {
		x.mu.RUnlock()
		return nil
	}
	// Writers are excluded while encoding, so clearing the flag here cannot
	// hide a change made after the snapshot.
	data := x.encodeLocked()
	x.dirty.Store(false)
	x.mu.RUnlock()
	if err := writeAtomic(filepath.Join(x.o.Dir, fileName), data); err != nil {
		x.dirty.Store(true)
		return err
	}
	return nil
}

// Close stops the flusher and writes pending changes.
func (x *Index) Close() error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return nil
	}
	x.closed = true
	x.mu.Unlock()
	close(x.stop)
	x.flusherWG.Wait()
	return x.Flush(context.Background())
}

type scored struct {
	e     *entry
	score float32
}

// topK is a min-heap: the root is the worst kept hit.
type topK []scored

func (h topK) Len() int { return len(h) }
func (h topK) Less(i, j int) bool {
	if h[i].score != h[j].score {
		return h[i].score < h[j].score
	}
	return h[i].e.p.ID > h[j].e.p.ID
}
func (h topK) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *topK) Push(v any)   { *h = append(*h, v.(scored)) }
func (h *topK) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

// dot is unrolled by eight; the compiler removes bounds checks after the
// length hint.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		s0 += a[i]*b[i] + a[i+4]*b[i+4]
		s1 += a[i+1]*b[i+1] + a[i+5]*b[i+5]
		s2 += a[i+2]*b[i+2] + a[i+6]*b[i+6]
		s3 += a[i+3]*b[i+3] + a[i+7]*b[i+7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

var _ index.Index = (*Index)(nil)
