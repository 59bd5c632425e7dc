package kbeval

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/knowledge/embed/local"
)

// TestTuneStackFAQ is a parameter sweep on the EVEN threads only (the odd
// threads stay held out); it runs only with KB_TUNE=ranking, embedder or
// title and just logs.
func TestTuneStackFAQ(t *testing.T) {
	if os.Getenv("KB_TUNE") == "" {
		t.Skip("set KB_TUNE=ranking, embedder or title to sweep parameters on the even StackFAQ threads")
	}
	docs, queries := stackFAQ(t)
	tune := split(queries, 0)
	ctx := context.Background()
	type cfg struct {
		name string
		lo   local.Options
		kc   knowledge.Config
	}
	var cfgs []cfg
	if os.Getenv("KB_TUNE") == "embedder" {
		for _, d := range []int{256, 512} {
			for _, bw := range []float64{-1, 0.3, 0.6} {
				for _, g := range [][2]int{{3, 5}, {2, 4}, {3, 6}, {4, 6}} {
					for _, p := range []int{1, 2, 4} {
						cfgs = append(cfgs, cfg{
							name: fmt.Sprintf("dim=%d bigram=%.1f grams=%d-%d proj=%d", d, bw, g[0], g[1], p),
							lo:   local.Options{Dimension: d, BigramWeight: bw, MinGram: g[0], MaxGram: g[1], Projections: p},
						})
					}
				}
			}
		}
	}
	if os.Getenv("KB_TUNE") == "title" {
		for _, trw := range []float64{-1, 0.2, 0.4, 0.6, 0.8, 1, 1.5} {
			cfgs = append(cfgs, cfg{name: fmt.Sprintf("titleRRF=%.1f", trw), kc: knowledge.Config{TitleRRFWeight: trw}})
		}
	}
	for _, tw := range []float64{1.5, 2, 3, 4} {
		if len(cfgs) > 0 {
			break
		}
		for _, vtw := range []float64{0.4, 0.7, 1.0, 1.5} {
			for _, cw := range []float64{0.5, 0.8, 1.2} {
				for _, vw := range []float64{0.7, 1, 1.5} {
					for _, k := range []float64{10, 30, 60} {
						cfgs = append(cfgs, cfg{
							name: fmt.Sprintf("tw=%.1f vtw=%.1f cw=%.1f vw=%.1f k=%.0f", tw, vtw, cw, vw, k),
							lo:   local.Options{CharWeight: cw},
							kc:   knowledge.Config{TitleWeight: tw, VectorTitleWeight: vtw, VectorWeight: vw, RRFK: k},
						})
					}
				}
			}
		}
	}
	best := 0.0
	for _, c := range cfgs {
		kb, err := Build(ctx, docs, Options{Config: c.kc, Embedder: local.New(c.lo)})
		if err != nil {
			t.Fatal(err)
		}
		m, err := Evaluate(ctx, kb, tune, knowledge.Hybrid)
		if err != nil {
			t.Fatal(err)
		}
		score := m.MRR + 0.5*m.Recall1
		if os.Getenv("KB_TUNE") == "title" {
			t.Logf("%s  %v", c.name, m)
		}
		if score > best {
			best = score
			t.Logf("best so far: %s  %v", c.name, m)
		}
	}
}
