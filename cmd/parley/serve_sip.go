package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-cc/parley/actors"
	"github.com/parley-cc/parley/gateway/dialplan"
	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/gateway/rtp/wav"
	"github.com/parley-cc/parley/gateway/sip"
	"github.com/parley-cc/parley/store"
)

// The SIP gateway: callers and agents' phones on --sip-addr. Every answered
// call gets a Call grain (channel sip) with its events and a stereo
// recording under <data-dir>/recordings; the dialplan ("dialplan",
// "media.apps") decides what answers, and "agent.legs" connects agents.
func init() {
	registerComponent(component{name: "sip gateway", order: orderSIP, start: startSIP})
}

// playbackText is what the built-in playback extension says.
const playbackText = "Thank you for calling Parley. This is the playback test. " +
	"Your call is recorded for quality purposes. Goodbye."

func startSIP(_ context.Context, n *nodeEnv) (*running, error) {
	cfg := n.Cfg
	log := n.Log.With("component", "sip")
	lo, hi, err := cfg.RTPPortRange()
	if err != nil {
		return nil, err
	}
	passwords, err := cfg.AgentPasswords()
	if err != nil {
		return nil, err
	}
	promptDir := filepath.Join(cfg.DataDir, "prompts")
	var prompt []audio.Frame
	if path, err := ensureSpokenPrompt(promptDir, "playback.wav", playbackText); err != nil {
		log.Warn("no playback prompt: extension playback is not available", "err", err)
	} else if prompt, err = media.LoadPrompt(path); err != nil {
		log.Warn("playback prompt unreadable: extension playback is not available", "path", path, "err", err)
	}
	holdPath, err := ensureHoldMusic(promptDir, "hold.wav")
	if err != nil {
		return nil, err
	}
	music, err := media.LoadPrompt(holdPath)
	if err != nil {
		return nil, fmt.Errorf("music on hold: %w", err)
	}

	calls := newCallLog(n.Node.Calls(), log, newCallQuality(n.Reg))
	apps, _ := n.Services["media.apps"].(*dialplan.Registry)
	if apps == nil {
		apps = dialplan.NewRegistry()
		n.Services["media.apps"] = apps
	}
	if err := dialplan.RegisterBuiltins(apps, dialplan.Builtins{Prompt: prompt, DataDir: cfg.DataDir, OnMessage: calls.message}); err != nil {
		return nil, err
	}
	legs := dialplan.NewAgentLegs(music, calls.legEvent)
	dp := &dialplan.Dialplan{Apps: apps, Agents: n.Store, Legs: legs}

	srv, err := sip.New(sip.Config{
		Addr:         cfg.SIPAddr,
		PublicIP:     cfg.SIPPublicIP,
		RTPPortMin:   lo,
		RTPPortMax:   hi,
		MaxCalls:     cfg.MaxCalls,
		RetryAfter:   cfg.SIPRetryAfter,
		RingTime:     cfg.SIPRingTime,
		NoInbandDTMF: !cfg.SIPInbandDTMF,
		MediaTimeout: mediaTimeout(cfg.SIPMediaTimeout),
		DataDir:      cfg.DataDir,
		Realm:        cfg.SIPRealm,
		UserAgent:    "parley/" + version,
		Trunk: sip.Trunk{Host: cfg.SIPTrunkHost, Proxy: cfg.SIPTrunkProxy, Username: cfg.SIPTrunkUser,
			Password: cfg.SIPTrunkPassword, CallerID: cfg.SIPTrunkCallerID, Transport: cfg.SIPTrunkTransport},
	}, sip.Deps{Dialplan: sipRoutes{dp}, Events: calls, Agents: sip.AgentPasswords(passwords), Logger: n.Log})
	if err != nil {
		return nil, err
	}
	legs.AddDialer(sip.AgentPhones{Server: srv, Agents: n.Store})
	n.Services["agent.legs"] = legs
	if sipStartedHook != nil {
		sipStartedHook(legs)
	}
	n.Services["dialplan"] = dp
	n.Services["sip"] = srv

	serveCtx, cancelServe := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe(serveCtx) }()
	select {
	case <-srv.Ready():
	case err := <-served:
		cancelServe()
		return nil, fmt.Errorf("sip-addr %s: %w", cfg.SIPAddr, err)
	}
	log.Info("sip gateway up", "addr", srv.Addr().String(), "extensions", apps.Extensions())

	return &running{
		Checks: []httpapi.ReadinessCheck{{Name: "sip", Check: func(context.Context) error {
			select {
			case err := <-served:
				served <- err
				return fmt.Errorf("sip gateway stopped: %v", err)
			default:
				return nil
			}
		}}},
		// New INVITEs get 503 with Retry-After; calls up go on.
		Drain: srv.Drain,
		Stop: func(ctx context.Context) error {
			// Calls get two thirds of what is left to end on their own, then
			// BYE; the rest is for their last grain writes.
			grace := ctx
			if dl, ok := ctx.Deadline(); ok {
				var cancel context.CancelFunc
				grace, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(dl)*2/3))
				defer cancel()
			}
			err := srv.Shutdown(grace)
			cancelServe()
			if serr := <-served; serr != nil && err == nil {
				err = serr
			}
			if cerr := calls.Close(ctx); cerr != nil && err == nil {
				err = cerr
			}
			return err
		},
	}, nil
}

// sipStartedHook lets in-process tests reach the node's AgentLegs; nil in production.
var sipStartedHook func(legs *dialplan.AgentLegs)

func mediaTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return -1 // disabled
	}
	return d
}

// sipRoutes serves the shared dialplan to the SIP gateway.
type sipRoutes struct{ dp *dialplan.Dialplan }

func (r sipRoutes) Route(ctx context.Context, in sip.Inbound) (sip.Destination, error) {
	t, err := r.dp.Route(ctx, in.User)
	switch {
	case errors.Is(err, dialplan.ErrNoRoute):
		return sip.Destination{}, fmt.Errorf("%w: %v", sip.ErrNoRoute, err)
	case errors.Is(err, dialplan.ErrUnavailable):
		return sip.Destination{}, fmt.Errorf("%w: %v", sip.ErrUnavailable, err)
	case err != nil:
		return sip.Destination{}, err
	}
	return sip.Destination{Name: t.Extension, App: t.App}, nil
}

// callLog writes SIP call events to the Call grains, in order per call and
// off the signalling path: each call has a queue drained by at most one
// goroutine at a time.
type callLog struct {
	calls   *actors.CallClient
	log     *slog.Logger
	quality *callQuality

	mu     sync.Mutex
	queues map[string]*callQueue
	wg     sync.WaitGroup

	missedBudget  tokenBucket
	missedDropped atomic.Int64
}

type callQueue struct {
	mu      sync.Mutex
	pending []func(context.Context)
	running bool
}

func newCallLog(calls *actors.CallClient, log *slog.Logger, quality *callQuality) *callLog {
	return &callLog{calls: calls, log: log, quality: quality, queues: map[string]*callQueue{}, missedBudget: tokenBucket{rate: missedBurst}}
}

// grainTimeout bounds one grain write (they retry transient cluster failures within it).
const grainTimeout = 30 * time.Second

// enqueue runs fn after the call's earlier writes; last forgets the call's queue.
func (l *callLog) enqueue(callID string, last bool, fn func(ctx context.Context)) {
	l.mu.Lock()
	q := l.queues[callID]
	if q == nil {
		q = &callQueue{}
		l.queues[callID] = q
	}
	if last {
		delete(l.queues, callID)
	}
	q.mu.Lock()
	q.pending = append(q.pending, fn)
	start := !q.running
	q.running = true
	if start {
		l.wg.Add(1)
	}
	q.mu.Unlock()
	l.mu.Unlock()
	if start {
		go l.drain(q)
	}
}

func (l *callLog) drain(q *callQueue) {
	defer l.wg.Done()
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		fn := q.pending[0]
		q.pending = q.pending[1:]
		q.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), grainTimeout)
		fn(ctx)
		cancel()
	}
}

func (l *callLog) warn(callID, what string, err error) {
	if err != nil {
		l.log.Warn("call record not updated", "call_id", callID, "what", what, "err", err)
	}
}

// CallEvent takes the gateway's events; agent legs are reported on the caller's call by AgentLegs.
func (l *callLog) CallEvent(_ context.Context, e sip.Event) {
	if e.AgentLeg {
		return
	}
	id := e.CallID
	switch e.Kind {
	case sip.EventAnswered:
		l.enqueue(id, false, func(ctx context.Context) {
			dir := store.DirectionInbound
			if !e.Inbound {
				dir = store.DirectionOutbound
			}
			_, _, err := l.calls.Start(ctx, store.Call{ID: id, Direction: dir, Channel: "sip", From: e.From, To: e.To, StartedAt: e.Time})
			l.warn(id, "start", err)
			_, err = l.calls.SetState(ctx, id, actors.CallChange{State: store.CallBot, RecordingPath: e.Path})
			l.warn(id, "answered state", err)
			_, err = l.calls.RecordEvent(ctx, id, store.CallEvent{Type: "answered", By: store.SpeakerBot, At: e.Time,
				Data: map[string]string{"destination": e.Destination, "sip_call_id": e.SIPCallID}})
			l.warn(id, "answered", err)
		})
	case sip.EventDTMF:
		l.enqueue(id, false, func(ctx context.Context) {
			data := map[string]string{"digit": e.Digit}
			if e.Reason != "" {
				data["detection"] = e.Reason
			}
			_, err := l.calls.RecordEvent(ctx, id, store.CallEvent{Type: "dtmf", By: store.SpeakerCaller, At: e.Time, Data: data})
			l.warn(id, "dtmf", err)
		})
	case sip.EventHold, sip.EventResume:
		by := store.SpeakerCaller
		if !e.Inbound {
			by = "callee"
		}
		l.enqueue(id, false, func(ctx context.Context) {
			_, err := l.calls.RecordEvent(ctx, id, store.CallEvent{Type: string(e.Kind), By: by, At: e.Time})
			l.warn(id, string(e.Kind), err)
		})
	case sip.EventHangup:
		var quality map[string]string
		if e.Media != nil && l.quality != nil {
			quality = l.quality.observe(e.Media)
		}
		l.enqueue(id, true, func(ctx context.Context) {
			if quality != nil {
				_, err := l.calls.RecordEvent(ctx, id, store.CallEvent{Type: "quality", By: "system", At: e.Time, Data: quality})
				l.warn(id, "quality", err)
			}
			_, err := l.calls.Hangup(ctx, id, string(e.By), "", e.Reason)
			l.warn(id, "hangup", err)
		})
	case sip.EventMissed:
		l.missed(e)
	}
}

// missed records a call that was never answered, so operators see it: one
// cancelled while ringing ends abandoned (by the caller), a rejected one
// ended (by the system), with the disposition and the SIP status sent.
// Under an INVITE flood beyond capacity only missedBurst records per
// second are written (the rest are counted in the log), so refusing calls
// stays cheap.
func (l *callLog) missed(e sip.Event) {
	if !l.missedBudget.take(time.Now()) {
		if n := l.missedDropped.Add(1); n == 1 || n%1000 == 0 {
			l.log.Warn("missed calls not recorded: too many per second", "not_recorded", n)
		}
		return
	}
	id := e.CallID
	l.enqueue(id, true, func(ctx context.Context) {
		_, created, err := l.calls.Start(ctx, store.Call{ID: id, Direction: store.DirectionInbound, Channel: "sip", From: e.From, To: e.To, StartedAt: e.Time})
		if err != nil || !created {
			// A Call-ID already on record (a retried INVITE, or one reusing a live
			// call's Call-ID): the record it has stays as it is.
			l.warn(id, "start missed call", err)
			return
		}
		by, state := store.SpeakerCaller, store.CallAbandon
		if e.Disposition != sip.DispositionCancelled {
			by, state = "system", store.CallEnded
			data := map[string]string{"code": strconv.Itoa(e.Code), "disposition": e.Disposition, "sip_call_id": e.SIPCallID}
			if e.Destination != "" {
				data["destination"] = e.Destination
			}
			_, err = l.calls.RecordEvent(ctx, id, store.CallEvent{Type: "rejected", By: by, At: e.Time, Data: data})
			l.warn(id, "rejected", err)
		}
		_, err = l.calls.Hangup(ctx, id, by, e.Disposition, e.Reason)
		l.warn(id, "missed hangup", err)
		if state == store.CallAbandon {
			_, err = l.calls.SetState(ctx, id, actors.CallChange{State: state})
			l.warn(id, "abandoned", err)
		}
	})
}

// missedBurst bounds missed-call records per second (see callLog.missed).
const missedBurst = 50

// tokenBucket allows rate events per second with bursts of up to rate.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
}

func (b *tokenBucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		b.tokens = b.rate
	} else {
		b.tokens = min(b.rate, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// legEvent records AgentLegs' events (bridged, hold, resume, mute, unmute) on the caller's call.
func (l *callLog) legEvent(_ context.Context, callID string, e store.CallEvent) {
	l.enqueue(callID, false, func(ctx context.Context) {
		if e.Type == "bridged" {
			_, err := l.calls.SetState(ctx, callID, actors.CallChange{State: store.CallAgent, AgentID: e.Data["agent_id"]})
			l.warn(callID, "agent state", err)
		}
		_, err := l.calls.RecordEvent(ctx, callID, e)
		l.warn(callID, e.Type, err)
	})
}

// message references a recorded message (extension record) from its call.
func (l *callLog) message(_ context.Context, callID, path string, length time.Duration) {
	l.enqueue(callID, false, func(ctx context.Context) {
		_, err := l.calls.RecordEvent(ctx, callID, store.CallEvent{Type: "message", By: store.SpeakerCaller, At: time.Now(),
			Data: map[string]string{"path": path, "duration_ms": strconv.FormatInt(length.Milliseconds(), 10)}})
		l.warn(callID, "message", err)
	})
}

// Close waits for the queued writes until ctx ends.
func (l *callLog) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		n := len(l.queues)
		l.mu.Unlock()
		return fmt.Errorf("sip call records: %d calls still had writes queued at shutdown: %w", n, ctx.Err())
	}
}

// ensureSpokenPrompt synthesizes text with flite into dir/name unless the
// file exists (an operator may replace it), and returns its path.
func ensureSpokenPrompt(dir, name, text string) (string, error) {
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	bin, err := exec.LookPath("flite")
	if err != nil {
		return "", fmt.Errorf("synthesize %s: flite is not installed (apt-get install flite): %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp := path + ".tmp.wav"
	out, err := exec.Command(bin, "-voice", "slt", "-t", text, "-o", tmp).CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("synthesize %s with flite: %v: %s", path, err, out)
	}
	return path, os.Rename(tmp, path)
}

// ensureHoldMusic writes a short looping tune (8 kHz) to dir/name unless the
// file exists (an operator may replace it with their own music).
func ensureHoldMusic(dir, name string) (string, error) {
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// A C-major arpeggio with a softer fifth below, each note 400 ms with a decaying envelope.
	notes := []float64{261.63, 329.63, 392.00, 523.25, 392.00, 329.63, 293.66, 349.23, 440.00, 587.33, 440.00, 349.23}
	const noteLen = audio.SampleRate * 2 / 5
	pcm := make([]int16, 0, len(notes)*noteLen)
	for _, f := range notes {
		for i := 0; i < noteLen; i++ {
			t := float64(i) / audio.SampleRate
			env := math.Exp(-3*t) * math.Min(1, float64(i)/80)
			v := 0.35*math.Sin(2*math.Pi*f*t) + 0.12*math.Sin(2*math.Pi*f/1.5*t) + 0.05*math.Sin(4*math.Pi*f*t)
			pcm = append(pcm, int16(v*env*32767*0.6))
		}
	}
	tmp := path + ".tmp"
	file, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	w, err := wav.NewWriter(file, wav.Format{SampleRate: audio.SampleRate, Channels: 1})
	if err == nil {
		err = w.Write(pcm)
	}
	if err == nil {
		err = w.Close()
	}
	if cerr := file.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write music on hold %s: %w", path, err)
	}
	return path, os.Rename(tmp, path)
}
