package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/parley-cc/parley/store"
)

// AgentList is the body of GET /api/v1/agents.
type AgentList struct {
	Agents []store.Agent `json:"agents"`
}

// QueueList is the body of GET /api/v1/queues.
type QueueList struct {
	Queues []store.Queue `json:"queues"`
}

// maxOverflowHops bounds the walk along a queue's overflow chain when looking
// for a loop.
const maxOverflowHops = 32

// pathID returns the {id} path value, validated.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	return id, checkID("id", id)
}

// bodyID returns the id a create should use: the body's, validated, or a
// new one with the given prefix.
func bodyID(given, prefix string) (string, error) {
	if given == "" {
		return prefix + newRequestID(), nil
	}
	if !idPattern.MatchString(given) {
		return "", errorf(http.StatusUnprocessableEntity, "id", "invalid id %q: want %s", truncate(given, 80), idRule)
	}
	return given, nil
}

// sameID checks that a replace body names the path's record, if it names one.
func sameID(given, path string) error {
	if given != "" && given != path {
		return errorf(http.StatusUnprocessableEntity, "id", "body id %q does not match the path id %q", truncate(given, 80), path)
	}
	return nil
}

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request) {
	if err := onlyQuery(r); err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	agents, err := s.opts.Store.ListAgents(ctx)
	if err != nil {
		writeError(w, r, s.storeError(ctx, err, "agents", false))
		return
	}
	if agents == nil {
		agents = []store.Agent{}
	}
	writeJSON(w, http.StatusOK, AgentList{Agents: agents})
}

func (s *Server) getAgent(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	a, err := s.opts.Store.GetAgent(ctx, id)
	if err != nil {
		writeError(w, r, s.storeError(ctx, err, fmt.Sprintf("agent %q", id), false))
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) createAgent(w http.ResponseWriter, r *http.Request) {
	who, err := actor(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var in AgentInput
	if err := decodeJSON(r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	id, err := bodyID(in.ID, "agent-")
	if err != nil {
		writeError(w, r, err)
		return
	}
	a, err := in.agent(id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	if err := s.opts.Store.CreateAgent(ctx, a); err != nil {
		writeError(w, r, s.storeError(ctx, err, fmt.Sprintf("agent %q", id), true))
		return
	}
	s.audit(r, who, "agent.create", "agent/"+id, a)
	w.Header().Set("Location", "/api/v1/agents/"+id)
	writeJSON(w, http.StatusCreated, a)
}

func (s *Server) replaceAgent(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	who, err := actor(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var in AgentInput
	if err := decodeJSON(r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	if err := sameID(in.ID, id); err != nil {
		writeError(w, r, err)
		return
	}
	a, err := in.agent(id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	if err := s.opts.Store.UpdateAgent(ctx, a); err != nil {
		writeError(w, r, s.storeError(ctx, err, fmt.Sprintf("agent %q", id), true))
		return
	}
	s.audit(r, who, "agent.update", "agent/"+id, a)
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) deleteAgent(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	who, err := actor(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	if err := s.opts.Store.DeleteAgent(ctx, id); err != nil {
		writeError(w, r, s.storeError(ctx, err, fmt.Sprintf("agent %q", id), true))
		return
	}
	s.audit(r, who, "agent.delete", "agent/"+id, map[string]string{"id": id})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listQueues(w http.ResponseWriter, r *http.Request) {
	if err := onlyQuery(r); err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	queues, err := s.opts.Store.ListQueues(ctx)
	if err != nil {
		writeError(w, r, s.storeError(ctx, err, "queues", false))
		return
	}
	if queues == nil {
		queues = []store.Queue{}
	}
	writeJSON(w, http.StatusOK, QueueList{Queues: queues})
}

func (s *Server) getQueue(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	q, err := s.opts.Store.GetQueue(ctx, id)
	if err != nil {
		writeError(w, r, s.storeError(ctx, err, fmt.Sprintf("queue %q", id), false))
		return
	}
	writeJSON(w, http.StatusOK, q)
}

// checkOverflow makes sure q's overflow queue exists and that following the
// overflow chain from it never comes back to q.
func (s *Server) checkOverflow(r *http.Request, q *store.Queue) error {
	if q.OverflowQueueID == "" {
		return nil
	}
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	next := q.OverflowQueueID
	for hop := 0; next != "" && hop < maxOverflowHops; hop++ {
		if next == q.ID {
			return errorf(http.StatusUnprocessableEntity, "overflow_queue_id", "overflowing into %q makes a loop back to queue %q", q.OverflowQueueID, q.ID)
		}
		o, err := s.opts.Store.GetQueue(ctx, next)
		if err != nil {
			if hop == 0 && isNotFound(err) {
				return errorf(http.StatusUnprocessableEntity, "overflow_queue_id", "no queue %q", next)
			}
			if isNotFound(err) {
				return nil // a dangling link further on is not this queue's doing
			}
			return s.storeError(ctx, err, fmt.Sprintf("queue %q", next), false)
		}
		next = o.OverflowQueueID
	}
	return nil
}

func (s *Server) createQueue(w http.ResponseWriter, r *http.Request) {
	who, err := actor(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var in QueueInput
	if err := decodeJSON(r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	id, err := bodyID(in.ID, "queue-")
	if err != nil {
		writeError(w, r, err)
		return
	}
	q, err := in.queue(id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.checkOverflow(r, q); err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	if err := s.opts.Store.CreateQueue(ctx, q); err != nil {
		writeError(w, r, s.storeError(ctx, err, fmt.Sprintf("queue %q", id), true))
		return
	}
	s.audit(r, who, "queue.create", "queue/"+id, q)
	w.Header().Set("Location", "/api/v1/queues/"+id)
	writeJSON(w, http.StatusCreated, q)
}

func (s *Server) replaceQueue(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	who, err := actor(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var in QueueInput
	if err := decodeJSON(r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	if err := sameID(in.ID, id); err != nil {
		writeError(w, r, err)
		return
	}
	q, err := in.queue(id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.checkOverflow(r, q); err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	if err := s.opts.Store.UpdateQueue(ctx, q); err != nil {
		writeError(w, r, s.storeError(ctx, err, fmt.Sprintf("queue %q", id), true))
		return
	}
	s.audit(r, who, "queue.update", "queue/"+id, q)
	writeJSON(w, http.StatusOK, q)
}

func (s *Server) deleteQueue(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	who, err := actor(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	// A queue another queue overflows into stays until that link is removed,
	// so contacts never overflow into nothing.
	queues, err := s.opts.Store.ListQueues(ctx)
	if err != nil {
		writeError(w, r, s.storeError(ctx, err, fmt.Sprintf("queue %q", id), true))
		return
	}
	for _, q := range queues {
		if q.OverflowQueueID == id && q.ID != id {
			writeError(w, r, errorf(http.StatusConflict, "", "queue %q overflows into queue %q; change its overflow_queue_id first", q.ID, id))
			return
		}
	}
	if err := s.opts.Store.DeleteQueue(ctx, id); err != nil {
		writeError(w, r, s.storeError(ctx, err, fmt.Sprintf("queue %q", id), true))
		return
	}
	s.audit(r, who, "queue.delete", "queue/"+id, map[string]string{"id": id})
	w.WriteHeader(http.StatusNoContent)
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
