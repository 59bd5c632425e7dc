package embedded

import (
	"container/heap"
	"math/bits"
	"strings"

	"github.com/parley-cc/parley/knowledge/index"
)

// appendCode appends the sign bits of v (bit set for v[i] > 0).
func appendCode(codes []uint64, v []float32) []uint64 {
	words := (len(v) + 63) / 64
	start := len(codes)
	codes = append(codes, make([]uint64, words)...)
	for i, f := range v {
		if f > 0 {
			codes[start+i/64] |= 1 << (i % 64)
		}
	}
	return codes
}

// quantScratch is one query's reusable buffers (pooled: at 100k points
// the candidate list alone is 800 kB).
type quantScratch struct {
	cands []cand
	hist  []int
}

// cand is a point that passed the filter, with its Hamming distance.
type cand struct {
	list, pos uint32
	dist      uint32
}

// searchQuantized scans the sign codes of the points passing the filter,
// keeps exactly the want nearest by Hamming distance (want = Rerank*k,
// bounded) and ranks those by exact dot product.
//
// The filter is pre-selected: its time-independent part (category,
// language, tags, publication) is a bitmap per list cached until the next
// write, so the scan skips 64 failing points per zero word and never
// touches their payloads; only points with validity dates are checked
// against the query's instant one by one.
func (x *Index) searchQuantized(vector []float32, k int, f index.Filter, filtered bool) []index.Hit {
	words := x.words
	q := appendCode(nil, vector)
	maxDist := words * 64
	sp, _ := x.scratch.Get().(*quantScratch)
	if sp == nil {
		sp = &quantScratch{}
	}
	defer x.scratch.Put(sp)
	cands := sp.cands[:0]
	if cap(sp.hist) < maxDist+1 {
		sp.hist = make([]int, maxDist+1)
	}
	hist := sp.hist[:maxDist+1]
	clear(hist)
	var sel *selection
	if filtered {
		sel = x.selectionLocked(f)
	}
	at := f.At.Unix()
	checkTime := !f.At.IsZero()
	for li, l := range x.lists {
		codes := l.codes
		score := func(i int) {
			c := codes[i*words : (i+1)*words : (i+1)*words]
			d := 0
			for w, qw := range q {
				d += bits.OnesCount64(qw ^ c[w])
			}
			cands = append(cands, cand{uint32(li), uint32(i), uint32(d)})
			hist[d]++
		}
		if sel == nil {
			for i := range l.entries {
				score(i)
			}
			continue
		}
		pass, timed := sel.pass[li], sel.timed[li]
		for wi, w := range pass {
			for w != 0 {
				b := bits.TrailingZeros64(w)
				w &= w - 1
				i := wi*64 + b
				if checkTime && timed[wi]&(1<<b) != 0 && !validAt(&l.entries[i].p, at) {
					continue
				}
				score(i)
			}
		}
	}
	sp.cands = cands
	// Re-rank Rerank*k candidates, but cap large k (the knowledge base asks
	// for ~100 to fuse) so re-ranking stays well under a millisecond. Ties
	// at the threshold distance are taken in scan order up to the quota,
	// so the re-rank count is bounded whatever the distance spread.
	want := max(min(k*x.o.Rerank, max(2048, 4*k)), 256)
	threshold, below := maxDist, 0
	for d, c := range hist {
		if below+c >= want {
			threshold = d
			break
		}
		below += c
	}
	quota := want - below
	dim := x.o.Dimension
	h := make(topK, 0, k)
	for _, c := range cands {
		if int(c.dist) > threshold {
			continue
		}
		if int(c.dist) == threshold {
			if quota == 0 {
				continue
			}
			quota--
		}
		l := x.lists[c.list]
		i := int(c.pos)
		s := dot(vector, l.vecs[i*dim:(i+1)*dim])
		if len(h) < k {
			heap.Push(&h, scored{l.entries[i], s})
		} else if s > h[0].score {
			h[0] = scored{l.entries[i], s}
			heap.Fix(&h, 0)
		}
	}
	return h.hits()
}

func validAt(p *index.Point, at int64) bool {
	return (p.ValidFrom == 0 || at >= p.ValidFrom) && (p.ValidUntil == 0 || at < p.ValidUntil)
}

// selection is a filter's time-independent part as bitmaps over each
// list's positions, valid for one index generation.
type selection struct {
	gen   uint64
	pass  [][]uint64 // points passing category, language, tags, publication
	timed [][]uint64 // of those, points with validity dates
}

// selectionKey identifies a filter's time-independent part.
func selectionKey(f index.Filter) string {
	var b strings.Builder
	for _, c := range f.CategoryPrefix {
		b.WriteString(c)
		b.WriteByte(0x1f)
	}
	b.WriteByte(0x1e)
	b.WriteString(f.Language)
	b.WriteByte(0x1e)
	for _, t := range f.Tags {
		b.WriteString(t)
		b.WriteByte(0x1f)
	}
	if f.PublishedOnly {
		b.WriteString("\x1epublished")
	}
	return b.String()
}

// maxSelections bounds the cache; searches use a handful of filters.
const maxSelections = 64

// selectionLocked returns f's bitmaps, building them on first use after a
// write. x.mu is held (read or write).
func (x *Index) selectionLocked(f index.Filter) *selection {
	key := selectionKey(f)
	x.selMu.Lock()
	defer x.selMu.Unlock()
	if s := x.selections[key]; s != nil && s.gen == x.gen {
		return s
	}
	static := f
	static.At = index.Filter{}.At
	s := &selection{gen: x.gen, pass: make([][]uint64, len(x.lists)), timed: make([][]uint64, len(x.lists))}
	for li, l := range x.lists {
		pass := make([]uint64, (len(l.entries)+63)/64)
		timed := make([]uint64, len(pass))
		for i, e := range l.entries {
			if static.Match(&e.p) {
				pass[i/64] |= 1 << (i % 64)
				if e.p.ValidFrom != 0 || e.p.ValidUntil != 0 {
					timed[i/64] |= 1 << (i % 64)
				}
			}
		}
		s.pass[li], s.timed[li] = pass, timed
	}
	if x.selections == nil || len(x.selections) >= maxSelections {
		x.selections = map[string]*selection{}
	}
	x.selections[key] = s
	return s
}
