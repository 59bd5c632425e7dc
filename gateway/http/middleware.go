package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

type ctxKey int

const requestIDKey ctxKey = iota

// requestIDPattern accepts ids from a load balancer or client as they are;
// anything else is replaced so logs never carry arbitrary bytes.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string { return requestID(ctx) }

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// recorder captures the status and size of a response, and the error a
// handler reported, for logs and metrics.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	err    error
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// quietRoute reports routes polled constantly by probes and scrapers; they
// log at debug level so they do not drown the API requests.
func quietRoute(route string) bool {
	return route == "/healthz" || route == "/readyz" || route == "/metrics"
}

// instrument wraps next with request ids, panic recovery, one log line and
// the request metrics per request.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		rec := &recorder{ResponseWriter: w}

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(r.Context(), "http handler panic", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeError(rec, r, errors.New("panic"))
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			route := routeLabel(r.Pattern)
			elapsed := time.Since(start)
			s.metrics.observe(methodLabel(r.Method), route, status, elapsed)

			level := slog.LevelInfo
			switch {
			case status >= 500:
				level = slog.LevelError
			case status >= 400:
				level = slog.LevelWarn
			case quietRoute(route):
				level = slog.LevelDebug
			}
			attrs := []slog.Attr{
				slog.String("request_id", id),
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
				slog.Int64("bytes", rec.bytes),
				slog.String("remote", r.RemoteAddr),
			}
			if rec.err != nil {
				attrs = append(attrs, slog.String("error", rec.err.Error()))
			}
			s.log.LogAttrs(r.Context(), level, "http request", attrs...)
		}()
		next.ServeHTTP(rec, r)
	})
}

// routeLabel turns a mux pattern such as "GET /api/v1/agents/{id}" into the
// route label "/api/v1/agents/{id}"; requests that matched only a catch-all
// are "unmatched" so arbitrary paths cannot grow the metric label set.
func routeLabel(pattern string) string {
	_, path, ok := strings.Cut(pattern, " ")
	if !ok {
		path = pattern
	}
	if path == "" || path == "/" || path == "/api/" {
		return "unmatched"
	}
	return path
}

// methodLabel bounds the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

func statusLabel(code int) string { return strconv.Itoa(code) }
