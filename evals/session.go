package evals

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parley-cc/parley/voicebot/dialog"
)

// Input is one caller turn to send.
type Input struct {
	Text string
	DTMF string
}

// Session is one live conversation with the bot under test, whichever way
// it is reached (a dialog.Engine in-process, or a SIP call).
type Session interface {
	// Greet returns the bot's opening turn.
	Greet(ctx context.Context) (Turn, error)
	// Send delivers a caller turn and returns it as the bot understood it
	// (intent, sentiment when known) with the bot's reply.
	Send(ctx context.Context, in Input) (caller, bot Turn, err error)
	// Close ends the conversation (hangs up).
	Close()
}

// Finisher is a Session that completes the transcript after the call:
// voice mode takes intents, hand-offs, slots, callbacks and the end from
// the call record Parley stored. Finish runs after Close; an error makes the
// scenario errored (the harness could not score it), not failed.
type Finisher interface {
	Finish(ctx context.Context, tr *Transcript) error
}

// Connector opens sessions for a run mode.
type Connector interface {
	Mode() string
	Connect(ctx context.Context, info dialog.CallInfo) (Session, error)
}

// TextConnector drives a dialog.Engine directly: the fast mode, no audio.
type TextConnector struct{ Engine dialog.Engine }

// Mode is "text".
func (TextConnector) Mode() string { return "text" }

// Connect starts a conversation on the engine.
func (c TextConnector) Connect(ctx context.Context, info dialog.CallInfo) (Session, error) {
	if c.Engine == nil {
		return nil, errors.New("text mode: no dialog engine")
	}
	info.Channel = "text"
	conv, err := await(ctx, func() (dialog.Conversation, error) { return c.Engine.NewConversation(ctx, info) })
	if err != nil {
		return nil, fmt.Errorf("start conversation: %w", err)
	}
	return &textSession{conv: conv}, nil
}

type textSession struct{ conv dialog.Conversation }

// await runs f and returns its result, or ctx's error as soon as ctx ends:
// an engine that ignores its context cannot hang the run (its goroutine is
// left to finish on its own).
func await[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	go func() {
		v, err := f()
		ch <- res{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// timed collects a reply's streamed text and when its first piece came.
type timed struct {
	start time.Time
	first time.Duration
	got   bool
}

func (t *timed) emit(s string) {
	if !t.got && strings.TrimSpace(s) != "" {
		t.first, t.got = time.Since(t.start), true
	}
}

func (t *timed) latency() map[string]float64 {
	total := time.Since(t.start)
	first := t.first
	if !t.got {
		first = total
	}
	return map[string]float64{"first_token": ms(first), "reply": ms(total)}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (s *textSession) Greet(ctx context.Context) (Turn, error) {
	tm := &timed{start: time.Now()}
	r, err := await(ctx, func() (dialog.Result, error) { return s.conv.Greet(ctx, tm.emit) })
	if err != nil {
		return Turn{}, fmt.Errorf("greet: %w", err)
	}
	return botTurn(r, tm.latency()), nil
}

func (s *textSession) Send(ctx context.Context, in Input) (Turn, Turn, error) {
	tm := &timed{start: time.Now()}
	din := dialog.Input{Text: in.Text, DTMF: in.DTMF, At: tm.start}
	if in.Text != "" {
		din.Confidence = 1
	}
	caller := Turn{Speaker: "caller", Text: in.Text, DTMF: in.DTMF}
	r, err := await(ctx, func() (dialog.Result, error) { return s.conv.Respond(ctx, din, tm.emit) })
	if err != nil {
		return caller, Turn{}, err
	}
	caller.Intent, caller.Confidence, caller.Sentiment, caller.Trend = r.Intent, r.Confidence, r.Sentiment, r.SentimentTrend
	return caller, botTurn(r, tm.latency()), nil
}

func (s *textSession) Close() {}

func botTurn(r dialog.Result, lat map[string]float64) Turn {
	return Turn{Speaker: "bot", Text: r.Text, Citations: r.Citations, Slots: r.Slots, Action: actionOf(r.Action), Latency: lat}
}
