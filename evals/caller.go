package evals

import (
	"context"
	"errors"
	"fmt"
	"strings"

	openai "github.com/sashabaranov/go-openai"
)

// Simulator is an LLM playing the caller from a scenario's persona and
// goal, through any OpenAI-compatible chat-completions endpoint.
type Simulator struct {
	Client *openai.Client
	Model  string
}

// endToken is what the simulated caller says when it is done.
const endToken = "[END]"

// Next returns the caller's next words given the conversation so far, or
// done when the caller would hang up.
func (s *Simulator) Next(ctx context.Context, sc *Scenario, history []Turn, seed int) (text string, done bool, err error) {
	if s == nil || s.Client == nil {
		return "", false, errors.New("simulated caller: no OpenAI-compatible endpoint configured")
	}
	sys := "You are role-playing a person phoning a company's contact center; the other side is the company's voice assistant. " +
		"Speak only as the caller: one short, natural spoken turn at a time, no stage directions. " +
		"When your goal is met, when you have been transferred to a person, or when the assistant says goodbye, answer exactly " + endToken + "."
	if sc.Persona != "" {
		sys += "\nWho you are: " + sc.Persona
	}
	sys += "\nYour goal: " + sc.Goal
	msgs := []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleSystem, Content: sys}}
	for _, t := range history {
		role := openai.ChatMessageRoleUser // the bot speaks to the simulated caller
		content := t.Text
		if t.Speaker == "caller" {
			role = openai.ChatMessageRoleAssistant
			if t.DTMF != "" {
				content = "(presses " + t.DTMF + ")"
			}
		}
		if strings.TrimSpace(content) == "" {
			continue
		}
		msgs = append(msgs, openai.ChatCompletionMessage{Role: role, Content: content})
	}
	model := s.Model
	if model == "" {
		model = openai.GPT4oMini
	}
	resp, err := s.Client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
		Model: model, Messages: msgs, Temperature: 0, Seed: &seed, MaxCompletionTokens: 120,
	})
	if err != nil {
		return "", false, fmt.Errorf("simulated caller: %w", err)
	}
	if len(resp.Choices) == 0 {
		return "", false, errors.New("simulated caller: the endpoint returned no choices")
	}
	text = strings.TrimSpace(resp.Choices[0].Message.Content)
	if i := strings.Index(text, endToken); i >= 0 {
		return strings.TrimSpace(text[:i]), true, nil
	}
	if text == "" {
		return "", false, errors.New("simulated caller: empty reply")
	}
	return text, false, nil
}
