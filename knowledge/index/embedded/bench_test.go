package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/parley-cc/parley/knowledge/index"
	"github.com/parley-cc/parley/knowledge/latency"
)

// benchCorpus makes n unit vectors around 1,000 topic centres (chunks of a
// knowledge base cluster by topic) plus queries near random chunks.
func benchCorpus(n, dim, queries int) ([]index.Point, [][]float32) {
	r := rand.New(rand.NewPCG(11, uint64(n)))
	centres := make([][]float32, 1000)
	for i := range centres {
		centres[i] = gauss(r, dim, 1)
	}
	pts := make([]index.Point, n)
	for i := range pts {
		c := centres[r.IntN(len(centres))]
		v := gauss(r, dim, 0.08)
		for j := range v {
			v[j] += c[j] / 16 // |c| ~ 16 for dim 256: centre and noise of similar weight
		}
		pts[i] = index.Point{
			ID: fmt.Sprintf("doc-%d#%d", i/4, i%4), DocumentID: fmt.Sprintf("doc-%d", i/4),
			Category: []string{"cat", fmt.Sprint(i % 10)}, Language: "en", Published: i%20 != 0, Vector: normalize(v),
		}
		if i%50 == 0 {
			pts[i].ValidUntil = 1_000_000_000 // an expired article
		}
	}
	qs := make([][]float32, queries)
	for i := range qs {
		base := pts[r.IntN(n)].Vector
		v := gauss(r, dim, 0.05)
		for j := range v {
			v[j] += base[j]
		}
		qs[i] = normalize(v)
	}
	return pts, qs
}

func gauss(r *rand.Rand, dim int, s float64) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(r.NormFloat64() * s)
	}
	return v
}

// BenchmarkSearch measures one query at a time (run with -cpu 1) and
// reports p50/p99 latency and, for IVF, recall@10 against exhaustive search.
func BenchmarkSearch(b *testing.B) {
	const dim = 256
	// Every knowledge-base search filters on publication and validity at
	// least; editors and assist add a category or language.
	now := time.Now()
	kbFilter := index.Filter{PublishedOnly: true, At: now}
	filter := index.Filter{CategoryPrefix: []string{"cat", "3"}, PublishedOnly: true, Language: "en", At: now}
	for _, c := range []struct {
		name     string
		n        int
		quantMin int
		ivfMin   int
		probes   int
		filter   index.Filter
	}{
		{"exact/10k", 10_000, -1, 0, 0, index.Filter{}},
		{"exact/100k", 100_000, -1, 0, 0, index.Filter{}},
		{"quantized/100k", 100_000, 20_000, 0, 0, index.Filter{}},
		{"quantized/100k/published", 100_000, 20_000, 0, 0, kbFilter},
		{"quantized/100k/filtered", 100_000, 20_000, 0, 0, filter},
		{"exact/10k/published", 10_000, -1, 0, 0, kbFilter},
		{"ivf/100k/probes16", 100_000, -1, 20_000, 16, index.Filter{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			pts, qs := benchCorpus(c.n, dim, 200)
			x, err := Open(Options{Dimension: dim, QuantizedMinPoints: c.quantMin, IVFMinPoints: c.ivfMin, Probes: c.probes})
			if err != nil {
				b.Fatal(err)
			}
			for start := 0; start < len(pts); start += 5000 {
				if err := x.Upsert(ctx, pts[start:min(start+5000, len(pts))]); err != nil {
					b.Fatal(err)
				}
			}
			recall := -1.0
			if c.ivfMin > 0 || c.quantMin > 0 {
				exact, _ := Open(Options{Dimension: dim, QuantizedMinPoints: -1})
				exact.Upsert(ctx, pts)
				found, total := 0, 0
				for _, q := range qs[:100] {
					want, _ := exact.Search(ctx, q, 10, c.filter)
					got, _ := x.Search(ctx, q, 10, c.filter)
					for _, w := range want {
						total++
						if slices.ContainsFunc(got, func(h index.Hit) bool { return h.ID == w.ID }) {
							found++
						}
					}
				}
				recall = float64(found) / float64(total)
			}
			var lat latency.Latencies
			i := 0
			b.ResetTimer()
			for b.Loop() {
				q := qs[i%len(qs)]
				if err := lat.Measure(func() error { _, err := x.Search(ctx, q, 10, c.filter); return err }); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.StopTimer()
			lat.Report(b)
			if recall >= 0 {
				b.ReportMetric(recall, "recall@10")
			}
		})
	}
}
