// Package kbeval measures knowledge-base retrieval: it indexes documents
// from JSONL, runs labelled queries and reports Recall@1/5/10 and MRR for
// hybrid, lexical-only and vector-only search. It backs `parley kb eval`.
package kbeval

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/knowledge/embed"
	"github.com/parley-cc/parley/knowledge/embed/local"
	"github.com/parley-cc/parley/knowledge/index/embedded"
)

// Doc is one line of the documents file: {"id","title","text"}.
type Doc struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// Query is one line of the queries file: {"query","relevant":[ids]}.
type Query struct {
	Query    string   `json:"query"`
	Relevant []string `json:"relevant"`
}

// Metrics are retrieval scores averaged over queries.
type Metrics struct {
	Queries  int
	Recall1  float64
	Recall5  float64
	Recall10 float64
	MRR      float64 // reciprocal rank of the first relevant hit, 0 beyond rank 10
}

func (m Metrics) String() string {
	return fmt.Sprintf("n=%d R@1=%.3f R@5=%.3f R@10=%.3f MRR=%.3f", m.Queries, m.Recall1, m.Recall5, m.Recall10, m.MRR)
}

// Report holds the metrics of each search mode.
type Report struct {
	Hybrid, Lexical, Vector Metrics
}

// ReadDocs parses JSONL documents; blank lines are skipped.
func ReadDocs(r io.Reader) ([]Doc, error) {
	var out []Doc
	err := readJSONL(r, func(line int, raw []byte) error {
		var d Doc
		if err := json.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if d.ID == "" {
			return fmt.Errorf("line %d: document has no id", line)
		}
		if strings.TrimSpace(d.Title+d.Text) == "" {
			return fmt.Errorf("line %d: document %q has neither title nor text", line, d.ID)
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// ReadQueries parses JSONL queries; blank lines are skipped.
func ReadQueries(r io.Reader) ([]Query, error) {
	var out []Query
	err := readJSONL(r, func(line int, raw []byte) error {
		var q Query
		if err := json.Unmarshal(raw, &q); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if strings.TrimSpace(q.Query) == "" {
			return fmt.Errorf("line %d: empty query", line)
		}
		if len(q.Relevant) == 0 {
			return fmt.Errorf("line %d: query %q lists no relevant document", line, q.Query)
		}
		out = append(out, q)
		return nil
	})
	return out, err
}

func readJSONL(r io.Reader, fn func(line int, raw []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Bytes()
		if len(strings.TrimSpace(string(raw))) == 0 {
			continue
		}
		if err := fn(line, raw); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	return nil
}

// ReadFiles reads a documents file and a queries file.
func ReadFiles(docsPath, queriesPath string) ([]Doc, []Query, error) {
	df, err := os.Open(docsPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read documents: %w", err)
	}
	defer df.Close()
	docs, err := ReadDocs(df)
	if err != nil {
		return nil, nil, fmt.Errorf("read documents %s: %w", docsPath, err)
	}
	qf, err := os.Open(queriesPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read queries: %w", err)
	}
	defer qf.Close()
	queries, err := ReadQueries(qf)
	if err != nil {
		return nil, nil, fmt.Errorf("read queries %s: %w", queriesPath, err)
	}
	return docs, queries, nil
}

// Options choose what is evaluated; zero values use the production defaults.
type Options struct {
	Config   knowledge.Config // ranking parameters
	Embedder embed.Embedder   // default: local.New(local.Options{})
}

// Build indexes docs into an in-memory knowledge base and trains the
// embedder on them.
func Build(ctx context.Context, docs []Doc, o Options) (*knowledge.Base, error) {
	emb := o.Embedder
	if emb == nil {
		emb = local.New(local.Options{})
	}
	idx, err := embedded.Open(embedded.Options{Dimension: emb.Dimension()})
	if err != nil {
		return nil, fmt.Errorf("build evaluation index: %w", err)
	}
	kb := knowledge.New(o.Config, emb, idx)
	for _, d := range docs {
		_, err := kb.Ingest(ctx, knowledge.Document{
			ID: d.ID, Title: d.Title, Body: d.Text, Format: knowledge.FormatText, Status: knowledge.StatusPublished, Version: 1,
		})
		if err != nil {
			return nil, fmt.Errorf("build evaluation index: %w", err)
		}
	}
	if _, err := kb.Retrain(ctx); err != nil {
		return nil, fmt.Errorf("build evaluation index: %w", err)
	}
	return kb, nil
}

// Evaluate runs queries against kb in one mode.
func Evaluate(ctx context.Context, kb *knowledge.Base, queries []Query, mode knowledge.Mode) (Metrics, error) {
	var m Metrics
	for _, q := range queries {
		hits, err := kb.Search(ctx, knowledge.Query{Text: q.Query, K: 10, Mode: mode})
		if err != nil {
			return m, fmt.Errorf("evaluate query %q: %w", q.Query, err)
		}
		rel := map[string]bool{}
		for _, id := range q.Relevant {
			rel[id] = true
		}
		rank := 0
		for i, h := range hits {
			if rel[h.DocumentID] {
				rank = i + 1
				break
			}
		}
		m.Queries++
		if rank == 1 {
			m.Recall1++
		}
		if rank >= 1 && rank <= 5 {
			m.Recall5++
		}
		if rank >= 1 && rank <= 10 {
			m.Recall10++
			m.MRR += 1 / float64(rank)
		}
	}
	if m.Queries > 0 {
		n := float64(m.Queries)
		m.Recall1 /= n
		m.Recall5 /= n
		m.Recall10 /= n
		m.MRR /= n
	}
	return m, nil
}

// Run builds a knowledge base from docs and evaluates queries in every mode.
func Run(ctx context.Context, docs []Doc, queries []Query, o Options) (Report, error) {
	var r Report
	kb, err := Build(ctx, docs, o)
	if err != nil {
		return r, err
	}
	for _, mm := range []struct {
		mode knowledge.Mode
		dst  *Metrics
	}{{knowledge.Hybrid, &r.Hybrid}, {knowledge.LexicalOnly, &r.Lexical}, {knowledge.VectorOnly, &r.Vector}} {
		if *mm.dst, err = Evaluate(ctx, kb, queries, mm.mode); err != nil {
			return r, err
		}
	}
	return r, nil
}

// RunFiles is Run over a documents file and a queries file, as
// `parley kb eval --docs F --queries F` calls it.
func RunFiles(ctx context.Context, docsPath, queriesPath string, o Options) (Report, error) {
	docs, queries, err := ReadFiles(docsPath, queriesPath)
	if err != nil {
		return Report{}, err
	}
	return Run(ctx, docs, queries, o)
}

// String renders the report as a small table.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %6s %6s %6s %6s %6s\n", "mode", "n", "R@1", "R@5", "R@10", "MRR")
	for _, row := range []struct {
		name string
		m    Metrics
	}{{"hybrid", r.Hybrid}, {"lexical", r.Lexical}, {"vector", r.Vector}} {
		fmt.Fprintf(&b, "%-8s %6d %6.3f %6.3f %6.3f %6.3f\n", row.name, row.m.Queries, row.m.Recall1, row.m.Recall5, row.m.Recall10, row.m.MRR)
	}
	return b.String()
}
