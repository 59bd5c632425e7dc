package chunker

import (
	"reflect"
	"strings"
	"testing"
)

func TestStreamedTokens(t *testing.T) {
	var c Chunker
	reply := "Your balance is $3.50 today. Dr. Smith approved it! Anything else? Thanks"
	var got []string
	// Stream a few characters at a time, as LLM tokens arrive.
	for i := 0; i < len(reply); i += 3 {
		got = append(got, c.Write(reply[i:min(i+3, len(reply))])...)
	}
	if rest := c.Flush(); rest != "" {
		got = append(got, rest)
	}
	want := []string{"Your balance is $3.50 today.", "Dr. Smith approved it!", "Anything else?", "Thanks"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSentenceReleasedAsSoonAsComplete(t *testing.T) {
	var c Chunker
	if s := c.Write("Hello there."); len(s) != 0 {
		t.Fatalf("period at buffer end must wait for the next token, got %q", s)
	}
	if s := c.Write(" How"); !reflect.DeepEqual(s, []string{"Hello there."}) {
		t.Fatalf("got %q", s)
	}
	if s := c.Flush(); s != "How" {
		t.Fatalf("flush %q", s)
	}
}

func TestRunOnSentenceIsCut(t *testing.T) {
	c := Chunker{MaxChars: 60}
	long := strings.Repeat("word ", 10) + "and then, " + strings.Repeat("more ", 20)
	out := c.Write(long)
	if len(out) == 0 {
		t.Fatal("run-on text never released")
	}
	for _, s := range out {
		if len(s) > 60 {
			t.Fatalf("chunk of %d chars exceeds MaxChars: %q", len(s), s)
		}
	}
}

func TestQuotesAndEllipsis(t *testing.T) {
	var c Chunker
	got := c.Write(`He said "yes." Then... nothing. `)
	want := []string{`He said "yes."`, "Then...", "nothing."}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
}
