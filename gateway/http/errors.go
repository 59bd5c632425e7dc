package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error     string `json:"error" description:"What was wrong, in words."`
	Field     string `json:"field,omitempty" description:"The request field, query parameter or header at fault, as a path such as skills[1].proficiency."`
	RequestID string `json:"request_id,omitempty" description:"The request id, also in the X-Request-Id response header."`
}

// apiError is an error that knows its HTTP status and the field at fault.
type apiError struct {
	status     int
	msg        string
	field      string
	retryAfter int   // seconds; set on 503
	cause      error // logged, never shown to the client
}

func (e *apiError) Error() string {
	msg := e.msg
	if e.field != "" {
		msg = e.field + ": " + msg
	}
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *apiError) Unwrap() error { return e.cause }

func errorf(status int, field, format string, args ...any) *apiError {
	return &apiError{status: status, field: field, msg: fmt.Sprintf(format, args...)}
}

// writeJSON writes v as the JSON response body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only reachable with a type json cannot encode: a programming error.
		http.Error(w, `{"error":"cannot encode the response"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeError writes err as an ErrorBody. Errors that are not *apiError become
// a 500 whose text is not shown to the client.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{status: http.StatusInternalServerError, msg: "internal error"}
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	if rec, ok := w.(*recorder); ok {
		rec.err = err
	}
	writeJSON(w, ae.status, ErrorBody{Error: ae.msg, Field: ae.field, RequestID: requestID(r.Context())})
}

// decodeJSON reads the request body into dst: exactly one JSON value, no
// unknown fields, no more than the body limit. Errors name the byte offset
// or the field at fault.
func decodeJSON(r *http.Request, dst any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errorf(http.StatusRequestEntityTooLarge, "", "request body is larger than %d bytes", tooBig.Limit)
		}
		return errorf(http.StatusBadRequest, "", "cannot read the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return errorf(http.StatusBadRequest, "", "request body is empty; a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(body, reflect.TypeOf(dst), err)
	}
	// Anything but whitespace after the object is a malformed body.
	if off := dec.InputOffset(); len(bytes.TrimSpace(body[off:])) != 0 {
		return errorf(http.StatusBadRequest, "", "malformed JSON at byte offset %d: unexpected data after the JSON object", off)
	}
	return nil
}

// jsonError turns a json.Decoder error into a 400 naming the offset or field.
func jsonError(body []byte, target reflect.Type, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read including the bad one; report the
		// bad byte's own 0-based position.
		return errorf(http.StatusBadRequest, "", "malformed JSON at byte offset %d: %s", max(syn.Offset-1, 0), syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return errorf(http.StatusBadRequest, "", "malformed JSON at byte offset %d: expected a JSON object, got %s", typ.Offset, typ.Value)
		}
		return errorf(http.StatusBadRequest, field, "wrong JSON type at byte offset %d: got %s, want %s", typ.Offset, typ.Value, jsonKind(typ.Type))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, "", "malformed JSON at byte offset %d: the body ends before the JSON value is complete", len(body))
	}
	// encoding/json reports unknown fields only as a message with the bare key
	// name; find the full path of the first unknown key ourselves.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		var generic any
		if json.Unmarshal(body, &generic) == nil {
			if path := unknownField(generic, target, ""); path != "" {
				name = path
			}
		}
		return errorf(http.StatusBadRequest, name, "unknown field %q", name)
	}
	return errorf(http.StatusBadRequest, "", "malformed JSON: %v", err)
}

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return t.String()
}

// unknownField returns the path of the first key in v that type t has no JSON
// field for, or "" when every key is known.
func unknownField(v any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch val := v.(type) {
	case map[string]any:
		if t.Kind() == reflect.Map {
			for k, sub := range val {
				if p := unknownField(sub, t.Elem(), joinPath(path, k)); p != "" {
					return p
				}
			}
			return ""
		}
		if t.Kind() != reflect.Struct {
			return ""
		}
		fields := jsonFields(t)
		for k, sub := range val {
			f, ok := fields[k]
			if !ok {
				// encoding/json also matches keys case-insensitively.
				for name, ff := range fields {
					if strings.EqualFold(name, k) {
						f, ok = ff, true
						break
					}
				}
			}
			if !ok {
				return joinPath(path, k)
			}
			if p := unknownField(sub, f.Type, joinPath(path, k)); p != "" {
				return p
			}
		}
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return ""
		}
		for i, sub := range val {
			if p := unknownField(sub, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonFields maps the JSON names of a struct's fields to the fields.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}
