// Package httpapi is Parley's HTTP edge: health and readiness probes,
// Prometheus metrics, and the REST API under /api/v1/ for agents, queues,
// calls with their transcripts, and the audit log, described by an OpenAPI
// 3.1 document built from the same route table that serves the requests.
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-cc/parley/store"
)

// Store is the part of store.Store the API reads and writes; a store.Store
// satisfies it.
type Store interface {
	store.AgentStore
	store.QueueStore
	store.CallStore
	store.AuditStore
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
}

// Calls reaches live calls (the Call grains). Implementations return errors
// wrapping store.ErrNotFound for an unknown call and store.ErrConflict for a
// call that takes no more turns.
type Calls interface {
	// RecordTurn appends t to the call's transcript and returns the sequence
	// number it was given; t.Seq is zero and the implementation numbers it.
	RecordTurn(ctx context.Context, callID string, t store.Turn) (seq int, err error)
	// Transcript returns the call with its turns and events as the cluster
	// member that holds the call knows them.
	Transcript(ctx context.Context, callID string) (*CallTranscript, error)
}

// CallTranscript is a call with everything said and everything that happened.
type CallTranscript struct {
	Call   store.Call        `json:"call"`
	Turns  []store.Turn      `json:"turns"`
	Events []store.CallEvent `json:"events"`
	// Member is the cluster member that answered; empty when read from the store.
	Member string `json:"member,omitempty" description:"Cluster member that answered; absent when read from the store."`
	// Source says where the transcript came from: "live" (Calls) or "store".
	Source string `json:"source" enum:"live,store" description:"live when a Call grain answered, store when read from the database."`
}

// ReadinessCheck is one named condition /readyz requires, such as a database
// ping, cluster membership or a bounded write-behind backlog.
type ReadinessCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options are the server's dependencies and limits. Store is required.
type Options struct {
	// Store persists agents, queues, calls and the audit log.
	Store Store
	// WriteBehind, when set, holds audit entries the database did not take
	// and writes them once it is back.
	WriteBehind *store.WriteBehind
	// Calls, when set, serves call transcripts and records turns through the
	// live Call grains; when nil both go to Store.
	Calls Calls
	// Checks are the readiness conditions reported by /readyz.
	Checks []ReadinessCheck
	// Gatherer is what /metrics exposes; nil means prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Registerer receives the HTTP request collectors; nil means they are not
	// registered anywhere (but still counted).
	Registerer prometheus.Registerer
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// RecordingsDir is where call recordings live; GET
	// /api/v1/calls/{id}/recording serves files under it only.
	RecordingsDir string
	// Routes are endpoints contributed by other subsystems, served and
	// documented after the built-in ones.
	Routes []Route
	// Pages are non-API handlers by pattern (e.g. "GET /call", "/ws/agent"),
	// served beside the API without OpenAPI entries.
	Pages map[string]http.Handler
	// Fallback serves requests that match no API route (e.g. the web UI);
	// nil answers them with a JSON 404.
	Fallback http.Handler
	// Version is reported in the OpenAPI document; "dev" when empty.
	Version string
	// MaxBodyBytes limits request bodies; 1 MiB when zero.
	MaxBodyBytes int64
	// StoreTimeout bounds each request's store work; 5 s when zero.
	StoreTimeout time.Duration
	// CheckTimeout bounds each readiness check; 2 s when zero.
	CheckTimeout time.Duration
	// RetryAfter is the Retry-After sent with a 503; 5 s when zero.
	RetryAfter time.Duration
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Server is the HTTP edge of one node. Its Handler is safe for concurrent use.
type Server struct {
	opts     Options
	log      *slog.Logger
	metrics  *metrics
	mux      *http.ServeMux
	handler  http.Handler
	routes   []route
	draining atomic.Bool
	docOnce  sync.Once
	doc      []byte // the OpenAPI document, encoded on first request
	docErr   error
	// turnMu serializes store-backed turn recording so that two requests for
	// one call never pick the same sequence number (Calls does its own).
	turnMu sync.Mutex
}

// New returns a server for opts. It panics when opts.Store is nil, a
// programming error in the caller's wiring.
func New(opts Options) *Server {
	if opts.Store == nil {
		panic("httpapi: Options.Store is nil")
	}
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.DefaultGatherer
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.StoreTimeout <= 0 {
		opts.StoreTimeout = 5 * time.Second
	}
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = 2 * time.Second
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	s.metrics = newMetrics(opts.Registerer)
	s.routes = s.routeTable()
	for _, rt := range opts.Routes {
		s.routes = append(s.routes, rt.route())
	}
	s.register()
	s.handler = s.instrument(s.mux)
	return s
}

// Handler returns the root handler with request ids, logging, metrics and
// panic recovery around every route.
func (s *Server) Handler() http.Handler { return s.handler }

// Drain makes /readyz answer 503 so load balancers stop sending new work
// while the node shuts down; the API keeps serving.
func (s *Server) Drain() { s.draining.Store(true) }

// register adds every route to the mux, plus a JSON 405 for each path's
// other methods and a JSON 404 (or Fallback) for everything else.
func (s *Server) register() {
	allowed := map[string][]string{}
	var paths []string
	for _, rt := range s.routes {
		h := rt.handler
		if rt.body {
			h = s.limitBody(h)
		}
		s.mux.Handle(rt.method+" "+rt.path, h)
		if _, ok := allowed[rt.path]; !ok {
			paths = append(paths, rt.path)
		}
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	for _, p := range paths {
		allow := allowed[p]
		if contains(allow, http.MethodGet) {
			allow = append(allow, http.MethodHead)
		}
		allowHeader := strings.Join(allow, ", ")
		s.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allowHeader)
			writeError(w, r, errorf(http.StatusMethodNotAllowed, "", "method %s is not allowed on %s; allowed: %s", r.Method, p, allowHeader))
		})
	}
	for pattern, h := range s.opts.Pages {
		s.mux.Handle(pattern, h)
	}
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errorf(http.StatusNotFound, "", "no API route for %s", r.URL.Path))
	})
	if s.opts.Fallback != nil {
		s.mux.Handle("/", s.opts.Fallback)
	} else {
		s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, r, errorf(http.StatusNotFound, "", "nothing at %s", r.URL.Path))
		})
	}
}

// limitBody caps the request body at MaxBodyBytes; decodeJSON turns the
// overflow into a 413.
func (s *Server) limitBody(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.opts.MaxBodyBytes {
			writeError(w, r, errorf(http.StatusRequestEntityTooLarge, "", "request body is larger than %d bytes", s.opts.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		h(w, r)
	}
}

// storeCtx bounds the store work of one request.
func (s *Server) storeCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.opts.StoreTimeout)
}

// Routes lists the served endpoints as "METHOD /path" patterns, in the
// order of the OpenAPI document's route table.
func (s *Server) Routes() []string {
	out := make([]string, 0, len(s.routes))
	for _, rt := range s.routes {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

// HTTPServer returns an http.Server for addr serving Handler, with timeouts
// that keep slow or idle clients from holding connections forever.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}
