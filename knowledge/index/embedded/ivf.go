package embedded

import (
	"math"
	"sort"
)

// maybeRebuildLocked (re)trains the IVF lists when the collection reaches
// IVFMinPoints (when positive) and again each time it doubles, so list sizes stay balanced.
func (x *Index) maybeRebuildLocked() {
	n := len(x.byID)
	if x.o.IVFMinPoints < 0 || n < x.o.IVFMinPoints || n < 2*x.builtAt {
		return
	}
	x.rebuildLocked()
}

// rebuildLocked trains sqrt(n)/2 centroids with k-means on a strided sample
// (deterministic, no randomness) and reassigns every point.
func (x *Index) rebuildLocked() {
	dim := x.o.Dimension
	n := len(x.byID)
	nlist := int(math.Sqrt(float64(n)) / 2)
	if nlist < 16 {
		nlist = 16
	}
	all := make([]*entry, 0, n)
	vecs := make([]float32, 0, n*dim)
	for _, l := range x.lists {
		all = append(all, l.entries...)
		vecs = append(vecs, l.vecs...)
	}
	// Order by id so the sample, and so the lists, do not depend on map order.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return all[order[a]].p.ID < all[order[b]].p.ID })
	sampleSize := min(n, 24*nlist)
	sample := make([][]float32, sampleSize)
	for i := range sample {
		j := order[i*n/sampleSize]
		sample[i] = vecs[j*dim : (j+1)*dim]
	}
	centroids := make([][]float32, nlist)
	for c := range centroids {
		centroids[c] = append([]float32(nil), sample[c*sampleSize/nlist]...)
	}
	assign := make([]int, sampleSize)
	for iter := 0; iter < 6; iter++ {
		for i, v := range sample {
			assign[i] = nearest(centroids, v)
		}
		sums := make([][]float64, nlist)
		counts := make([]int, nlist)
		for c := range sums {
			sums[c] = make([]float64, dim)
		}
		for i, v := range sample {
			c := assign[i]
			counts[c]++
			for d, f := range v {
				sums[c][d] += float64(f)
			}
		}
		for c := range centroids {
			if counts[c] == 0 {
				continue // keep the old centroid rather than invent one
			}
			norm := 0.0
			for _, s := range sums[c] {
				norm += s * s
			}
			if norm == 0 {
				continue
			}
			inv := 1 / math.Sqrt(norm)
			for d := range centroids[c] {
				centroids[c][d] = float32(sums[c][d] * inv)
			}
		}
	}
	lists := make([]*list, nlist)
	for c := range lists {
		lists[c] = &list{centroid: centroids[c]}
	}
	for i, e := range all {
		v := vecs[i*dim : (i+1)*dim]
		c := nearest(centroids, v)
		l := lists[c]
		e.list, e.pos = c, len(l.entries)
		l.entries = append(l.entries, e)
		l.vecs = append(l.vecs, v...)
		l.codes = appendCode(l.codes, v)
	}
	x.lists = lists
	x.gen++
	x.builtAt = n
}

func nearest(centroids [][]float32, v []float32) int {
	best, bestScore := 0, float32(math.Inf(-1))
	for c, cv := range centroids {
		if s := dot(v, cv); s > bestScore {
			best, bestScore = c, s
		}
	}
	return best
}

func (x *Index) nearestList(v []float32) int {
	best, bestScore := 0, float32(math.Inf(-1))
	for i, l := range x.lists {
		if s := dot(v, l.centroid); s > bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

// listOrder ranks the lists by centroid similarity to v.
func (x *Index) listOrder(v []float32) []int {
	scores := make([]float32, len(x.lists))
	order := make([]int, len(x.lists))
	for i, l := range x.lists {
		scores[i] = dot(v, l.centroid)
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	return order
}
