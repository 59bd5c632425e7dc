package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/store"
)

// TestChunkedBodyTooLarge sends a body without Content-Length: the limit
// still applies while reading.
func TestChunkedBodyTooLarge(t *testing.T) {
	e := newEnv(t, func(o *httpapi.Options) { o.MaxBodyBytes = 256 })
	body := io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("x", 1000)), strings.NewReader(`"}`))
	req, err := http.NewRequest("POST", e.http.URL+"/api/v1/agents", body)
	if err != nil {
		t.Fatal(err)
	}
	if req.ContentLength != 0 {
		t.Fatalf("request has a Content-Length (%d); the test needs a chunked body", req.ContentLength)
	}
	res, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 413 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("status %d, want 413: %s", res.StatusCode, b)
	}
}

// auditDown is the real store whose audit log refuses writes.
type auditDown struct {
	httpapi.Store
}

func (auditDown) AppendAudit(context.Context, store.AuditEntry) error {
	return errors.New("audit table locked")
}

// TestAuditFailureKeepsStoredWrite: the agent is stored, so the client hears
// 201 (a retry would only get 409); the lost audit entry is logged and
// counted.
func TestAuditFailureKeepsStoredWrite(t *testing.T) {
	e := newEnv(t, nil)
	down := newEnv(t, func(o *httpapi.Options) { o.Store = auditDown{Store: e.store} })
	down.must(201, "POST", "/api/v1/agents", `{"id":"a-1","name":"Ana"}`)
	e.must(200, "GET", "/api/v1/agents/a-1", "")
	if !strings.Contains(down.logs.String(), "audit entry not stored") {
		t.Errorf("lost audit entry not logged:\n%s", down.logs.String())
	}
	metrics := string(down.must(200, "GET", "/metrics", "").body)
	if !strings.Contains(metrics, "parley_http_audit_failures_total 1") {
		t.Errorf("audit failure not counted")
	}
}
