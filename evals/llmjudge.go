package evals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// LLMJudge asks an LLM each rubric question about a transcript through any
// OpenAI-compatible chat-completions endpoint, and reads back a score from
// 1 to 5 with a rationale. A question it cannot get answered (endpoint
// down, malformed answer) is an errored check, never a passed one.
type LLMJudge struct {
	Client *openai.Client
	Model  string
	// Timeout per question; default 60s.
	Timeout time.Duration
}

type verdictJSON struct {
	Score     *float64 `json:"score"`
	Rationale string   `json:"rationale"`
}

// Judge answers every rubric question for the transcript.
func (j *LLMJudge) Judge(ctx context.Context, sc *Scenario, tr *Transcript, rubric []Rubric, seed int) []Check {
	out := make([]Check, 0, len(rubric))
	for _, q := range rubric {
		c := Check{Judge: "llm", Name: "rubric: " + q.Question, Step: -1}
		score, rationale, err := j.ask(ctx, sc, tr, q.Question, seed)
		min := q.MinScore
		if min == 0 {
			min = 4
		}
		switch {
		case err != nil:
			c.Status, c.Detail = CheckError, "judge could not run: "+err.Error()
		case score >= float64(min):
			c.Status, c.Score, c.Rationale = CheckPass, score, rationale
			c.Detail = fmt.Sprintf("score %.0f/5 (pass at %d): %s", score, min, rationale)
		default:
			c.Status, c.Score, c.Rationale = CheckFail, score, rationale
			c.Detail = fmt.Sprintf("score %.0f/5 (pass at %d): %s", score, min, rationale)
		}
		out = append(out, c)
	}
	return out
}

func (j *LLMJudge) ask(ctx context.Context, sc *Scenario, tr *Transcript, question string, seed int) (float64, string, error) {
	if j == nil || j.Client == nil {
		return 0, "", errors.New("no LLM judge endpoint configured (--judge-url or OPENAI_BASE_URL)")
	}
	timeout := j.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "Scenario: %s\n", firstNonEmpty(sc.Name, sc.ID))
	if sc.Persona != "" {
		fmt.Fprintf(&b, "Caller persona: %s\n", sc.Persona)
	}
	if sc.Goal != "" {
		fmt.Fprintf(&b, "Caller goal: %s\n", sc.Goal)
	}
	b.WriteString("\nTranscript:\n")
	b.WriteString(FormatTranscript(tr))
	fmt.Fprintf(&b, "\nQuestion: %s\n", question)
	b.WriteString(`Answer with a JSON object only: {"score": <1 to 5, 5 = fully yes, 1 = not at all>, "rationale": "<one or two sentences citing the transcript>"}`)
	model := j.Model
	if model == "" {
		model = openai.GPT4oMini
	}
	resp, err := j.Client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
		Model: model, Temperature: 0, Seed: &seed,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: "You are a strict quality assessor for a contact center's voice assistant. You judge transcripts against one rubric question at a time."},
			{Role: openai.ChatMessageRoleUser, Content: b.String()},
		},
		ResponseFormat: &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject},
	})
	if err != nil {
		return 0, "", err
	}
	if len(resp.Choices) == 0 {
		return 0, "", errors.New("the endpoint returned no choices")
	}
	return parseVerdict(resp.Choices[0].Message.Content)
}

// parseVerdict reads {"score","rationale"}, tolerating a fenced code block
// or prose around the object.
func parseVerdict(content string) (float64, string, error) {
	s := strings.TrimSpace(content)
	i, k := strings.Index(s, "{"), strings.LastIndex(s, "}")
	if i < 0 || k < i {
		return 0, "", fmt.Errorf("judge answer is not JSON: %q", clip(content))
	}
	var v verdictJSON
	if err := json.Unmarshal([]byte(s[i:k+1]), &v); err != nil {
		return 0, "", fmt.Errorf("judge answer is not valid JSON (%v): %q", err, clip(content))
	}
	if v.Score == nil {
		return 0, "", fmt.Errorf("judge answer has no score: %q", clip(content))
	}
	if *v.Score < 1 || *v.Score > 5 {
		return 0, "", fmt.Errorf("judge score %v out of range 1..5", *v.Score)
	}
	return *v.Score, strings.TrimSpace(v.Rationale), nil
}

// FormatTranscript writes a transcript as "BOT: ..." / "CALLER: ..." lines
// with actions, for judges and terminal output.
func FormatTranscript(tr *Transcript) string {
	var b strings.Builder
	for _, t := range tr.Turns {
		who := "BOT"
		if t.Speaker == "caller" {
			who = "CALLER"
		}
		text := t.Text
		if t.DTMF != "" {
			text = strings.TrimSpace(text + " [keys " + t.DTMF + "]")
		}
		fmt.Fprintf(&b, "%s: %s", who, text)
		if t.Action != nil {
			fmt.Fprintf(&b, " [%s", t.Action.Kind)
			if t.Action.Queue != "" {
				fmt.Fprintf(&b, " to %s", t.Action.Queue)
			}
			b.WriteString("]")
		}
		b.WriteByte('\n')
	}
	return b.String()
}
