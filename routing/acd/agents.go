package acd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-cc/parley/actors"
	"github.com/parley-cc/parley/store"
)

// Login loads the agent's skills, languages and capacity from the store
// into its Agent grain (the grain routes on them). An agent unknown to the
// store is store.ErrNotFound.
func (s *Service) Login(ctx context.Context, agentID string) (*actors.AgentStatus, error) {
	if s.o.Store == nil {
		return s.o.Node.Agents().Get(ctx, agentID)
	}
	a, err := s.o.Store.GetAgent(ctx, agentID)
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", agentID, err)
	}
	known := map[string]bool{}
	for _, sk := range s.o.Config.Skills {
		known[sk] = true
	}
	var skills []store.Skill
	for _, sk := range a.Skills {
		if known[sk.Name] { // skills routing does not use are not routed on
			skills = append(skills, sk)
		}
	}
	return s.o.Node.Agents().SetSkills(ctx, agentID, skills, a.Languages, a.Capacity)
}

// SetPresence sets available, break (with a configured reason code) or
// logged_out.
func (s *Service) SetPresence(ctx context.Context, agentID, presence, reason string) (*actors.AgentStatus, error) {
	return s.o.Node.Agents().SetPresence(ctx, agentID, presence, reason)
}

// Agent returns an agent's live state.
func (s *Service) Agent(ctx context.Context, agentID string) (*actors.AgentStatus, error) {
	return s.o.Node.Agents().Get(ctx, agentID)
}

// Answer accepts or rejects an offer for the agent. On the first accept the
// call is marked as with the agent; the caller's side, told by its queue,
// bridges the legs.
func (s *Service) Answer(ctx context.Context, agentID, offerID string, accept bool) (*actors.Answer, error) {
	a, err := s.o.Node.Agents().Answer(ctx, agentID, offerID, accept)
	if err != nil {
		return nil, err
	}
	if accept {
		s.watch(agentID)
	}
	if accept && !a.Duplicate && a.Contact != nil && a.Contact.CallID != "" {
		if _, err := s.o.Node.Calls().SetState(ctx, a.Contact.CallID, actors.CallChange{State: store.CallAgent, AgentID: agentID}); err != nil &&
			!errors.Is(err, actors.ErrFailedPrecondition) && !errors.Is(err, store.ErrNotFound) {
			s.o.Logger.Warn("call not marked as with the agent", "call", a.Contact.CallID, "agent", agentID, "err", err)
		}
	}
	return a, nil
}

// Finish ends the agent's contact (wrap-up follows).
func (s *Service) Finish(ctx context.Context, agentID, contactID string) (*actors.AgentStatus, error) {
	return s.o.Node.Agents().Finish(ctx, agentID, contactID, "agent")
}

// EndWrapUp makes the agent ready before the wrap-up time ends.
func (s *Service) EndWrapUp(ctx context.Context, agentID string) (*actors.AgentStatus, error) {
	return s.o.Node.Agents().EndWrapUp(ctx, agentID)
}

// Subscribe connects an agent's desktop to its events.
func (s *Service) Subscribe(ctx context.Context, agentID string) (*actors.AgentSubscription, *actors.AgentStatus, error) {
	return s.o.Node.Agents().Subscribe(ctx, agentID)
}

// Transcript returns a call's turns (for agent assist and the desktop).
func (s *Service) Transcript(ctx context.Context, callID string) (*actors.Transcript, error) {
	return s.o.Node.Calls().Transcript(ctx, callID)
}

// Stats returns a queue's live contacts and counters.
func (s *Service) Stats(ctx context.Context, queueID string) (*actors.QueueStats, error) {
	if !s.HasQueue(queueID) {
		return nil, fmt.Errorf("queue %q: %w", queueID, ErrUnknownQueue)
	}
	return s.o.Node.Queues().Stats(ctx, queueID)
}

// Position returns a contact's place in a queue.
func (s *Service) Position(ctx context.Context, queueID, contactID string) (actors.QueuePosition, error) {
	if !s.HasQueue(queueID) {
		return actors.QueuePosition{}, fmt.Errorf("queue %q: %w", queueID, ErrUnknownQueue)
	}
	return s.o.Node.Queues().Position(ctx, queueID, contactID)
}

// Callback turns a waiting contact into a callback keeping its place.
func (s *Service) Callback(ctx context.Context, queueID, contactID string) (actors.QueuePosition, error) {
	if !s.HasQueue(queueID) {
		return actors.QueuePosition{}, fmt.Errorf("queue %q: %w", queueID, ErrUnknownQueue)
	}
	return s.o.Node.Queues().Callback(ctx, queueID, contactID)
}

func (s *Service) reconcileLoop() {
	defer s.stopped.Done()
	t := time.NewTicker(s.o.ReconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), s.o.ReconcileEvery)
			if n, err := s.Reconcile(ctx); err != nil {
				s.o.Logger.Warn("routing reconcile incomplete", "err", err)
			} else if n > 0 {
				s.o.Logger.Info("routing reconciled", "cleared", n)
			}
			cancel()
		}
	}
}

// watch makes the reconciler check agent until it holds no contact.
func (s *Service) watch(agentID string) {
	if agentID == "" {
		return
	}
	s.mu.Lock()
	s.watched[agentID] = true
	s.mu.Unlock()
}

// callGone reports whether a call ended (or was never started).
func (s *Service) callGone(ctx context.Context, callID string) (bool, error) {
	tr, err := s.o.Node.Calls().Transcript(ctx, callID)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return tr.Call.State == store.CallEnded || tr.Call.State == store.CallAbandon, nil
}

// Reconcile clears state left by crashed legs, incrementally: it reads
// each queue's live contacts (one request per queue) and checks the calls
// of those contacts only; waiting or offered contacts whose call ended are
// removed (abandoned), agents connected to an ended call are finished.
// Agents are checked only when they hold a contact: those connected in a
// queue and those that accepted through this member (until they hold
// none). Every FullSweepEvery-th pass also reads every agent of the store,
// for agents that took a contact through a member that crashed. It
// returns how many it cleared.
func (s *Service) Reconcile(ctx context.Context) (int, error) {
	s.mu.Lock()
	s.passes++
	full := s.o.FullSweepEvery > 0 && s.passes%s.o.FullSweepEvery == 0
	agents := make(map[string]bool, len(s.watched))
	for a := range s.watched {
		agents[a] = true
	}
	s.mu.Unlock()
	start := time.Now()
	n, err := s.reconcile(ctx, agents, full)
	s.m.passes.Observe(time.Since(start).Seconds())
	s.m.cleared.Add(float64(n))
	return n, err
}

// ReconcileAll is a full pass: every agent of the store is checked.
func (s *Service) ReconcileAll(ctx context.Context) (int, error) {
	return s.reconcile(ctx, map[string]bool{}, true)
}

func (s *Service) reconcile(ctx context.Context, agents map[string]bool, full bool) (int, error) {
	cleared := 0
	var errs []error
	for _, q := range s.Queues() {
		st, err := s.o.Node.Queues().Stats(ctx, q)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var dead []string
		for _, c := range st.Contacts {
			if c.State == "connected" || c.State == "offered" {
				agents[c.AgentID] = true // its agent holds it: checked below
			}
			if c.CallID == "" || c.Callback || c.State == "connected" {
				continue // callbacks outlive their call by design
			}
			if gone, err := s.callGone(ctx, c.CallID); err == nil && gone {
				dead = append(dead, c.ContactID)
			}
		}
		if len(dead) == 0 {
			continue
		}
		ids, err := s.o.Node.Queues().Reconcile(ctx, q, dead)
		if err != nil {
			errs = append(errs, err)
		}
		cleared += len(ids)
	}
	if full && s.o.Store != nil {
		all, err := s.o.Store.ListAgents(ctx)
		if err != nil {
			errs = append(errs, err)
		}
		for _, a := range all {
			agents[a.ID] = true
		}
	}
	delete(agents, "")
	for id := range agents {
		st, err := s.o.Node.Agents().Get(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		live := 0
		for _, c := range st.Active {
			if c.CallID == "" {
				live++
				continue
			}
			gone, err := s.callGone(ctx, c.CallID)
			if err != nil || !gone {
				live++
				continue
			}
			if _, err := s.o.Node.Agents().Finish(ctx, id, c.ContactID, "reconciled"); err == nil {
				cleared++
			} else {
				live++
				errs = append(errs, err)
			}
		}
		if live == 0 && len(st.Offers) == 0 {
			s.mu.Lock()
			delete(s.watched, id)
			s.mu.Unlock()
		}
	}
	return cleared, errors.Join(errs...)
}
