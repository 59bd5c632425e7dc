package embedded

import (
	"container/heap"
	"math/bits"

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

// searchQuantized scans every sign code, keeps the candidates with the
// smallest Hamming distance (at least Rerank*k of them, ties included) and
// ranks those by exact dot product. Points failing the filter are skipped
// in the scan, so restrictive filters still fill k hits.
func (x *Index) searchQuantized(vector []float32, k int, f index.Filter, filtered bool) []index.Hit {
	words := x.words
	q := appendCode(nil, vector)
	maxDist := words * 64
	const skip = 0xffff
	// The distance buffer is pooled: at 100k points it is 200 kB a query.
	bp, _ := x.distPool.Get().(*[]uint16)
	if bp == nil {
		bp = new([]uint16)
	}
	defer x.distPool.Put(bp)
	dist := (*bp)[:0]
	hist := make([]int, maxDist+1)
	for _, l := range x.lists {
		for i, e := range l.entries {
			if filtered && !f.Match(&e.p) {
				dist = append(dist, skip)
				continue
			}
			c := l.codes[i*words : (i+1)*words]
			d := 0
			for w, qw := range q {
				d += bits.OnesCount64(qw ^ c[w])
			}
			dist = append(dist, uint16(d))
			hist[d]++
		}
	}
	*bp = dist
	// Re-rank Rerank*k candidates, but cap large k (the knowledge base asks
	// for ~100 to fuse) so re-ranking stays well under a millisecond.
	want := max(min(k*x.o.Rerank, max(2048, 4*k)), 256)
	threshold, seen := maxDist, 0
	for d, c := range hist {
		seen += c
		if seen >= want {
			threshold = d
			break
		}
	}
	dim := x.o.Dimension
	h := make(topK, 0, k)
	j := 0
	for _, l := range x.lists {
		for i, e := range l.entries {
			d := dist[j]
			j++
			if d == skip || int(d) > threshold {
				continue
			}
			s := dot(vector, l.vecs[i*dim:(i+1)*dim])
			if len(h) < k {
				heap.Push(&h, scored{e, s})
			} else if s > h[0].score {
				h[0] = scored{e, s}
				heap.Fix(&h, 0)
			}
		}
	}
	return h.hits()
}
