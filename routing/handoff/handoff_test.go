package handoff

import (
	"context"
	"strings"
	"testing"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/voicebot/openaitest"
)

func turns() []store.Turn {
	return []store.Turn{
		{Speaker: store.SpeakerBot, Text: "Hello, this is Parley. How can I help?"},
		{Speaker: store.SpeakerCaller, Text: "Hi, my name is Dana Reyes.", Sentiment: 0.3},
		{Speaker: store.SpeakerCaller, Text: "I was charged twice for order 88412 and I want a refund of $49.99", Intent: "billing_refund", Confidence: 0.91, Sentiment: 0.0},
		{Speaker: store.SpeakerBot, Text: "I'm sorry about that. You can request a refund from the Orders page under Billing. Is there anything else?"},
		{Speaker: store.SpeakerCaller, Text: "I already did that and it failed, this is ridiculous", Intent: "complaint", Confidence: 0.55, Sentiment: -0.6},
		{Speaker: store.SpeakerBot, Text: "Please try again after signing out and back in. Would that help?"},
		{Speaker: store.SpeakerCaller, Text: "No. I want to talk to a real person now", Intent: "agent_request", Confidence: 0.97, Sentiment: -0.8},
	}
}

func TestExtractiveSummary(t *testing.T) {
	s := Extract(Input{Turns: turns(), Reason: "requested", Facts: map[string]string{"tier": "vip"}})
	if s.Source != "extractive" || s.Intent != "billing_refund" || s.Reason != "requested" || s.Turns != 7 {
		t.Fatalf("summary %+v", s)
	}
	if !strings.Contains(s.Wants, "charged twice") {
		t.Fatalf("wants %q, want the caller's request", s.Wants)
	}
	if len(s.Tried) != 2 || !strings.Contains(s.Tried[0], "Orders page") || !strings.Contains(s.Tried[1], "signing out") {
		t.Fatalf("tried %q", s.Tried)
	}
	if s.Sentiment.Direction != "worsening" || s.Sentiment.End >= s.Sentiment.Start {
		t.Fatalf("sentiment %+v, want worsening", s.Sentiment)
	}
	if s.Facts["reference"] != "88412" || s.Facts["amount"] != "$49.99" || s.Facts["name"] != "Dana Reyes" || s.Facts["tier"] != "vip" {
		t.Fatalf("facts %v", s.Facts)
	}
	if _, ok := s.Facts["phone"]; ok {
		t.Fatalf("order number taken for a phone: %v", s.Facts)
	}
	if !strings.HasPrefix(s.NextStep, "Acknowledge") || !strings.Contains(s.NextStep, "billing refund") || !strings.Contains(s.NextStep, "88412") {
		t.Fatalf("next step %q", s.NextStep)
	}
	back, err := Parse(s.JSON())
	if err != nil || back.Intent != s.Intent || len(back.Tried) != 2 {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if _, err := Parse("{not json"); err == nil {
		t.Fatal("bad summary JSON accepted")
	}
}

func TestExtractiveSummaryOfAnEmptyCall(t *testing.T) {
	s := Extract(Input{Reason: "flow"})
	if s.Sentiment.Direction != "unknown" || s.Wants != "" || len(s.Tried) != 0 || s.NextStep == "" {
		t.Fatalf("empty call summary %+v", s)
	}
}

func TestLLMSummaryOverTheWire(t *testing.T) {
	srv := openaitest.New()
	defer srv.Close()
	srv.Script(openaitest.Reply{Text: `{"intent":"duplicate_charge","wants":"A refund for a duplicate charge on order 88412.","tried":["Refund from the Orders page","Sign out and in"],"facts":{"order":"88412"},"next_step":"Issue the refund manually."}`})
	l := NewLLM(srv.URL, "sk-test", "gpt-4o-mini")
	s, err := l.Summarize(context.Background(), Input{Turns: turns(), Reason: "requested", Queue: "billing"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Source != "llm" || s.Intent != "duplicate_charge" || s.NextStep != "Issue the refund manually." || len(s.Tried) != 2 || s.Facts["order"] != "88412" {
		t.Fatalf("llm summary %+v", s)
	}
	// Measured fields come from the turns, not the model.
	if s.Sentiment.Direction != "worsening" || s.Turns != 7 || s.Reason != "requested" {
		t.Fatalf("measured fields %+v", s)
	}
	reqs := srv.ChatRequests()
	if len(reqs) != 1 || reqs[0].ResponseFormat == nil || reqs[0].ResponseFormat.Type != goopenai.ChatCompletionResponseFormatTypeJSONObject ||
		!strings.Contains(reqs[0].LastUser(), "charged twice for order 88412") {
		t.Fatalf("request to the model: %+v", reqs)
	}
}

func TestLLMFailureFallsBackToExtractive(t *testing.T) {
	srv := openaitest.New()
	defer srv.Close()
	srv.Script(openaitest.Reply{Error: openaitest.ErrOverloaded}, openaitest.Reply{Text: "Sure! Here is a summary."})
	l := NewLLM(srv.URL, "sk-test", "")
	for i, want := range []string{"503", "llm:"} {
		s, err := l.Summarize(context.Background(), Input{Turns: turns(), Reason: "requested"})
		if err != nil {
			t.Fatal(err)
		}
		if s.Source != "extractive" || s.Intent != "billing_refund" || !strings.Contains(s.Error, want) {
			t.Fatalf("reply %d: %+v, want the extractive summary with an error mentioning %q", i, s, want)
		}
	}
}

func TestExtractiveSummaryOfAnImmediateRequestForAPerson(t *testing.T) {
	s := Extract(Input{Reason: "requested", Intent: "talk_to_agent", Turns: []store.Turn{
		{Speaker: store.SpeakerBot, Text: "How can I help?"},
		{Speaker: store.SpeakerCaller, Text: "let me talk to a person", Intent: "talk_to_agent", Confidence: 0.96},
	}})
	if s.Intent != "talk_to_agent" || !strings.Contains(s.NextStep, "ask how you can help") {
		t.Fatalf("summary %+v", s)
	}
	// A real need said earlier wins over the request for a person.
	s = Extract(Input{Reason: "requested", Intent: "talk_to_agent", Turns: turns()})
	if s.Intent != "billing_refund" {
		t.Fatalf("intent %q, want billing_refund", s.Intent)
	}
}
