package evals

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/sqlite"
)

const transcripts = `{"call_id":"c1","seq":1,"speaker":"bot","text":"Thanks for calling Acme, how can I help?","at":"2026-01-01T10:00:00Z"}
{"call_id":"c1","seq":2,"speaker":"caller","text":"I'm furious, get me an agent","intent":"agent","sentiment":-0.8,"at":"2026-01-01T10:00:05Z"}
{"call_id":"c1","seq":3,"speaker":"bot","text":"Let me connect you with a colleague.","timings":{"asr_final_ms":180,"llm_first_token_ms":90,"first_rtp_out_ms":420},"at":"2026-01-01T10:00:06Z"}
{"call_id":"c1","seq":1,"type":"handoff","by":"bot","data":{"queue":"support","reason":"negative_sentiment"},"at":"2026-01-01T10:00:07Z"}

{"call_id":"c2","seq":1,"speaker":"bot","text":"Thanks for calling Acme.","at":"2026-01-01T11:00:00Z"}
{"call_id":"c2","seq":1,"type":"dtmf","by":"caller","data":{"digit":"1"},"at":"2026-01-01T11:00:02Z"}
{"call_id":"c2","seq":2,"speaker":"bot","text":"Bills are issued on the 1st.","citations":[{"document_id":"billing","passage":"Bills are issued on the 1st of each month."}],"at":"2026-01-01T11:00:03Z"}
{"call_id":"c2","seq":3,"speaker":"caller","text":"thanks bye","at":"2026-01-01T11:00:08Z"}
{"call_id":"c2","seq":4,"speaker":"bot","text":"Goodbye!","at":"2026-01-01T11:00:09Z"}
{"call_id":"c2","seq":2,"type":"hangup","by":"bot","at":"2026-01-01T11:00:10Z"}
`

func TestReplayJSONL(t *testing.T) {
	p := filepath.Join(t.TempDir(), "calls.jsonl")
	if err := os.WriteFile(p, []byte(transcripts), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := LoadJSONL(p)
	if err != nil {
		t.Fatal(err)
	}
	body := `suite: replayed
compliance: {greeting: ["thanks for calling"], closing: ["goodbye"]}
scenarios:
  - id: angry
    call_id: c1
    expect: {queue: support, reason: negative_sentiment}
  - id: menu
    call_id: c2
    caller:
      - dtmf: "1"
        expect: {cites: billing}
    expect: {handoff: false, ended: true}
  - id: wrong
    call_id: c1
    expect: {queue: billing}
`
	rep := runSuite(t, body, &Runner{Replay: src})
	got := byID(rep)
	if got["angry"].Status != StatusPassed || got["menu"].Status != StatusPassed {
		t.Fatalf("angry %s %v; menu %s %v\n%s", got["angry"].Status, got["angry"].Reasons, got["menu"].Status, got["menu"].Reasons, FormatTranscript(&got["menu"].Transcript))
	}
	if got["wrong"].Status != StatusFailed || !strings.Contains(got["wrong"].Reasons[0], "expected hand-off to queue billing, got queue support") {
		t.Fatalf("wrong: %v", got["wrong"].Reasons)
	}
	if rep.Mode != "replay" || rep.Metrics.Latency["first_rtp_out"].P50 != 420 || rep.Metrics.Sentiment.MeanFirst >= 0 {
		t.Fatalf("metrics %+v", rep.Metrics)
	}

	// Every call of the file, no suite: compliance and groundedness only.
	s, err := ReplaySuite("all", src.Order, Compliance{Greeting: []string{"thanks for calling"}})
	if err != nil {
		t.Fatal(err)
	}
	rep2, err := (&Runner{Replay: src}).Run(context.Background(), s)
	if err != nil || rep2.Total != 2 || rep2.Passed != 2 {
		t.Fatalf("replay all: %v %+v", err, rep2)
	}
}

func TestReplayJSONLBadInput(t *testing.T) {
	for name, c := range map[string]struct{ body, want string }{
		"empty":      {"\n\n", "empty transcript file"},
		"bad json":   {`{"call_id":"c1","speaker":"bot","text":"hi"}` + "\n{nope\n", "calls.jsonl:2: invalid JSON"},
		"no call id": {`{"speaker":"bot","text":"hi"}`, "calls.jsonl:1: call_id: missing"},
		"speaker":    {`{"call_id":"c","speaker":"robot","text":"hi"}`, `calls.jsonl:1: speaker: "robot"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ReadJSONL("calls.jsonl", strings.NewReader(c.body))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestReplayFromStore(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	if err := st.SaveCall(ctx, &store.Call{ID: "call-9", Direction: "inbound", Channel: "sip", From: "100", To: "200", State: "ended", StartedAt: at, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	for i, tu := range []store.Turn{
		{Speaker: "bot", Text: "Thanks for calling, how can I help?"},
		{Speaker: "caller", Text: "I want a person", Intent: "agent"},
		{Speaker: "bot", Text: "Connecting you now.", Timings: store.Timings{FirstRTPOutMs: 350}},
	} {
		tu.CallID, tu.Seq, tu.At = "call-9", i+1, at.Add(time.Duration(i)*time.Second)
		if err := st.AppendTurn(ctx, tu); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AppendCallEvent(ctx, store.CallEvent{CallID: "call-9", Seq: 1, Type: "handoff", By: "bot", Data: map[string]string{"queue": "support"}, At: at.Add(3 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	body := "suite: s\nscenarios:\n  - id: stored\n    call_id: call-9\n    expect: {intent: agent, queue: support}\n  - id: missing\n    call_id: nope\n"
	rep := runSuite(t, body, &Runner{Replay: StoreReplay{Calls: st}})
	got := byID(rep)
	if got["stored"].Status != StatusPassed {
		t.Fatalf("stored: %v", got["stored"].Reasons)
	}
	if got["missing"].Status != StatusErrored || !strings.Contains(got["missing"].Reasons[0], "not found") {
		t.Fatalf("missing: %s %v", got["missing"].Status, got["missing"].Reasons)
	}
}
