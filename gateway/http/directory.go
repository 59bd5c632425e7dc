package httpapi

import (
	"context"
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

// directory is the create/read/update/delete of one kind of record (agents,
// queues): the handlers share parsing, validation, store error mapping and
// auditing, and differ only in these functions.
type directory[In, Rec any] struct {
	kind   string // "agent": names the record in errors, audit actions and ids
	list   func(ctx context.Context) ([]Rec, error)
	get    func(ctx context.Context, id string) (*Rec, error)
	create func(ctx context.Context, rec *Rec) error
	update func(ctx context.Context, rec *Rec) error
	delete func(ctx context.Context, id string) error
	// record validates the input into the record stored under id.
	record func(in *In, id string) (*Rec, error)
	inID   func(in *In) string
	// check, when set, validates a record against the others before it is
	// stored; beforeDelete, when set, can refuse a delete.
	check        func(r *http.Request, rec *Rec) error
	beforeDelete func(ctx context.Context, id string) error
	// listBody wraps a list in its response body type.
	listBody func([]Rec) any
}

func (d directory[In, Rec]) what(id string) string { return fmt.Sprintf("%s %q", d.kind, id) }

func (d directory[In, Rec]) listHandler(s *Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := onlyQuery(r); err != nil {
			writeError(w, r, err)
			return
		}
		ctx, cancel := s.storeCtx(r)
		defer cancel()
		recs, err := d.list(ctx)
		if err != nil {
			writeError(w, r, s.storeError(ctx, err, d.kind+"s", false))
			return
		}
		if recs == nil {
			recs = []Rec{}
		}
		writeJSON(w, http.StatusOK, d.listBody(recs))
	}
}

func (d directory[In, Rec]) getHandler(s *Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		ctx, cancel := s.storeCtx(r)
		defer cancel()
		rec, err := d.get(ctx, id)
		if err != nil {
			writeError(w, r, s.storeError(ctx, err, d.what(id), false))
			return
		}
		writeJSON(w, http.StatusOK, rec)
	}
}

// input reads, validates and checks a create (pathID "") or replace body.
func (d directory[In, Rec]) input(s *Server, r *http.Request, pathID string) (id string, rec *Rec, err error) {
	var in In
	if err := decodeJSON(r, &in); err != nil {
		return "", nil, err
	}
	if pathID == "" {
		if id, err = bodyID(d.inID(&in), d.kind+"-"); err != nil {
			return "", nil, err
		}
	} else {
		if err := sameID(d.inID(&in), pathID); err != nil {
			return "", nil, err
		}
		id = pathID
	}
	if rec, err = d.record(&in, id); err != nil {
		return "", nil, err
	}
	if d.check != nil {
		if err := d.check(r, rec); err != nil {
			return "", nil, err
		}
	}
	return id, rec, nil
}

func (d directory[In, Rec]) createHandler(s *Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, err := actor(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		id, rec, err := d.input(s, r, "")
		if err != nil {
			writeError(w, r, err)
			return
		}
		ctx, cancel := s.storeCtx(r)
		defer cancel()
		if err := d.create(ctx, rec); err != nil {
			writeError(w, r, s.storeError(ctx, err, d.what(id), true))
			return
		}
		s.audit(r, who, d.kind+".create", d.kind+"/"+id, rec)
		w.Header().Set("Location", "/api/v1/"+d.kind+"s/"+id)
		writeJSON(w, http.StatusCreated, rec)
	}
}

func (d directory[In, Rec]) replaceHandler(s *Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
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
		_, rec, err := d.input(s, r, id)
		if err != nil {
			writeError(w, r, err)
			return
		}
		ctx, cancel := s.storeCtx(r)
		defer cancel()
		if err := d.update(ctx, rec); err != nil {
			writeError(w, r, s.storeError(ctx, err, d.what(id), true))
			return
		}
		s.audit(r, who, d.kind+".update", d.kind+"/"+id, rec)
		writeJSON(w, http.StatusOK, rec)
	}
}

func (d directory[In, Rec]) deleteHandler(s *Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
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
		if d.beforeDelete != nil {
			if err := d.beforeDelete(ctx, id); err != nil {
				writeError(w, r, err)
				return
			}
		}
		if err := d.delete(ctx, id); err != nil {
			writeError(w, r, s.storeError(ctx, err, d.what(id), true))
			return
		}
		s.audit(r, who, d.kind+".delete", d.kind+"/"+id, map[string]string{"id": id})
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) agents() directory[AgentInput, store.Agent] {
	st := s.opts.Store
	return directory[AgentInput, store.Agent]{
		kind: "agent", list: st.ListAgents, get: st.GetAgent, create: st.CreateAgent, update: st.UpdateAgent, delete: st.DeleteAgent,
		record:   func(in *AgentInput, id string) (*store.Agent, error) { return in.agent(id) },
		inID:     func(in *AgentInput) string { return in.ID },
		listBody: func(a []store.Agent) any { return AgentList{Agents: a} },
	}
}

func (s *Server) queues() directory[QueueInput, store.Queue] {
	st := s.opts.Store
	return directory[QueueInput, store.Queue]{
		kind: "queue", list: st.ListQueues, get: st.GetQueue, create: st.CreateQueue, update: st.UpdateQueue, delete: st.DeleteQueue,
		record:       func(in *QueueInput, id string) (*store.Queue, error) { return in.queue(id) },
		inID:         func(in *QueueInput) string { return in.ID },
		check:        s.checkOverflow,
		beforeDelete: s.overflowTarget,
		listBody:     func(q []store.Queue) any { return QueueList{Queues: q} },
	}
}

// overflowTarget refuses to delete a queue another queue overflows into, so
// contacts never overflow into nothing.
func (s *Server) overflowTarget(ctx context.Context, id string) error {
	queues, err := s.opts.Store.ListQueues(ctx)
	if err != nil {
		return s.storeError(ctx, err, fmt.Sprintf("queue %q", id), true)
	}
	for _, q := range queues {
		if q.OverflowQueueID == id && q.ID != id {
			return errorf(http.StatusConflict, "", "queue %q overflows into queue %q; change its overflow_queue_id first", q.ID, id)
		}
	}
	return nil
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

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
