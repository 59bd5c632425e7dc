// Package lexical is an in-memory BM25 index over weighted text fields, the
// exact-word half of hybrid search.
package lexical

import (
	"container/heap"
	"math"
	"sync"

	"github.com/parley-cc/parley/knowledge/textproc"
)

// Field is a piece of an entry's text with a weight: a term in a field of
// weight 2 counts as two occurrences (a simplified BM25F).
type Field struct {
	Text   string
	Weight float64
}

// Hit is one scored entry.
type Hit struct {
	ID    string
	Score float64
}

// Options tune BM25; zero values take the classic defaults.
type Options struct {
	K1 float64 // term-frequency saturation; default 1.2
	B  float64 // length normalisation; default 0.75
}

type posting struct {
	doc int32
	tf  float32
}

// Index is a BM25 index safe for concurrent use.
type Index struct {
	mu       sync.RWMutex
	k1, b    float64
	ids      []string // slot -> id ("" when deleted)
	lens     []float32
	slots    map[string]int32
	postings map[string][]posting
	totalLen float64
	live     int
	dead     int
}

// New returns an empty index.
func New(o Options) *Index {
	if o.K1 <= 0 {
		o.K1 = 1.2
	}
	if o.B <= 0 {
		o.B = 0.75
	}
	return &Index{k1: o.K1, b: o.B, slots: map[string]int32{}, postings: map[string][]posting{}}
}

// Len returns the number of entries.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.live
}

// Put adds or replaces the entry id.
func (x *Index) Put(id string, fields ...Field) {
	tf := map[string]float64{}
	length := 0.0
	for _, f := range fields {
		w := f.Weight
		if w == 0 {
			w = 1
		}
		for _, t := range textproc.Terms(f.Text) {
			tf[t] += w
			length += w
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(id)
	slot := int32(len(x.ids))
	x.ids = append(x.ids, id)
	x.lens = append(x.lens, float32(length))
	for t, f := range tf {
		x.postings[t] = append(x.postings[t], posting{slot, float32(f)})
	}
	x.slots[id] = slot
	x.totalLen += length
	x.live++
}

// Remove deletes the entry id if present.
func (x *Index) Remove(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(id)
}

func (x *Index) removeLocked(id string) {
	slot, ok := x.slots[id]
	if !ok {
		return
	}
	delete(x.slots, id)
	x.ids[slot] = ""
	x.totalLen -= float64(x.lens[slot])
	x.live--
	x.dead++
	// Postings keep the tombstoned slot until compaction; document
	// frequencies are corrected there, so compact eagerly when churn is high.
	if x.dead > 64 && x.dead*4 > len(x.ids) {
		x.compactLocked()
	}
}

func (x *Index) compactLocked() {
	remap := make([]int32, len(x.ids))
	var ids []string
	var lens []float32
	for old, id := range x.ids {
		if id == "" {
			remap[old] = -1
			continue
		}
		remap[old] = int32(len(ids))
		x.slots[id] = int32(len(ids))
		ids = append(ids, id)
		lens = append(lens, x.lens[old])
	}
	for t, ps := range x.postings {
		out := ps[:0]
		for _, p := range ps {
			if n := remap[p.doc]; n >= 0 {
				out = append(out, posting{n, p.tf})
			}
		}
		if len(out) == 0 {
			delete(x.postings, t)
		} else {
			x.postings[t] = out
		}
	}
	x.ids, x.lens, x.dead = ids, lens, 0
}

// Search returns up to k entries ranked by BM25 for query; keep, when not
// nil, filters entries by id.
func (x *Index) Search(query string, k int, keep func(id string) bool) []Hit {
	terms := textproc.Terms(query)
	if k <= 0 || len(terms) == 0 {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.live == 0 {
		return nil
	}
	n := float64(x.live)
	avg := x.totalLen / n
	if avg <= 0 {
		avg = 1
	}
	qtf := map[string]int{}
	for _, t := range terms {
		qtf[t]++
	}
	// Dense accumulators beat a map when common terms touch most entries.
	scores := make([]float64, len(x.ids))
	var touched []int32
	for t, qn := range qtf {
		ps := x.postings[t]
		df := 0
		for _, p := range ps {
			if x.ids[p.doc] != "" {
				df++
			}
		}
		if df == 0 {
			continue
		}
		idf := float64(qn) * math.Log(1+(n-float64(df)+0.5)/(float64(df)+0.5)) * (x.k1 + 1)
		base, slope := x.k1*(1-x.b), x.k1*x.b/avg
		for _, p := range ps {
			if x.ids[p.doc] == "" {
				continue
			}
			tf := float64(p.tf)
			if scores[p.doc] == 0 {
				touched = append(touched, p.doc)
			}
			scores[p.doc] += idf * tf / (tf + base + slope*float64(x.lens[p.doc]))
		}
	}
	h := &hitHeap{}
	for _, slot := range touched {
		s := scores[slot]
		id := x.ids[slot]
		if h.Len() == k && !better(Hit{id, s}, (*h)[0]) {
			continue
		}
		if keep != nil && !keep(id) {
			continue
		}
		if h.Len() < k {
			heap.Push(h, Hit{id, s})
		} else {
			(*h)[0] = Hit{id, s}
			heap.Fix(h, 0)
		}
	}
	out := make([]Hit, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(Hit)
	}
	return out
}

func better(a, b Hit) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.ID < b.ID
}

// hitHeap is a min-heap by rank: the root is the worst kept hit.
type hitHeap []Hit

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(v any)        { *h = append(*h, v.(Hit)) }
func (h *hitHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}
