package embedded

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-cc/parley/knowledge/index"
	"github.com/parley-cc/parley/knowledge/index/indextest"
)

func TestContract(t *testing.T) {
	indextest.Run(t, func(t *testing.T, dim int) index.Index {
		x, err := Open(Options{Dimension: dim, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return x
	})
}

// TestContractQuantized runs the contract with the sign-code search and its
// cached filter selections on from the first point.
func TestContractQuantized(t *testing.T) {
	indextest.Run(t, func(t *testing.T, dim int) index.Index {
		x, err := Open(Options{Dimension: dim, QuantizedMinPoints: 1})
		if err != nil {
			t.Fatal(err)
		}
		return x
	})
}

// TestSelectionFollowsWrites: a cached filter selection is rebuilt after
// every write, so unpublishing, re-categorising, deleting and expiring
// points show in the next search.
func TestSelectionFollowsWrites(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(9, 9))
	pts := randomPoints(r, 3000, 32)
	for i := range pts {
		pts[i].Published = true
		pts[i].Category = []string{"billing"}
	}
	x, _ := Open(Options{Dimension: 32, QuantizedMinPoints: 1000})
	if err := x.Upsert(ctx, pts); err != nil {
		t.Fatal(err)
	}
	f := index.Filter{PublishedOnly: true, CategoryPrefix: []string{"billing"}, At: time.Unix(1_700_000_000, 0)}
	top := func() string {
		hits, err := x.Search(ctx, pts[42].Vector, 1, f)
		if err != nil || len(hits) != 1 {
			t.Fatalf("search: %v %v", hits, err)
		}
		return hits[0].ID
	}
	if got := top(); got != pts[42].ID {
		t.Fatalf("top %s, want %s", got, pts[42].ID)
	}
	for _, change := range []func(p *index.Point){
		func(p *index.Point) { p.Published = false },
		func(p *index.Point) { p.Category = []string{"network"} },
		func(p *index.Point) { p.ValidUntil = 1_600_000_000 },
		func(p *index.Point) { p.ValidFrom = 1_800_000_000 },
	} {
		p := pts[42]
		change(&p)
		if err := x.Upsert(ctx, []index.Point{p}); err != nil {
			t.Fatal(err)
		}
		if got := top(); got == pts[42].ID {
			t.Fatalf("point %s still found after %+v", got, p)
		}
		if err := x.Upsert(ctx, []index.Point{pts[42]}); err != nil {
			t.Fatal(err)
		}
		if got := top(); got != pts[42].ID {
			t.Fatalf("restored point not found first: %s", got)
		}
	}
	if err := x.Delete(ctx, []string{pts[42].ID}); err != nil {
		t.Fatal(err)
	}
	if got := top(); got == pts[42].ID {
		t.Fatal("deleted point still found")
	}
}

func randomPoints(r *rand.Rand, n, dim int) []index.Point {
	pts := make([]index.Point, n)
	for i := range pts {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		pts[i] = index.Point{ID: "p" + string(rune('a'+i%26)) + itoa(i), DocumentID: "d" + itoa(i/4), Category: []string{"c", itoa(i % 3)},
			Tags: []string{"t" + itoa(i%2)}, Language: "en", Published: true, Hash: itoa(i), Vector: normalize(v)}
	}
	return pts
}

func itoa(i int) string {
	return string(rune('0'+i/1000%10)) + string(rune('0'+i/100%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
}

func normalize(v []float32) []float32 {
	var n float32
	for _, f := range v {
		n += f * f
	}
	out := make([]float32, len(v))
	for i := range v {
		out[i] = v[i] / sqrt32(n)
	}
	return out
}

func sqrt32(x float32) float32 {
	z := x
	for i := 0; i < 30; i++ {
		z = (z + x/z) / 2
	}
	return z
}

func TestPersistRoundTripAndCorruption(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x, err := Open(Options{Dimension: 8, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	pts := randomPoints(rand.New(rand.NewPCG(1, 2)), 50, 8)
	if err := x.Upsert(ctx, pts); err != nil {
		t.Fatal(err)
	}
	if err := x.Delete(ctx, []string{pts[3].ID}); err != nil {
		t.Fatal(err)
	}
	want, _ := x.Search(ctx, pts[10].Vector, 5, index.Filter{Tags: []string{"t0000"}})
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	y, err := Open(Options{Dimension: 8, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if y.Len() != 49 {
		t.Fatalf("reopened index has %d points, want 49", y.Len())
	}
	got, _ := y.Search(ctx, pts[10].Vector, 5, index.Filter{Tags: []string{"t0000"}})
	if len(want) == 0 {
		t.Fatal("filtered search found nothing before reopen")
	}
	if len(got) != len(want) || got[0].ID != want[0].ID || got[len(got)-1].ID != want[len(want)-1].ID {
		t.Fatalf("search after reopen differs: got %v want %v", got, want)
	}
	y.Close()
	if _, err := Open(Options{Dimension: 16, Dir: dir}); err == nil {
		t.Fatal("opening with another dimension must fail")
	}
	path := filepath.Join(dir, fileName)
	data, _ := os.ReadFile(path)
	data[len(data)/2] ^= 0xff
	os.WriteFile(path, data, 0o644)
	if _, err := Open(Options{Dimension: 8, Dir: dir}); err == nil {
		t.Fatal("opening a corrupted file must fail")
	}
}

// TestIVFRecall checks that IVF search finds what exhaustive search finds
// on clustered data, and that restrictive filters still return k hits.
func TestIVFRecall(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	const n, dim = 4000, 32
	pts := clustered(r, n, dim, 40)
	exact, _ := Open(Options{Dimension: dim, QuantizedMinPoints: -1})
	ivf, _ := Open(Options{Dimension: dim, QuantizedMinPoints: -1, IVFMinPoints: 1000, Probes: 8})
	for _, x := range []*Index{exact, ivf} {
		if err := x.Upsert(ctx, pts); err != nil {
			t.Fatal(err)
		}
	}
	if len(ivf.lists) < 16 {
		t.Fatalf("IVF not built: %d lists", len(ivf.lists))
	}
	found, total := 0, 0
	for i := 0; i < 100; i++ {
		q := jitter(r, pts[r.IntN(n)].Vector, 0.3)
		a, _ := exact.Search(ctx, q, 10, index.Filter{})
		b, _ := ivf.Search(ctx, q, 10, index.Filter{})
		set := map[string]bool{}
		for _, h := range b {
			set[h.ID] = true
		}
		for _, h := range a {
			total++
			if set[h.ID] {
				found++
			}
		}
	}
	if recall := float64(found) / float64(total); recall < 0.9 {
		t.Fatalf("IVF recall@10 = %.3f, want >= 0.9", recall)
	}
	// A filter matching 1 point in 4000 must still find it.
	hits, _ := ivf.Search(ctx, pts[0].Vector, 3, index.Filter{CategoryPrefix: []string{"rare"}})
	if len(hits) != 1 || hits[0].ID != "rare" {
		t.Fatalf("restrictive filter under IVF: got %v", hits)
	}
}

// TestQuantizedRecall checks the sign-code pre-selection against exact
// search on clustered data, with and without a filter.
func TestQuantizedRecall(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 6))
	const n, dim = 6000, 64
	pts := clustered(r, n, dim, 60)
	exact, _ := Open(Options{Dimension: dim, QuantizedMinPoints: -1})
	quant, _ := Open(Options{Dimension: dim, QuantizedMinPoints: 1000})
	for _, x := range []*Index{exact, quant} {
		if err := x.Upsert(ctx, pts); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []index.Filter{{}, {CategoryPrefix: []string{"c", "0001"}}} {
		found, total := 0, 0
		for i := 0; i < 100; i++ {
			q := jitter(r, pts[r.IntN(n)].Vector, 0.3)
			a, _ := exact.Search(ctx, q, 10, f)
			b, _ := quant.Search(ctx, q, 10, f)
			if len(b) != len(a) {
				t.Fatalf("quantized search returned %d hits, exact %d", len(b), len(a))
			}
			set := map[string]bool{}
			for _, h := range b {
				set[h.ID] = true
				if !f.Match(&h.Point) {
					t.Fatalf("hit %s fails the filter", h.ID)
				}
			}
			for _, h := range a {
				total++
				if set[h.ID] {
					found++
				}
			}
		}
		if recall := float64(found) / float64(total); recall < 0.9 {
			t.Fatalf("filter %+v: quantized recall@10 = %.3f, want >= 0.9", f, recall)
		}
	}
	hits, _ := quant.Search(ctx, pts[0].Vector, 3, index.Filter{CategoryPrefix: []string{"rare"}})
	if len(hits) != 1 || hits[0].ID != "rare" {
		t.Fatalf("restrictive filter under quantized search: got %v", hits)
	}
}

func clustered(r *rand.Rand, n, dim, k int) []index.Point {
	centers := make([][]float32, k)
	for i := range centers {
		centers[i] = randomPoints(r, 1, dim)[0].Vector
	}
	pts := randomPoints(r, n, dim)
	for i := range pts {
		pts[i].Vector = jitter(r, centers[i%k], 0.5)
	}
	pts[n-1].ID, pts[n-1].Category = "rare", []string{"rare"}
	return pts
}

func jitter(r *rand.Rand, v []float32, s float64) []float32 {
	out := make([]float32, len(v))
	for i := range v {
		out[i] = v[i] + float32(s*r.NormFloat64()/float64(len(v))*4)
	}
	return normalize(out)
}

// TestBackgroundFlushUnderLoad writes while the flusher runs (for -race)
// and checks that a reopened index holds every write.
func TestBackgroundFlushUnderLoad(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x, err := Open(Options{Dimension: 8, Dir: dir, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pts := randomPoints(rand.New(rand.NewPCG(9, 9)), 400, 8)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < len(pts); i += 4 {
				if err := x.Upsert(ctx, pts[i:i+1]); err != nil {
					t.Error(err)
				}
				x.Search(ctx, pts[i].Vector, 3, index.Filter{})
			}
		}(g)
	}
	wg.Wait()
	time.Sleep(20 * time.Millisecond) // let the flusher write at least once more
	if _, err := os.Stat(filepath.Join(dir, fileName)); err != nil {
		t.Fatalf("flusher wrote nothing: %v", err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	y, err := Open(Options{Dimension: 8, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if y.Len() != 400 {
		t.Fatalf("reopened index has %d points, want 400", y.Len())
	}
}
