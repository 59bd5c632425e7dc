package knowledge_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/knowledge/embed/local"
	"github.com/parley-cc/parley/knowledge/index/embedded"
	"github.com/parley-cc/parley/knowledge/latency"
)

var benchWords = strings.Fields(`account activate address agent app balance bill billing broadband cancel card charge
check contract coverage credit customer data date delete device discount email error fee fibre forward
internet invoice limit line login message mobile modem network number offer order outage password payment
phone plan port porting price refund reset roaming router service setting signal sim speed subscription
support tariff transfer upgrade usage voicemail wifi window working`)

// article makes a Markdown document of sections of plain sentences.
func benchArticle(r *rand.Rand, id int) knowledge.Document {
	var b strings.Builder
	for s := 0; s < 4; s++ {
		fmt.Fprintf(&b, "## Step %d\n", s+1)
		for n := 0; n < 9; n++ {
			words := 8 + r.IntN(10)
			for w := 0; w < words; w++ {
				word := benchWords[r.IntN(len(benchWords))]
				if w == 0 {
					word = strings.ToUpper(word[:1]) + word[1:]
				}
				b.WriteString(word)
				if w < words-1 {
					b.WriteByte(' ')
				}
			}
			b.WriteString(". ")
		}
		b.WriteString("\n\n")
	}
	return knowledge.Document{ID: fmt.Sprintf("art-%d", id), Title: "How to " + benchWords[id%len(benchWords)], Body: b.String(),
		Format: knowledge.FormatMarkdown, Status: knowledge.StatusPublished, Language: "en", Version: 1}
}

// BenchmarkIngest measures end-to-end ingestion (validate, extract, chunk,
// local embedding, BM25 and embedded index writes); run with -cpu 1.
func BenchmarkIngest(b *testing.B) {
	ctx := context.Background()
	emb := local.New(local.Options{})
	x, err := embedded.Open(embedded.Options{Dimension: emb.Dimension()})
	if err != nil {
		b.Fatal(err)
	}
	kb := knowledge.New(knowledge.Config{}, emb, x)
	r := rand.New(rand.NewPCG(1, 1))
	docs := make([]knowledge.Document, 512)
	for i := range docs {
		docs[i] = benchArticle(r, i)
	}
	chunks, chars := 0, 0
	i := 0
	start, cpu0 := time.Now(), latency.CPUTime()
	for b.Loop() {
		d := docs[i%len(docs)]
		d.ID = fmt.Sprintf("art-%d", i)
		res, err := kb.Ingest(ctx, d)
		if err != nil {
			b.Fatal(err)
		}
		chunks += res.Upserted
		chars += len(d.Body)
		i++
	}
	sec := time.Since(start).Seconds()
	cpu := (latency.CPUTime() - cpu0).Seconds()
	b.ReportMetric(float64(chunks)/sec, "chunks/s")
	// On a shared machine the process gets a fraction of a core: per
	// second of CPU it used is the throughput of a core of its own.
	b.ReportMetric(float64(chunks)/cpu, "chunks/cpu-s")
	b.ReportMetric(float64(chars)/float64(chunks), "bytes/chunk")
}

// BenchmarkHybridSearch measures a hybrid query over 20,000 chunks.
func BenchmarkHybridSearch(b *testing.B) {
	ctx := context.Background()
	emb := local.New(local.Options{})
	x, _ := embedded.Open(embedded.Options{Dimension: emb.Dimension()})
	kb := knowledge.New(knowledge.Config{}, emb, x)
	r := rand.New(rand.NewPCG(2, 2))
	n := 0
	for i := 0; n < 20000; i++ {
		res, err := kb.Ingest(ctx, benchArticle(r, i))
		if err != nil {
			b.Fatal(err)
		}
		n += res.Upserted
	}
	queries := []string{"how do I reset my router password", "roaming charges on my bill", "cancel contract refund", "sim activation error"}
	var lat latency.Latencies
	i := 0
	for b.Loop() {
		q := queries[i%len(queries)]
		if err := lat.Measure(func() error { _, err := kb.Search(ctx, knowledge.Query{Text: q, K: 5}); return err }); err != nil {
			b.Fatal(err)
		}
		i++
	}
	lat.Report(b)
}
