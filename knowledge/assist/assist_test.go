package assist

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/knowledge/embed/local"
	"github.com/parley-cc/parley/knowledge/index/embedded"
	"github.com/parley-cc/parley/knowledge/kbeval"
	"github.com/parley-cc/parley/knowledge/latency"
)

func base(t testing.TB, docs []knowledge.Document) *knowledge.Base {
	t.Helper()
	emb := local.New(local.Options{})
	idx, err := embedded.Open(embedded.Options{Dimension: emb.Dimension()})
	if err != nil {
		t.Fatal(err)
	}
	kb := knowledge.New(knowledge.Config{}, emb, idx)
	for _, d := range docs {
		if _, err := kb.Ingest(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kb.Retrain(context.Background()); err != nil {
		t.Fatal(err)
	}
	return kb
}

func doc(id, title, body string) knowledge.Document {
	return knowledge.Document{ID: id, Title: title, Body: body, Format: knowledge.FormatText, Status: knowledge.StatusPublished, Version: 1, Language: "en"}
}

var docs = []knowledge.Document{
	doc("router", "Router will not connect", "Unplug the router for 30 seconds. Plug it back in and wait until the light turns green."),
	doc("refund", "Refund to a card", "Refunds reach the card within 5 working days. Ask for the order number first."),
	doc("roaming", "Roaming charges abroad", "Roaming in the EU costs nothing extra. Outside the EU a daily pass costs 5 euros."),
}

func TestSuggestionsPushedDeduplicatedAndSkipped(t *testing.T) {
	ctx := context.Background()
	s := New(base(t, docs), Options{})
	ch, cancel := s.Subscribe("call-1")
	defer cancel()
	other, cancelOther := s.Subscribe("call-2")
	defer cancelOther()

	sg, err := s.Utterance(ctx, Utterance{CallID: "call-1", Speaker: "caller", Text: "my router will not connect to the internet", Final: true})
	if err != nil {
		t.Fatal(err)
	}
	got := <-ch
	if got.Seq != 1 || got.Passages[0].DocumentID != "router" || got.Reply == "" || got.Passages[0].Version != 1 {
		t.Fatalf("suggestion %+v", got)
	}
	if sg.Seq != got.Seq {
		t.Fatalf("returned %d, pushed %d", sg.Seq, got.Seq)
	}
	// The agent repeats the topic: suppressed.
	if _, err := s.Utterance(ctx, Utterance{CallID: "call-1", Speaker: "agent", Text: "so the router does not connect at all", Final: true}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("repeat topic: %v, want ErrDuplicate", err)
	}
	for _, u := range []struct {
		u    Utterance
		want error
	}{
		{Utterance{CallID: "call-1", Text: "what about a refund to my card", Final: false}, ErrNotFinal},
		{Utterance{CallID: "call-1", Text: "ok thanks", Final: true}, ErrTooShort},
		{Utterance{CallID: "call-1", Text: "quantum chromodynamics lattice gauge", Final: true}, ErrNothing},
		{Utterance{Text: "refund to my card please", Final: true}, ErrInvalidTurn},
	} {
		if _, err := s.Utterance(ctx, u.u); !errors.Is(err, u.want) {
			t.Fatalf("%q: %v, want %v", u.u.Text, err, u.want)
		}
	}
	// A new topic, from either side, is pushed.
	if _, err := s.Utterance(ctx, Utterance{CallID: "call-1", Speaker: "agent", Text: "I can refund that to your card", Final: true}); err != nil {
		t.Fatal(err)
	}
	if got := <-ch; got.Seq != 2 || got.Passages[0].DocumentID != "refund" || got.Speaker != "agent" {
		t.Fatalf("second suggestion %+v", got)
	}
	select {
	case sg := <-other:
		t.Fatalf("call-2 received call-1's suggestion %+v", sg)
	default:
	}
	s.EndCall("call-1")
	if _, ok := <-ch; ok {
		t.Fatal("subscription open after EndCall")
	}
}

// BenchmarkAssistLatency measures from a final utterance to the suggestion
// on a subscriber's channel, over StackFAQ (125 threads) with the offline
// embedder; the paraphrases are the utterances. Reports p50/p99.
func BenchmarkAssistLatency(b *testing.B) {
	data, ok := kbeval.FindData()
	if !ok {
		b.Skip("shared data folder not found (set PARLEY_DATA)")
	}
	edocs, queries, err := kbeval.StackFAQ(data + "/faq/stackfaq")
	if err != nil {
		b.Skip(err)
	}
	var kdocs []knowledge.Document
	for _, d := range edocs {
		kdocs = append(kdocs, doc(d.ID, d.Title, d.Text))
	}
	s := New(base(b, kdocs), Options{Timeout: time.Second})
	ctx := context.Background()
	var lat latency.Latencies
	i := 0
	for b.Loop() {
		call := fmt.Sprintf("call-%d", i) // a fresh call each time: no duplicate suppression
		ch, cancel := s.Subscribe(call)
		start, cpu0 := time.Now(), latency.CPUTime()
		_, err := s.Utterance(ctx, Utterance{CallID: call, Speaker: "caller", Text: queries[i%len(queries)].Query, Final: true})
		if err == nil {
			<-ch
			lat.Add(time.Since(start), latency.CPUTime()-cpu0)
		}
		cancel()
		s.EndCall(call)
		i++
	}
	lat.Report(b)
	b.ReportMetric(float64(lat.Len())/float64(i), "suggested/utterance")
}

// TestLateSuggestionNotPushed: a search over the bound yields ErrLate and
// nothing on the agent's channel.
func TestLateSuggestionNotPushed(t *testing.T) {
	s := New(base(t, docs), Options{Timeout: time.Nanosecond})
	ch, cancel := s.Subscribe("call-late")
	defer cancel()
	_, err := s.Utterance(context.Background(), Utterance{CallID: "call-late", Speaker: "caller", Text: "my router will not connect to the internet", Final: true})
	if !errors.Is(err, ErrLate) {
		t.Fatalf("err %v, want ErrLate", err)
	}
	select {
	case sg := <-ch:
		t.Fatalf("late suggestion pushed: %+v", sg)
	default:
	}
}
