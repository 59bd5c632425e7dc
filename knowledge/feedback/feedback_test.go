package feedback

import (
	"context"
	"reflect"
	"sync"
	"testing"
)

func TestBoostBoundedAndQuerySpecific(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	if b := m.Boost("refund", "a"); b != 0 {
		t.Fatalf("boost without votes = %v, want 0", b)
	}
	for i := 0; i < 50; i++ {
		if err := m.Record(ctx, Vote{Query: "How do I get a refund?", DocumentID: "a", Helpful: true, Source: SourceAgent}); err != nil {
			t.Fatal(err)
		}
	}
	b := m.Boost("how to get refund", "a")
	if b <= 0.7 || b > 1 {
		t.Fatalf("boost after 50 helpful votes on a paraphrase = %v, want in (0.7, 1]", b)
	}
	if other := m.Boost("reset my password", "a"); other <= 0 || other >= 0.3 {
		t.Fatalf("boost on another query = %v, want only the small global part", other)
	}
	m.Record(ctx, Vote{Query: "password", DocumentID: "b", Helpful: false, Source: SourceBot})
	if b := m.Boost("password", "b"); b >= 0 {
		t.Fatalf("unhelpful vote gave boost %v, want negative", b)
	}
	if err := m.Record(ctx, Vote{Query: "x", DocumentID: "a", Source: "robot"}); err == nil {
		t.Fatal("unknown source accepted")
	}
	if err := m.Record(ctx, Vote{Query: "x", Source: SourceAgent}); err == nil {
		t.Fatal("empty document accepted")
	}
}

func TestAnalytics(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	m.ObserveSearch("How do I get a refund?", []string{"refund", "billing", "card", "faq"}, true)
	m.ObserveSearch("how to get refund", []string{"refund"}, true)
	m.ObserveSearch("what is the meaning of life", []string{"faq"}, false)
	m.ObserveSearch("the", nil, false) // only stop words: not a query worth counting
	m.Record(ctx, Vote{Query: "cancel contract", DocumentID: "billing", Helpful: false, Source: SourceAgent})
	m.Record(ctx, Vote{Query: "cancel contract", DocumentID: "billing", Helpful: false, Source: SourceBot})
	m.Record(ctx, Vote{Query: "refund", DocumentID: "refund", Helpful: true, Source: SourceAgent})

	if got := m.TopQueries(1); len(got) != 1 || got[0].Count != 2 || got[0].Query != "How do I get a refund?" {
		t.Fatalf("TopQueries = %+v", got)
	}
	want := []QueryStat{{"cancel contract", 2}, {"what is the meaning of life", 1}}
	if got := m.NoGoodResult(0); !reflect.DeepEqual(got, want) {
		t.Fatalf("NoGoodResult = %+v, want %+v", got, want)
	}
	if got := m.NeverUsed([]string{"refund", "billing", "card", "faq", "sim", "roaming"}); !reflect.DeepEqual(got, []string{"roaming", "sim"}) {
		t.Fatalf("NeverUsed = %v (faq at rank 4 of the first search still counts via the third search)", got)
	}
	got := m.Unhelpful(0)
	if len(got) != 1 || got[0].DocumentID != "billing" || got[0].Unhelpful != 2 || got[0].Shown != 1 {
		t.Fatalf("Unhelpful = %+v", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	m := NewMemory()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				m.Record(context.Background(), Vote{Query: "q", DocumentID: "d", Helpful: i%2 == 0, Source: SourceAgent})
				m.ObserveSearch("q", []string{"d"}, true)
				m.Boost("q", "d")
				m.TopQueries(3)
			}
		}()
	}
	wg.Wait()
	if got := m.TopQueries(1); got[0].Count != 1600 {
		t.Fatalf("count = %d, want 1600", got[0].Count)
	}
}
