package media

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/wav"
)

// fakeCall is an in-memory Call: the test feeds frames and events and reads what the application wrote.
type fakeCall struct {
	id      string
	in      chan audio.Frame
	out     chan audio.Frame
	events  chan Event
	done    chan struct{}
	once    sync.Once
	flushes int
	mu      sync.Mutex
}

func newFakeCall(id string) *fakeCall {
	return &fakeCall{id: id, in: make(chan audio.Frame, 200), out: make(chan audio.Frame, 1000), events: make(chan Event, 8), done: make(chan struct{})}
}

func (c *fakeCall) ID() string                 { return c.id }
func (c *fakeCall) Frames() <-chan audio.Frame { return c.in }
func (c *fakeCall) Events() <-chan Event       { return c.events }
func (c *fakeCall) Done() <-chan struct{}      { return c.done }
func (c *fakeCall) Flush()                     { c.mu.Lock(); c.flushes++; c.mu.Unlock() }
func (c *fakeCall) Hangup(context.Context) error {
	c.once.Do(func() { close(c.done) })
	return nil
}
func (c *fakeCall) Write(ctx context.Context, f audio.Frame) error {
	select {
	case c.out <- f:
		return nil
	case <-c.done:
		return ErrHungUp
	case <-ctx.Done():
		return ctx.Err()
	}
}

func level(v int16) audio.Frame {
	var f audio.Frame
	for i := range f {
		f[i] = v
	}
	return f
}

func TestEchoOverRTPSessions(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ports := rtp.PortRange{Min: 40000, Max: 49999}
	bot, err := rtp.NewSession(ctx, rtp.Config{LearnRemote: true, Logger: quiet, Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	caller, err := rtp.NewSession(ctx, rtp.Config{Remote: bot.LocalAddr(), Logger: quiet, Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	leg := NewSessionLeg("call-1", bot, nil)
	appDone := make(chan error, 1)
	go func() { appDone <- Echo{}.Run(ctx, leg) }()
	go func() {
		for i := 0; i < 50; i++ {
			var f audio.Frame
			for k := range f {
				f[k] = int16(6000 * math.Sin(2*math.Pi*500*float64(i*160+k)/8000))
			}
			caller.Write(ctx, f)
		}
	}()
	loud := 0
	for loud < 30 {
		select {
		case f := <-caller.Frames():
			if !f.IsSilent(-30) {
				loud++
			}
		case <-ctx.Done():
			t.Fatalf("heard only %d loud echoed frames", loud)
		}
	}
	if err := leg.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-appDone; err != nil {
		t.Fatalf("echo ended with %v, want nil on hang-up", err)
	}
	if _, ok := <-leg.Events(); !ok {
		t.Fatal("no hang-up event")
	}
}

func writeWAV(t *testing.T, path string, rate int, samples []int16) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := wav.NewWriter(f, wav.Format{SampleRate: rate, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(samples); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadPromptAndPlayback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "welcome.wav")
	s := make([]int16, 22050) // 1 s at 22.05 kHz
	for i := range s {
		s[i] = int16(5000 * math.Sin(2*math.Pi*400*float64(i)/22050))
	}
	writeWAV(t, path, 22050, s)
	frames, err := LoadPrompt(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 50 {
		t.Fatalf("prompt is %d frames, want 50 (1 s)", len(frames))
	}
	call := newFakeCall("c")
	if err := (Playback{Prompt: frames}).Run(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	if len(call.out) != 50 {
		t.Fatalf("played %d frames, want 50", len(call.out))
	}
	if _, err := LoadPrompt(filepath.Join(t.TempDir(), "missing.wav")); err == nil {
		t.Fatal("missing prompt loaded")
	}
}

func TestPlaybackStopsOnKey(t *testing.T) {
	call := newFakeCall("c")
	call.out = make(chan audio.Frame) // unbuffered: playback blocks like a paced leg
	go func() {
		<-call.out
		<-call.out
		call.events <- Event{Kind: KeyPress, Digit: '1'}
	}()
	prompt := make([]audio.Frame, 500)
	done := make(chan error)
	go func() { done <- (Playback{Prompt: prompt, StopOnKey: true}).Run(context.Background(), call) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("playback did not stop on key")
	}
	if call.flushes != 1 {
		t.Errorf("flushed %d times, want 1 (barge-in)", call.flushes)
	}
}

func TestRecordStopsOnKey(t *testing.T) {
	dir := t.TempDir()
	call := newFakeCall("c")
	for i := 0; i < 75; i++ {
		call.in <- level(int16(i))
	}
	rec := &Record{DataDir: dir, Name: "msg-1"}
	go func() {
		for len(call.in) > 0 {
			time.Sleep(time.Millisecond)
		}
		call.events <- Event{Kind: KeyPress, Digit: '#'}
	}()
	if err := rec.Run(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	if rec.Duration != 1500*time.Millisecond {
		t.Fatalf("recorded %v, want 1.5 s", rec.Duration)
	}
	f, _ := os.Open(rec.Path)
	defer f.Close()
	a, err := wav.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if a.Channels != 1 || a.SampleRate != 8000 || len(a.Samples) != 75*160 || a.Samples[74*160] != 74 {
		t.Fatalf("message %+v with %d samples", a.Format, len(a.Samples))
	}
	if err := (&Record{DataDir: dir, Name: "../x"}).Run(context.Background(), call); err == nil {
		t.Fatal("path name accepted")
	}
}

func TestBridgeMuteHoldAndRecording(t *testing.T) {
	caller, agent := newFakeCall("caller"), newFakeCall("agent")
	rec, err := wav.NewRecorder(t.TempDir(), "bridge-1")
	if err != nil {
		t.Fatal(err)
	}
	music := []audio.Frame{level(7), level(9)}
	b := NewBridge(caller, agent, WithHoldMusic(music), WithRecorder(rec))
	done := make(chan Call)
	go func() { c, _ := b.Run(context.Background()); done <- c }()

	exchange := func(c, a int16) (toAgent, toCaller int16) {
		caller.in <- level(c)
		agent.in <- level(a)
		return (<-agent.out)[0], (<-caller.out)[0]
	}
	if ta, tc := exchange(100, 200); ta != 100 || tc != 200 {
		t.Fatalf("bridged: agent heard %d, caller heard %d", ta, tc)
	}
	b.MuteCaller(true)
	if ta, tc := exchange(100, 200); ta != 0 || tc != 200 {
		t.Fatalf("caller muted: agent heard %d, caller heard %d", ta, tc)
	}
	b.MuteCaller(false)
	b.MuteAgent(true)
	if ta, tc := exchange(100, 200); ta != 100 || tc != 0 {
		t.Fatalf("agent muted: agent heard %d, caller heard %d", ta, tc)
	}
	b.MuteAgent(false)
	b.Hold(true)
	var heard []int16
	for i := 0; i < 3; i++ {
		ta, tc := exchange(100, 200)
		if ta != 0 {
			t.Fatalf("on hold: agent heard %d, want silence", ta)
		}
		heard = append(heard, tc)
	}
	if heard[0] != 7 || heard[1] != 9 || heard[2] != 7 {
		t.Fatalf("on hold the caller heard %v, want looped music 7 9 7", heard)
	}
	b.Hold(false)
	if ta, tc := exchange(100, 200); ta != 100 || tc != 200 {
		t.Fatalf("off hold: agent heard %d, caller heard %d", ta, tc)
	}
	agent.Hangup(context.Background())
	select {
	case c := <-done:
		if c != Call(agent) {
			t.Fatalf("bridge reported %v ended, want the agent", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("bridge did not end when the agent hung up")
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(rec.Path())
	defer f.Close()
	a, err := wav.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// 7 exchanges of one frame per side, written as they arrived (a burst, so consecutive slots).
	if a.Channels != 2 || len(a.Samples) != 2*7*160 || a.Samples[0] != 100 || a.Samples[1] != 200 {
		t.Fatalf("recording %+v, %d samples, first pair %d/%d", a.Format, len(a.Samples), a.Samples[0], a.Samples[1])
	}
}

func TestSessionLegRemoteHangup(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := rtp.NewSession(context.Background(), rtp.Config{Logger: quiet, Remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}, Ports: rtp.PortRange{Min: 40000, Max: 49999}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	leg := NewSessionLeg("c", s, nil)
	leg.RemoteHangup()
	select {
	case <-leg.Done():
	case <-time.After(time.Second):
		t.Fatal("not done after remote hang-up")
	}
	if ev := <-leg.Events(); ev.Kind != Hangup {
		t.Fatalf("event %v, want hangup", ev.Kind)
	}
	if err := leg.Write(context.Background(), audio.Frame{}); err != ErrHungUp {
		t.Fatalf("write after hang-up: %v", err)
	}
}
