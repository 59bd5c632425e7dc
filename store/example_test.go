package store_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/sqlite"
)

// A Call grain writes its transcript behind: turns are queued per call, in
// order, and reach the database even if it is down for a while.
func ExampleWriteBehind() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "parley-example")
	defer os.RemoveAll(dir)
	s, err := sqlite.Open(ctx, filepath.Join(dir, "parley.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	wb := store.NewWriteBehind(store.WriteBehindOptions{
		OnError: func(key string, err error, permanent bool) { log.Printf("store write for %s: %v", key, err) },
	})
	call := store.Call{ID: "call-42", Direction: store.DirectionInbound, Channel: "sip", State: store.CallBot}
	_ = wb.Enqueue(call.ID, func(ctx context.Context) error { return s.SaveCall(ctx, &call) })
	for i, text := range []string{"I want to change my address", "Sure, what is the new address?"} {
		turn := store.Turn{CallID: call.ID, Seq: i + 1, Speaker: []string{store.SpeakerCaller, store.SpeakerBot}[i], Text: text}
		_ = wb.Enqueue(call.ID, func(ctx context.Context) error { return s.AppendTurn(ctx, turn) })
	}
	if err := wb.Close(ctx); err != nil {
		log.Fatal(err)
	}
	turns, _ := s.ListTurns(ctx, call.ID)
	for _, t := range turns {
		fmt.Printf("%d %s: %s\n", t.Seq, t.Speaker, t.Text)
	}
	fmt.Println("pending:", wb.Pending())
	// Output:
	// 1 caller: I want to change my address
	// 2 bot: Sure, what is the new address?
	// pending: 0
}

// Retry is for writes the caller waits on: a few attempts with backoff on
// transient errors, none on ErrNotFound, ErrConflict or ErrInvalid.
func ExampleRetry() {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	err = store.Retry(ctx, store.Backoff{}, func(ctx context.Context) error {
		return s.AppendTurn(ctx, store.Turn{CallID: "no-such-call", Seq: 1, Text: "hello"})
	})
	fmt.Println(err)
	// Output:
	// append turn 1: call "no-such-call": not found
}
