package evals

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parley-cc/parley/voicebot/dialog"
)

// keywordBot is a small deterministic dialog.Engine for the runner's own
// tests; the demo deployment's real engine is exercised in demo_test.go.
type keywordBot struct{ hang chan struct{} }

func (b *keywordBot) NewConversation(context.Context, dialog.CallInfo) (dialog.Conversation, error) {
	return &keywordConv{bot: b}, nil
}

type keywordConv struct {
	bot   *keywordBot
	slots map[string]string
}

func (c *keywordConv) Greet(_ context.Context, emit func(string)) (dialog.Result, error) {
	t := "Hello, thanks for calling Acme. How can I help?"
	emit(t)
	return dialog.Result{Text: t}, nil
}

func (c *keywordConv) Interrupted(string) {}

func (c *keywordConv) Respond(ctx context.Context, in dialog.Input, emit func(string)) (dialog.Result, error) {
	low := strings.ToLower(in.Text)
	var r dialog.Result
	switch {
	case in.DTMF == "1" || strings.Contains(low, "bill"):
		r = dialog.Result{Intent: "billing", Confidence: 0.9, Text: "Bills are issued on the 1st of each month and you can pay by direct debit.",
			Citations: []dialog.Citation{{DocumentID: "billing", Passage: "Bills are issued on the 1st of each month. You can pay by direct debit or card."}}}
	case strings.Contains(low, "hang"):
		<-c.bot.hang // ignores ctx on purpose: the runner must time out anyway
		return r, errors.New("released")
	case strings.Contains(low, "card"):
		r = dialog.Result{Intent: "payment", Text: "I have your card number as 4111 1111 1111 1111."}
	case strings.Contains(low, "fee"):
		r = dialog.Result{Intent: "fees", Text: "The late fee is £12."}
	case strings.Contains(low, "angry") || strings.Contains(low, "agent"):
		r = dialog.Result{Intent: "agent", Sentiment: -0.8, Text: "Let me connect you with a colleague.",
			Action: &dialog.Action{Kind: dialog.ActionTransfer, Queue: "support", Reason: "requested"}}
	case strings.Contains(low, "account"):
		if c.slots == nil {
			c.slots = map[string]string{}
		}
		c.slots["account"] = strings.Join(digitRuns(in.Text), "")
		r = dialog.Result{Intent: "account", Text: "Thanks, I have your account.", Slots: c.slots}
	case strings.Contains(low, "bye"):
		r = dialog.Result{Intent: "goodbye", Sentiment: 0.5, Text: "Thanks for calling Acme. Goodbye!", Action: &dialog.Action{Kind: dialog.ActionEnd}}
	default:
		r = dialog.Result{Intent: "out_of_scope", Text: "Sorry, I can't help with that."}
	}
	emit(r.Text)
	return r, nil
}

const goodSuite = `suite: acme
defaults:
  timeout: 2s
compliance:
  greeting: ["thanks for calling"]
  closing: ["goodbye"]
  forbidden: ["stupid"]
scenarios:
  - id: billing-question
    persona: a customer
    caller:
      - say: When is my bill issued?
        expect: {intent: billing, mention: ["1st"], cites: billing, latency: {first_token: 5s}}
      - say: thanks, bye
        expect: {action: end}
    expect: {intent: billing, handoff: false, cites: [billing], ended: true}
  - id: wants-agent
    caller:
      - say: I want an agent now
    expect: {handoff: true, queue: support, reason: requested}
  - id: wrong-queue
    caller:
      - say: I want an agent now
    expect: {queue: billing}
  - id: menu-key
    caller:
      - dtmf: "1"
        expect: {intent: billing}
  - id: account-slot
    caller:
      - say: my account is 12345678
    expect: {slots: {account: "12345678"}}
`

func writeSuite(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "suite.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadErrorsNameFileLineAndField(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"empty", "  \n", "empty suite file"},
		{"bad yaml", "suite: x\nscenarios:\n  - id: a\n   caller: [", "suite.yaml:2: invalid YAML: did not find expected '-' indicator"},
		{"unknown field", "suite: x\nscenarios:\n  - id: a\n    caller:\n      - say: hi\n        expect: {intnet: billing}\n", `suite.yaml:6: scenarios[0].caller[0].expect.intnet: unknown field "intnet"`},
		{"bad duration", "suite: x\nscenarios:\n  - id: a\n    timeout: soon\n    caller: [{say: hi}]\n", `suite.yaml:4: scenarios[0].timeout: invalid duration "soon"`},
		{"bad regex", "suite: x\nscenarios:\n  - id: a\n    caller:\n      - say: hi\n        expect:\n          regex: ['(']\n", "suite.yaml:7: scenarios[0].caller[0].expect.regex[0]: invalid regular expression"},
		{"duplicate id", "suite: x\nscenarios:\n  - id: a\n    caller: [{say: hi}]\n  - id: a\n    caller: [{say: hi}]\n", `suite.yaml:5: scenarios[1].id: duplicate id "a"`},
		{"no turns", "suite: x\nscenarios:\n  - id: a\n", "suite.yaml:3: scenarios[0]: no caller turns"},
		{"no name", "scenarios:\n  - id: a\n    caller: [{say: hi}]\n", "suite: missing"},
		{"bad stage", "suite: x\nscenarios:\n  - id: a\n    caller:\n      - say: hi\n        expect:\n          latency: {warp: 1s}\n", `suite.yaml:7: scenarios[0].caller[0].expect.latency.warp: unknown latency stage`},
		{"bad dtmf", "suite: x\nscenarios:\n  - id: a\n    caller: [{dtmf: '1x'}]\n", "scenarios[0].caller[0].dtmf: invalid DTMF"},
		{"wrong type", "suite: x\nscenarios:\n  - id: a\n    caller: {say: hi}\n", "suite.yaml:4: scenarios[0].caller: want a list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(writeSuite(t, c.body))
			if err == nil {
				t.Fatalf("loaded a malformed suite")
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a LoadError", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func runSuite(t *testing.T, body string, r *Runner) *Report {
	t.Helper()
	s, err := Load(writeSuite(t, body))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func byID(rep *Report) map[string]*ScenarioResult {
	m := map[string]*ScenarioResult{}
	for i := range rep.Scenarios {
		m[rep.Scenarios[i].ID] = &rep.Scenarios[i]
	}
	return m
}

func TestTextModeVerdicts(t *testing.T) {
	rep := runSuite(t, goodSuite, &Runner{Connector: TextConnector{Engine: &keywordBot{}}, Concurrency: 2, Seed: 7})
	got := byID(rep)
	for _, id := range []string{"billing-question", "wants-agent", "menu-key", "account-slot"} {
		if got[id].Status != StatusPassed {
			t.Errorf("%s: %s %v", id, got[id].Status, got[id].Reasons)
		}
	}
	w := got["wrong-queue"]
	if w.Status != StatusFailed || len(w.Reasons) == 0 || !strings.Contains(w.Reasons[0], "expected hand-off to queue billing, got queue support") {
		t.Fatalf("wrong-queue: %s %v", w.Status, w.Reasons)
	}
	if rep.Passed != 4 || rep.Failed != 1 {
		t.Fatalf("passed %d failed %d", rep.Passed, rep.Failed)
	}
	m := rep.Metrics
	if m.Handoffs != 2 || m.CorrectHandoffs != 1 || m.WrongQueue != 1 || m.Containment != 0.6 {
		t.Fatalf("hand-off metrics: %+v", m)
	}
	if m.Latency["first_token"].N == 0 || m.Latency["reply"].N == 0 {
		t.Fatalf("latency not measured: %+v", m.Latency)
	}
	if m.GroundedClaims == 0 || m.Groundedness != 1 {
		t.Fatalf("groundedness %v over %d", m.Groundedness, m.GroundedClaims)
	}
}

func TestHangingScenarioTimesOutAndFails(t *testing.T) {
	bot := &keywordBot{hang: make(chan struct{})}
	defer close(bot.hang)
	body := "suite: x\nscenarios:\n  - id: hangs\n    timeout: 200ms\n    caller: [{say: please hang}]\n  - id: fine\n    caller: [{say: bye}]\n"
	start := time.Now()
	rep := runSuite(t, body, &Runner{Connector: TextConnector{Engine: bot}, Concurrency: 2})
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("run took %s", d)
	}
	h := byID(rep)["hangs"]
	if h.Status != StatusFailed || !strings.Contains(h.Reasons[0], "timed out after 200ms") {
		t.Fatalf("hanging scenario: %s %v", h.Status, h.Reasons)
	}
	if f := byID(rep)["fine"]; f.Status != StatusPassed {
		t.Fatalf("the other scenario: %s %v", f.Status, f.Reasons)
	}
}

func TestComplianceAndGroundedness(t *testing.T) {
	body := `suite: x
compliance:
  greeting: ["welcome to globex"]
  forbidden: ["card number"]
scenarios:
  - id: card
    caller: [{say: "my card is 4111 1111 1111 1111"}]
  - id: fee
    caller: [{say: what is the fee}]
`
	rep := runSuite(t, body, &Runner{Connector: TextConnector{Engine: &keywordBot{}}})
	card := byID(rep)["card"]
	var names []string
	for _, c := range card.Checks {
		if c.Status == CheckFail {
			names = append(names, c.Name)
		}
	}
	want := []string{"greeting", "forbidden", "personal_data"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("failed checks %v, want %v (%v)", names, want, card.Reasons)
	}
	fee := byID(rep)["fee"]
	found := false
	for _, c := range fee.Checks {
		found = found || c.Judge == "groundedness" && c.Name == "uncited_claim" && c.Status == CheckFail
	}
	if !found {
		t.Fatalf("an uncited £12 fee was not flagged: %+v", fee.Checks)
	}
	if rep.Metrics.ComplianceViolations < 4 {
		t.Fatalf("violations %d", rep.Metrics.ComplianceViolations)
	}
}

func TestPersonalDataSpokenDigitsAndMasking(t *testing.T) {
	tr := &Transcript{Turns: []Turn{
		{Speaker: "caller", Text: "my account number is 55 66 77 88", Step: 0},
		{Speaker: "bot", Text: "Thanks, that's account five five six six seven seven eight eight.", Step: 0},
		{Speaker: "caller", Text: "and my card is 4111-1111-1111-1111", Step: 1},
		{Speaker: "bot", Text: "Got it, the card ending in 1111.", Step: 1},
	}}
	checks := personalData(tr, true)
	if len(checks) != 1 || checks[0].Status != CheckFail || checks[0].Step != 0 || strings.Contains(checks[0].Detail, "55667788") {
		t.Fatalf("checks %+v", checks)
	}
}

func TestGroundednessUnsupportedSentence(t *testing.T) {
	tr := &Transcript{Turns: []Turn{{Speaker: "bot", Text: "Routers should be restarted weekly. Our engineers visit within 4 hours for free.",
		Citations: []dialog.Citation{{DocumentID: "router", Passage: "Restart your router weekly: routers should be restarted to clear faults."}}}}}
	c := Groundedness(&Suite{}, tr)
	if len(c) != 1 || c[0].Status != CheckFail || c[0].Score != 0.5 || !strings.Contains(c[0].Detail, "engineers visit") {
		t.Fatalf("%+v", c)
	}
}

func TestRerunWithSameSeedGivesSameResult(t *testing.T) {
	var reps []*Report
	for i := 0; i < 3; i++ {
		reps = append(reps, runSuite(t, goodSuite, &Runner{Connector: TextConnector{Engine: &keywordBot{}}, Concurrency: 1 + i*2, Seed: 42}))
	}
	strip := func(r *Report) []ScenarioResult {
		out := append([]ScenarioResult(nil), r.Scenarios...)
		for i := range out {
			out[i].DurationMs = 0
			out[i].Transcript.Turns = append([]Turn(nil), out[i].Transcript.Turns...)
			for j := range out[i].Transcript.Turns {
				out[i].Transcript.Turns[j].Latency = nil
			}
			var cs []Check
			for _, c := range out[i].Checks {
				if !strings.HasPrefix(c.Name, "latency") {
					cs = append(cs, c)
				} else {
					c.Detail = ""
					cs = append(cs, c)
				}
			}
			out[i].Checks = cs
		}
		return out
	}
	for i := 1; i < len(reps); i++ {
		if !reflect.DeepEqual(strip(reps[0]), strip(reps[i])) {
			t.Fatalf("run %d differs from run 0", i)
		}
	}
	if reps[0].Scenarios[0].Seed != reps[1].Scenarios[0].Seed {
		t.Fatal("scenario seeds differ")
	}
}

func TestCompareFlagsRegressionAndGates(t *testing.T) {
	base := runSuite(t, strings.Replace(goodSuite, "expect: {queue: billing}", "expect: {queue: support}", 1), &Runner{Connector: TextConnector{Engine: &keywordBot{}}})
	cur := runSuite(t, goodSuite, &Runner{Connector: TextConnector{Engine: &keywordBot{}}})
	if base.Failed != 0 {
		t.Fatalf("baseline failed: %+v", base.Scenarios)
	}
	cmp := Compare(base, cur, Tolerance{})
	var names []string
	for _, d := range cmp.Regressions {
		names = append(names, d.Kind+":"+d.Name)
	}
	for _, want := range []string{"scenario:wrong-queue", "metric:pass_rate", "metric:task_success", "metric:wrong_queue"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("regressions %v lack %s", names, want)
		}
	}
	if cmp2 := Compare(base, base, Tolerance{}); len(cmp2.Regressions) != 0 {
		t.Fatalf("a run regresses against itself: %+v", cmp2.Regressions)
	}
	gates := []Gate{}
	for _, g := range []string{"task_success>=0.9", "regressions<=0", "compliance_violations<=0"} {
		gg, err := ParseGate(g)
		if err != nil {
			t.Fatal(err)
		}
		gates = append(gates, gg)
	}
	res := CheckGates(gates, cur, &cmp)
	if res[0].Passed || res[1].Passed || !res[2].Passed {
		t.Fatalf("gates %+v", res)
	}
	if _, err := ParseGate("task_success => 0.9"); err == nil {
		t.Fatal("malformed gate accepted")
	}
}
