package evals

import (
	"context"
	"strings"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/parley-cc/parley/voicebot/openaitest"
)

func clientFor(url string) *openai.Client {
	cfg := openai.DefaultConfig("test-key")
	cfg.BaseURL = url
	return openai.NewClientWithConfig(cfg)
}

const rubricSuite = `suite: judged
rubric:
  - question: Did the bot answer the billing question?
scenarios:
  - id: billing
    goal: learn when the bill comes
    caller: [{say: when is my bill}]
    rubric:
      - {question: "Was the bot polite?", min_score: 3}
`

func TestLLMJudgeScoresWithRationale(t *testing.T) {
	srv := openaitest.New()
	defer srv.Close()
	srv.Script(
		openaitest.Reply{Text: `{"score": 5, "rationale": "It said bills come on the 1st."}`},
		openaitest.Reply{Text: "```json\n{\"score\": 2, \"rationale\": \"Curt.\"}\n```"},
	)
	rep := runSuite(t, rubricSuite, &Runner{Connector: TextConnector{Engine: &keywordBot{}}, Judge: &LLMJudge{Client: clientFor(srv.URL)}, Seed: 3})
	sc := rep.Scenarios[0]
	var llm []Check
	for _, c := range sc.Checks {
		if c.Judge == "llm" {
			llm = append(llm, c)
		}
	}
	if len(llm) != 2 || llm[0].Status != CheckPass || llm[0].Score != 5 || llm[0].Rationale != "It said bills come on the 1st." {
		t.Fatalf("first rubric answer: %+v", llm)
	}
	if llm[1].Status != CheckFail || llm[1].Score != 2 || sc.Status != StatusFailed {
		t.Fatalf("second rubric answer: %+v status %s", llm[1], sc.Status)
	}
	reqs := srv.ChatRequests()
	if len(reqs) != 2 || !strings.Contains(reqs[0].LastUser(), "CALLER: when is my bill") || reqs[0].Seed == nil || *reqs[0].Seed != sc.Seed {
		t.Fatalf("judge request: %+v", reqs)
	}
	if rep.Metrics.JudgeN != 2 || rep.Metrics.JudgeScore != 3.5 {
		t.Fatalf("judge metrics %+v", rep.Metrics)
	}
}

func TestJudgeThatCannotRunIsErroredNeverPassed(t *testing.T) {
	srv := openaitest.New()
	url := srv.URL
	srv.Close() // unreachable endpoint
	rep := runSuite(t, rubricSuite, &Runner{Connector: TextConnector{Engine: &keywordBot{}}, Judge: &LLMJudge{Client: clientFor(url), Timeout: 2 * time.Second}})
	if sc := rep.Scenarios[0]; sc.Status != StatusErrored || !strings.Contains(sc.Reasons[0], "judge could not run") {
		t.Fatalf("unreachable judge: %s %v", sc.Status, sc.Reasons)
	}
	if rep.Metrics.JudgeErrors != 2 || rep.Errored != 1 || rep.Passed != 0 {
		t.Fatalf("report %+v", rep.Metrics)
	}
	// No judge configured at all.
	rep = runSuite(t, rubricSuite, &Runner{Connector: TextConnector{Engine: &keywordBot{}}})
	if sc := rep.Scenarios[0]; sc.Status != StatusErrored || !strings.Contains(sc.Reasons[0], "no LLM judge endpoint") {
		t.Fatalf("no judge: %s %v", sc.Status, sc.Reasons)
	}
	// Malformed answers.
	srv2 := openaitest.New()
	defer srv2.Close()
	srv2.Script(openaitest.Reply{Text: "I think it was fine."}, openaitest.Reply{Text: `{"score": 9}`})
	rep = runSuite(t, rubricSuite, &Runner{Connector: TextConnector{Engine: &keywordBot{}}, Judge: &LLMJudge{Client: clientFor(srv2.URL)}})
	sc := rep.Scenarios[0]
	if sc.Status != StatusErrored || len(sc.Reasons) != 2 || !strings.Contains(sc.Reasons[0], "not JSON") || !strings.Contains(sc.Reasons[1], "out of range") {
		t.Fatalf("malformed judge answers: %s %v", sc.Status, sc.Reasons)
	}
	// A server error.
	srv2.Script(openaitest.Reply{Error: openaitest.ErrOverloaded}, openaitest.Reply{Error: openaitest.ErrOverloaded})
	rep = runSuite(t, rubricSuite, &Runner{Connector: TextConnector{Engine: &keywordBot{}}, Judge: &LLMJudge{Client: clientFor(srv2.URL)}})
	if sc := rep.Scenarios[0]; sc.Status != StatusErrored || !strings.Contains(sc.Reasons[0], "503") {
		t.Fatalf("overloaded judge: %s %v", sc.Status, sc.Reasons)
	}
}

func TestSimulatedCallerDrivesConversation(t *testing.T) {
	srv := openaitest.New()
	defer srv.Close()
	srv.OnChat(func(r *openaitest.ChatRequest) openaitest.Reply {
		// The caller asks about the bill, then says goodbye, then is done.
		switch n := len(r.Messages); {
		case n <= 2:
			return openaitest.Reply{Text: "Hi, when is my bill issued?"}
		case n <= 4:
			return openaitest.Reply{Text: "Great, thanks, bye."}
		}
		return openaitest.Reply{Text: endToken}
	})
	body := `suite: sim
scenarios:
  - id: sim-billing
    persona: a retired teacher, polite
    goal: find out when the bill is issued
    simulate: {max_turns: 5}
    expect: {intent: billing, ended: true, handoff: false}
`
	rep := runSuite(t, body, &Runner{Connector: TextConnector{Engine: &keywordBot{}}, Simulator: &Simulator{Client: clientFor(srv.URL)}, Seed: 9})
	sc := rep.Scenarios[0]
	if sc.Status != StatusPassed {
		t.Fatalf("%s %v\n%s", sc.Status, sc.Reasons, FormatTranscript(&sc.Transcript))
	}
	reqs := srv.ChatRequests()
	if !strings.Contains(reqs[0].Messages[0].Content, "retired teacher") || reqs[0].Messages[1].Role != openai.ChatMessageRoleUser {
		t.Fatalf("simulator prompt: %+v", reqs[0].Messages)
	}
	// An unreachable simulator errors the scenario (the harness failed, not the bot).
	srv.Close()
	rep = runSuite(t, body, &Runner{Connector: TextConnector{Engine: &keywordBot{}}, Simulator: &Simulator{Client: clientFor(srv.URL)}})
	if sc := rep.Scenarios[0]; sc.Status != StatusErrored {
		t.Fatalf("unreachable simulator: %s %v", sc.Status, sc.Reasons)
	}
	_ = context.Background
}
