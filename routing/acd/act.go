package acd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-cc/parley/actors"
	"github.com/parley-cc/parley/gateway/dialplan"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/voicebot/dialog"
)

// keepCallerLegs is implemented by *dialplan.AgentLegs: a bridge whose
// lost agent leg leaves the caller up (EndedBy dialplan.EndedAgentLost).
type keepCallerLegs interface {
	ConnectKeepCaller(ctx context.Context, caller media.Call, agentID string) (*dialplan.AgentBridge, error)
}

// Act carries out a dialog transfer on the caller's call (the
// voicebot.ActionHandler shape): it hands the call off with the dialog's
// intent, slots and sentiment, holds the caller until an agent accepts,
// bridges the agent through the node's agent legs and returns when the
// bridge ends. A caller who hangs up while waiting is counted as abandoned.
// When the agent's leg is lost mid-call (their phone stopped sending
// media), the caller is queued again at their original place (ahead of
// everyone who came later) and the agent is logged out until they come
// back. Other actions are not routing's and are ignored.
func (s *Service) Act(ctx context.Context, call media.Call, a dialog.Action, r dialog.Result) error {
	if a.Kind != dialog.ActionTransfer {
		return nil
	}
	t, err := s.Handoff(ctx, Request{CallID: call.ID(), Queue: a.Queue, Reason: a.Reason, Intent: r.Intent, Facts: r.Slots, Sentiment: r.Sentiment})
	if err != nil {
		return err
	}
	defer t.Close()
	if !t.Queued {
		return fmt.Errorf("queue %s is closed (after-hours action %s)", a.Queue, t.AfterHours)
	}
	for {
		agent, err := t.hold(ctx, call)
		if err != nil {
			return err
		}
		s.watch(agent)
		var legs Legs
		if s.o.Legs != nil {
			legs = s.o.Legs()
		}
		if legs == nil {
			_, _ = s.o.Node.Agents().Finish(context.WithoutCancel(ctx), agent, t.ContactID, "no agent legs")
			return ErrNoLegs
		}
		var b *dialplan.AgentBridge
		if k, ok := legs.(keepCallerLegs); ok {
			b, err = k.ConnectKeepCaller(ctx, call, agent)
		} else {
			b, err = legs.Connect(ctx, call, agent)
		}
		if err != nil {
			_, _ = s.o.Node.Agents().Finish(context.WithoutCancel(ctx), agent, t.ContactID, "agent leg failed")
			return fmt.Errorf("connect call %s to agent %s: %w", t.CallID, agent, err)
		}
		<-b.Done()
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if b.EndedBy() == dialplan.EndedAgentLost {
			err = t.requeue(fctx, agent)
			cancel()
			if err != nil {
				return err
			}
			continue
		}
		_, err = s.o.Node.Agents().Finish(fctx, agent, t.ContactID, "ended by "+b.EndedBy())
		cancel()
		return err
	}
}

// hold keeps the caller waiting until an agent accepts (returning the
// agent) or the caller hangs up (abandoned). While waiting, the caller's
// audio is read and dropped so the leg keeps flowing; the bridge takes
// over the leg once an agent accepted.
func (t *Ticket) hold(ctx context.Context, call media.Call) (string, error) {
	wctx, stop := context.WithCancel(ctx)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			select {
			case <-call.Frames():
			case <-wctx.Done():
				return
			case <-call.Done():
				return
			}
		}
	}()
	type waited struct {
		agent string
		err   error
	}
	got := make(chan waited, 1)
	go func() {
		u, err := t.Wait(wctx)
		got <- waited{u.AgentID, err}
	}()
	var w waited
	select {
	case w = <-got:
	case <-call.Done():
		stop()
		<-drained
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return "", errors.Join(t.Abandon(actx), media.ErrHungUp)
	}
	stop()
	<-drained
	return w.agent, w.err
}

// requeue puts the contact back at its original place after the agent's
// leg was lost: the agent's contact ends (the agent is logged out, their
// phone being unreachable) and the contact waits again with its first
// enqueue time, so it goes before everyone who came after it.
func (t *Ticket) requeue(ctx context.Context, agent string) error {
	s := t.s
	if _, err := s.o.Node.Agents().Finish(ctx, agent, t.ContactID, "agent leg lost"); err != nil {
		s.o.Logger.Warn("agent contact not finished after the agent's leg was lost", "agent", agent, "call", t.CallID, "err", err)
	}
	if _, err := s.o.Node.Agents().SetPresence(ctx, agent, actors.PresenceLoggedOut, ""); err != nil {
		s.o.Logger.Warn("agent not logged out after their leg was lost", "agent", agent, "err", err)
	}
	if t.watch != nil {
		t.watch.Close()
	}
	e, w, err := s.o.Node.Queues().EnqueueWatched(ctx, t.Queue, t.waiting)
	if err != nil {
		return fmt.Errorf("requeue call %s after agent %s's leg was lost: %w", t.CallID, agent, err)
	}
	t.watch = w
	s.requeued(t.Queue)
	if _, err := s.o.Node.Calls().RecordEvent(ctx, t.CallID, store.CallEvent{Type: "requeued", By: "routing",
		Data: map[string]string{"queue": t.Queue, "reason": "agent_lost", "agent": agent, "position": fmt.Sprint(e.Position)}}); err != nil {
		s.o.Logger.Warn("requeued event not recorded", "call", t.CallID, "err", err)
	}
	if _, err := s.o.Node.Calls().SetState(ctx, t.CallID, actors.CallChange{State: store.CallQueued, QueueID: t.Queue, ContactID: t.ContactID}); err != nil &&
		!errors.Is(err, actors.ErrFailedPrecondition) {
		s.o.Logger.Warn("call state not set back to queued", "call", t.CallID, "err", err)
	}
	s.o.Logger.Info("agent leg lost: caller queued again at their place", "call", t.CallID, "agent", agent, "queue", t.Queue, "position", e.Position)
	return nil
}

// EstimatedWait is the expected wait of a contact entering queue now:
// (waiting + 1) × AHT / staffed agents, AHT observed or the queue's hint.
// ok is false for an unknown queue or when it cannot be reached.
func (s *Service) EstimatedWait(ctx context.Context, queue string) (time.Duration, bool) {
	q, known := s.queues[queue]
	if !known {
		return 0, false
	}
	st, err := s.o.Node.Queues().Stats(ctx, queue)
	if err != nil {
		return 0, false
	}
	if st.Waiting == 0 && st.Idle > 0 {
		return 0, true // an agent is free: offered at once
	}
	aht := st.AHT
	if aht == 0 {
		aht = q.HandleHint
	}
	if aht == 0 {
		aht = 5 * time.Minute
	}
	return time.Duration(float64(st.Waiting+1) * float64(aht) / float64(max(1, st.Staffed))), true
}
