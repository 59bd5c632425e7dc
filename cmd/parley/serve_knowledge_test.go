package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/knowledge/assist"
	"github.com/parley-cc/parley/knowledge/catalog"
	"github.com/parley-cc/parley/knowledge/kbeval"
	"github.com/parley-cc/parley/knowledge/latency"
	"github.com/parley-cc/parley/store/backend"
)

// kbNode is a `parley serve` started in-process with an empty store, the
// local embedder and the embedded index, for the knowledge REST tests.
type kbNode struct {
	t      *testing.T
	base   string
	client *http.Client
}

func startKBNode(t *testing.T) *kbNode {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.SIPAddr = "127.0.0.1:0"
	cfg.Demo = false
	cfg.KBMaxDocumentBytes = 4096
	cfg.ShutdownTimeout = 5 * time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, testServeLogger(t), ready) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	})
	n := &kbNode{t: t, client: &http.Client{Timeout: 30 * time.Second}}
	select {
	case addr := <-ready:
		n.base = "http://" + addr
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("serve did not become ready")
	}
	// The knowledge base loads in the background; readiness waits for it.
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := n.client.Get(n.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The dialog component imports its deployment's articles at start:
	// delete them so the tests know every article there is.
	for _, v := range decode[[]savedJSON](t, n.do("GET", "/api/v1/kb/documents", nil, 200)) {
		n.do("DELETE", "/api/v1/kb/documents/"+v.ID, nil, 204)
	}
	if left := decode[[]savedJSON](t, n.do("GET", "/api/v1/kb/documents", nil, 200)); len(left) != 0 {
		t.Fatalf("%d articles left after deleting all", len(left))
	}
	return n
}

// do sends a request and checks the status; it returns the body.
func (n *kbNode) do(method, path string, body any, want int) []byte {
	n.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			n.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, n.base+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Parley-Actor", "editor-ann")
	resp, err := n.client.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		n.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, out, want)
	}
	return out
}

// apiErr decodes an ErrorBody.
type apiErr struct {
	Error string `json:"error"`
	Field string `json:"field"`
}

func (n *kbNode) fail(method, path string, body any, want int) apiErr {
	n.t.Helper()
	var e apiErr
	if err := json.Unmarshal(n.do(method, path, body, want), &e); err != nil {
		n.t.Fatalf("%s %s: error body: %v", method, path, err)
	}
	return e
}

func decode[T any](t *testing.T, raw []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, raw, err)
	}
	return v
}

type savedJSON struct {
	ID             string `json:"id"`
	Version        int    `json:"version"`
	Status         string `json:"status"`
	Author         string `json:"author"`
	ChangeNote     string `json:"change_note"`
	Indexed        bool   `json:"indexed"`
	IndexedVersion int    `json:"indexed_version"`
	IndexError     string `json:"index_error"`
	Body           string `json:"body"`
}

type searchJSON struct {
	Query    string          `json:"query"`
	Hits     []knowledge.Hit `json:"hits"`
	Degraded bool            `json:"degraded"`
}

var kbArticles = []map[string]any{
	{"id": "refund-card", "title": "Refund to a card", "format": "markdown", "status": "published", "language": "en",
		"category": []string{"billing", "refunds", "card"}, "tags": []string{"refund"},
		"body": "# Refunds\n\nRefunds go back to the card used for the payment. They reach the card within 5 working days. Ask the customer for the order number first."},
	{"id": "router-restart", "title": "Router connected but no internet", "format": "markdown", "language": "en",
		"category": []string{"internet", "router", "restart"},
		"body":     "Unplug the router for 30 seconds, plug it back in and wait until the light turns green. This takes about two minutes."},
	{"id": "roaming-eu", "title": "Roaming charges abroad", "format": "text", "status": "published", "language": "en",
		"category": []string{"mobile", "roaming", "charges"},
		"body":     "Roaming in the EU costs nothing extra. Outside the EU a daily pass costs 5 euros and includes 1 GB of data."},
}

// TestKnowledgeRESTThroughServe drives every /api/v1/kb route of a real
// node: articles with versions, conflicts and publishing, categories,
// search in each mode, answers, feedback, analytics, reindex and agent
// assist over HTTP with its SSE stream.
func TestKnowledgeRESTThroughServe(t *testing.T) {
	n := startKBNode(t)

	// Create: version 1, indexed; a second create of the same id conflicts.
	for _, a := range kbArticles {
		s := decode[savedJSON](t, n.do("POST", "/api/v1/kb/documents", a, 201))
		if s.ID != a["id"] || s.Version != 1 || !s.Indexed || s.Author != "editor-ann" {
			t.Fatalf("create %s: %+v", a["id"], s)
		}
	}
	if e := n.fail("POST", "/api/v1/kb/documents", kbArticles[0], 409); !strings.Contains(e.Error, "exists") {
		t.Fatalf("duplicate create: %+v", e)
	}
	got := decode[savedJSON](t, n.do("GET", "/api/v1/kb/documents/refund-card", nil, 200))
	if got.Version != 1 || got.Status != "published" || !strings.Contains(got.Body, "working days") {
		t.Fatalf("get: %+v", got)
	}
	n.fail("GET", "/api/v1/kb/documents/nope", nil, 404)

	// Update from the latest version; a stale base_version is a 409 and
	// stores nothing.
	upd := map[string]any{}
	for k, v := range kbArticles[0] {
		upd[k] = v
	}
	delete(upd, "id")
	upd["body"] = "# Refunds\n\nRefunds go back to the card used for the payment. They reach the card within 3 working days. Ask the customer for the order number first."
	upd["base_version"] = 1
	upd["change_note"] = "faster refunds"
	if s := decode[savedJSON](t, n.do("PUT", "/api/v1/kb/documents/refund-card", upd, 200)); s.Version != 2 || s.IndexedVersion != 2 || s.ChangeNote != "faster refunds" {
		t.Fatalf("update: %+v", s)
	}
	upd["body"] = "a concurrent edit from version 1"
	if e := n.fail("PUT", "/api/v1/kb/documents/refund-card", upd, 409); !strings.Contains(e.Error, "version 2 is the latest") {
		t.Fatalf("stale update: %+v", e)
	}
	upd["id"] = "other"
	if e := n.fail("PUT", "/api/v1/kb/documents/refund-card", upd, 400); e.Field != "id" {
		t.Fatalf("id differing from the path: %+v", e)
	}
	vs := decode[[]savedJSON](t, n.do("GET", "/api/v1/kb/documents/refund-card/versions", nil, 200))
	if len(vs) != 2 || vs[0].Version != 1 || vs[1].Version != 2 || !strings.Contains(vs[0].Body, "5 working days") {
		t.Fatalf("versions: %+v", vs)
	}
	if v1 := decode[savedJSON](t, n.do("GET", "/api/v1/kb/documents/refund-card/versions/1", nil, 200)); !strings.Contains(v1.Body, "5 working days") {
		t.Fatalf("version 1: %+v", v1)
	}
	if e := n.fail("GET", "/api/v1/kb/documents/refund-card/versions/two", nil, 400); e.Field != "version" {
		t.Fatalf("bad version: %+v", e)
	}
	n.fail("GET", "/api/v1/kb/documents/refund-card/versions/9", nil, 404)

	// The draft router article is not searchable until it is published.
	search := func(q, mode string) searchJSON {
		t.Helper()
		path := "/api/v1/kb/search?q=" + strings.ReplaceAll(q, " ", "+")
		if mode != "" {
			path += "&mode=" + mode
		}
		return decode[searchJSON](t, n.do("GET", path, nil, 200))
	}
	if r := search("router no internet light", "lexical"); len(r.Hits) > 0 && r.Hits[0].DocumentID == "router-restart" {
		t.Fatalf("draft found by search: %+v", r.Hits[0])
	}
	pub := decode[savedJSON](t, n.do("POST", "/api/v1/kb/documents/router-restart/publish", map[string]any{"change_note": "reviewed"}, 200))
	if pub.Version != 2 || pub.Status != "published" || pub.IndexedVersion != 2 {
		t.Fatalf("publish: %+v", pub)
	}
	n.fail("POST", "/api/v1/kb/documents/nope/publish", nil, 404)

	cats := decode[[]struct {
		Name     string `json:"name"`
		Articles int    `json:"articles"`
		Children []struct {
			Name string `json:"name"`
		} `json:"children"`
	}](t, n.do("GET", "/api/v1/kb/categories", nil, 200))
	names := map[string]int{}
	for _, c := range cats {
		names[c.Name] = c.Articles
	}
	if names["billing"] != 1 || names["internet"] != 1 || names["mobile"] != 1 {
		t.Fatalf("categories: %+v", cats)
	}

	// Search in every mode finds the refund article, each retriever
	// ranking it on its own.
	for _, mode := range []string{"", "hybrid", "lexical", "vector"} {
		r := search("how long until my refund reaches the card", mode)
		if len(r.Hits) == 0 || r.Hits[0].DocumentID != "refund-card" || r.Hits[0].Version != 2 || r.Degraded {
			t.Fatalf("mode %q: %+v", mode, r)
		}
		h := r.Hits[0]
		switch mode {
		case "lexical":
			if h.VectorRank != 0 || h.LexicalRank != 1 {
				t.Fatalf("lexical hit carries a vector rank: %+v", h)
			}
		case "vector":
			if h.LexicalRank != 0 || h.VectorRank != 1 {
				t.Fatalf("vector hit carries a lexical rank: %+v", h)
			}
		default:
			if h.LexicalRank == 0 || h.VectorRank == 0 {
				t.Fatalf("hybrid hit lacks a retriever: %+v", h)
			}
		}
	}
	if r := search("router no internet light", "hybrid"); len(r.Hits) == 0 || r.Hits[0].DocumentID != "router-restart" {
		t.Fatalf("published router article not found: %+v", r)
	}
	if r := decode[searchJSON](t, n.do("GET", "/api/v1/kb/search?q=charges&category=mobile", nil, 200)); len(r.Hits) != 1 || r.Hits[0].DocumentID != "roaming-eu" {
		t.Fatalf("category filter: %+v", r)
	}
	if e := n.fail("GET", "/api/v1/kb/search?q=refund&mode=semantic", nil, 400); e.Field != "mode" {
		t.Fatalf("bad mode: %+v", e)
	}
	if e := n.fail("GET", "/api/v1/kb/search?q=+", nil, 400); e.Field != "q" {
		t.Fatalf("empty query: %+v", e)
	}
	if e := n.fail("GET", "/api/v1/kb/search?q=refund&limit=500", nil, 400); e.Field != "limit" {
		t.Fatalf("bad limit: %+v", e)
	}

	// Answers: quoted from the best passage with a citation, or "nothing
	// found, offer a person".
	ans := decode[knowledge.Answer](t, n.do("POST", "/api/v1/kb/answer", map[string]any{"query": "how many working days does a refund to my card take"}, 200))
	if !ans.Found || len(ans.Citations) != 1 || ans.Citations[0].DocumentID != "refund-card" || ans.Citations[0].Version != 2 ||
		!strings.Contains(ans.Text, "3 working days") {
		t.Fatalf("answer: %+v", ans)
	}
	none := decode[knowledge.Answer](t, n.do("POST", "/api/v1/kb/answer", map[string]any{"query": "quantum chromodynamics lattice gauge"}, 200))
	if none.Found || none.Text != knowledge.NothingFound || len(none.Citations) != 0 {
		t.Fatalf("nothing-found answer: %+v", none)
	}
	if e := n.fail("POST", "/api/v1/kb/answer", map[string]any{"query": "refund", "k": 99}, 400); e.Field != "k" {
		t.Fatalf("bad k: %+v", e)
	}

	// Feedback, then the analytics reflect searches and votes.
	for i := 0; i < 3; i++ {
		n.do("POST", "/api/v1/kb/feedback", map[string]any{"query": "roaming outside the EU", "document_id": "roaming-eu", "version": 1,
			"helpful": false, "source": "agent", "call_id": fmt.Sprintf("c%d", i)}, 201)
	}
	n.do("POST", "/api/v1/kb/feedback", map[string]any{"query": "refund to card", "document_id": "refund-card", "helpful": true, "source": "bot"}, 201)
	if e := n.fail("POST", "/api/v1/kb/feedback", map[string]any{"document_id": "refund-card", "helpful": true, "source": "caller"}, 400); e.Field != "source" {
		t.Fatalf("bad source: %+v", e)
	}
	if e := n.fail("POST", "/api/v1/kb/feedback", map[string]any{"helpful": true, "source": "bot"}, 400); e.Field != "document_id" {
		t.Fatalf("missing document: %+v", e)
	}
	an := decode[struct {
		TopQueries []struct {
			Query string `json:"query"`
			Count int    `json:"count"`
		} `json:"top_queries"`
		NoGoodResult []struct {
			Query string `json:"query"`
		} `json:"no_good_result"`
		Unhelpful []struct {
			DocumentID string `json:"document_id"`
			Unhelpful  int    `json:"unhelpful"`
		} `json:"unhelpful"`
	}](t, n.do("GET", "/api/v1/kb/analytics?limit=50", nil, 200))
	if !slices.ContainsFunc(an.TopQueries, func(q struct {
		Query string `json:"query"`
		Count int    `json:"count"`
	}) bool {
		return strings.Contains(q.Query, "refund reaches the card") && q.Count >= 4
	}) {
		t.Fatalf("top queries miss the repeated search: %+v", an.TopQueries)
	}
	if len(an.Unhelpful) == 0 || an.Unhelpful[0].DocumentID != "roaming-eu" || an.Unhelpful[0].Unhelpful != 3 {
		t.Fatalf("unhelpful articles: %+v", an.Unhelpful)
	}
	if !slices.ContainsFunc(an.NoGoodResult, func(q struct {
		Query string `json:"query"`
	}) bool {
		return strings.Contains(q.Query, "quantum")
	}) {
		t.Fatalf("no-good-result queries miss the unanswerable one: %+v", an.NoGoodResult)
	}

	// Reindex: nothing changed, nothing re-embedded; with retrain every
	// chunk is re-embedded.
	ri := decode[struct {
		Articles  int `json:"articles"`
		Upserted  int `json:"chunks_upserted"`
		Unchanged int `json:"chunks_unchanged"`
		Retrained int `json:"chunks_retrained"`
	}](t, n.do("POST", "/api/v1/kb/reindex", nil, 200))
	if ri.Articles != 3 || ri.Upserted != 0 || ri.Unchanged < 3 {
		t.Fatalf("reindex: %+v", ri)
	}
	ri2 := decode[struct {
		Retrained int `json:"chunks_retrained"`
	}](t, n.do("POST", "/api/v1/kb/reindex", map[string]any{"retrain": true}, 200))
	if ri2.Retrained < 3 {
		t.Fatalf("reindex with retrain: %+v", ri2)
	}

	// Agent assist: the desktop's SSE stream receives the suggestion made
	// from a final utterance posted over HTTP.
	ev := openEvents(t, n.base, "call-77")
	res := decode[struct {
		Published  bool               `json:"published"`
		Reason     string             `json:"reason"`
		Suggestion *assist.Suggestion `json:"suggestion"`
	}](t, n.do("POST", "/api/v1/kb/assist/utterances", assist.Utterance{CallID: "call-77", Speaker: "caller",
		Text: "I was charged abroad, what does roaming outside the EU cost", Final: true}, 200))
	if !res.Published || res.Suggestion == nil || res.Suggestion.Passages[0].DocumentID != "roaming-eu" {
		t.Fatalf("utterance: %+v", res)
	}
	sg := ev.next(t)
	if sg.CallID != "call-77" || sg.Seq != 1 || sg.Passages[0].DocumentID != "roaming-eu" || !strings.Contains(sg.Reply, "daily pass") {
		t.Fatalf("suggestion on the stream: %+v", sg)
	}
	// The same topic again is suppressed; interim text is skipped.
	for _, u := range []assist.Utterance{
		{CallID: "call-77", Speaker: "agent", Text: "so roaming outside the EU charges you", Final: true},
		{CallID: "call-77", Speaker: "caller", Text: "and a refund to my card", Final: false},
	} {
		r := decode[struct {
			Published bool   `json:"published"`
			Reason    string `json:"reason"`
		}](t, n.do("POST", "/api/v1/kb/assist/utterances", u, 200))
		if r.Published || r.Reason == "" {
			t.Fatalf("%q: %+v", u.Text, r)
		}
	}
	if e := n.fail("POST", "/api/v1/kb/assist/utterances", assist.Utterance{Text: "refund to my card please", Final: true}, 400); e.Field != "call_id" {
		t.Fatalf("utterance without call: %+v", e)
	}
	n.do("POST", "/api/v1/kb/assist/utterances", assist.Utterance{CallID: "call-77", Speaker: "agent", Text: "a refund goes back to your card", Final: true}, 200)
	if sg := ev.next(t); sg.Seq != 2 || sg.Passages[0].DocumentID != "refund-card" || sg.Speaker != "agent" {
		t.Fatalf("second suggestion: %+v", sg)
	}

	// Delete removes the article from the store and from search.
	n.do("DELETE", "/api/v1/kb/documents/roaming-eu", nil, 204)
	n.fail("GET", "/api/v1/kb/documents/roaming-eu", nil, 404)
	if r := search("roaming outside the EU daily pass", ""); len(r.Hits) > 0 && r.Hits[0].DocumentID == "roaming-eu" {
		t.Fatalf("deleted article still found: %+v", r.Hits[0])
	}
	n.fail("DELETE", "/api/v1/kb/documents/roaming-eu", nil, 404)
}

// sseStream reads suggestion events from the assist stream.
type sseStream struct {
	events chan assist.Suggestion
	errs   chan error
}

func openEvents(tb testing.TB, base, call string) *sseStream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/kb/assist/"+call+"/events", nil)
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		tb.Fatalf("events: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	s := &sseStream{events: make(chan assist.Suggestion, 16), errs: make(chan error, 1)}
	rd := bufio.NewReader(resp.Body)
	// The subscription exists once the first comment arrives.
	line, err := rd.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, ": subscribed") {
		tb.Fatalf("events: first line %q, %v", line, err)
	}
	go func() {
		defer resp.Body.Close()
		event := ""
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				s.errs <- err
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "suggestion":
				var sg assist.Suggestion
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &sg); err != nil {
					s.errs <- fmt.Errorf("suggestion data %q: %w", line, err)
					return
				}
				s.events <- sg
			}
		}
	}()
	return s
}

func (s *sseStream) next(t testing.TB) assist.Suggestion {
	t.Helper()
	select {
	case sg := <-s.events:
		return sg
	case err := <-s.errs:
		t.Fatalf("events stream: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no suggestion on the events stream")
	}
	return assist.Suggestion{}
}

// TestKnowledgeRESTBadInput sends malformed, unknown, oversized, non-UTF-8
// and unsupported articles: each gets an error naming what and where, and
// nothing already stored changes.
func TestKnowledgeRESTBadInput(t *testing.T) {
	n := startKBNode(t)
	n.do("POST", "/api/v1/kb/documents", kbArticles[0], 201)
	before := n.do("GET", "/api/v1/kb/documents/refund-card/versions", nil, 200)

	e := n.fail("POST", "/api/v1/kb/documents", `{"id": "x", "title": "T", "body": }`, 400)
	if !strings.Contains(e.Error, "byte offset 34") {
		t.Fatalf("malformed JSON: %+v", e)
	}
	e = n.fail("PUT", "/api/v1/kb/documents/refund-card", `{"title": "T", "body": "b", "colour": "red"}`, 400)
	if e.Field != "colour" || !strings.Contains(e.Error, "unknown field") {
		t.Fatalf("unknown field: %+v", e)
	}
	e = n.fail("POST", "/api/v1/kb/documents", `{"id": "x", "title": 7, "body": "b"}`, 400)
	if e.Field != "title" {
		t.Fatalf("wrong type: %+v", e)
	}
	// Over the API's request limit (1 MiB): 413 before anything is parsed.
	huge := map[string]any{"id": "huge", "title": "Huge", "body": strings.Repeat("word ", 300_000)}
	if e := n.fail("POST", "/api/v1/kb/documents", huge, 413); !strings.Contains(e.Error, "larger than") {
		t.Fatalf("oversized request: %+v", e)
	}
	// Within the request limit but over kb-max-document-bytes (4096): the
	// article is refused naming the field and the limit.
	big := map[string]any{"id": "big", "title": "Big", "body": strings.Repeat("word ", 1000)}
	if e := n.fail("POST", "/api/v1/kb/documents", big, 422); e.Field != "body" || !strings.Contains(e.Error, "limit is 4096") {
		t.Fatalf("oversized article: %+v", e)
	}
	bad := []byte(`{"id": "latin1", "title": "Caf`)
	bad = append(bad, 0xe9) // Latin-1 é: not UTF-8
	bad = append(bad, []byte(`", "body": "Opening hours."}`)...)
	if e := n.fail("POST", "/api/v1/kb/documents", bad, 400); e.Field != "title" || !strings.Contains(e.Error, "UTF-8 at byte offset 30") {
		t.Fatalf("invalid UTF-8: %+v", e)
	}
	if e := n.fail("POST", "/api/v1/kb/documents", map[string]any{"id": "scan", "title": "Scan", "body": "%PDF-1.7", "format": "pdf"}, 422); e.Field != "format" || !strings.Contains(e.Error, "pdf") {
		t.Fatalf("unsupported format: %+v", e)
	}
	if e := n.fail("POST", "/api/v1/kb/documents", map[string]any{"id": "blank", "title": " ", "body": "  "}, 422); !strings.Contains(e.Error, "blank") {
		t.Fatalf("empty article: %+v", e)
	}
	if e := n.fail("POST", "/api/v1/kb/documents", map[string]any{"title": "No id", "body": "text"}, 400); e.Field != "id" {
		t.Fatalf("missing id: %+v", e)
	}
	if e := n.fail("POST", "/api/v1/kb/documents", "", 400); !strings.Contains(e.Error, "empty") {
		t.Fatalf("empty body: %+v", e)
	}
	// Nothing bad was stored and the good article is untouched.
	list := decode[[]savedJSON](t, n.do("GET", "/api/v1/kb/documents", nil, 200))
	if len(list) != 1 || list[0].ID != "refund-card" {
		t.Fatalf("articles after bad input: %+v", list)
	}
	if after := n.do("GET", "/api/v1/kb/documents/refund-card/versions", nil, 200); !bytes.Equal(before, after) {
		t.Fatalf("versions changed by rejected input:\n%s\n%s", before, after)
	}
}

// TestKnowledgeRoutesInOpenAPI checks that every knowledge route a node
// serves is in /api/v1/openapi.json with its method.
func TestKnowledgeRoutesInOpenAPI(t *testing.T) {
	n := startKBNode(t)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(n.do("GET", "/api/v1/openapi.json", nil, 200), &doc); err != nil {
		t.Fatal(err)
	}
	routes := (&kbHandlers{}).routes()
	var missing []string
	for _, rt := range routes {
		if _, ok := doc.Paths[rt.Path][strings.ToLower(rt.Method)]; !ok {
			missing = append(missing, rt.Method+" "+rt.Path)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("knowledge routes missing from the OpenAPI document: %v", missing)
	}
	var documented []string
	for p, ops := range doc.Paths {
		if strings.HasPrefix(p, "/api/v1/kb") {
			for m := range ops {
				documented = append(documented, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(documented)
	if len(routes) != 16 || len(documented) < len(routes) {
		t.Fatalf("%d knowledge routes, %d documented: %v", len(routes), len(documented), documented)
	}
}

// BenchmarkAssistSSE measures agent assist the way the agent desktop sees
// it: from POST /api/v1/kb/assist/utterances of a final utterance to the
// suggestion event arriving on the call's SSE stream, over loopback HTTP
// through the knowledge component and the API's middleware. The knowledge
// base is StackFAQ (one article per thread, stored, indexed, embedder
// retrained) and the utterances are its paraphrases. Run with -cpu 1:
// cpu-p99-ms is the CPU the whole path used (client and server share the
// process), its latency on a core of its own.
func BenchmarkAssistSSE(b *testing.B) {
	data, ok := kbeval.FindData()
	if !ok {
		b.Skip("shared data folder not found (set PARLEY_DATA)")
	}
	docs, queries, err := kbeval.StackFAQ(data + "/faq/stackfaq")
	if err != nil {
		b.Skip(err)
	}
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.DataDir = b.TempDir()
	st, err := backend.Open(ctx, cfg.DBPath())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	env := &nodeEnv{Cfg: cfg, Log: log, Store: st, Services: map[string]any{}}
	run, err := startKnowledge(ctx, env)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { run.Stop(ctx) })
	cat := env.Services["kb.catalog"].(*catalog.Catalog)
	arts := make([]catalog.Article, len(docs))
	for i, d := range docs {
		arts[i] = catalog.Article{ID: d.ID, Title: d.Title, Body: d.Text, Format: knowledge.FormatText, Language: "en", Status: knowledge.StatusPublished}
	}
	if _, err := cat.Import(ctx, arts, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := cat.Reindex(ctx, catalog.ReindexOptions{Retrain: true}); err != nil {
		b.Fatal(err)
	}
	api := httpapi.New(httpapi.Options{Store: st, Routes: run.Routes, Logger: log})
	srv := httptest.NewServer(api.Handler())
	b.Cleanup(srv.Close) // after the event stream's cancel (cleanups run last-in first-out)
	client := &http.Client{Timeout: 10 * time.Second}
	ev := openEvents(b, srv.URL, "bench-call")
	post := func(text string) (bool, string) {
		body, _ := json.Marshal(assist.Utterance{CallID: "bench-call", Speaker: "caller", Text: text, Final: true})
		resp, err := client.Post(srv.URL+"/api/v1/kb/assist/utterances", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		var r struct {
			Published bool   `json:"published"`
			Reason    string `json:"reason"`
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("utterance: %d %v", resp.StatusCode, err)
		}
		return r.Published, r.Reason
	}
	var lat latency.Latencies
	i, published, late := 0, 0, 0
	for b.Loop() {
		// Stride through the paraphrases so consecutive utterances are
		// about different threads (the same article twice is suppressed).
		q := queries[(i*101)%len(queries)].Query
		i++
		start, cpu0 := time.Now(), latency.CPUTime()
		ok, reason := post(q)
		if !ok {
			// Nothing relevant, the same article as the last one, or over
			// the 150 ms bound (counted: a late suggestion is a miss).
			if strings.Contains(reason, assist.ErrLate.Error()) {
				late++
			}
			continue
		}
		ev.next(b)
		lat.Add(time.Since(start), latency.CPUTime()-cpu0)
		published++
	}
	lat.Report(b)
	b.ReportMetric(float64(published)/float64(i), "suggested/utterance")
	b.ReportMetric(float64(late)/float64(i), "late/utterance")
}
