// Package indextest is the contract every index.Index backend must pass:
// exact nearest-neighbour order on small sets, upsert-replaces, deletes,
// chunk listing, payload round trips and every filter.
package indextest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/parley-cc/parley/knowledge/index"
)

// Opener returns a fresh, empty index of the given dimension; the suite
// closes it.
type Opener func(t *testing.T, dim int) index.Index

const dim = 16

func vec(r *rand.Rand) []float32 {
	v := make([]float32, dim)
	var n float64
	for i := range v {
		v[i] = float32(r.NormFloat64())
		n += float64(v[i]) * float64(v[i])
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// corpus builds points across documents with varied payloads.
func corpus(r *rand.Rand, n int) []index.Point {
	cats := [][]string{{"billing"}, {"billing", "refunds"}, {"billing", "refunds", "card"}, {"network"}, {"network", "outage"}}
	langs := []string{"en", "fr", "de"}
	tags := [][]string{nil, {"vip"}, {"vip", "mobile"}, {"mobile"}}
	pts := make([]index.Point, n)
	for i := range pts {
		doc := fmt.Sprintf("doc-%d", i/3)
		p := index.Point{
			ID: fmt.Sprintf("%s#%d", doc, i%3), DocumentID: doc, Version: 1 + i%4, Chunk: i % 3,
			Hash: fmt.Sprintf("h%d", i), Category: cats[i%len(cats)], Language: langs[i%len(langs)],
			Tags: tags[i%len(tags)], Published: i%5 != 0, Vector: vec(r),
		}
		switch i % 7 {
		case 1:
			p.ValidFrom = 2_000_000_000 // future
		case 2:
			p.ValidUntil = 1_000_000_000 // expired in 2001
		case 3:
			p.ValidFrom, p.ValidUntil = 1_500_000_000, 1_900_000_000
		}
		pts[i] = p
	}
	return pts
}

// brute returns the expected ids of the k best points passing f.
func brute(pts []index.Point, q []float32, k int, f index.Filter) []string {
	type s struct {
		id    string
		score float32
	}
	var all []s
	for i := range pts {
		if f.Match(&pts[i]) {
			all = append(all, s{pts[i].ID, dot(q, pts[i].Vector)})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].score > all[j].score })
	var ids []string
	for i := 0; i < len(all) && i < k; i++ {
		ids = append(ids, all[i].id)
	}
	return ids
}

func ids(hits []index.Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.ID)
	}
	return out
}

// Run runs the contract against indexes made by open.
func Run(t *testing.T, open Opener) {
	ctx := context.Background()
	setup := func(t *testing.T, n int) (index.Index, []index.Point, *rand.Rand) {
		t.Helper()
		x := open(t, dim)
		t.Cleanup(func() { x.Close() })
		r := rand.New(rand.NewPCG(7, uint64(n)))
		pts := corpus(r, n)
		if err := x.Upsert(ctx, pts); err != nil {
			t.Fatalf("upsert %d points: %v", n, err)
		}
		return x, pts, r
	}

	t.Run("NearestOrderMatchesBruteForce", func(t *testing.T) {
		x, pts, r := setup(t, 300)
		for i := 0; i < 20; i++ {
			q := vec(r)
			hits, err := x.Search(ctx, q, 10, index.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := ids(hits), brute(pts, q, 10, index.Filter{}); !reflect.DeepEqual(got, want) {
				t.Fatalf("query %d: got %v, want %v", i, got, want)
			}
			for j := 1; j < len(hits); j++ {
				if hits[j].Score > hits[j-1].Score {
					t.Fatalf("scores not descending: %v", hits)
				}
			}
			if d := math.Abs(float64(hits[0].Score - dot(q, pts[indexOf(pts, hits[0].ID)].Vector))); d > 1e-4 {
				t.Fatalf("score %v is not the dot product (off by %v)", hits[0].Score, d)
			}
		}
	})

	t.Run("PayloadRoundTrip", func(t *testing.T) {
		x, pts, _ := setup(t, 30)
		for _, i := range []int{0, 3, 9, 16} {
			p := pts[i]
			hits, err := x.Search(ctx, p.Vector, 1, index.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) != 1 {
				t.Fatalf("want one hit, got %d", len(hits))
			}
			got := hits[0].Point
			want := p
			want.Vector = nil
			if len(want.Tags) == 0 {
				want.Tags = nil
			}
			if len(got.Tags) == 0 {
				got.Tags = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("payload round trip:\n got %+v\nwant %+v", got, want)
			}
		}
	})

	t.Run("Filters", func(t *testing.T) {
		x, pts, r := setup(t, 210)
		now := time.Unix(1_700_000_000, 0)
		filters := []index.Filter{
			{CategoryPrefix: []string{"billing"}},
			{CategoryPrefix: []string{"billing", "refunds"}},
			{CategoryPrefix: []string{"billing", "refunds", "card"}},
			{CategoryPrefix: []string{"bill"}}, // segment prefixes do not match
			{Language: "fr"},
			{Tags: []string{"vip"}},
			{Tags: []string{"vip", "mobile"}},
			{At: now},
			{PublishedOnly: true},
			{CategoryPrefix: []string{"network"}, Language: "en", Tags: []string{"mobile"}, At: now, PublishedOnly: true},
		}
		for fi, f := range filters {
			q := vec(r)
			hits, err := x.Search(ctx, q, 8, f)
			if err != nil {
				t.Fatal(err)
			}
			want := brute(pts, q, 8, f)
			if got := ids(hits); !reflect.DeepEqual(got, want) {
				t.Fatalf("filter %d %+v: got %v, want %v", fi, f, got, want)
			}
			if fi == 3 && len(hits) != 0 {
				t.Fatalf("category prefix must match whole segments, got %v", ids(hits))
			}
			if fi != 3 && len(want) == 0 {
				t.Fatalf("filter %d selects nothing: the corpus does not exercise it", fi)
			}
		}
	})

	t.Run("UpsertReplaces", func(t *testing.T) {
		x, pts, r := setup(t, 60)
		q := vec(r)
		moved := pts[10]
		moved.Vector = q
		moved.Hash = "changed"
		moved.Published = true
		moved.ValidFrom, moved.ValidUntil = 0, 0
		if err := x.Upsert(ctx, []index.Point{moved}); err != nil {
			t.Fatal(err)
		}
		hits, err := x.Search(ctx, q, 3, index.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) == 0 || hits[0].ID != moved.ID || hits[0].Hash != "changed" {
			t.Fatalf("replaced point is not first with new payload: %+v", hits)
		}
		refs, err := x.Chunks(ctx, moved.DocumentID)
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) != 3 {
			t.Fatalf("document %s has %d chunks after replace, want 3: %v", moved.DocumentID, len(refs), refs)
		}
	})

	t.Run("DeleteAndChunks", func(t *testing.T) {
		x, pts, r := setup(t, 60)
		refs, err := x.Chunks(ctx, "doc-4")
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(refs, func(i, j int) bool { return refs[i].ID < refs[j].ID })
		want := []index.ChunkRef{{ID: "doc-4#0", Hash: "h12"}, {ID: "doc-4#1", Hash: "h13"}, {ID: "doc-4#2", Hash: "h14"}}
		if !reflect.DeepEqual(refs, want) {
			t.Fatalf("chunks of doc-4: got %v, want %v", refs, want)
		}
		if err := x.Delete(ctx, []string{"doc-4#1", "no-such-id"}); err != nil {
			t.Fatal(err)
		}
		if err := x.DeleteDocument(ctx, "doc-7"); err != nil {
			t.Fatal(err)
		}
		var left []index.Point
		for _, p := range pts {
			if p.ID != "doc-4#1" && p.DocumentID != "doc-7" {
				left = append(left, p)
			}
		}
		for i := 0; i < 10; i++ {
			q := vec(r)
			hits, err := x.Search(ctx, q, 60, index.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := ids(hits), brute(left, q, 60, index.Filter{}); !reflect.DeepEqual(got, want) {
				t.Fatalf("after deletes: got %d hits %v, want %d %v", len(got), got, len(want), want)
			}
		}
		if refs, _ := x.Chunks(ctx, "doc-7"); len(refs) != 0 {
			t.Fatalf("deleted document still has chunks %v", refs)
		}
	})

	t.Run("DimensionMismatch", func(t *testing.T) {
		x, _, _ := setup(t, 5)
		if _, err := x.Search(ctx, make([]float32, dim+1), 3, index.Filter{}); !errors.Is(err, index.ErrDimension) {
			t.Fatalf("search with wrong dimension: err = %v, want ErrDimension", err)
		}
		err := x.Upsert(ctx, []index.Point{{ID: "bad", DocumentID: "bad", Vector: make([]float32, dim-1)}})
		if !errors.Is(err, index.ErrDimension) {
			t.Fatalf("upsert with wrong dimension: err = %v, want ErrDimension", err)
		}
	})
}

func indexOf(pts []index.Point, id string) int {
	for i := range pts {
		if pts[i].ID == id {
			return i
		}
	}
	return -1
}
