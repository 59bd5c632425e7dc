package evals

import (
	"math"
	"sort"
	"strings"
	"time"
)

// Report is one run of a suite: every scenario's result and the run's
// metrics. It is what is stored (store.EvalRun.Report), compared and
// rendered.
type Report struct {
	ID         string           `json:"id"`
	Suite      string           `json:"suite"`
	Mode       string           `json:"mode"`
	Seed       int64            `json:"seed"`
	StartedAt  time.Time        `json:"started_at"`
	FinishedAt time.Time        `json:"finished_at"`
	Total      int              `json:"total"`
	Passed     int              `json:"passed"`
	Failed     int              `json:"failed"`
	Errored    int              `json:"errored"`
	Skipped    int              `json:"skipped"`
	Metrics    Metrics          `json:"metrics"`
	Scenarios  []ScenarioResult `json:"scenarios"`
}

// Percentiles summarises a latency stage in milliseconds.
type Percentiles struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	// Values are every sample, for histograms.
	Values []float64 `json:"values,omitempty"`
}

// Sentiment is the callers' mood over the conversations.
type Sentiment struct {
	MeanFirst float64 `json:"mean_first"` // first caller turn
	MeanLast  float64 `json:"mean_last"`  // last caller turn
	MeanDelta float64 `json:"mean_delta"` // last - first, per conversation
	Worsened  int     `json:"worsened"`   // conversations ending more negative than they began
	// ByTurn is the mean sentiment at each caller turn index (the trajectory).
	ByTurn []float64 `json:"by_turn,omitempty"`
}

// Metrics are a run's figures. Rates are in [0,1]; they are zero with
// nothing to measure, with the count beside them saying so.
type Metrics struct {
	Judged      int     `json:"judged"` // scenarios passed or failed (not errored or skipped)
	PassRate    float64 `json:"pass_rate"`
	TaskSuccess float64 `json:"task_success"` // judged scenarios whose outcome expectations all held
	Containment float64 `json:"containment"`  // conversations the bot kept (no hand-off)

	Handoffs         int `json:"handoffs"`
	CorrectHandoffs  int `json:"correct_handoffs"`  // expected, to the expected queue
	UnneededHandoffs int `json:"unneeded_handoffs"` // happened where none was expected
	MissedHandoffs   int `json:"missed_handoffs"`   // expected, did not happen
	WrongQueue       int `json:"wrong_queue"`       // expected, to another queue

	IntentAccuracy float64 `json:"intent_accuracy"`
	IntentN        int     `json:"intent_n"`

	TurnsMean float64 `json:"turns_mean"` // caller turns per conversation
	TurnsMax  int     `json:"turns_max"`

	Latency   map[string]Percentiles `json:"latency_ms"` // by stage
	Sentiment Sentiment              `json:"sentiment"`

	Groundedness   float64 `json:"groundedness"` // supported / factual bot sentences and claims
	GroundedClaims int     `json:"grounded_claims"`

	ComplianceViolations int            `json:"compliance_violations"`
	Violations           map[string]int `json:"violations,omitempty"` // by check name

	JudgeScore  float64 `json:"judge_score"` // mean LLM rubric score (1..5)
	JudgeN      int     `json:"judge_n"`
	JudgeErrors int     `json:"judge_errors"`
}

// ComputeMetrics derives a run's metrics from its scenario results.
func ComputeMetrics(results []ScenarioResult) Metrics {
	m := Metrics{Latency: map[string]Percentiles{}, Violations: map[string]int{}}
	samples := map[string][]float64{}
	var passed, success, contained, conversations, turns int
	var intentOK int
	var byTurnSum []float64
	var byTurnN []int
	var sFirst, sLast, sDelta float64
	sN := 0
	supportedSum, claims := 0.0, 0
	judgeSum := 0.0
	for _, r := range results {
		for _, c := range r.Checks {
			switch {
			case c.Judge == "compliance" && c.Status == CheckFail:
				m.ComplianceViolations++
				m.Violations[c.Name]++
			case c.Judge == "groundedness" && c.Name == "supported":
				supportedSum += c.Score
				claims++
			case c.Judge == "groundedness" && c.Name == "uncited_claim":
				claims++
			case c.Judge == "llm" && c.Status == CheckError:
				m.JudgeErrors++
			case c.Judge == "llm":
				judgeSum += c.Score
				m.JudgeN++
			}
		}
		if r.Status != StatusPassed && r.Status != StatusFailed {
			continue
		}
		m.Judged++
		if r.Status == StatusPassed {
			passed++
		}
		outcomeOK := true
		intentChecked, intentPass := false, false
		for _, c := range r.Checks {
			if (c.Judge == "outcome" || c.Judge == "run") && c.Status != CheckPass {
				outcomeOK = false
			}
			if c.Judge == "outcome" && c.Name == "intent" {
				intentChecked, intentPass = true, c.Status == CheckPass
			}
		}
		if outcomeOK {
			success++
		}
		if intentChecked {
			m.IntentN++
			if intentPass {
				intentOK++
			}
		}
		tr := &r.Transcript
		conversations++
		n := tr.callerTurns()
		turns += n
		m.TurnsMax = max(m.TurnsMax, n)
		h := tr.handoff()
		if h == nil {
			contained++
		} else {
			m.Handoffs++
		}
		if r.ExpectHandoff != nil {
			switch {
			case *r.ExpectHandoff && h == nil:
				m.MissedHandoffs++
			case *r.ExpectHandoff && r.ExpectQueue != "" && h.Queue != r.ExpectQueue:
				m.WrongQueue++
			case *r.ExpectHandoff:
				m.CorrectHandoffs++
			case h != nil:
				m.UnneededHandoffs++
			}
		}
		for _, t := range tr.Turns {
			for stage, v := range t.Latency {
				samples[stage] = append(samples[stage], v)
			}
		}
		if s := tr.sentiments(); len(s) > 0 {
			sFirst += s[0]
			sLast += s[len(s)-1]
			sDelta += s[len(s)-1] - s[0]
			if s[len(s)-1] < s[0] {
				m.Sentiment.Worsened++
			}
			sN++
			for i, v := range s {
				for len(byTurnSum) <= i {
					byTurnSum = append(byTurnSum, 0)
					byTurnN = append(byTurnN, 0)
				}
				byTurnSum[i] += v
				byTurnN[i]++
			}
		}
	}
	if m.Judged > 0 {
		m.PassRate = float64(passed) / float64(m.Judged)
		m.TaskSuccess = float64(success) / float64(m.Judged)
	}
	if conversations > 0 {
		m.Containment = float64(contained) / float64(conversations)
		m.TurnsMean = float64(turns) / float64(conversations)
	}
	if m.IntentN > 0 {
		m.IntentAccuracy = float64(intentOK) / float64(m.IntentN)
	}
	for stage, v := range samples {
		m.Latency[stage] = percentiles(v)
	}
	if sN > 0 {
		m.Sentiment.MeanFirst, m.Sentiment.MeanLast, m.Sentiment.MeanDelta = sFirst/float64(sN), sLast/float64(sN), sDelta/float64(sN)
		for i := range byTurnSum {
			m.Sentiment.ByTurn = append(m.Sentiment.ByTurn, byTurnSum[i]/float64(byTurnN[i]))
		}
	}
	m.GroundedClaims = claims
	if claims > 0 {
		m.Groundedness = supportedSum / float64(claims)
	}
	if m.JudgeN > 0 {
		m.JudgeScore = judgeSum / float64(m.JudgeN)
	}
	return m
}

func percentiles(v []float64) Percentiles {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	p := Percentiles{N: len(s), Values: s}
	if len(s) == 0 {
		return p
	}
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	p.Mean = sum / float64(len(s))
	q := func(f float64) float64 {
		// Nearest rank: the smallest sample with at least f of them at or below.
		i := int(math.Ceil(f*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	p.P50, p.P90, p.P95, p.P99, p.Max = q(0.5), q(0.9), q(0.95), q(0.99), s[len(s)-1]
	return p
}

// Direction of a metric: +1 higher is better, -1 lower is better.
func Direction(name string) int {
	switch {
	case strings.HasPrefix(name, "latency."), strings.HasSuffix(name, "handoffs") && name != "correct_handoffs",
		name == "wrong_queue", name == "compliance_violations", name == "turns_mean", name == "judge_errors", name == "errored", name == "failed":
		return -1
	}
	return 1
}

// Flat returns the run's comparable figures by name: rates, counts and
// latency percentiles as latency.<stage>.p50|p95.
func (r *Report) Flat() map[string]float64 {
	m := r.Metrics
	out := map[string]float64{
		"pass_rate": m.PassRate, "task_success": m.TaskSuccess, "containment": m.Containment,
		"correct_handoffs": float64(m.CorrectHandoffs), "unneeded_handoffs": float64(m.UnneededHandoffs),
		"missed_handoffs": float64(m.MissedHandoffs), "wrong_queue": float64(m.WrongQueue),
		"turns_mean": m.TurnsMean, "compliance_violations": float64(m.ComplianceViolations),
		"sentiment_delta": m.Sentiment.MeanDelta, "errored": float64(r.Errored), "failed": float64(r.Failed),
	}
	if m.IntentN > 0 {
		out["intent_accuracy"] = m.IntentAccuracy
	}
	if m.GroundedClaims > 0 {
		out["groundedness"] = m.Groundedness
	}
	if m.JudgeN > 0 {
		out["judge_score"] = m.JudgeScore
	}
	for stage, p := range m.Latency {
		out["latency."+stage+".p50"] = p.P50
		out["latency."+stage+".p95"] = p.P95
	}
	return out
}
