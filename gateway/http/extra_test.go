package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// racingWriter is the real store with another node appending a turn under
// the same sequence number just before each of the first `steal` appends.
type racingWriter struct {
	httpapi.Store
	steal int
}

func (r *racingWriter) AppendTurn(ctx context.Context, t store.Turn) error {
	if r.steal > 0 {
		r.steal--
		other := t
		other.Text = "written by another node"
		if err := r.Store.AppendTurn(ctx, other); err != nil {
			return err
		}
	}
	return r.Store.AppendTurn(ctx, t)
}

// TestTurnNumberTakenByAnotherWriter: the store ignores a turn whose number
// is taken, so the API must notice and move on rather than report a turn
// that was never stored.
func TestTurnNumberTakenByAnotherWriter(t *testing.T) {
	base := newEnv(t, nil)
	seedCalls(t, base)
	racer := &racingWriter{Store: base.store, steal: 2}
	e := newEnv(t, func(o *httpapi.Options) { o.Store = racer })

	var rec httpapi.TurnRecorded
	e.must(201, "POST", "/api/v1/calls/c-2/turns", `{"speaker":"bot","text":"mine"}`).decode(t, &rec)
	// c-2 had turn 1; the other node took 2 and 3.
	if rec.Seq != 4 {
		t.Errorf("recorded as seq %d, want 4", rec.Seq)
	}
	turns, err := base.store.ListTurns(context.Background(), "c-2")
	if err != nil {
		t.Fatal(err)
	}
	if len(turns) != 4 || turns[3].Seq != 4 || turns[3].Text != "mine" {
		t.Errorf("stored turns = %+v", turns)
	}

	// A writer that always wins: the API gives up with a 503, not a 201.
	racer.steal = 100
	r := e.must(503, "POST", "/api/v1/calls/c-2/turns", `{"speaker":"bot","text":"unlucky"}`)
	if r.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
}

func TestCallRecordingServedOnlyFromTheRecordingsDir(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(o *httpapi.Options) { o.RecordingsDir = dir })
	ctx := context.Background()
	wavBytes := append([]byte("RIFF\x24\x00\x00\x00WAVE"), make([]byte, 32)...)
	if err := os.WriteFile(filepath.Join(dir, "rec-1.wav"), wavBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret.wav")
	if err := os.WriteFile(secret, []byte("not yours"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, c := range []store.Call{
		{ID: "rec-1", Direction: "inbound", Channel: "sip", State: "ended", RecordingPath: filepath.Join(dir, "rec-1.wav"), StartedAt: now, UpdatedAt: now},
		{ID: "rel-1", Direction: "inbound", Channel: "sip", State: "ended", RecordingPath: "rec-1.wav", StartedAt: now, UpdatedAt: now},
		{ID: "escape", Direction: "inbound", Channel: "sip", State: "ended", RecordingPath: secret, StartedAt: now, UpdatedAt: now},
		{ID: "dotdot", Direction: "inbound", Channel: "sip", State: "ended", RecordingPath: "../" + filepath.Base(filepath.Dir(secret)) + "/secret.wav", StartedAt: now, UpdatedAt: now},
		{ID: "none", Direction: "inbound", Channel: "text", State: "ended", StartedAt: now, UpdatedAt: now},
	} {
		if err := e.store.SaveCall(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"rec-1", "rel-1"} {
		r := e.must(200, "GET", "/api/v1/calls/"+id+"/recording", "")
		if r.header.Get("Content-Type") != "audio/wav" || !bytes.Equal(r.body, wavBytes) {
			t.Errorf("recording of %s: %s, %d bytes; want the WAV", id, r.header.Get("Content-Type"), len(r.body))
		}
	}
	for _, id := range []string{"escape", "dotdot", "none", "missing"} {
		if r := e.do("GET", "/api/v1/calls/"+id+"/recording", ""); r.status != 404 {
			t.Errorf("recording of %s: status %d %s, want 404", id, r.status, r.body)
		}
	}
}
