package report

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/parley-cc/parley/evals"
)

// HTML writes a self-contained page (no external assets): run summary,
// pass/fail per scenario, latency histograms per stage, sentiment
// trajectory, every metric against the baseline run (when given), gates and
// each scenario's checks and transcript.
func HTML(w io.Writer, r *evals.Report, baseline *evals.Report, cmp *evals.Comparison, gates []evals.GateResult) error {
	data := htmlData{R: r, Base: baseline, Cmp: cmp, Gates: gates,
		PassFail:  template.HTML(passFailSVG(r)),
		Sentiment: template.HTML(sentimentSVG(r)),
		Metrics:   template.HTML(metricsSVG(r, baseline)),
	}
	stages := make([]string, 0, len(r.Metrics.Latency))
	for s := range r.Metrics.Latency {
		stages = append(stages, s)
	}
	sort.Strings(stages)
	for _, s := range stages {
		var base []float64
		if baseline != nil {
			base = baseline.Metrics.Latency[s].Values
		}
		data.Histograms = append(data.Histograms, histo{Stage: s, P: r.Metrics.Latency[s], SVG: template.HTML(histogramSVG(s, r.Metrics.Latency[s].Values, base))})
	}
	return page.Execute(w, data)
}

type htmlData struct {
	R          *evals.Report
	Base       *evals.Report
	Cmp        *evals.Comparison
	Gates      []evals.GateResult
	PassFail   template.HTML
	Sentiment  template.HTML
	Metrics    template.HTML
	Histograms []histo
}

type histo struct {
	Stage string
	P     evals.Percentiles
	SVG   template.HTML
}

var statusColor = map[string]string{evals.StatusPassed: "#2e9d4a", evals.StatusFailed: "#d33a2c", evals.StatusErrored: "#e69a1c", evals.StatusSkipped: "#9aa0a6"}

func esc(s string) string { return html.EscapeString(s) }

// passFailSVG draws one cell per scenario, coloured by status, with the id
// and first reason as a tooltip.
func passFailSVG(r *evals.Report) string {
	const cell, gap, perRow = 22, 3, 30
	n := len(r.Scenarios)
	rows := (n + perRow - 1) / perRow
	wid := perRow*(cell+gap) + 10
	hei := rows*(cell+gap) + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="chart-passfail" class="chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="pass or fail per scenario">`, wid, hei)
	for i, s := range r.Scenarios {
		x, y := 5+(i%perRow)*(cell+gap), 5+(i/perRow)*(cell+gap)
		tip := s.ID + ": " + s.Status
		if len(s.Reasons) > 0 {
			tip += " — " + s.Reasons[0]
		}
		fmt.Fprintf(&b, `<a href="#sc-%s"><rect class="cell %s" x="%d" y="%d" width="%d" height="%d" rx="3" fill="%s"><title>%s</title></rect></a>`,
			esc(s.ID), s.Status, x, y, cell, cell, statusColor[s.Status], esc(tip))
	}
	fmt.Fprintf(&b, `<text x="5" y="%d" font-size="12">passed %d · failed %d · errored %d · skipped %d</text>`, hei-8, r.Passed, r.Failed, r.Errored, r.Skipped)
	b.WriteString(`</svg>`)
	return b.String()
}

// histogramSVG bins latency samples (ms) into 20 bars; the baseline's
// distribution, when given, is outlined over them.
func histogramSVG(stage string, vals, base []float64) string {
	const W, H, pad, bins = 460, 180, 34, 20
	hi := 0.0
	for _, v := range append(append([]float64(nil), vals...), base...) {
		hi = math.Max(hi, v)
	}
	if hi <= 0 {
		hi = 1
	}
	count := func(v []float64) []int {
		c := make([]int, bins)
		for _, x := range v {
			c[min(int(x/hi*bins), bins-1)]++
		}
		return c
	}
	cur, bc := count(vals), count(base)
	top := 1
	for i := range cur {
		top = max(top, cur[i], bc[i])
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart histogram" data-stage="%s" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s latency histogram">`, esc(stage), W, H, esc(stage))
	bw := float64(W-2*pad) / bins
	plotH := float64(H - 2*pad)
	for i, c := range cur {
		h := float64(c) / float64(top) * plotH
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#3b6fd8"><title>%.0f–%.0f ms: %d</title></rect>`,
			float64(pad)+float64(i)*bw+1, float64(H-pad)-h, bw-2, h, float64(i)*hi/bins, float64(i+1)*hi/bins, c)
	}
	if len(base) > 0 {
		for i, c := range bc {
			h := float64(c) / float64(top) * plotH
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#555" stroke-dasharray="3 2"><title>baseline: %d</title></rect>`,
				float64(pad)+float64(i)*bw+1, float64(H-pad)-h, bw-2, h, c)
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, pad, H-pad, W-pad, H-pad)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11">0</text><text x="%d" y="%d" font-size="11" text-anchor="end">%.0f ms</text>`, pad, H-pad+14, W-pad, H-pad+14, hi)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11">%d</text>`, 4, pad+4, top)
	fmt.Fprintf(&b, `<text x="%d" y="16" font-size="13" font-weight="bold">%s (n=%d)</text>`, pad, esc(stage), len(vals))
	b.WriteString(`</svg>`)
	return b.String()
}

// metricsSVG draws each rate metric of the run as a bar beside the
// baseline's.
func metricsSVG(r, base *evals.Report) string {
	names := []string{"pass_rate", "task_success", "containment", "intent_accuracy", "groundedness"}
	cur := r.Flat()
	var bf map[string]float64
	if base != nil {
		bf = base.Flat()
	}
	var shown []string
	for _, n := range names {
		if _, ok := cur[n]; ok {
			shown = append(shown, n)
		}
	}
	const W, rowH, label = 520, 34, 130
	H := len(shown)*rowH + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="chart-metrics" class="chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="metrics against baseline">`, W, H)
	plotW := float64(W - label - 60)
	for i, n := range shown {
		y := 10 + i*rowH
		fmt.Fprintf(&b, `<text x="0" y="%d" font-size="12">%s</text>`, y+14, esc(n))
		fmt.Fprintf(&b, `<rect class="bar-current" x="%d" y="%d" width="%.1f" height="12" fill="#3b6fd8"><title>current %.4f</title></rect><text x="%.1f" y="%d" font-size="11">%.3f</text>`,
			label, y, cur[n]*plotW, cur[n], float64(label)+cur[n]*plotW+4, y+10, cur[n])
		if bv, ok := bf[n]; ok {
			fmt.Fprintf(&b, `<rect class="bar-baseline" x="%d" y="%d" width="%.1f" height="10" fill="#9aa0a6"><title>baseline %.4f</title></rect><text x="%.1f" y="%d" font-size="11" fill="#555">%.3f</text>`,
				label, y+14, bv*plotW, bv, float64(label)+bv*plotW+4, y+23, bv)
		}
	}
	legend := "blue: this run"
	if base != nil {
		legend += " · grey: baseline " + base.ID
	}
	fmt.Fprintf(&b, `<text x="0" y="%d" font-size="11">%s</text></svg>`, H-6, esc(legend))
	return b.String()
}

// sentimentSVG plots the mean caller sentiment by turn, -1..1.
func sentimentSVG(r *evals.Report) string {
	pts := r.Metrics.Sentiment.ByTurn
	const W, H, pad = 460, 160, 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="chart-sentiment" class="chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="sentiment trajectory">`, W, H)
	mid := H / 2
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#bbb" stroke-dasharray="4 3"/>`, pad, mid, W-pad, mid)
	fmt.Fprintf(&b, `<text x="2" y="%d" font-size="10">+1</text><text x="2" y="%d" font-size="10">0</text><text x="2" y="%d" font-size="10">-1</text>`, pad, mid+3, H-pad)
	if len(pts) > 0 {
		step := float64(W-2*pad) / math.Max(float64(len(pts)-1), 1)
		var path []string
		for i, v := range pts {
			x := float64(pad) + float64(i)*step
			y := float64(mid) - v*float64(mid-pad)
			path = append(path, fmt.Sprintf("%.1f,%.1f", x, y))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="#8a3bd8"><title>turn %d: %.2f</title></circle>`, x, y, i+1, v)
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#8a3bd8" stroke-width="2"/>`, strings.Join(path, " "))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11">caller turn →</text></svg>`, W-pad-70, H-8)
	return b.String()
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"transcript": func(t evals.Transcript) string { return evals.FormatTranscript(&t) },
	"color":      func(s string) string { return statusColor[s] },
	"step": func(n int) string {
		if n < 0 {
			return "–"
		}
		return fmt.Sprint(n + 1)
	},
	"f3": func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"f1": func(v float64) string { return fmt.Sprintf("%.1f", v) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Parley eval {{.R.Suite}} — {{.R.ID}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
.badge{color:#fff;border-radius:3px;padding:1px 6px;font-size:12px}
.grid{display:flex;flex-wrap:wrap;gap:16px}.reg{color:#d33a2c;font-weight:bold}
pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}
.fail{color:#d33a2c}.error{color:#e69a1c}
</style></head><body>
<h1>Eval run {{.R.ID}}</h1>
<p>suite <b>{{.R.Suite}}</b> · mode <b>{{.R.Mode}}</b> · seed {{.R.Seed}} · {{.R.StartedAt.Format "2006-01-02 15:04:05"}} UTC ·
{{.R.Total}} scenarios: <span id="count-passed">{{.R.Passed}}</span> passed, <span id="count-failed">{{.R.Failed}}</span> failed, {{.R.Errored}} errored, {{.R.Skipped}} skipped</p>
<h2>Pass / fail per scenario</h2>
{{.PassFail}}
<h2>Metrics{{if .Base}} against baseline {{.Base.ID}}{{end}}</h2>
<div class="grid">{{.Metrics}}
<table><tr><th>metric</th><th>value</th></tr>
<tr><td>task success</td><td>{{f3 .R.Metrics.TaskSuccess}}</td></tr>
<tr><td>containment</td><td>{{f3 .R.Metrics.Containment}}</td></tr>
<tr><td>hand-offs (correct / unneeded / missed / wrong queue)</td><td>{{.R.Metrics.Handoffs}} ({{.R.Metrics.CorrectHandoffs}} / {{.R.Metrics.UnneededHandoffs}} / {{.R.Metrics.MissedHandoffs}} / {{.R.Metrics.WrongQueue}})</td></tr>
<tr><td>turns per conversation</td><td>{{f1 .R.Metrics.TurnsMean}} (max {{.R.Metrics.TurnsMax}})</td></tr>
<tr><td>intent accuracy</td><td>{{f3 .R.Metrics.IntentAccuracy}} ({{.R.Metrics.IntentN}})</td></tr>
<tr><td>groundedness</td><td>{{f3 .R.Metrics.Groundedness}} ({{.R.Metrics.GroundedClaims}} answers)</td></tr>
<tr><td>compliance violations</td><td>{{.R.Metrics.ComplianceViolations}}{{range $k, $v := .R.Metrics.Violations}} · {{$k}} {{$v}}{{end}}</td></tr>
<tr><td>LLM judge score</td><td>{{f1 .R.Metrics.JudgeScore}} ({{.R.Metrics.JudgeN}} answers, {{.R.Metrics.JudgeErrors}} errored)</td></tr>
</table></div>
{{if .Cmp}}<h2>Compared with {{.Cmp.Baseline}}</h2>
{{if .Cmp.Regressions}}<table id="regressions"><tr><th></th><th>kind</th><th>name</th><th>baseline</th><th>current</th><th>detail</th></tr>
{{range .Cmp.Regressions}}<tr><td class="reg">regression</td><td>{{.Kind}}</td><td>{{.Name}}</td><td>{{.Baseline}}</td><td>{{.Current}}</td><td>{{.Detail}}</td></tr>{{end}}</table>
{{else}}<p>No regressions.</p>{{end}}{{end}}
{{if .Gates}}<h2>Gates</h2><table>{{range .Gates}}<tr><td>{{if .Passed}}PASS{{else}}<span class="reg">FAIL</span>{{end}}</td><td>{{.Gate}}</td><td>{{.Detail}}</td></tr>{{end}}</table>{{end}}
<h2>Latency by stage</h2>
<div class="grid">{{range .Histograms}}<div>{{.SVG}}<div>p50 {{f1 .P.P50}} · p90 {{f1 .P.P90}} · p95 {{f1 .P.P95}} · p99 {{f1 .P.P99}} · max {{f1 .P.Max}} ms</div></div>{{end}}</div>
<h2>Sentiment trajectory</h2>
{{.Sentiment}}
<h2>Scenarios</h2>
{{range .R.Scenarios}}<details id="sc-{{.ID}}"{{if ne .Status "passed"}} open{{end}}><summary><span class="badge" style="background:{{color .Status}}">{{.Status}}</span> <b>{{.ID}}</b> {{.Name}}{{if .Reasons}} — {{index .Reasons 0}}{{end}}</summary>
<table>{{range .Checks}}<tr class="{{.Status}}"><td>{{.Status}}</td><td>{{.Judge}}</td><td>turn {{step .Step}}</td><td>{{.Name}}</td><td>{{.Detail}}</td></tr>{{end}}</table>
<pre>{{transcript .Transcript}}</pre></details>
{{end}}
</body></html>
`))
