// Package dialog is what the voicebot thinks with: a deployment's flows,
// intents and knowledge turned into replies, either by the local
// deterministic engine or by an LLM with tools. The voice pipeline and the
// eval runner both drive a Conversation; neither knows which engine is
// behind it.
package dialog

import (
	"context"
	"time"
)

// Engine is one deployment's dialog: it starts a Conversation per call.
type Engine interface {
	NewConversation(ctx context.Context, info CallInfo) (Conversation, error)
}

// CallInfo is what the engine knows about a call when it starts.
type CallInfo struct {
	CallID   string
	Channel  string // sip, webrtc, text
	From     string // caller id (phone number or user), may be empty
	To       string // dialled extension or number
	Language string // BCP 47, e.g. "en"
}

// Input is one caller turn: what the ASR heard (Text) or the keys pressed
// (DTMF), never both empty.
type Input struct {
	Text string
	// Confidence of the ASR for Text in [0,1]; 1 for typed text.
	Confidence float64
	DTMF       string
	At         time.Time
}

// Conversation is one call's dialog state. Its methods are called from one
// goroutine at a time.
type Conversation interface {
	// Greet produces the opening prompt, streamed through emit.
	Greet(ctx context.Context, emit func(text string)) (Result, error)
	// Respond produces the reply to in. The reply text is streamed through
	// emit as it is generated (tokens or whole sentences); the voice pipeline
	// chunks it into sentences for TTS so the first one plays while the rest
	// is still being generated. Result.Text is the whole reply.
	Respond(ctx context.Context, in Input, emit func(text string)) (Result, error)
	// Interrupted tells the conversation that the caller barged in and heard
	// only the first `heard` of the last reply; the context keeps only that.
	Interrupted(heard string)
}

// Result is what a turn produced besides its words.
type Result struct {
	Text string
	// Intent recognised in the caller's input ("" for Greet), with its
	// confidence in [0,1].
	Intent     string
	Confidence float64
	// Sentiment of the caller's input in [-1,1] and the rolling trend over
	// the conversation so far.
	Sentiment      float64
	SentimentTrend float64
	// Citations are the knowledge-base passages the reply is grounded in.
	Citations []Citation
	// Slots collected so far in the current flow.
	Slots map[string]string
	// Action, when not nil, is what the call must do after speaking Text.
	Action *Action
}

// Citation points at the passage a reply used.
type Citation struct {
	DocumentID string  `json:"document_id"`
	Version    int     `json:"version,omitempty"`
	Passage    string  `json:"passage"`
	Score      float64 `json:"score,omitempty"`
}

// ActionKind says what the call does next.
type ActionKind string

const (
	ActionTransfer ActionKind = "transfer" // hand to a human in Queue
	ActionCallback ActionKind = "callback" // a callback was scheduled
	ActionEnd      ActionKind = "end"      // hang up after the reply
)

// Action is a turn's consequence for the call.
type Action struct {
	Kind   ActionKind
	Queue  string // transfer: the queue
	Reason string // transfer: why (requested, negative_sentiment, low_confidence, flow, provider_error; LLM mode: the model's words)
	// Summary of the conversation so far for the agent who takes over or
	// calls back (extractive: intent, what the caller said, slots, what was
	// tried, sentiment trend).
	Summary string
	// Callback: when and why; CallbackID is the stored callback.
	CallbackID string
	Number     string
	WindowFrom time.Time
	WindowTo   time.Time
}
