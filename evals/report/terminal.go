// Package report renders eval runs: a live progress bar and a summary
// table for the terminal, JUnit XML for CI systems, and a self-contained
// HTML page with inline SVG charts.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/parley-cc/parley/evals"
)

// Progress draws a one-line progress bar, redrawn in place with \r.
type Progress struct {
	W     io.Writer
	Width int // bar width in characters; default 30

	mu                      sync.Mutex
	passed, failed, errored int
}

// Update is an evals.Runner Progress callback.
func (p *Progress) Update(done, total int, r *evals.ScenarioResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.Status {
	case evals.StatusPassed:
		p.passed++
	case evals.StatusFailed:
		p.failed++
	case evals.StatusErrored:
		p.errored++
	}
	w := p.Width
	if w <= 0 {
		w = 30
	}
	fill := w * done / max(total, 1)
	fmt.Fprintf(p.W, "\r[%s%s] %d/%d  passed %d  failed %d  errored %d ", strings.Repeat("#", fill), strings.Repeat(".", w-fill),
		done, total, p.passed, p.failed, p.errored)
	if done == total {
		fmt.Fprintln(p.W)
	}
}

// Summary writes the per-scenario table and the run's metrics.
func Summary(w io.Writer, r *evals.Report) {
	idW := len("scenario")
	for _, s := range r.Scenarios {
		idW = max(idW, min(len(s.ID), 40))
	}
	fmt.Fprintf(w, "%-*s  %-8s  %5s  %s\n", idW, "scenario", "status", "turns", "reason")
	for _, s := range r.Scenarios {
		reason := ""
		if len(s.Reasons) > 0 {
			reason = s.Reasons[0]
			if len(s.Reasons) > 1 {
				reason += fmt.Sprintf(" (+%d more)", len(s.Reasons)-1)
			}
		}
		id := s.ID
		if len(id) > 40 {
			id = id[:37] + "..."
		}
		fmt.Fprintf(w, "%-*s  %-8s  %5d  %s\n", idW, id, s.Status, callerTurns(&s.Transcript), clip(reason, 110))
	}
	m := r.Metrics
	fmt.Fprintf(w, "\nrun %s  suite %s  mode %s  seed %d  %s\n", r.ID, r.Suite, r.Mode, r.Seed, r.FinishedAt.Sub(r.StartedAt).Round(1e6))
	fmt.Fprintf(w, "scenarios %d: passed %d, failed %d, errored %d, skipped %d\n", r.Total, r.Passed, r.Failed, r.Errored, r.Skipped)
	fmt.Fprintf(w, "task success %.3f  pass rate %.3f  containment %.3f  turns/conversation %.2f (max %d)\n",
		m.TaskSuccess, m.PassRate, m.Containment, m.TurnsMean, m.TurnsMax)
	fmt.Fprintf(w, "hand-offs %d: correct %d, unneeded %d, missed %d, wrong queue %d\n",
		m.Handoffs, m.CorrectHandoffs, m.UnneededHandoffs, m.MissedHandoffs, m.WrongQueue)
	if m.IntentN > 0 {
		fmt.Fprintf(w, "intent accuracy %.4f (%d scenarios)\n", m.IntentAccuracy, m.IntentN)
	}
	if m.GroundedClaims > 0 {
		fmt.Fprintf(w, "groundedness %.3f (%d answers)\n", m.Groundedness, m.GroundedClaims)
	}
	fmt.Fprintf(w, "compliance violations %d%s\n", m.ComplianceViolations, byKind(m.Violations))
	fmt.Fprintf(w, "sentiment first %.2f  last %.2f  mean change %+.2f  worsened %d\n",
		m.Sentiment.MeanFirst, m.Sentiment.MeanLast, m.Sentiment.MeanDelta, m.Sentiment.Worsened)
	if m.JudgeN > 0 || m.JudgeErrors > 0 {
		fmt.Fprintf(w, "LLM judge mean score %.2f/5 (%d answers, %d errored)\n", m.JudgeScore, m.JudgeN, m.JudgeErrors)
	}
	stages := make([]string, 0, len(m.Latency))
	for s := range m.Latency {
		stages = append(stages, s)
	}
	sort.Strings(stages)
	for _, s := range stages {
		p := m.Latency[s]
		fmt.Fprintf(w, "latency %-16s n %4d  p50 %7.1f ms  p90 %7.1f  p95 %7.1f  p99 %7.1f  max %7.1f\n", s, p.N, p.P50, p.P90, p.P95, p.P99, p.Max)
	}
}

// Comparison writes a baseline comparison.
func Comparison(w io.Writer, c evals.Comparison) {
	fmt.Fprintf(w, "compare baseline %s -> current %s\n", c.Baseline, c.Current)
	if len(c.Regressions) == 0 {
		fmt.Fprintln(w, "no regressions")
	} else {
		fmt.Fprintf(w, "%d regressions:\n", len(c.Regressions))
		for _, d := range c.Regressions {
			fmt.Fprintf(w, "  REGRESSION %-8s %-32s %s -> %s  %s\n", d.Kind, d.Name, d.Baseline, d.Current, clip(d.Detail, 100))
		}
	}
	for _, d := range c.Improvements {
		fmt.Fprintf(w, "  improved   %-8s %-32s %s -> %s\n", d.Kind, d.Name, d.Baseline, d.Current)
	}
	for _, id := range c.Missing {
		fmt.Fprintf(w, "  missing    scenario %s (in the baseline only)\n", id)
	}
}

// Gates writes gate outcomes.
func Gates(w io.Writer, gates []evals.GateResult) {
	for _, g := range gates {
		verdict := "PASS"
		if !g.Passed {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "gate %s %s: %s\n", verdict, g.Gate, g.Detail)
	}
}

func byKind(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func callerTurns(t *evals.Transcript) int {
	n := 0
	for _, tu := range t.Turns {
		if tu.Speaker == "caller" {
			n++
		}
	}
	return n
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}
