package handoff

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	goopenai "github.com/sashabaranov/go-openai"
)

// LLM writes summaries with an OpenAI-compatible chat model (JSON mode). On
// any failure (network, timeout, malformed JSON) it returns the extractive
// summary with Error set, so a hand-off never waits on or fails with the
// model.
type LLM struct {
	Client  *goopenai.Client
	Model   string        // default gpt-4o-mini
	Timeout time.Duration // default 5s
}

// NewLLM builds an LLM summarizer for an endpoint (baseURL ending in /v1;
// empty means OpenAI's).
func NewLLM(baseURL, apiKey, model string) *LLM {
	cfg := goopenai.DefaultConfig(apiKey)
	if baseURL != "" {
		cfg.BaseURL = baseURL
	}
	return &LLM{Client: goopenai.NewClientWithConfig(cfg), Model: model}
}

const systemPrompt = `You write hand-off summaries for human contact-center agents taking over a call from a voicebot.
Answer with one JSON object and nothing else, with these keys:
"intent" (short snake_case label), "wants" (one sentence: what the customer wants),
"tried" (array of short strings: what the bot already tried or told the customer),
"facts" (object of customer facts: names, order or account numbers, e-mail, amounts, tier),
"next_step" (one sentence: what the agent should do first).
Use only facts from the transcript. Do not invent details.`

// llmReply is the part of the summary the model writes.
type llmReply struct {
	Intent   string            `json:"intent"`
	Wants    string            `json:"wants"`
	Tried    []string          `json:"tried"`
	Facts    map[string]string `json:"facts"`
	NextStep string            `json:"next_step"`
}

// Summarize asks the model; the sentiment trend, reason and counts always
// come from the turns (they are measured, not written).
func (l *LLM) Summarize(ctx context.Context, in Input) (Summary, error) {
	base := Extract(in)
	model := l.Model
	if model == "" {
		model = "gpt-4o-mini"
	}
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var user strings.Builder
	fmt.Fprintf(&user, "Hand-off reason: %s\nQueue: %s\n", in.Reason, in.Queue)
	if len(in.Facts) > 0 {
		user.WriteString("Known facts:\n")
		for _, k := range sortedKeys(in.Facts) {
			fmt.Fprintf(&user, "- %s: %s\n", k, in.Facts[k])
		}
	}
	user.WriteString("Transcript:\n")
	user.WriteString(Transcript(in.Turns))
	resp, err := l.Client.CreateChatCompletion(ctx, goopenai.ChatCompletionRequest{
		Model:          model,
		Temperature:    0,
		ResponseFormat: &goopenai.ChatCompletionResponseFormat{Type: goopenai.ChatCompletionResponseFormatTypeJSONObject},
		Messages: []goopenai.ChatCompletionMessage{
			{Role: goopenai.ChatMessageRoleSystem, Content: systemPrompt},
			{Role: goopenai.ChatMessageRoleUser, Content: user.String()},
		},
	})
	if err != nil {
		base.Error = "llm: " + err.Error()
		return base, nil
	}
	if len(resp.Choices) == 0 {
		base.Error = "llm: no choices in the reply"
		return base, nil
	}
	text := strings.TrimSpace(resp.Choices[0].Message.Content)
	text = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(text, "```json"), "```"), "```")
	var r llmReply
	if err := json.Unmarshal([]byte(text), &r); err != nil || (r.Wants == "" && r.Intent == "") {
		if err == nil {
			err = fmt.Errorf("reply has neither intent nor wants")
		}
		base.Error = "llm: " + err.Error()
		return base, nil
	}
	s := base
	s.Source = "llm"
	if r.Intent != "" {
		s.Intent = r.Intent
	}
	if r.Wants != "" {
		s.Wants = r.Wants
	}
	if r.Tried != nil {
		s.Tried = r.Tried
	}
	for k, v := range r.Facts {
		if v != "" {
			s.Facts[k] = v
		}
	}
	if r.NextStep != "" {
		s.NextStep = r.NextStep
	}
	return s, nil
}
