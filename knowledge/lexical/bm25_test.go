package lexical

import (
	"fmt"
	"math"
	"testing"
)

func TestBM25RanksAndWeighsFields(t *testing.T) {
	x := New(Options{})
	x.Put("title-match", Field{Text: "Refund policy", Weight: 3}, Field{Text: "How money comes back to you."})
	x.Put("body-match", Field{Text: "Shipping", Weight: 3}, Field{Text: "We ship. A refund is possible."})
	x.Put("other", Field{Text: "Passwords", Weight: 3}, Field{Text: "Reset your password from the sign-in page."})
	hits := x.Search("refunds", 10, nil)
	if len(hits) != 2 || hits[0].ID != "title-match" || hits[1].ID != "body-match" {
		t.Fatalf("hits = %+v, want title match before body match and nothing else", hits)
	}
	// Exact BM25 for the single-term query on "body-match": tf 1, df 2, N 3.
	n, df := 3.0, 2.0
	idf := math.Log(1 + (n-df+0.5)/(df+0.5))
	avg := (9 + 6 + 7) / 3.0 // weighted lengths: 3 per title term + body terms without stop words
	norm := 1.2 * (1 - 0.75 + 0.75*6/avg)
	want := idf * 1 * 2.2 / (1 + norm)
	if math.Abs(hits[1].Score-want) > 1e-9 {
		t.Fatalf("score %v, want %v", hits[1].Score, want)
	}
	if hits := x.Search("refund", 10, func(id string) bool { return id != "title-match" }); len(hits) != 1 || hits[0].ID != "body-match" {
		t.Fatalf("filtered hits = %+v", hits)
	}
	if hits := x.Search("the and of", 10, nil); hits != nil {
		t.Fatalf("stop-word query matched %+v", hits)
	}
}

func TestReplaceRemoveAndCompaction(t *testing.T) {
	x := New(Options{})
	for i := 0; i < 300; i++ {
		x.Put(fmt.Sprintf("d%d", i), Field{Text: fmt.Sprintf("common word%d", i)})
	}
	x.Put("d5", Field{Text: "replaced text"})
	if hits := x.Search("word5", 10, nil); len(hits) != 0 {
		t.Fatalf("old text of replaced entry still matches: %+v", hits)
	}
	for i := 0; i < 250; i++ {
		x.Remove(fmt.Sprintf("d%d", i))
	}
	if x.Len() != 50 {
		t.Fatalf("Len = %d, want 50", x.Len())
	}
	hits := x.Search("common word260", 5, nil)
	if len(hits) != 5 || hits[0].ID != "d260" {
		t.Fatalf("after compaction: %+v", hits)
	}
	for _, h := range hits {
		var n int
		fmt.Sscanf(h.ID, "d%d", &n)
		if n < 250 {
			t.Fatalf("removed entry %s returned", h.ID)
		}
	}
}
