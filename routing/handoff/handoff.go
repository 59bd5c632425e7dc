// Package handoff builds the summary a human agent receives with an offer
// when the bot hands a conversation over, so that nothing is asked twice:
// intent, what the customer wants, what was already tried, the sentiment
// trend, customer facts and a suggested next step. An LLM writes it when one
// is configured (LLM); otherwise, and whenever the LLM fails, it is
// extracted from the turns (Extract).
package handoff

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/parley-cc/parley/store"
)

// Summary is the hand-off summary. It travels with the offer as JSON.
type Summary struct {
	Intent    string            `json:"intent"`
	Wants     string            `json:"wants"`           // what the customer wants, in their words or paraphrased
	Tried     []string          `json:"tried"`           // what the bot already tried or told the customer
	Sentiment Trend             `json:"sentiment"`       // how the customer's mood went
	Facts     map[string]string `json:"facts"`           // customer facts: slots, tier, order numbers, e-mail...
	NextStep  string            `json:"next_step"`       // suggested next step for the agent
	Reason    string            `json:"reason"`          // why the bot handed off (requested, negative_sentiment, low_confidence, flow)
	Source    string            `json:"source"`          // "llm" or "extractive"
	Turns     int               `json:"turns"`           // turns summarised
	Error     string            `json:"error,omitempty"` // why the LLM summary was not used, if it failed
}

// Trend is the caller's sentiment over the conversation in [-1, 1].
type Trend struct {
	Start     float64 `json:"start"`
	End       float64 `json:"end"`
	Direction string  `json:"direction"` // improving, worsening, steady, unknown
}

// Input is what a summary is built from.
type Input struct {
	Turns  []store.Turn
	Reason string            // hand-off reason
	Intent string            // the dialog's last intent, if known
	Facts  map[string]string // known customer facts (dialog slots, contact record)
	Queue  string
}

// Summarizer builds a summary.
type Summarizer interface {
	Summarize(ctx context.Context, in Input) (Summary, error)
}

// JSON encodes s for an offer.
func (s Summary) JSON() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Parse decodes a summary from an offer ("" gives the zero summary).
func Parse(s string) (Summary, error) {
	var out Summary
	if s == "" {
		return out, nil
	}
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return out, fmt.Errorf("hand-off summary: %w", err)
	}
	return out, nil
}

// Extractive is the Summarizer that needs no model.
type Extractive struct{}

// Summarize never fails.
func (Extractive) Summarize(_ context.Context, in Input) (Summary, error) { return Extract(in), nil }

var (
	orderRe = regexp.MustCompile(`(?i)\b(?:order|ticket|case|account|invoice|booking|reference|ref)\s*(?:number|no\.?|#)?\s*(?:is\s+)?#?\s*([A-Z0-9-]*\d[A-Z0-9-]{3,})\b`)
	emailRe = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)
	phoneRe = regexp.MustCompile(`\+?\d[\d\s().-]{7,}\d`)
	moneyRe = regexp.MustCompile(`(?:[$€£]\s?\d+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?\s?(?:dollars|euros|pounds))`)
	nameRe  = regexp.MustCompile(`\b(?:[Mm]y name is|[Tt]his is|I am|I'm)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)`)
	// tryRe marks bot sentences that gave an answer or an instruction.
	tryRe = regexp.MustCompile(`(?i)\b(try|restart|reset|reboot|check|make sure|you can|go to|click|turn|unplug|update|reinstall|i've|i have|i sent|we sent|i can see|according to|our policy|it takes|please)\b`)
	// filler caller turns that say nothing about the need.
	fillerRe = regexp.MustCompile(`(?i)^(hi|hello|hey|yes|yeah|no|ok(ay)?|thanks?( you)?|sure|right|fine|good (morning|afternoon|evening))[.!?, ]*$`)
	humanRe  = regexp.MustCompile(`(?i)\b(human|person|agent|representative|operator|someone real|real person|speak to (someone|somebody))\b`)
)

// Extract builds a summary from the turns alone.
func Extract(in Input) Summary {
	s := Summary{Reason: in.Reason, Source: "extractive", Turns: len(in.Turns), Facts: map[string]string{}, Tried: []string{}}
	for k, v := range in.Facts {
		if v != "" {
			s.Facts[k] = v
		}
	}
	var caller []store.Turn
	for _, t := range in.Turns {
		if t.Speaker == store.SpeakerCaller {
			caller = append(caller, t)
		}
	}
	// Intent: the dialog's, else the most confident caller intent.
	s.Intent = in.Intent
	if s.Intent == "" || isHandoffIntent(s.Intent) {
		best := -1.0
		if s.Intent != "" {
			best = 0.3 // a real need, even said with modest confidence, beats "talk to an agent"
		}
		for _, t := range caller {
			if t.Intent != "" && t.Confidence > best && !isHandoffIntent(t.Intent) {
				s.Intent, best = t.Intent, t.Confidence
			}
		}
	}
	// Wants: the caller turn that carried the intent, else the first
	// substantive one that is not just a request for a person.
	for _, t := range caller {
		if s.Intent != "" && t.Intent == s.Intent && substantive(t.Text) {
			s.Wants = clip(t.Text, 240)
			break
		}
	}
	if s.Wants == "" {
		for _, t := range caller {
			if substantive(t.Text) && !(humanRe.MatchString(t.Text) && len(strings.Fields(t.Text)) < 12) {
				s.Wants = clip(t.Text, 240)
				break
			}
		}
	}
	// Tried: bot sentences that answered or instructed, after the caller spoke.
	spoke := false
	seen := map[string]bool{}
	for _, t := range in.Turns {
		if t.Speaker == store.SpeakerCaller {
			spoke = true
			continue
		}
		if t.Speaker != store.SpeakerBot || !spoke {
			continue
		}
		for _, sent := range sentences(t.Text) {
			if tryRe.MatchString(sent) && !strings.HasSuffix(sent, "?") && !seen[sent] && !humanRe.MatchString(sent) {
				seen[sent] = true
				s.Tried = append(s.Tried, clip(sent, 160))
				break
			}
		}
	}
	if len(s.Tried) > 4 {
		s.Tried = s.Tried[len(s.Tried)-4:]
	}
	s.Sentiment = trend(caller)
	// Facts mentioned by the caller.
	for _, t := range caller {
		if m := orderRe.FindStringSubmatch(t.Text); m != nil {
			s.Facts["reference"] = m[1]
		}
		if m := emailRe.FindString(t.Text); m != "" {
			s.Facts["email"] = m
		}
		if m := strings.TrimSpace(phoneRe.FindString(t.Text)); m != "" && digits(m) >= 8 &&
			(s.Facts["reference"] == "" || !strings.Contains(m, s.Facts["reference"])) {
			s.Facts["phone"] = m
		}
		if m := moneyRe.FindString(t.Text); m != "" {
			s.Facts["amount"] = m
		}
		if m := nameRe.FindStringSubmatch(t.Text); m != nil {
			s.Facts["name"] = m[1]
		}
	}
	s.NextStep = nextStep(s)
	return s
}

// generic intents say nothing about what the customer wants.
var generic = map[string]bool{"greeting": true, "greet": true, "goodbye": true, "thanks": true, "thank_you": true, "affirm": true,
	"deny": true, "chitchat": true, "smalltalk": true, "fallback": true, "out_of_scope": true, "unknown": true, "none": true}

func isHandoffIntent(i string) bool {
	i = strings.ToLower(i)
	return generic[i] || strings.Contains(i, "agent") || strings.Contains(i, "human") || strings.Contains(i, "transfer") || strings.Contains(i, "operator")
}

func substantive(text string) bool {
	text = strings.TrimSpace(text)
	return len(strings.Fields(text)) >= 3 && !fillerRe.MatchString(text)
}

func digits(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	cut := strings.LastIndex(s[:n], " ")
	if cut < n/2 {
		cut = n
	}
	return s[:cut] + "…"
}

func sentences(text string) []string {
	var out []string
	start := 0
	for i, r := range text {
		if r == '.' || r == '!' || r == '?' {
			if s := strings.TrimSpace(text[start : i+1]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

// trend compares the caller's early and late sentiment: the mean of the
// first half of the turns against the mean of the last two.
func trend(caller []store.Turn) Trend {
	if len(caller) == 0 {
		return Trend{Direction: "unknown"}
	}
	mean := func(ts []store.Turn) float64 {
		sum := 0.0
		for _, t := range ts {
			sum += t.Sentiment
		}
		return sum / float64(len(ts))
	}
	half := max(1, len(caller)/2)
	tail := caller[max(0, len(caller)-2):]
	tr := Trend{Start: round2(mean(caller[:half])), End: round2(mean(tail))}
	switch d := tr.End - tr.Start; {
	case d <= -0.2:
		tr.Direction = "worsening"
	case d >= 0.2:
		tr.Direction = "improving"
	default:
		tr.Direction = "steady"
	}
	return tr
}

func round2(x float64) float64 {
	if x < 0 {
		return -float64(int(-x*100+0.5)) / 100
	}
	return float64(int(x*100+0.5)) / 100
}

func nextStep(s Summary) string {
	var parts []string
	if s.Sentiment.Direction == "worsening" || s.Sentiment.End <= -0.4 || s.Reason == "negative_sentiment" {
		parts = append(parts, "Acknowledge the customer's frustration first")
	}
	if s.Intent == "" || isHandoffIntent(s.Intent) {
		if len(parts) == 0 {
			return "The customer asked for a person before saying why: ask how you can help."
		}
		return parts[0] + "; the customer asked for a person before saying why: ask how you can help."
	}
	what := s.Wants
	if s.Intent != "" {
		what = strings.ReplaceAll(s.Intent, "_", " ")
	}
	if what == "" {
		what = "what the customer needs"
	}
	if len(s.Tried) > 0 {
		parts = append(parts, fmt.Sprintf("resolve %s without repeating what the bot already tried (%d step(s))", what, len(s.Tried)))
	} else {
		parts = append(parts, "confirm and resolve "+what)
	}
	if ref := s.Facts["reference"]; ref != "" {
		parts = append(parts, "reference "+ref+" is on file")
	}
	if s.Reason == "low_confidence" {
		parts = append(parts, "the bot did not understand the request: confirm it")
	}
	out := strings.Join(parts, "; ")
	return strings.ToUpper(out[:1]) + out[1:] + "."
}

// Transcript renders the turns for a prompt, one line each.
func Transcript(turns []store.Turn) string {
	var b strings.Builder
	for _, t := range turns {
		fmt.Fprintf(&b, "%s: %s", t.Speaker, t.Text)
		if t.Speaker == store.SpeakerCaller && t.Intent != "" {
			fmt.Fprintf(&b, " [intent=%s sentiment=%.2f]", t.Intent, t.Sentiment)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
