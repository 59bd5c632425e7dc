// Package demoevals runs the demo deployment's eval suite (lumen.yaml) in
// text mode against the real local dialog engine.
package demoevals

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parley-cc/parley/deploy/demo"
	"github.com/parley-cc/parley/evals"
	"github.com/parley-cc/parley/evals/report"
	"github.com/parley-cc/parley/internal/browser"
	"github.com/parley-cc/parley/voicebot/dialog"
)

func engine(t testing.TB) dialog.Engine {
	t.Helper()
	ctx := context.Background()
	dep, err := dialog.Load(demo.FS, demo.Source)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := dialog.NewKnowledgeBase(ctx, dep)
	if err != nil {
		t.Fatal(err)
	}
	bot, err := dialog.NewLocal(ctx, dialog.Options{Deployment: dep, KB: kb})
	if err != nil {
		t.Fatal(err)
	}
	return bot
}

func suite(t testing.TB) *evals.Suite {
	t.Helper()
	s, err := evals.Load("lumen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func run(t testing.TB, eng dialog.Engine, s *evals.Suite, conc int) *evals.Report {
	t.Helper()
	rep, err := (&evals.Runner{Connector: evals.TextConnector{Engine: eng}, Concurrency: conc, Seed: 1}).Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestDemoSuitePassesInTextMode: every scenario of the shipped suite passes
// against the demo deployment, and the suite covers what it must.
func TestDemoSuitePassesInTextMode(t *testing.T) {
	s := suite(t)
	if len(s.Scenarios) < 30 {
		t.Fatalf("%d scenarios, want at least 30", len(s.Scenarios))
	}
	tags := map[string]int{}
	for _, sc := range s.Scenarios {
		for _, tg := range sc.Tags {
			tags[tg]++
		}
	}
	for _, must := range []string{"kb", "handoff", "sentiment", "dtmf", "callback", "out-of-scope", "pii", "voice"} {
		if tags[must] == 0 {
			t.Errorf("no scenario tagged %s", must)
		}
	}
	rep := run(t, engine(t), s, 4)
	for _, sc := range rep.Scenarios {
		if sc.Status != evals.StatusPassed {
			t.Errorf("%s %s: %v\n%s", sc.ID, sc.Status, sc.Reasons, evals.FormatTranscript(&sc.Transcript))
		}
	}
	m := rep.Metrics
	if m.CorrectHandoffs < 5 || m.UnneededHandoffs != 0 || m.GroundedClaims < 15 || m.Groundedness != 1 || m.ComplianceViolations != 0 {
		t.Fatalf("metrics %+v", m)
	}
}

// TestDemoSuiteRerunIsIdentical: concurrency and reruns do not change any
// verdict, reason or word of the transcripts.
func TestDemoSuiteRerunIsIdentical(t *testing.T) {
	eng := engine(t)
	norm := func(r *evals.Report) []evals.ScenarioResult {
		out := append([]evals.ScenarioResult(nil), r.Scenarios...)
		for i := range out {
			out[i].DurationMs = 0
			turns := append([]evals.Turn(nil), out[i].Transcript.Turns...)
			for j := range turns {
				turns[j].Latency = nil
				if turns[j].Action != nil {
					a := *turns[j].Action
					a.CallbackID = "" // the engine's random id for the booked callback
					turns[j].Action = &a
				}
			}
			out[i].Transcript.Turns = turns
			var checks []evals.Check
			for _, c := range out[i].Checks {
				if strings.HasPrefix(c.Name, "latency") {
					c.Detail = ""
				}
				checks = append(checks, c)
			}
			out[i].Checks = checks
		}
		return out
	}
	a := norm(run(t, eng, suite(t), 1))
	b := norm(run(t, eng, suite(t), 8))
	if !reflect.DeepEqual(a, b) {
		for i := range a {
			if !reflect.DeepEqual(a[i], b[i]) {
				t.Fatalf("scenario %s differs between runs:\n%+v\n%+v", a[i].ID, a[i], b[i])
			}
		}
	}
}

// TestWrongQueueFailsAndCompareFlagsIt: a scenario made to expect the wrong
// queue fails with a clear reason, compare lists it as a regression, and
// the HTML report against the baseline opens in Chromium with its charts.
func TestWrongQueueFailsAndCompareFlagsIt(t *testing.T) {
	eng := engine(t)
	base := run(t, eng, suite(t), 4)
	broken := suite(t)
	for i := range broken.Scenarios {
		if broken.Scenarios[i].ID == "handoff-agent-request" {
			broken.Scenarios[i].Expect.Queue = "billing"
		}
	}
	cur := run(t, eng, broken, 4)
	var got *evals.ScenarioResult
	for i := range cur.Scenarios {
		if cur.Scenarios[i].ID == "handoff-agent-request" {
			got = &cur.Scenarios[i]
		}
	}
	if got.Status != evals.StatusFailed || got.Reasons[0] != "queue: expected hand-off to queue billing, got queue support" {
		t.Fatalf("wrong queue: %s %q", got.Status, got.Reasons)
	}
	if cur.Failed != 1 || cur.Passed != len(cur.Scenarios)-1 {
		t.Fatalf("passed %d failed %d", cur.Passed, cur.Failed)
	}
	cmp := evals.Compare(base, cur, evals.Tolerance{})
	found := false
	for _, d := range cmp.Regressions {
		found = found || d.Kind == "scenario" && d.Name == "handoff-agent-request"
	}
	if !found {
		t.Fatalf("compare did not flag the regression: %+v", cmp.Regressions)
	}
	g, _ := evals.ParseGate("regressions<=0")
	gates := evals.CheckGates([]evals.Gate{g}, cur, &cmp)
	if gates[0].Passed {
		t.Fatal("the regressions gate held")
	}

	var b bytes.Buffer
	if err := report.HTML(&b, cur, base, &cmp, gates); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "lumen.html")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := browser.New(t, browser.Options{Timeout: 60 * time.Second})
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+path), chromedp.WaitVisible("#chart-passfail")); err != nil {
		t.Fatal(err)
	}
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#chart-passfail rect.cell').length + 1000*document.querySelectorAll('#chart-passfail rect.failed').length + 100000*document.querySelectorAll('svg.histogram').length`))
	if err != nil {
		t.Fatal(err)
	}
	if cells, failed, histos := n%1000, n/1000%100, n/100000; cells != len(cur.Scenarios) || failed != 1 || histos < 2 {
		t.Fatalf("charts: %d cells, %d failed, %d histograms", cells, failed, histos)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(os.TempDir(), "parley-lumen-eval.png")
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", out, len(shot))
}

// BenchmarkDemoSuiteText measures text-mode scenarios per second with the
// local engine.
func BenchmarkDemoSuiteText(b *testing.B) {
	eng := engine(b)
	s := suite(b)
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		rep, err := (&evals.Runner{Connector: evals.TextConnector{Engine: eng}, Concurrency: 2, Seed: 1}).Run(context.Background(), s)
		if err != nil || rep.Passed != len(s.Scenarios) {
			b.Fatalf("%v %+v", err, rep)
		}
		n += rep.Total
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "scenarios/s")
}
