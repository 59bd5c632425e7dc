package httpapi_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	httpapi "github.com/parley-cc/parley/gateway/http"
)

func TestHealthz(t *testing.T) {
	e := newEnv(t, nil)
	var h httpapi.Health
	e.must(200, "GET", "/healthz", "").decode(t, &h)
	if h.Status != "ok" {
		t.Errorf("health = %+v", h)
	}
}

func TestReadyz(t *testing.T) {
	var clusterUp atomic.Bool
	clusterUp.Store(true)
	e := newEnv(t, func(o *httpapi.Options) {
		o.CheckTimeout = 100 * time.Millisecond
		o.Checks = append(o.Checks,
			httpapi.ReadinessCheck{Name: "cluster", Check: func(ctx context.Context) error {
				if !clusterUp.Load() {
					return errors.New("not a cluster member")
				}
				return nil
			}},
			httpapi.ReadinessCheck{Name: "write_behind", Check: func(ctx context.Context) error { return nil }},
		)
	})

	var rd httpapi.Readiness
	e.must(200, "GET", "/readyz", "").decode(t, &rd)
	if rd.Status != "ready" || len(rd.Checks) != 3 || len(rd.Failing) != 0 {
		t.Errorf("ready body = %+v", rd)
	}
	for _, c := range rd.Checks {
		if !c.OK || c.Error != "" {
			t.Errorf("check %+v should pass", c)
		}
	}

	clusterUp.Store(false)
	rd = httpapi.Readiness{}
	e.must(503, "GET", "/readyz", "").decode(t, &rd)
	if rd.Status != "unready" || len(rd.Failing) != 1 || rd.Failing[0] != "cluster" {
		t.Errorf("unready body = %+v", rd)
	}
	for _, c := range rd.Checks {
		if c.Name == "cluster" && (c.OK || c.Error != "not a cluster member") {
			t.Errorf("cluster check = %+v", c)
		}
		if c.Name != "cluster" && !c.OK {
			t.Errorf("check %+v should still pass", c)
		}
	}

	clusterUp.Store(true)
	e.must(200, "GET", "/readyz", "")
	e.srv.Drain()
	rd = httpapi.Readiness{}
	e.must(503, "GET", "/readyz", "").decode(t, &rd)
	if rd.Status != "draining" {
		t.Errorf("draining body = %+v", rd)
	}
	e.must(200, "GET", "/healthz", "") // alive while draining
}

// TestReadyzHungCheck shows a check that ignores its context cannot hold the
// probe: it is reported as timed out.
func TestReadyzHungCheck(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e := newEnv(t, func(o *httpapi.Options) {
		o.CheckTimeout = 50 * time.Millisecond
		o.Checks = []httpapi.ReadinessCheck{{Name: "stuck", Check: func(context.Context) error { <-release; return nil }}}
	})
	var rd httpapi.Readiness
	e.must(503, "GET", "/readyz", "").decode(t, &rd)
	if len(rd.Checks) != 1 || rd.Checks[0].OK || !strings.Contains(rd.Checks[0].Error, "timed out") {
		t.Errorf("hung check = %+v", rd)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, nil)
	e.must(200, "GET", "/api/v1/agents", "")
	e.must(200, "GET", "/api/v1/agents", "")
	e.must(404, "GET", "/api/v1/agents/ghost", "")
	e.must(404, "GET", "/no/such/page", "")
	r := e.must(200, "GET", "/metrics", "")
	text := string(r.body)
	for _, want := range []string{
		`parley_http_requests_total{method="GET",route="/api/v1/agents",status="200"} 2`,
		`parley_http_requests_total{method="GET",route="/api/v1/agents/{id}",status="404"} 1`,
		`parley_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`parley_http_request_duration_seconds_count{method="GET",route="/api/v1/agents",status="200"} 2`,
		`# TYPE parley_http_audit_failures_total counter`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("metrics Content-Type %q", r.header.Get("Content-Type"))
	}

	// A second server on the same registry shares the collectors.
	second := httpapi.New(httpapi.Options{Store: e.store, Registerer: e.reg, Gatherer: e.reg})
	if len(second.Routes()) == 0 {
		t.Error("second server has no routes")
	}
}
