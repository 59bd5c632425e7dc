package report

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parley-cc/parley/evals"
	"github.com/parley-cc/parley/internal/browser"
)

const calls = `{"call_id":"c1","seq":1,"speaker":"bot","text":"Thanks for calling Acme.","at":"2026-01-01T10:00:00Z"}
{"call_id":"c1","seq":2,"speaker":"caller","text":"get me an agent, I'm angry","intent":"agent","sentiment":-0.7,"at":"2026-01-01T10:00:05Z"}
{"call_id":"c1","seq":3,"speaker":"bot","text":"Connecting you.","timings":{"first_rtp_out_ms":420},"at":"2026-01-01T10:00:06Z"}
{"call_id":"c1","seq":1,"type":"handoff","by":"bot","data":{"queue":"support"},"at":"2026-01-01T10:00:07Z"}
{"call_id":"c2","seq":1,"speaker":"bot","text":"Thanks for calling Acme.","at":"2026-01-01T11:00:00Z"}
{"call_id":"c2","seq":2,"speaker":"caller","text":"when is my bill","intent":"billing","sentiment":0.1,"at":"2026-01-01T11:00:02Z"}
{"call_id":"c2","seq":3,"speaker":"bot","text":"Bills are issued on the 1st of each month.","timings":{"first_rtp_out_ms":380},"citations":[{"document_id":"billing","passage":"Bills are issued on the 1st of each month."}],"at":"2026-01-01T11:00:03Z"}
`

// runs returns a baseline where everything passes and a current run where
// one scenario expects the wrong queue.
func runs(t *testing.T) (base, cur *evals.Report) {
	t.Helper()
	src, err := evals.ReadJSONL("calls.jsonl", strings.NewReader(calls))
	if err != nil {
		t.Fatal(err)
	}
	suite := func(queue string) *evals.Suite {
		s, err := evals.Parse("s.yaml", []byte(`suite: acme
scenarios:
  - id: angry-caller
    call_id: c1
    expect: {queue: `+queue+`}
  - id: bill-date
    call_id: c2
    expect: {intent: billing, cites: billing}
`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base, err = (&evals.Runner{Replay: src, Seed: 1}).Run(context.Background(), suite("support"))
	if err != nil {
		t.Fatal(err)
	}
	cur, err = (&evals.Runner{Replay: src, Seed: 1}).Run(context.Background(), suite("billing"))
	if err != nil {
		t.Fatal(err)
	}
	return base, cur
}

func TestJUnitIsValidXMLWithFailures(t *testing.T) {
	_, cur := runs(t)
	var b bytes.Buffer
	if err := JUnit(&b, cur); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("invalid XML: %v\n%s", err, b.String())
	}
	s := got.Suites[0]
	if s.Tests != 2 || s.Failures != 1 || len(s.Cases) != 2 || s.Cases[0].Failure == nil ||
		!strings.Contains(s.Cases[0].Failure.Message, "expected hand-off to queue billing, got queue support") || s.Cases[1].Failure != nil {
		t.Fatalf("junit: %+v", s)
	}
}

func TestSummaryAndComparison(t *testing.T) {
	base, cur := runs(t)
	var b bytes.Buffer
	Summary(&b, cur)
	for _, want := range []string{"angry-caller", "failed", "expected hand-off to queue billing", "task success 0.500", "latency first_rtp_out"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	Comparison(&b, evals.Compare(base, cur, evals.Tolerance{}))
	if !strings.Contains(b.String(), "REGRESSION scenario angry-caller") {
		t.Fatalf("comparison:\n%s", b.String())
	}
	b.Reset()
	p := &Progress{W: &b, Width: 10}
	p.Update(1, 2, &cur.Scenarios[0])
	p.Update(2, 2, &cur.Scenarios[1])
	if !strings.Contains(b.String(), "\r[##########] 2/2  passed 1  failed 1") {
		t.Fatalf("progress %q", b.String())
	}
}

// TestHTMLReportInChromium opens the report in headless Chromium, checks
// the charts are drawn, and saves a screenshot.
func TestHTMLReportInChromium(t *testing.T) {
	base, cur := runs(t)
	cmp := evals.Compare(base, cur, evals.Tolerance{})
	g, _ := evals.ParseGate("regressions<=0")
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := HTML(&b, cur, base, &cmp, evals.CheckGates([]evals.Gate{g}, cur, &cmp)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "http://") && !strings.Contains(b.String(), `xmlns="http://www.w3.org/2000/svg"`) {
		t.Fatal("report references external assets")
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := browser.New(t, browser.Options{Timeout: 60 * time.Second})
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+path), chromedp.WaitVisible("#chart-passfail")); err != nil {
		t.Fatal(err)
	}
	count := func(sel string) int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	cells, failedCells := count("#chart-passfail rect.cell"), count("#chart-passfail rect.failed")
	histograms, bars, baselineBars := count("svg.histogram rect"), count("#chart-metrics rect.bar-current"), count("#chart-metrics rect.bar-baseline")
	regressions, err := chromedp.Run(ctx, chromedp.Text("#regressions"))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if cells != 2 || failedCells != 1 || histograms == 0 || bars < 3 || baselineBars != bars {
		t.Fatalf("charts: cells %d failed %d histogram bars %d metric bars %d baseline bars %d", cells, failedCells, histograms, bars, baselineBars)
	}
	if !strings.Contains(regressions, "angry-caller") {
		t.Fatalf("regressions table: %q", regressions)
	}
	if len(shot) < 10000 {
		t.Fatalf("screenshot is %d bytes", len(shot))
	}
	out := filepath.Join(os.TempDir(), "parley-eval-report.png")
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(shot))
}
