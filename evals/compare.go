package evals

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Tolerance is how much worse a metric may get before it is a regression.
type Tolerance struct {
	// Rate is the absolute drop allowed in a rate (default 0.01).
	Rate float64
	// Latency is the relative rise allowed in a latency percentile (default
	// 0.25), ignored below LatencyFloorMs of absolute rise (default 5 ms):
	// timing noise is not a regression.
	Latency        float64
	LatencyFloorMs float64
}

func (t Tolerance) withDefaults() Tolerance {
	if t.Rate == 0 {
		t.Rate = 0.01
	}
	if t.Latency == 0 {
		t.Latency = 0.25
	}
	if t.LatencyFloorMs == 0 {
		t.LatencyFloorMs = 5
	}
	return t
}

// Diff is one change between a baseline run and the current one.
type Diff struct {
	Kind     string  `json:"kind"` // scenario, metric
	Name     string  `json:"name"`
	Baseline string  `json:"baseline"`
	Current  string  `json:"current"`
	Delta    float64 `json:"delta,omitempty"`
	Detail   string  `json:"detail,omitempty"`
}

// Comparison lists what got worse and what got better.
type Comparison struct {
	Baseline     string `json:"baseline"`
	Current      string `json:"current"`
	Regressions  []Diff `json:"regressions"`
	Improvements []Diff `json:"improvements"`
	// Missing are scenarios of the baseline not in the current run.
	Missing []string `json:"missing,omitempty"`
}

// Compare compares cur against base: a scenario that passed and no longer
// does is a regression, and so is a metric worse beyond tol.
func Compare(base, cur *Report, tol Tolerance) Comparison {
	tol = tol.withDefaults()
	c := Comparison{Baseline: base.ID, Current: cur.ID}
	curBy := map[string]*ScenarioResult{}
	for i := range cur.Scenarios {
		curBy[cur.Scenarios[i].ID] = &cur.Scenarios[i]
	}
	for _, b := range base.Scenarios {
		r, ok := curBy[b.ID]
		if !ok {
			c.Missing = append(c.Missing, b.ID)
			continue
		}
		d := Diff{Kind: "scenario", Name: b.ID, Baseline: b.Status, Current: r.Status}
		if len(r.Reasons) > 0 {
			d.Detail = r.Reasons[0]
		}
		switch {
		case b.Status == StatusPassed && (r.Status == StatusFailed || r.Status == StatusErrored):
			c.Regressions = append(c.Regressions, d)
		case b.Status != StatusPassed && b.Status != StatusSkipped && r.Status == StatusPassed:
			c.Improvements = append(c.Improvements, d)
		}
	}
	bf, cf := base.Flat(), cur.Flat()
	names := make([]string, 0, len(bf))
	for k := range bf {
		if _, ok := cf[k]; ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		bv, cv := bf[k], cf[k]
		delta := cv - bv
		worse := float64(Direction(k))*delta < 0
		var significant bool
		switch {
		case strings.HasPrefix(k, "latency."):
			significant = math.Abs(delta) > tol.LatencyFloorMs && math.Abs(delta) > tol.Latency*math.Max(bv, 1e-9)
		case isCount(k):
			significant = delta != 0
		default:
			significant = math.Abs(delta) > tol.Rate
		}
		if !significant {
			continue
		}
		d := Diff{Kind: "metric", Name: k, Baseline: fmtMetric(k, bv), Current: fmtMetric(k, cv), Delta: delta}
		if worse {
			c.Regressions = append(c.Regressions, d)
		} else {
			c.Improvements = append(c.Improvements, d)
		}
	}
	return c
}

func isCount(k string) bool {
	switch k {
	case "correct_handoffs", "unneeded_handoffs", "missed_handoffs", "wrong_queue", "compliance_violations", "errored", "failed":
		return true
	}
	return false
}

func fmtMetric(k string, v float64) string {
	switch {
	case strings.HasPrefix(k, "latency."):
		return fmt.Sprintf("%.1f ms", v)
	case isCount(k):
		return strconv.Itoa(int(v))
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// Gate is a release condition on a run: metric op threshold, e.g.
// task_success>=0.9, latency.first_token.p95<=300, regressions<=0.
type Gate struct {
	Metric    string
	Op        string
	Threshold float64
}

var gateRE = regexp.MustCompile(`^\s*([a-z0-9_.]+)\s*(<=|>=|<|>|==)\s*(-?[0-9.]+)\s*(ms)?\s*$`)

// ParseGate reads "metric>=0.9".
func ParseGate(s string) (Gate, error) {
	m := gateRE.FindStringSubmatch(s)
	if m == nil {
		return Gate{}, fmt.Errorf("gate %q: want metric<op>number, e.g. task_success>=0.9 or latency.first_token.p95<=300", s)
	}
	v, err := strconv.ParseFloat(m[3], 64)
	if err != nil {
		return Gate{}, fmt.Errorf("gate %q: %v", s, err)
	}
	return Gate{Metric: m[1], Op: m[2], Threshold: v}, nil
}

func (g Gate) String() string { return fmt.Sprintf("%s%s%g", g.Metric, g.Op, g.Threshold) }

// GateResult is a gate's outcome.
type GateResult struct {
	Gate   string  `json:"gate"`
	Value  float64 `json:"value"`
	Passed bool    `json:"passed"`
	Detail string  `json:"detail"`
}

// CheckGates evaluates gates on the run; cmp (may be nil) provides the
// "regressions" figure.
func CheckGates(gates []Gate, r *Report, cmp *Comparison) []GateResult {
	flat := r.Flat()
	if cmp != nil {
		flat["regressions"] = float64(len(cmp.Regressions))
	}
	var out []GateResult
	for _, g := range gates {
		v, ok := flat[g.Metric]
		res := GateResult{Gate: g.String(), Value: v}
		if !ok {
			res.Detail = fmt.Sprintf("%s was not measured in this run", g.Metric)
			if g.Metric == "regressions" {
				res.Detail = "regressions needs a baseline (--baseline)"
			}
			out = append(out, res)
			continue
		}
		switch g.Op {
		case "<=":
			res.Passed = v <= g.Threshold
		case ">=":
			res.Passed = v >= g.Threshold
		case "<":
			res.Passed = v < g.Threshold
		case ">":
			res.Passed = v > g.Threshold
		case "==":
			res.Passed = v == g.Threshold
		}
		res.Detail = fmt.Sprintf("%s = %s (want %s %g)", g.Metric, fmtMetric(g.Metric, v), g.Op, g.Threshold)
		out = append(out, res)
	}
	return out
}
