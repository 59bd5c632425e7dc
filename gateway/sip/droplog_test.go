package sip

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// Garbage off the network is logged as a short, rate-limited warning.
func TestDropLogQuotesLittleAndRateLimits(t *testing.T) {
	var buf bytes.Buffer
	log := newDropLog(slog.New(slog.NewTextHandler(&buf, nil))).With("caller", "Transport<UDP>")
	garbage := strings.Repeat("\xff", 2000)
	for range 50 {
		log.Error("failed to parse", "data", garbage, "error", "EOF on reading line")
	}
	log.Error("Read connection error", "error", "boom")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != dropPerSecond+1 {
		t.Fatalf("%d lines logged for 50 bad datagrams and one other error, want %d:\n%s", len(lines), dropPerSecond+1, buf.String())
	}
	for _, l := range lines[:dropPerSecond] {
		if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "dropped bad input") || len(l) > 4*dropQuote+200 {
			t.Fatalf("drop logged as %q (%d bytes), want a short warning", l[:min(len(l), 200)], len(l))
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "level=ERROR") || !strings.Contains(last, "Read connection error") {
		t.Fatalf("other errors must pass unchanged, got %q", last)
	}
}
