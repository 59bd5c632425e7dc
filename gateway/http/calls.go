package httpapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/parley-cc/parley/store"
)

// CallList is the body of GET /api/v1/calls.
type CallList struct {
	Calls []store.Call `json:"calls"`
}

// AuditList is the body of GET /api/v1/audit, newest entry first.
type AuditList struct {
	Entries []store.AuditEntry `json:"entries"`
}

// TurnRecorded is the body of a successful POST /api/v1/calls/{id}/turns.
type TurnRecorded struct {
	CallID string `json:"call_id"`
	Seq    int    `json:"seq" description:"Sequence number the turn was stored under, from 1."`
}

// onlyQuery rejects query parameters other than the allowed ones, so that a
// misspelt filter is an error rather than silently ignored.
func onlyQuery(r *http.Request, allowed ...string) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errorf(http.StatusBadRequest, "", "malformed query string: %v", err)
	}
	for k, v := range q {
		if !contains(allowed, k) {
			if len(allowed) == 0 {
				return errorf(http.StatusBadRequest, k, "unknown query parameter %q: this endpoint takes none", truncate(k, 80))
			}
			return errorf(http.StatusBadRequest, k, "unknown query parameter %q: want one of %s", truncate(k, 80), strings.Join(allowed, ", "))
		}
		if len(v) > 1 {
			return errorf(http.StatusBadRequest, k, "query parameter %q given %d times; give it once", k, len(v))
		}
	}
	return nil
}

// queryLimit parses the limit parameter: 1 to maxListLimit, default
// defaultLimit.
func queryLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxListLimit {
		return 0, errorf(http.StatusBadRequest, "limit", "invalid limit %q: want an integer from 1 to %d", truncate(v, 40), maxListLimit)
	}
	return n, nil
}

// callFilter parses the calls list query.
func callFilter(r *http.Request) (store.CallFilter, error) {
	if err := onlyQuery(r, "state", "queue", "agent", "since", "limit"); err != nil {
		return store.CallFilter{}, err
	}
	q := r.URL.Query()
	f := store.CallFilter{State: q.Get("state"), QueueID: q.Get("queue"), AgentID: q.Get("agent")}
	if f.State != "" && !contains(callStates, f.State) {
		return f, errorf(http.StatusBadRequest, "state", "unknown call state %q: want one of %s", truncate(f.State, 40), strings.Join(callStates, ", "))
	}
	if f.QueueID != "" {
		if err := checkID("queue", f.QueueID); err != nil {
			return f, err
		}
	}
	if f.AgentID != "" {
		if err := checkID("agent", f.AgentID); err != nil {
			return f, err
		}
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return f, errorf(http.StatusBadRequest, "since", "invalid time %q: want RFC 3339, e.g. 2026-01-02T15:04:05Z", truncate(v, 40))
		}
		f.Since = t
	}
	limit, err := queryLimit(r)
	if err != nil {
		return f, err
	}
	f.Limit = limit
	return f, nil
}

func (s *Server) listCalls(w http.ResponseWriter, r *http.Request) {
	f, err := callFilter(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	calls, err := s.opts.Store.ListCalls(ctx, f)
	if err != nil {
		writeError(w, r, s.storeError(ctx, err, "calls", false))
		return
	}
	if calls == nil {
		calls = []store.Call{}
	}
	writeJSON(w, http.StatusOK, CallList{Calls: calls})
}

// getCall serves the live transcript from Calls when it has one and the
// stored one otherwise; a cluster that cannot answer falls back to the store
// so a node without quorum still shows finished calls.
func (s *Server) getCall(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	if s.opts.Calls != nil {
		ct, err := s.opts.Calls.Transcript(ctx, id)
		switch {
		case err == nil && ct != nil:
			out := *ct // the grain's value may be shared; annotate a copy
			out.Source = "live"
			fillNil(&out)
			writeJSON(w, http.StatusOK, &out)
			return
		case errors.Is(err, store.ErrNotFound):
			writeError(w, r, errorf(http.StatusNotFound, "", "call %q not found", id))
			return
		default:
			s.log.WarnContext(ctx, "live transcript unavailable; reading the store", "request_id", requestID(ctx), "call_id", id, "error", err)
		}
	}
	c, err := s.opts.Store.GetCall(ctx, id)
	if err != nil {
		writeError(w, r, s.storeError(ctx, err, fmt.Sprintf("call %q", id), false))
		return
	}
	turns, err := s.opts.Store.ListTurns(ctx, id)
	if err != nil {
		writeError(w, r, s.storeError(ctx, err, fmt.Sprintf("turns of call %q", id), false))
		return
	}
	events, err := s.opts.Store.ListCallEvents(ctx, id)
	if err != nil {
		writeError(w, r, s.storeError(ctx, err, fmt.Sprintf("events of call %q", id), false))
		return
	}
	ct := &CallTranscript{Call: *c, Turns: turns, Events: events, Source: "store"}
	fillNil(ct)
	writeJSON(w, http.StatusOK, ct)
}

// fillNil makes empty lists encode as [] rather than null.
func fillNil(ct *CallTranscript) {
	if ct.Turns == nil {
		ct.Turns = []store.Turn{}
	}
	if ct.Events == nil {
		ct.Events = []store.CallEvent{}
	}
}

func (s *Server) recordTurn(w http.ResponseWriter, r *http.Request) {
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
	var in TurnInput
	if err := decodeJSON(r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	t, err := in.turn(id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Microseconds: what both stores keep, so the turn reads back equal.
	t.At = s.opts.Now().UTC().Truncate(time.Microsecond)
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	var seq int
	if s.opts.Calls != nil {
		seq, err = s.opts.Calls.RecordTurn(ctx, id, t)
		if err != nil {
			writeError(w, r, s.callsError(err, id))
			return
		}
	} else if seq, err = s.storeTurn(r, id, t); err != nil {
		writeError(w, r, err)
		return
	}
	s.audit(r, who, "call.turn", "call/"+id, map[string]any{"seq": seq, "speaker": t.Speaker})
	w.Header().Set("Location", "/api/v1/calls/"+id)
	writeJSON(w, http.StatusCreated, TurnRecorded{CallID: id, Seq: seq})
}

// callsError maps an error from Calls.RecordTurn. An error that is not a
// known refusal means the grain did not confirm the turn: 503, retry.
func (s *Server) callsError(err error, id string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "", "call %q not found", id)
	case errors.Is(err, store.ErrConflict):
		return errorf(http.StatusConflict, "", "call %q takes no more turns: %v", id, err)
	case errors.Is(err, store.ErrInvalid):
		return errorf(http.StatusUnprocessableEntity, "", "turn refused: %v", err)
	}
	return &apiError{
		status:     http.StatusServiceUnavailable,
		msg:        fmt.Sprintf("call %q did not confirm the turn; it may not be recorded, retry later", id),
		retryAfter: int(math.Ceil(s.opts.RetryAfter.Seconds())),
		cause:      err,
	}
}

// storeTurnAttempts bounds how often storeTurn moves past a sequence number
// another writer took first.
const storeTurnAttempts = 5

// storeTurn appends t to the stored transcript with the next sequence
// number. The store silently ignores a turn whose number is taken (that is
// how retries stay idempotent), so turnMu keeps this process's requests from
// racing, and reading the turn back catches another process that took the
// number first; the turn then moves on to the next free number.
func (s *Server) storeTurn(r *http.Request, id string, t store.Turn) (int, error) {
	s.turnMu.Lock()
	defer s.turnMu.Unlock()
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	c, err := s.opts.Store.GetCall(ctx, id)
	if err != nil {
		return 0, s.storeError(ctx, err, fmt.Sprintf("call %q", id), true)
	}
	if c.State == store.CallEnded || c.State == store.CallAbandon {
		return 0, errorf(http.StatusConflict, "", "call %q has ended (state %s) and takes no more turns", id, c.State)
	}
	turns, err := s.opts.Store.ListTurns(ctx, id)
	if err != nil {
		return 0, s.storeError(ctx, err, fmt.Sprintf("turns of call %q", id), true)
	}
	for range storeTurnAttempts {
		t.Seq = nextSeq(turns)
		if err := s.opts.Store.AppendTurn(ctx, t); err != nil {
			return 0, s.storeError(ctx, err, fmt.Sprintf("turn of call %q", id), true)
		}
		if turns, err = s.opts.Store.ListTurns(ctx, id); err != nil {
			return 0, s.storeError(ctx, err, fmt.Sprintf("turns of call %q", id), true)
		}
		for _, got := range turns {
			if got.Seq == t.Seq && sameTurn(got, t) {
				return t.Seq, nil
			}
		}
		s.log.WarnContext(ctx, "turn sequence number taken by another writer; retrying", "request_id", requestID(ctx), "call_id", id, "seq", t.Seq)
	}
	return 0, &apiError{
		status:     http.StatusServiceUnavailable,
		msg:        fmt.Sprintf("call %q: other writers took every sequence number tried; the turn was not recorded, retry later", id),
		retryAfter: int(math.Ceil(s.opts.RetryAfter.Seconds())),
	}
}

// nextSeq returns one more than the highest sequence number in turns.
func nextSeq(turns []store.Turn) int {
	seq := 1
	for _, old := range turns {
		if old.Seq >= seq {
			seq = old.Seq + 1
		}
	}
	return seq
}

// sameTurn reports whether stored is the turn t written back: same speaker,
// text and time (t.At is truncated to the store's microsecond precision).
func sameTurn(stored, t store.Turn) bool {
	return stored.Speaker == t.Speaker && stored.Text == t.Text && stored.At.Equal(t.At)
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	if err := onlyQuery(r, "limit"); err != nil {
		writeError(w, r, err)
		return
	}
	limit, err := queryLimit(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	entries, err := s.opts.Store.ListAudit(ctx, limit)
	if err != nil {
		writeError(w, r, s.storeError(ctx, err, "audit log", false))
		return
	}
	if entries == nil {
		entries = []store.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, AuditList{Entries: entries})
}

// getRecording streams the call's dual-channel WAV. Only files under
// Options.RecordingsDir are served, whatever the record says, so a tampered
// path cannot read the rest of the disk.
func (s *Server) getRecording(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := s.storeCtx(r)
	defer cancel()
	c, err := s.opts.Store.GetCall(ctx, id)
	if err != nil {
		writeError(w, r, s.storeError(ctx, err, fmt.Sprintf("call %q", id), false))
		return
	}
	if c.RecordingPath == "" || s.opts.RecordingsDir == "" {
		writeError(w, r, errorf(http.StatusNotFound, "", "call %q has no recording", id))
		return
	}
	root, err := filepath.Abs(s.opts.RecordingsDir)
	if err != nil {
		writeError(w, r, err)
		return
	}
	path := c.RecordingPath
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	if rel, err := filepath.Rel(root, filepath.Clean(path)); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		s.log.WarnContext(ctx, "recording path outside the recordings dir refused", "call_id", id, "path", c.RecordingPath)
		writeError(w, r, errorf(http.StatusNotFound, "", "call %q has no recording", id))
		return
	}
	f, err := os.Open(path)
	if err != nil {
		writeError(w, r, errorf(http.StatusNotFound, "", "recording of call %q is not on this node's disk", id))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", id+".wav"))
	http.ServeContent(w, r, id+".wav", st.ModTime(), f)
}
