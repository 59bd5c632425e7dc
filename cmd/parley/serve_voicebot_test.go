package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-cc/parley/gateway/dialplan"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/store/sqlite"
	"github.com/parley-cc/parley/voicebot"
	"github.com/parley-cc/parley/voicebot/calltest"
	"github.com/parley-cc/parley/voicebot/dialog"
	"github.com/parley-cc/parley/voicebot/tts"
	ttslocal "github.com/parley-cc/parley/voicebot/tts/local"
)

// callerVoice synthesizes what a test caller says (flite kal16: another
// voice than the bot's).
func callerVoice(t *testing.T, text string) []audio.Frame {
	t.Helper()
	s, err := ttslocal.New(ttslocal.Config{Voice: "kal16"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := tts.Collect(context.Background(), s, text)
	if err != nil {
		t.Fatal(err)
	}
	return append(f, make([]audio.Frame, 10)...)
}

// actionLog is the routing component's hand-off stand-in.
type actionLog chan dialog.Action

func (a actionLog) Act(_ context.Context, _ media.Call, act dialog.Action, _ dialog.Result) error {
	a <- act
	return nil
}

// botCall runs the app registered as extension bot on one leg of an
// in-memory call and returns the caller's leg and a function giving the
// bot audio heard after a moment.
func botCall(t *testing.T, n *nodeEnv) (*calltest.Leg, func(since time.Time) int) {
	t.Helper()
	reg, ok := n.Services["media.apps"].(*dialplan.Registry)
	if !ok {
		t.Fatalf("Services[media.apps] = %T", n.Services["media.apps"])
	}
	app, ok := reg.Lookup(ExtBot)
	if !ok {
		t.Fatalf("extension %q not registered (have %v)", ExtBot, reg.Extensions())
	}
	if app != n.Services["voicebot"].(*voicebot.Bot) {
		t.Fatal("the registered app is not the published voicebot")
	}
	botLeg, caller := calltest.Pair(t.Name())
	done := make(chan error, 1)
	go func() { done <- app.Run(context.Background(), botLeg) }()
	var mu sync.Mutex
	var heard []time.Time
	go func() {
		for {
			select {
			case r := <-caller.Wire():
				if r.Sent {
					mu.Lock()
					heard = append(heard, r.At)
					mu.Unlock()
				}
			case <-caller.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		caller.Hangup(context.Background())
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("bot did not return after hang-up")
		}
	})
	return caller, func(since time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		return len(heard) - countBefore(heard, since)
	}
}

func countBefore(at []time.Time, since time.Time) int {
	i, _ := slices.BinarySearchFunc(at, since, func(a, b time.Time) int { return a.Compare(b) })
	return i
}

// TestVoicebotDrivesTheDemoDeployment: with the dialog component started
// on the demo deployment, the voicebot registers extension bot driving
// that engine, its local ASR grammar is built from the deployment's
// phrases, and a caller pressing 0 in the main menu is handed to an agent.
func TestVoicebotDrivesTheDemoDeployment(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acts := make(actionLog, 4)
	n := &nodeEnv{Cfg: DefaultConfig(), Log: slog.Default(), Store: st, Reg: prometheus.NewRegistry(), Services: map[string]any{"voicebot.actions": voicebot.ActionHandler(acts)}}
	if _, err := startDialog(ctx, n); err != nil {
		t.Fatal(err)
	}
	dep := n.Services["dialog.deployment"].(*dialog.Deployment)
	phrases := deploymentPhrases(dep)
	for _, want := range []string{dep.Intents[0].Examples[0], "let me talk to a person"} {
		if !slices.ContainsFunc(phrases, func(p string) bool { return strings.EqualFold(p, want) }) {
			t.Errorf("grammar phrases lack %q", want)
		}
	}
	// The grammar recognizer hears a deployment phrase exactly.
	rec, err := buildASR(n, dep)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := rec.NewStream(ctx)
	for _, f := range callerVoice(t, "what's my wifi password") {
		if err := s.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := s.Final(ctx); err != nil || r.Text != "what's my wifi password" {
		t.Fatalf("grammar ASR heard %q (%v)", r.Text, err)
	}
	s.Close()

	run, err := startVoicebot(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Stop(ctx)
	caller, heard := botCall(t, n)
	start := time.Now()
	waitGreeting(t, heard, start)
	// The demo's main menu: 0 is an agent.
	caller.SendKey('0')
	select {
	case a := <-acts:
		if a.Kind != dialog.ActionTransfer || a.Queue != "support" || a.Reason != "menu" {
			t.Fatalf("hand-off %+v", a)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the demo engine did not hand the caller to an agent after 0")
	}

	// Drain unregisters the extension (no new calls).
	run.Drain()
	if _, ok := n.Services["media.apps"].(*dialplan.Registry).Lookup(ExtBot); ok {
		t.Fatal("extension still registered after Drain")
	}
}

// TestVoicebotEchoWithoutDialog: no dialog component: a warning, and the
// bot still answers callers, repeating what they said or pressed.
func TestVoicebotEchoWithoutDialog(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	n := &nodeEnv{Cfg: DefaultConfig(), Log: slog.New(slog.NewTextHandler(&logs, nil)), Reg: prometheus.NewRegistry(), Services: map[string]any{}}
	run, err := startVoicebot(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Stop(ctx)
	if !strings.Contains(logs.String(), "echo conversation") {
		t.Fatalf("no warning about the missing dialog engine: %s", logs.String())
	}
	conv, _ := echoEngine{}.NewConversation(ctx, dialog.CallInfo{})
	if r, _ := conv.Respond(ctx, dialog.Input{Text: " check my balance "}, func(string) {}); r.Text != "You said: check my balance." {
		t.Fatalf("echo %q", r.Text)
	}
	if r, _ := conv.Respond(ctx, dialog.Input{DTMF: "7"}, func(string) {}); r.Text != "You pressed 7." {
		t.Fatalf("echo %q", r.Text)
	}
	caller, heard := botCall(t, n)
	waitGreeting(t, heard, time.Now())
	pressed := time.Now()
	caller.SendKey('7')
	time.Sleep(3 * time.Second)
	if got := heard(pressed); got < 40 {
		t.Fatalf("no echo of the key press: %d frames", got)
	}
}

// waitGreeting waits until the bot has greeted (a few seconds of audio)
// and then been quiet for 600 ms.
func waitGreeting(t *testing.T, heard func(since time.Time) int, start time.Time) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last, still := 0, 0
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		now := heard(start)
		if now == last && now > 100 {
			if still++; still >= 3 {
				return
			}
			continue
		}
		last, still = now, 0
	}
	t.Fatalf("greeting: %d frames heard, not finished", heard(start))
}
