package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"

	"github.com/parley-cc/parley/store"
)

// storeError maps a store error to the response: unknown id 404, duplicate
// 409, invalid record 422. Anything else is a 503 with Retry-After when the
// database does not answer a ping (or the store timed out), so a client never
// takes an unstored write for a stored one, and a 500 otherwise.
func (s *Server) storeError(ctx context.Context, err error, what string, write bool) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "", "%s not found", what)
	case errors.Is(err, store.ErrConflict):
		return errorf(http.StatusConflict, "id", "%s already exists", what)
	case errors.Is(err, store.ErrInvalid):
		return errorf(http.StatusUnprocessableEntity, "", "%s: %v", what, err)
	}
	unavailable := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
	if !unavailable {
		// Ask the database directly, detached from the request's deadline,
		// which may be what just expired.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.CheckTimeout)
		unavailable = s.opts.Store.Ping(pctx) != nil
		cancel()
	}
	if unavailable {
		verb := "read"
		if write {
			verb = "store"
		}
		return &apiError{
			status:     http.StatusServiceUnavailable,
			msg:        fmt.Sprintf("database unavailable: could not %s %s; nothing was changed, retry later", verb, what),
			retryAfter: int(math.Ceil(s.opts.RetryAfter.Seconds())),
			cause:      err,
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// actorPattern bounds the actor name a client may give for the audit log.
var actorPattern = regexp.MustCompile(`^[A-Za-z0-9_.@:+-]{1,128}$`)

// actorHeader names who makes a change, for the audit log.
const actorHeader = "X-Parley-Actor"

// actor returns who makes the request: the X-Parley-Actor header, or "api".
func actor(r *http.Request) (string, error) {
	a := r.Header.Get(actorHeader)
	if a == "" {
		return "api", nil
	}
	if !actorPattern.MatchString(a) {
		return "", errorf(http.StatusBadRequest, actorHeader, "invalid actor %q: want 1-128 letters, digits or _.@:+-", truncate(a, 80))
	}
	return a, nil
}

// audit records a stored mutation. The mutation has happened, so a failure
// here is not reported to the client as a failed write: the entry is handed
// to the write-behind queue, when there is one, to land once the database
// is back; otherwise it is logged and counted.
func (s *Server) audit(r *http.Request, who, action, target string, detail any) {
	d, err := json.Marshal(detail)
	if err != nil {
		d = []byte(fmt.Sprintf("%q", fmt.Sprint(detail)))
	}
	e := store.AuditEntry{At: s.opts.Now().UTC(), Actor: who, Action: action, Target: target, Detail: string(d)}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.opts.StoreTimeout)
	defer cancel()
	err = s.opts.Store.AppendAudit(ctx, e)
	if err != nil && s.opts.WriteBehind != nil && !store.IsPermanent(err) {
		err = s.opts.WriteBehind.Enqueue("audit", func(ctx context.Context) error { return s.opts.Store.AppendAudit(ctx, e) })
		if err == nil {
			return
		}
	}
	if err != nil {
		s.metrics.auditFailures.Inc()
		s.log.ErrorContext(ctx, "audit entry not stored", "request_id", requestID(r.Context()),
			"action", action, "target", target, "actor", who, "error", err)
	}
}
