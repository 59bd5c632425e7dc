package dialog

import (
	"context"
	"testing"
)

// BenchmarkLocalTurnKBAnswer: one caller turn answered from the knowledge
// base by the local engine (intent, sentiment, search, sentence choice).
func BenchmarkLocalTurnKBAnswer(b *testing.B) {
	bot := demoBot(b, Options{})
	ctx := context.Background()
	c, _ := bot.NewConversation(ctx, CallInfo{CallID: "bench", From: "+447700900123"})
	b.ReportAllocs()
	for b.Loop() {
		if r, err := c.Respond(ctx, Input{Text: "how much does roaming cost in Europe"}, nil); err != nil || len(r.Citations) == 0 {
			b.Fatal(r, err)
		}
	}
}

// BenchmarkLocalTurnMenu: a key press through a four-level menu.
func BenchmarkLocalTurnMenu(b *testing.B) {
	bot := demoBot(b, Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, _ := bot.NewConversation(ctx, CallInfo{CallID: "bench"})
		if r, err := c.Respond(ctx, Input{DTMF: "2132"}, nil); err != nil || len(r.Citations) == 0 {
			b.Fatal(r, err)
		}
	}
}
