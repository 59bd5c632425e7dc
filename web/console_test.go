package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/internal/browser"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/sqlite"
	"github.com/parley-cc/parley/web"
)

// The console, opened in headless Chromium over the real API, lists a stored
// call and shows its transcript, events and recording when clicked.
func TestConsoleShowsACallWithItsTranscript(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(recDir, "c-42.wav"), []byte("RIFF"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	call := store.Call{ID: "c-42", Direction: "inbound", Channel: "sip", From: "+15550100", To: "bot", State: "handoff",
		QueueID: "support", Summary: "Wants a refund for a double charge", RecordingPath: "c-42.wav", StartedAt: now, UpdatedAt: now}
	must(t, st.SaveCall(ctx, &call))
	must(t, st.AppendTurn(ctx, store.Turn{CallID: "c-42", Seq: 1, Speaker: "caller", Text: "I was charged twice", Intent: "double_charge", Confidence: 0.93, Sentiment: -0.4, At: now}))
	must(t, st.AppendTurn(ctx, store.Turn{CallID: "c-42", Seq: 2, Speaker: "bot", Text: "Let me get someone who can refund that.", At: now}))
	must(t, st.AppendCallEvent(ctx, store.CallEvent{CallID: "c-42", Seq: 1, Type: "dtmf", By: "caller", Data: map[string]string{"digit": "1"}, At: now}))

	api := httpapi.New(httpapi.Options{Store: st, RecordingsDir: recDir, Pages: map[string]http.Handler{"GET /{$}": web.Console(), "GET /console/": web.Console()},
		Checks: []httpapi.ReadinessCheck{httpapi.StoreCheck(st)}})
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()

	b := browser.New(t, browser.Options{})
	if err := chromedp.Do(b,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(`#call-list tr[data-id="c-42"]`),
		chromedp.Click(`#call-list tr[data-id="c-42"]`),
		chromedp.WaitVisible(`#call-detail .turn.bot`),
	); err != nil {
		t.Fatal(err)
	}
	detail, err := chromedp.Run(b, chromedp.Text(`#call-detail`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"I was charged twice", "double_charge 0.93", "Let me get someone", "Wants a refund", "dtmf", "digit=1"} {
		if !strings.Contains(detail, want) {
			t.Errorf("call detail lacks %q:\n%s", want, detail)
		}
	}
	src, err := chromedp.Run(b, chromedp.Evaluate[string](`document.querySelector("#call-detail audio").getAttribute("src")`))
	if err != nil || src != "/api/v1/calls/c-42/recording" {
		t.Errorf("recording player src = %q (%v)", src, err)
	}
	ready, err := chromedp.Run(b, chromedp.Text(`#ready`))
	if err != nil || ready != "ready" {
		t.Errorf("readiness pill = %q (%v), want ready", ready, err)
	}
	// A tab whose API this node does not serve says so instead of failing.
	if err := chromedp.Do(b, chromedp.Navigate(srv.URL+"/#evals"), chromedp.WaitVisible(`#eval-list td.muted`)); err != nil {
		t.Fatal(err)
	}
	evals, _ := chromedp.Run(b, chromedp.Text(`#eval-list tbody`))
	if !strings.Contains(evals, "Not served by this node") {
		t.Errorf("evals tab without the evals API shows %q", evals)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
