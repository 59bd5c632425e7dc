package evals

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime"
	"sync"
	"time"

	"github.com/parley-cc/parley/voicebot/dialog"
)

// Scenario and check statuses.
const (
	StatusPassed  = "passed"
	StatusFailed  = "failed"
	StatusErrored = "errored" // a judge or the harness could not run: never counted as passed
	StatusSkipped = "skipped"

	CheckPass  = "pass"
	CheckFail  = "fail"
	CheckError = "error"
)

// Check is one judgement on a conversation.
type Check struct {
	Judge  string `json:"judge"` // run, outcome, turn, compliance, groundedness, llm
	Name   string `json:"name"`
	Status string `json:"status"` // pass, fail, error
	Detail string `json:"detail,omitempty"`
	// Step is the scripted caller turn the check is about (-1: the
	// greeting or the whole conversation).
	Step int `json:"step"`
	// Score and Rationale of an LLM rubric question (1..5).
	Score     float64 `json:"score,omitempty"`
	Rationale string  `json:"rationale,omitempty"`
}

// ScenarioResult is one scenario's conversation and verdict.
type ScenarioResult struct {
	ID         string     `json:"id"`
	Name       string     `json:"name,omitempty"`
	Tags       []string   `json:"tags,omitempty"`
	Status     string     `json:"status"`
	Reasons    []string   `json:"reasons,omitempty"` // why it did not pass, most important first
	Checks     []Check    `json:"checks"`
	Transcript Transcript `json:"transcript"`
	Seed       int        `json:"seed"`
	DurationMs float64    `json:"duration_ms"`
	// Expectation summary the metrics need.
	ExpectHandoff *bool  `json:"expect_handoff,omitempty"`
	ExpectQueue   string `json:"expect_queue,omitempty"`
	ExpectIntent  string `json:"expect_intent,omitempty"`
}

// Runner runs a suite's scenarios in one mode.
type Runner struct {
	// Connector reaches the bot (text or voice mode); nil for replay.
	Connector Connector
	// Replay supplies recorded transcripts by scenario (replay mode).
	Replay ReplaySource
	// Simulator plays callers of scenarios with simulate: (optional).
	Simulator *Simulator
	// Judge asks rubric questions (optional; rubric without it errors).
	Judge *LLMJudge
	// Concurrency bounds scenarios in flight; default GOMAXPROCS.
	Concurrency int
	// Seed fixes every random choice (simulated callers, judges).
	Seed int64
	// Timeout per scenario unless the scenario or suite sets one; default 30s.
	Timeout time.Duration
	// MinTimeout, when set, is the least any scenario gets whatever the
	// suite says: voice mode talks in real time, so a suite's text-mode
	// timeout is too short for it.
	MinTimeout time.Duration
	// Filter, when set, keeps only the scenarios it accepts.
	Filter func(*Scenario) bool
	// Progress is called after each scenario finishes (from one goroutine
	// at a time).
	Progress func(done, total int, r *ScenarioResult)
	// Now is the clock for run timestamps (default time.Now).
	Now func() time.Time
}

// Mode returns the run mode: text, voice or replay.
func (r *Runner) Mode() string {
	if r.Connector != nil {
		return r.Connector.Mode()
	}
	return "replay"
}

// Run runs every scenario of the suite and returns the report with its
// metrics. Results are in suite order whatever the completion order.
func (r *Runner) Run(ctx context.Context, s *Suite) (*Report, error) {
	if r.Connector == nil && r.Replay == nil {
		return nil, errors.New("runner: no connector (text, voice) and no replay source")
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	var todo []*Scenario
	for i := range s.Scenarios {
		sc := &s.Scenarios[i]
		if r.Filter != nil && !r.Filter(sc) {
			continue
		}
		todo = append(todo, sc)
	}
	if len(todo) == 0 {
		return nil, ErrNoScenarios
	}
	rep := &Report{Suite: s.Name, Mode: r.Mode(), Seed: r.Seed, StartedAt: now().UTC(), Total: len(todo)}
	rep.ID = runID(s.Name, rep.Mode, rep.StartedAt)
	results := make([]ScenarioResult, len(todo))
	conc := r.Concurrency
	if conc <= 0 {
		conc = runtime.GOMAXPROCS(0)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
		sem  = make(chan struct{}, conc)
	)
	for i, sc := range todo {
		if ctx.Err() != nil {
			results[i] = ScenarioResult{ID: sc.ID, Status: StatusErrored, Reasons: []string{"run cancelled: " + ctx.Err().Error()}}
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, sc *Scenario) {
			defer wg.Done()
			defer func() { <-sem }()
			res := r.runScenario(ctx, s, sc)
			results[i] = res
			mu.Lock()
			done++
			if r.Progress != nil {
				r.Progress(done, len(todo), &res)
			}
			mu.Unlock()
		}(i, sc)
	}
	wg.Wait()
	rep.Scenarios = results
	rep.FinishedAt = now().UTC()
	rep.Metrics = ComputeMetrics(results)
	for _, res := range results {
		switch res.Status {
		case StatusPassed:
			rep.Passed++
		case StatusFailed:
			rep.Failed++
		case StatusErrored:
			rep.Errored++
		case StatusSkipped:
			rep.Skipped++
		}
	}
	return rep, nil
}

// scenarioSeed derives a scenario's seed from the run seed and its id, so a
// scenario behaves the same whatever else is in the run.
func scenarioSeed(seed int64, id string) int {
	h := fnv.New32a()
	fmt.Fprintf(h, "%d/%s", seed, id)
	return int(h.Sum32() & 0x7fffffff)
}

func (r *Runner) runScenario(ctx context.Context, s *Suite, sc *Scenario) ScenarioResult {
	start := time.Now()
	res := ScenarioResult{ID: sc.ID, Name: sc.Name, Tags: sc.Tags, Seed: scenarioSeed(r.Seed, sc.ID),
		ExpectHandoff: sc.Expect.Handoff, ExpectQueue: sc.Expect.Queue, ExpectIntent: sc.Expect.Intent}
	if sc.Expect.Queue != "" && res.ExpectHandoff == nil {
		t := true
		res.ExpectHandoff = &t
	}
	defer func() { res.DurationMs = ms(time.Since(start)) }()
	for _, m := range sc.Skip {
		if m == r.Mode() {
			res.Status = StatusSkipped
			res.Reasons = []string{"skipped in " + m + " mode"}
			return res
		}
	}
	timeout := r.Timeout
	if s.Defaults.Timeout > 0 {
		timeout = s.Defaults.Timeout.D()
	}
	if sc.Timeout > 0 {
		timeout = sc.Timeout.D()
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	timeout = max(timeout, r.MinTimeout)
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var (
		tr       *Transcript
		runCheck *Check
	)
	if r.Connector != nil {
		var err error
		var harness bool
		tr, harness, err = r.converse(sctx, s, sc, res.Seed)
		if err != nil {
			c := Check{Judge: "run", Name: "conversation", Status: CheckFail, Step: -1, Detail: err.Error()}
			if errors.Is(err, context.DeadlineExceeded) {
				c.Detail = fmt.Sprintf("timed out after %s: %v", timeout, err)
			}
			if harness {
				c.Status = CheckError
			}
			runCheck = &c
		}
	} else {
		var err error
		tr, err = r.Replay.Transcript(sctx, sc)
		if err != nil {
			c := Check{Judge: "run", Name: "replay", Status: CheckError, Step: -1, Detail: err.Error()}
			runCheck = &c
		}
	}
	if tr == nil {
		tr = &Transcript{}
	}
	res.Transcript = *tr
	if runCheck != nil {
		res.Checks = []Check{*runCheck}
	} else {
		res.Checks = Deterministic(s, sc, tr, r.Mode())
		res.Checks = append(res.Checks, Groundedness(s, tr)...)
		rubric := append(append([]Rubric(nil), s.Rubric...), sc.Rubric...)
		if len(rubric) > 0 {
			res.Checks = append(res.Checks, r.Judge.Judge(sctx, sc, tr, rubric, res.Seed)...)
		}
	}
	res.Status, res.Reasons = verdict(res.Checks)
	return res
}

// verdict: failed when any check failed, errored when none failed but one
// could not run, passed only when every check passed.
func verdict(checks []Check) (string, []string) {
	var fails, errs []string
	for _, c := range checks {
		reason := c.Name + ": " + c.Detail
		if c.Step >= 0 {
			reason = fmt.Sprintf("turn %d %s", c.Step+1, reason)
		}
		switch c.Status {
		case CheckFail:
			fails = append(fails, reason)
		case CheckError:
			errs = append(errs, reason)
		}
	}
	switch {
	case len(fails) > 0:
		return StatusFailed, append(fails, errs...)
	case len(errs) > 0:
		return StatusErrored, errs
	}
	return StatusPassed, nil
}

// converse plays the scenario's caller against a live session. harness is
// true when the failure is the eval's own (simulated caller), not the bot's.
func (r *Runner) converse(ctx context.Context, s *Suite, sc *Scenario, seed int) (tr *Transcript, harness bool, err error) {
	info := dialog.CallInfo{CallID: fmt.Sprintf("eval-%s-%d", sc.ID, seed), From: firstNonEmpty(sc.From, s.Defaults.From),
		To: firstNonEmpty(sc.To, s.Defaults.To), Language: firstNonEmpty(s.Defaults.Language, "en")}
	tr = &Transcript{CallID: info.CallID}
	sess, err := r.Connector.Connect(ctx, info)
	if err != nil {
		return tr, false, err
	}
	closed := false
	defer func() {
		if !closed {
			sess.Close()
		}
	}()
	// A session that completes the transcript once the call is over (voice
	// mode reads the call record) does so after hanging up.
	if f, ok := sess.(Finisher); ok {
		defer func() {
			if err == nil {
				closed = true
				sess.Close()
				if ferr := f.Finish(ctx, tr); ferr != nil {
					harness, err = true, ferr
				}
			}
		}()
	}
	greet, err := sess.Greet(ctx)
	if err != nil {
		return tr, false, err
	}
	greet.Step = -1
	tr.Turns = append(tr.Turns, greet)
	if endsCall(greet.Action) {
		tr.Ended = true
		return tr, false, nil
	}
	maxTurns := len(sc.Caller)
	if sc.Simulate != nil {
		maxTurns = firstPositive(sc.Simulate.MaxTurns, s.Defaults.MaxTurns, 8)
	}
	for step := 0; step < maxTurns; step++ {
		var in Input
		if sc.Simulate == nil {
			in = Input{Text: sc.Caller[step].Say, DTMF: sc.Caller[step].DTMF}
		} else if step == 0 && sc.Simulate.Opening != "" {
			in = Input{Text: sc.Simulate.Opening}
		} else {
			text, done, err := r.Simulator.Next(ctx, sc, tr.Turns, seed)
			if err != nil {
				return tr, true, err
			}
			if done {
				break
			}
			in = Input{Text: text}
		}
		caller, bot, err := sess.Send(ctx, in)
		caller.Step, bot.Step = step, step
		tr.Turns = append(tr.Turns, caller)
		if err != nil {
			return tr, false, fmt.Errorf("reply to caller turn %d: %w", step+1, err)
		}
		tr.Turns = append(tr.Turns, bot)
		if endsCall(bot.Action) {
			tr.Ended = true
			break
		}
	}
	return tr, false, nil
}

func endsCall(a *Action) bool {
	return a != nil && (a.Kind == string(dialog.ActionEnd) || a.Kind == string(dialog.ActionTransfer))
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func firstPositive(v ...int) int {
	for _, n := range v {
		if n > 0 {
			return n
		}
	}
	return 0
}

func runID(suite, mode string, at time.Time) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%s/%d", suite, mode, at.UnixNano())
	return fmt.Sprintf("%s-%s-%08x", at.Format("20060102T150405"), mode, h.Sum32())
}
