package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/store/sqlite"
	"github.com/parley-cc/parley/voicebot/dialog"
)

// waits is a routing service stand-in that only reports expected waits.
type waits time.Duration

func (w waits) EstimatedWait(context.Context, string) (time.Duration, bool) {
	return time.Duration(w), true
}

func TestStartDialogPublishesTheEngine(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := &nodeEnv{Cfg: DefaultConfig(), Log: slog.Default(), Store: st, Services: map[string]any{"routing": waits(10 * time.Minute)}}
	if _, err := startDialog(ctx, n); err != nil {
		t.Fatal(err)
	}
	eng, ok := n.Services["dialog"].(dialog.Engine)
	if !ok {
		t.Fatalf("Services[dialog] = %T", n.Services["dialog"])
	}
	if _, ok := n.Services["kb"].(*knowledge.Base); !ok {
		t.Fatalf("Services[kb] = %T", n.Services["kb"])
	}
	if d, ok := n.Services["dialog.deployment"].(*dialog.Deployment); !ok || d.Name != "Lumen Fibre" {
		t.Fatalf("Services[dialog.deployment] = %v", n.Services["dialog.deployment"])
	}
	conv, err := eng.NewConversation(ctx, dialog.CallInfo{CallID: "c9", From: "+447700900555"})
	if err != nil {
		t.Fatal(err)
	}
	say := func(s string) dialog.Result {
		r, err := conv.Respond(ctx, dialog.Input{Text: s}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := say("what's my wifi password"); len(r.Citations) == 0 || r.Citations[0].DocumentID != "tech-wifi-password" {
		t.Fatalf("answer %+v", r)
	}
	// A long wait from routing: the hand-off becomes a callback, stored for the campaign dialer.
	if r := say("let me talk to a person"); !strings.Contains(r.Text, "about 10 minutes") {
		t.Fatalf("no callback offer: %q", r.Text)
	}
	say("yes")
	say("this number")
	say("tomorrow afternoon")
	if r := say("yes"); r.Action == nil || r.Action.Kind != dialog.ActionCallback {
		t.Fatalf("no callback: %+v", r)
	}
	list, err := st.ListCampaignContacts(ctx, dialog.CallbackCampaignID)
	if err != nil || len(list) != 1 || list[0].Phone != "447700900555" || list[0].WindowStart.Hour() != 13 {
		t.Fatalf("stored callbacks %+v %v", list, err)
	}
}

func TestStartDialogRejectsABrokenFlowFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "deployment.yaml"), []byte("greeting: Hi\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "intents.yaml"), []byte("intents:\n  - name: a\n    examples: [x, y]\n  - name: b\n    examples: [z, w]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "flows.yaml"), []byte("flows:\n  f:\n    steps:\n      - collect: {slot: n, type: number, prompt: N}\n"), 0o644)
	cfg := DefaultConfig()
	cfg.Deployment = dir
	_, err := startDialog(context.Background(), &nodeEnv{Cfg: cfg, Log: slog.Default(), Services: map[string]any{}})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "flows.yaml")+":4") || !strings.Contains(err.Error(), "collect.type") {
		t.Fatalf("err = %v", err)
	}
}
