package dialplan

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/sqlite"
)

// pipeCall is an in-memory media.Call: the test feeds its far end's frames and reads what was written to it.
type pipeCall struct {
	id       string
	in, out  chan audio.Frame
	events   chan media.Event
	done     chan struct{}
	once     sync.Once
	mu       sync.Mutex
	hungUpBy string
}

func newPipeCall(id string) *pipeCall {
	return &pipeCall{id: id, in: make(chan audio.Frame, 100), out: make(chan audio.Frame, 1000), events: make(chan media.Event, 8), done: make(chan struct{})}
}

func (c *pipeCall) ID() string                 { return c.id }
func (c *pipeCall) Frames() <-chan audio.Frame { return c.in }
func (c *pipeCall) Events() <-chan media.Event { return c.events }
func (c *pipeCall) Done() <-chan struct{}      { return c.done }
func (c *pipeCall) Flush()                     {}
func (c *pipeCall) Hangup(context.Context) error {
	return c.HangupBy(context.Background(), "system", "")
}
func (c *pipeCall) HangupBy(_ context.Context, by, _ string) error {
	c.once.Do(func() {
		c.mu.Lock()
		c.hungUpBy = by
		c.mu.Unlock()
		close(c.done)
	})
	return nil
}
func (c *pipeCall) Write(ctx context.Context, f audio.Frame) error {
	select {
	case c.out <- f:
		return nil
	case <-c.done:
		return media.ErrHungUp
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *pipeCall) by() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hungUpBy
}

func level(v int16) audio.Frame {
	var f audio.Frame
	for i := range f {
		f[i] = v
	}
	return f
}

// phoneDialer answers for registered agents with a fresh pipe leg.
type phoneDialer struct {
	registered map[string]bool
	mu         sync.Mutex
	legs       []*pipeCall
}

func (d *phoneDialer) Registered(agentID string) bool { return d.registered[agentID] }

func (d *phoneDialer) DialAgent(_ context.Context, agentID, callID string) (media.Call, error) {
	leg := newPipeCall(agentID + "-for-" + callID)
	d.mu.Lock()
	d.legs = append(d.legs, leg)
	d.mu.Unlock()
	return leg, nil
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	if err := r.Register("bot", media.Echo{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Register("bot", media.Echo{}); !errors.Is(err, ErrTaken) {
		t.Fatalf("second Register of bot = %v, want ErrTaken", err)
	}
	for _, bad := range []string{"", "a b", "../x", "sip:bot@host", "-lead"} {
		if err := r.Register(bad, media.Echo{}); err == nil {
			t.Errorf("Register(%q) succeeded", bad)
		}
	}
	if err := r.Register("nil-app", nil); err == nil {
		t.Error("Register with a nil application succeeded")
	}
	if err := RegisterBuiltins(r, Builtins{Prompt: []audio.Frame{level(1)}, DataDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if got := r.Extensions(); len(got) != 4 || got[0] != "bot" || got[1] != "echo" || got[2] != "playback" || got[3] != "record" {
		t.Fatalf("extensions = %v", got)
	}
	r.Unregister("bot")
	if _, ok := r.Lookup("bot"); ok {
		t.Fatal("bot still registered after Unregister")
	}
}

func TestRouteAppsAndAgents(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, a := range []store.Agent{{ID: "ag-1", Name: "Ada", Extension: "1001", Capacity: 1}, {ID: "ag-2", Name: "Bo", Extension: "1002", Capacity: 1}} {
		if err := st.CreateAgent(ctx, &a); err != nil {
			t.Fatal(err)
		}
	}
	apps := NewRegistry()
	if err := RegisterBuiltins(apps, Builtins{}); err != nil {
		t.Fatal(err)
	}
	dialer := &phoneDialer{registered: map[string]bool{"ag-1": true}}
	d := &Dialplan{Apps: apps, Agents: st, Legs: NewAgentLegs(nil, nil, dialer)}

	if tg, err := d.Route(ctx, "echo"); err != nil || tg.AgentID != "" || tg.App == nil {
		t.Fatalf("echo routes to %+v, %v", tg, err)
	}
	if _, err := d.Route(ctx, "playback"); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("playback without a prompt = %v, want ErrNoRoute", err)
	}
	if tg, err := d.Route(ctx, "1001"); err != nil || tg.AgentID != "ag-1" {
		t.Fatalf("1001 routes to %+v, %v; want agent ag-1", tg, err)
	}
	if _, err := d.Route(ctx, "1002"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("extension of an agent with no phone = %v, want ErrUnavailable", err)
	}
	if _, err := d.Route(ctx, "9999"); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("unknown extension = %v, want ErrNoRoute", err)
	}
	if app, err := d.Resolve(ctx, "echo"); err != nil || app == nil {
		t.Fatalf("Resolve(echo) = %v, %v", app, err)
	}
}

type eventLog struct {
	mu     sync.Mutex
	events []store.CallEvent
}

func (l *eventLog) sink(_ context.Context, callID string, e store.CallEvent) {
	l.mu.Lock()
	e.CallID = callID
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) kinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		out = append(out, e.Type)
	}
	return out
}

// TestAgentBridgeHoldMuteHangup bridges a caller with an agent, puts the
// caller on hold (they hear the music, the agent silence), mutes, and ends
// with the agent hanging up: the caller's leg is hung up by "agent".
func TestAgentBridgeHoldMuteHangup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log := &eventLog{}
	dialer := &phoneDialer{registered: map[string]bool{"ag-1": true}}
	legs := NewAgentLegs([]audio.Frame{level(777)}, log.sink, dialer)
	if _, err := legs.Connect(ctx, newPipeCall("call-x"), "ag-9"); !errors.Is(err, ErrAgentUnreachable) {
		t.Fatalf("Connect to an unregistered agent = %v, want ErrAgentUnreachable", err)
	}
	caller := newPipeCall("call-1")
	b, err := legs.Connect(ctx, caller, "ag-1")
	if err != nil {
		t.Fatal(err)
	}
	if legs.Bridge("call-1") != b {
		t.Fatal("Bridge(call-1) does not return the live bridge")
	}
	agent := dialer.legs[0]
	exchange := func(want, wantAgent int16) {
		t.Helper()
		caller.in <- level(100)
		agent.in <- level(200)
		for got, who := range map[*pipeCall]int16{caller: want, agent: wantAgent} {
			select {
			case f := <-got.out:
				if f[0] != who {
					t.Fatalf("%s heard %d, want %d", got.id, f[0], who)
				}
			case <-ctx.Done():
				t.Fatalf("%s heard nothing", got.id)
			}
		}
	}
	exchange(200, 100)
	b.Hold(true)
	exchange(777, 0)
	b.Hold(false)
	exchange(200, 100)
	b.MuteCaller(true)
	exchange(200, 0)
	b.MuteCaller(false)
	_ = agent.HangupBy(ctx, "agent", "bye")
	select {
	case <-b.Done():
	case <-ctx.Done():
		t.Fatal("bridge did not end after the agent hung up")
	}
	if caller.by() != "agent" || b.EndedBy() != "agent" {
		t.Fatalf("caller hung up by %q, bridge ended by %q; want agent", caller.by(), b.EndedBy())
	}
	if legs.Bridge("call-1") != nil {
		t.Fatal("ended bridge still listed")
	}
	want := []string{"bridged", "hold", "resume", "mute", "unmute"}
	if got := log.kinds(); len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("events %v, want %v", got, want)
			}
		}
	}
}

func TestRecordBuiltinReportsMessage(t *testing.T) {
	r := NewRegistry()
	dir := t.TempDir()
	var gotPath string
	var gotLen time.Duration
	if err := RegisterBuiltins(r, Builtins{DataDir: dir, OnMessage: func(_ context.Context, callID, path string, d time.Duration) {
		gotPath, gotLen = path, d
	}}); err != nil {
		t.Fatal(err)
	}
	app, _ := r.Lookup(ExtRecord)
	call := newPipeCall("call-rec")
	for i := 0; i < 50; i++ {
		call.in <- level(300)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, call) }()
	for len(call.in) > 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	call.events <- media.Event{Kind: media.KeyPress, Digit: '#'}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if gotPath != filepath.Join(dir, "messages", "call-rec.wav") || gotLen <= 0 || gotLen > time.Second {
		t.Fatalf("message reported at %q, %v long", gotPath, gotLen)
	}
}
