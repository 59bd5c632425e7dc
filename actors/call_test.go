package actors

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"github.com/parley-cc/parley/actors/pb"
	"github.com/parley-cc/parley/store"
)

func TestCallTurnsRecordedAndRestoredAfterPassivation(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	n := startLocal(t, st, ClusterConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	calls := n.Calls()
	c, created, err := calls.Start(ctx, store.Call{ID: "call-1", Direction: store.DirectionInbound, Channel: "sip", From: "+15550001", To: "+15559999"})
	if err != nil || !created {
		t.Fatalf("start call: created=%v err=%v", created, err)
	}
	if c.State != store.CallRinging || c.From != "+15550001" {
		t.Fatalf("started call = %+v, want ringing from +15550001", c)
	}
	if _, created, err := calls.Start(ctx, store.Call{ID: "call-1", Direction: store.DirectionInbound, Channel: "sip"}); err != nil || created {
		t.Fatalf("second start: created=%v err=%v, want existing call", created, err)
	}

	texts := []string{"hi, my card was declined", "I can help with that", "thanks"}
	speakers := []string{store.SpeakerCaller, store.SpeakerBot, store.SpeakerCaller}
	for i, text := range texts {
		seq, err := calls.RecordTurn(ctx, "call-1", store.Turn{Speaker: speakers[i], Text: text, Intent: "card_declined", Confidence: 0.9, Sentiment: -0.2,
			Timings: store.Timings{ASRFinalMs: 120, LLMFirstTokenMs: 300}})
		if err != nil {
			t.Fatalf("record turn %d: %v", i, err)
		}
		if seq != i+1 {
			t.Fatalf("turn %d got seq %d, want %d", i, seq, i+1)
		}
	}
	// A retried turn with an explicit seq is not recorded twice.
	if seq, err := calls.RecordTurn(ctx, "call-1", store.Turn{Seq: 2, Speaker: store.SpeakerBot, Text: "I can help with that"}); err != nil || seq != 2 {
		t.Fatalf("retry of turn 2: seq=%d err=%v", seq, err)
	}
	if _, err := calls.RecordTurn(ctx, "call-1", store.Turn{Seq: 9, Speaker: store.SpeakerBot, Text: "gap"}); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("turn with a seq gap: err=%v, want ErrFailedPrecondition", err)
	}
	if _, err := calls.RecordTurn(ctx, "call-1", store.Turn{Speaker: "robot", Text: "x"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("turn with unknown speaker: err=%v, want ErrInvalidArgument", err)
	}
	if seq, err := calls.RecordEvent(ctx, "call-1", store.CallEvent{Type: "dtmf", By: "caller", Data: map[string]string{"digit": "5"}}); err != nil || seq != 1 {
		t.Fatalf("record event: seq=%d err=%v", seq, err)
	}
	if c, err := calls.SetState(ctx, "call-1", CallChange{State: store.CallBot}); err != nil || c.State != store.CallBot || c.AnsweredAt == nil {
		t.Fatalf("set state bot: call=%+v err=%v, want bot with AnsweredAt", c, err)
	}

	// The store holds every acknowledged turn already.
	stored, err := st.ListTurns(ctx, "call-1")
	if err != nil || len(stored) != 3 {
		t.Fatalf("stored turns: %d, err %v; want 3", len(stored), err)
	}

	// Passivate the grain: stop it on its member, then read it back.
	pid := n.Cluster().Get("call-1", KindCall)
	if pid == nil {
		t.Fatal("no activation for call-1")
	}
	if err := n.Cluster().ActorSystem.Root.PoisonFuture(pid).Wait(); err != nil {
		t.Fatalf("poison call grain: %v", err)
	}
	tr := waitTranscript(t, ctx, n, "call-1", 3)
	for i, turn := range tr.Turns {
		if turn.Text != texts[i] || turn.Speaker != speakers[i] || turn.Seq != i+1 || turn.Timings.ASRFinalMs != 120 {
			t.Fatalf("restored turn %d = %+v, want %q by %s", i, turn, texts[i], speakers[i])
		}
	}
	if tr.Call.State != store.CallBot || len(tr.Events) != 1 || tr.Events[0].Data["digit"] != "5" {
		t.Fatalf("restored call state %q events %+v", tr.Call.State, tr.Events)
	}
	if tr.Member != n.Address() {
		t.Fatalf("transcript member %q, want %q", tr.Member, n.Address())
	}
	// Numbering continues after restore.
	if seq, err := calls.RecordTurn(ctx, "call-1", store.Turn{Speaker: store.SpeakerBot, Text: "anything else?"}); err != nil || seq != 4 {
		t.Fatalf("turn after restore: seq=%d err=%v, want 4", seq, err)
	}
	if c, err := calls.Hangup(ctx, "call-1", "caller", "resolved", "done"); err != nil || c.State != store.CallEnded || c.EndedAt == nil || c.Disposition != "resolved" {
		t.Fatalf("hangup: %+v %v", c, err)
	}
}

// waitTranscript reads the transcript until the re-activated grain answers.
func waitTranscript(t *testing.T, ctx context.Context, n *Node, callID string, turns int) *Transcript {
	t.Helper()
	tr, err := n.Calls().Transcript(ctx, callID)
	if err != nil {
		t.Fatalf("transcript of %s: %v", callID, err)
	}
	if len(tr.Turns) != turns {
		t.Fatalf("transcript of %s has %d turns, want %d", callID, len(tr.Turns), turns)
	}
	return tr
}

func TestCallRestoredByANewMemberOnTheSameStore(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	first, err := Start(ctx, ClusterConfig{}, Deps{Store: st, Logger: testLogger(t), Routing: testRouting(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := first.Calls().Start(ctx, store.Call{ID: "c-2", Direction: store.DirectionOutbound, Channel: "webrtc"}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := first.Calls().RecordTurn(ctx, "c-2", store.Turn{Speaker: store.SpeakerAgent, Text: fmt.Sprint("turn ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	_ = first.Stop(false)

	second := startLocal(t, st, ClusterConfig{})
	tr := waitTranscript(t, ctx, second, "c-2", 5)
	if tr.Turns[4].Text != "turn 4" || tr.Call.Direction != store.DirectionOutbound {
		t.Fatalf("restored transcript %+v", tr)
	}
}

func TestCallErrors(t *testing.T) {
	st := openStore(t, t.TempDir())
	n := startLocal(t, st, ClusterConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	calls := n.Calls()
	if _, err := calls.Transcript(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("transcript of unknown call: %v, want store.ErrNotFound", err)
	}
	if _, err := calls.RecordTurn(ctx, "nope", store.Turn{Speaker: store.SpeakerCaller, Text: "x"}); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("turn on unknown call: %v, want ErrFailedPrecondition", err)
	}
	if _, _, err := calls.Start(ctx, store.Call{ID: "bad", Direction: "sideways", Channel: "sip"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("start with bad direction: %v, want ErrInvalidArgument", err)
	}
	if _, _, err := calls.Start(ctx, store.Call{Direction: store.DirectionInbound, Channel: "sip"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("start without id: %v, want ErrInvalidArgument", err)
	}
	if _, err := calls.SetState(ctx, "nope", CallChange{State: "flying"}); err == nil {
		t.Fatal("set state on unknown call succeeded")
	}
}

func TestGeneratedClientGoesThroughTheRouter(t *testing.T) {
	st := openStore(t, t.TempDir())
	n := startLocal(t, st, ClusterConfig{})
	if err := n.Ready(); err != nil {
		t.Fatalf("started member not ready: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := n.Calls().Start(ctx, store.Call{ID: "gen-1", Direction: store.DirectionInbound, Channel: "text"}); err != nil {
		t.Fatal(err)
	}
	c := pb.GetCallGrainClient(n.Cluster(), "gen-1")
	resp, err := c.RecordTurn(&pb.RecordTurnRequest{Turn: &pb.Turn{Speaker: store.SpeakerCaller, Text: "hello"}}, cluster.WithTimeout(5*time.Second))
	if err != nil || resp.Seq != 1 {
		t.Fatalf("generated client RecordTurn: %+v %v", resp, err)
	}
	tr, err := c.Transcript(&pb.TranscriptRequest{})
	if err != nil || len(tr.Turns) != 1 || tr.Turns[0].Text != "hello" {
		t.Fatalf("generated client Transcript: %+v %v", tr, err)
	}
	if _, err := c.RecordTurn(&pb.RecordTurnRequest{}); err == nil || cluster.Reason(err) != cluster.ErrorReason_INVALID_ARGUMENT {
		t.Fatalf("turn without body through generated client: %v", err)
	}
}

func TestGracefulStopHandsOverToTheNextMember(t *testing.T) {
	st := openStore(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first, err := Start(ctx, ClusterConfig{}, Deps{Store: st, Logger: testLogger(t), Routing: testRouting(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := first.Calls().Start(ctx, store.Call{ID: "g-1", Direction: store.DirectionInbound, Channel: "sip"}); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Calls().RecordTurn(ctx, "g-1", store.Turn{Speaker: store.SpeakerCaller, Text: "before stop"}); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Queues().Enqueue(ctx, "q", WaitingContact{ContactID: "c", CallID: "g-1"}); err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(true); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Calls().Transcript(ctx, "g-1"); !errors.Is(err, ErrStopped) {
		t.Fatalf("request through a stopped member: %v, want ErrStopped", err)
	}
	second := startLocal(t, st, ClusterConfig{})
	waitTranscript(t, ctx, second, "g-1", 1)
	if p, err := second.Queues().Position(ctx, "q", "c"); err != nil || p.Position != 1 {
		t.Fatalf("queue after restart: %+v %v", p, err)
	}
}

func TestAdvertisedAddressIsTheMemberAddress(t *testing.T) {
	port := freePorts(t, 1)[0]
	st := openStore(t, t.TempDir())
	adv := fmt.Sprintf("localhost:%d", port)
	n := startLocal(t, st, ClusterConfig{Addr: hostPort(port), AdvertiseAddr: adv})
	if n.Address() != adv {
		t.Fatalf("member address %q, want the advertised %q", n.Address(), adv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := n.Calls().Start(ctx, store.Call{ID: "adv", Direction: store.DirectionInbound, Channel: "sip"}); err != nil {
		t.Fatal(err)
	}
	tr, err := n.Calls().Transcript(ctx, "adv")
	if err != nil || tr.Member != adv {
		t.Fatalf("transcript member %q (%v), want %q", tr.Member, err, adv)
	}
	// The port is taken now: a second member on it must fail with an error.
	if _, err := Start(ctx, ClusterConfig{Addr: hostPort(port)}, Deps{Store: st, Logger: testLogger(t)}); err == nil {
		t.Fatal("second member bound the same port")
	}
}
