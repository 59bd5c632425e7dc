package evals

import (
	"github.com/parley-cc/parley/voicebot/dialog"
)

// Transcript is one conversation as the judges see it, whichever way it was
// obtained: driven in text or voice mode, or replayed from the store or a
// JSONL file.
type Transcript struct {
	CallID string `json:"call_id"`
	Turns  []Turn `json:"turns"`
	// Ended: the bot finished its part (end, transfer or callback action).
	Ended bool `json:"ended"`
}

// Turn is one utterance. Caller turns carry what the bot recognised in them
// (intent, sentiment); bot turns carry the reply's citations, slots, action
// and latencies.
type Turn struct {
	Speaker string `json:"speaker"` // caller, bot
	Text    string `json:"text,omitempty"`
	DTMF    string `json:"dtmf,omitempty"`
	// Caller turns: what the bot understood.
	Intent     string  `json:"intent,omitempty"`
	Confidence float64 `json:"confidence,omitempty"`
	Sentiment  float64 `json:"sentiment,omitempty"`
	Trend      float64 `json:"sentiment_trend,omitempty"`
	// Bot turns.
	Citations []dialog.Citation `json:"citations,omitempty"`
	Slots     map[string]string `json:"slots,omitempty"`
	Action    *Action           `json:"action,omitempty"`
	// Latency by stage in milliseconds (see Stages).
	Latency map[string]float64 `json:"latency_ms,omitempty"`
	// Heard, in voice mode: on a bot turn what the caller's speech
	// recognition transcribed of the bot's audio (Text is then the words the
	// call record says the bot spoke); on a caller turn what the bot's own
	// recognition made of the caller's audio.
	Heard string `json:"heard,omitempty"`
	// Step is the index of the scripted caller turn this turn belongs to
	// (-1 for the greeting).
	Step int `json:"step"`
}

// Action is what a bot turn made the call do.
type Action struct {
	Kind       string `json:"kind"` // transfer, callback, end
	Queue      string `json:"queue,omitempty"`
	Reason     string `json:"reason,omitempty"`
	CallbackID string `json:"callback_id,omitempty"`
}

func actionOf(a *dialog.Action) *Action {
	if a == nil {
		return nil
	}
	return &Action{Kind: string(a.Kind), Queue: a.Queue, Reason: a.Reason, CallbackID: a.CallbackID}
}

// botTurns returns the indexes of the bot's turns.
func (t *Transcript) botTurns() []int {
	var out []int
	for i, tu := range t.Turns {
		if tu.Speaker == "bot" {
			out = append(out, i)
		}
	}
	return out
}

// callerTurns counts the caller's turns.
func (t *Transcript) callerTurns() int {
	n := 0
	for _, tu := range t.Turns {
		if tu.Speaker == "caller" {
			n++
		}
	}
	return n
}

// actions returns every action taken, in order.
func (t *Transcript) actions() []Action {
	var out []Action
	for _, tu := range t.Turns {
		if tu.Action != nil {
			out = append(out, *tu.Action)
		}
	}
	return out
}

// handoff returns the first transfer, if any.
func (t *Transcript) handoff() *Action {
	for _, a := range t.actions() {
		if a.Kind == string(dialog.ActionTransfer) {
			return &a
		}
	}
	return nil
}

// finalSlots merges the slots reported over the conversation.
func (t *Transcript) finalSlots() map[string]string {
	out := map[string]string{}
	for _, tu := range t.Turns {
		for k, v := range tu.Slots {
			out[k] = v
		}
	}
	return out
}

// sentiments returns the caller turns' sentiment in order.
func (t *Transcript) sentiments() []float64 {
	var out []float64
	for _, tu := range t.Turns {
		if tu.Speaker == "caller" && tu.Text != "" {
			out = append(out, tu.Sentiment)
		}
	}
	return out
}
