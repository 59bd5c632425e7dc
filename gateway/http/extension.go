package httpapi

import (
	"fmt"
	"net/http"
)

// Route is an endpoint contributed by another subsystem (the knowledge base,
// routing, evals, WebRTC signalling). It is served with the same request ids,
// logging, metrics and body limit as the built-in routes, and documented in
// the same OpenAPI document.
type Route struct {
	Method, Path string // e.g. "GET", "/api/v1/kb/documents/{id}"
	OperationID  string
	Tag          string
	Summary      string
	Description  string
	Query        []Param
	// Request is the JSON request body's type (a zero value); nil means the
	// route takes no body.
	Request any
	// Status is the success status; Response its JSON body type (nil: none),
	// or ResponseType the content type of a non-JSON body (text/html, a
	// WebSocket upgrade documented as 101...).
	Status       int
	Response     any
	ResponseType string
	// Errors are the documented error statuses, a subset of 400, 404, 405,
	// 409, 413, 422, 500, 503.
	Errors  []int
	Handler http.HandlerFunc
}

// Param is a documented query parameter of a Route.
type Param struct {
	Name        string
	Description string
	Schema      map[string]any // JSON schema, e.g. {"type": "integer"}
}

func (rt Route) route() route {
	r := route{method: rt.Method, path: rt.Path, operationID: rt.OperationID, tag: rt.Tag,
		summary: rt.Summary, description: rt.Description, body: rt.Request != nil, request: rt.Request,
		status: rt.Status, response: rt.Response, responseType: rt.ResponseType, errors: rt.Errors, handler: rt.Handler}
	for _, p := range rt.Query {
		r.query = append(r.query, param{name: p.Name, description: p.Description, schema: p.Schema})
	}
	return r
}

// Error returns an error that a Route handler passes to WriteError: the
// response has the status and an ErrorBody naming field (may be empty).
func Error(status int, field, format string, args ...any) error {
	return errorf(status, field, format, args...)
}

// Unavailable is a 503 with Retry-After for a dependency that is down; cause
// is logged, never shown to the client.
func Unavailable(retryAfterSecs int, what string, cause error) error {
	return &apiError{status: http.StatusServiceUnavailable, msg: fmt.Sprintf("%s is unavailable; retry later", what), retryAfter: retryAfterSecs, cause: cause}
}

// WriteJSON writes v as a JSON response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// WriteError writes err as an ErrorBody; errors not made by Error or
// Unavailable become a 500 whose text the client does not see.
func WriteError(w http.ResponseWriter, r *http.Request, err error) { writeError(w, r, err) }

// DecodeJSON reads exactly one JSON value into dst, rejecting unknown fields
// and oversized bodies; its errors are ready for WriteError.
func DecodeJSON(r *http.Request, dst any) error { return decodeJSON(r, dst) }
