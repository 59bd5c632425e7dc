package httpapi

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"
)

// Health is the body of GET /healthz.
type Health struct {
	Status string `json:"status" enum:"ok"`
}

// CheckResult is the outcome of one readiness check.
type CheckResult struct {
	Name       string  `json:"name"`
	OK         bool    `json:"ok"`
	Error      string  `json:"error,omitempty"`
	DurationMs float64 `json:"duration_ms"`
}

// Readiness is the body of GET /readyz.
type Readiness struct {
	Status  string        `json:"status" enum:"ready,unready,draining"`
	Checks  []CheckResult `json:"checks"`
	Failing []string      `json:"failing,omitempty" description:"Names of the failing checks."`
}

// StoreCheck is the readiness check that the database answers a ping.
func StoreCheck(s interface{ Ping(context.Context) error }) ReadinessCheck {
	return ReadinessCheck{Name: "database", Check: s.Ping}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, Health{Status: "ok"})
}

// readyz runs every check at once, each under CheckTimeout, and answers 503
// naming the failing ones.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	results := make([]CheckResult, len(s.opts.Checks))
	var wg sync.WaitGroup
	for i, c := range s.opts.Checks {
		wg.Go(func() {
			results[i] = s.runCheck(r.Context(), c)
		})
	}
	wg.Wait()
	body := Readiness{Status: "ready", Checks: results}
	for _, res := range results {
		if !res.OK {
			body.Failing = append(body.Failing, res.Name)
		}
	}
	status := http.StatusOK
	switch {
	case s.draining.Load():
		body.Status, status = "draining", http.StatusServiceUnavailable
	case len(body.Failing) > 0:
		body.Status, status = "unready", http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
}

func (s *Server) runCheck(ctx context.Context, c ReadinessCheck) (res CheckResult) {
	res.Name = c.Name
	start := time.Now()
	defer func() {
		res.DurationMs = float64(time.Since(start).Microseconds()) / 1000
	}()
	ctx, cancel := context.WithTimeout(ctx, s.opts.CheckTimeout)
	defer cancel()
	// Run the check aside so a check that ignores its context still cannot
	// hold the probe past the timeout.
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				s.log.ErrorContext(ctx, "readiness check panicked", "check", c.Name, "panic", p)
				done <- errors.New("check panicked")
			}
		}()
		done <- c.Check(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = errors.New("timed out after " + s.opts.CheckTimeout.String())
	}
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.OK = true
	return res
}
