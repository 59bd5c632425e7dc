package kbeval

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunFilesComputesMetrics(t *testing.T) {
	docs := write(t, "docs.jsonl", `{"id":"refund","title":"Refund a payment","text":"Open the order and choose refund. The money returns to your card."}
{"id":"password","title":"Reset your password","text":"Use the forgotten password link on the sign-in page."}

{"id":"roaming","title":"Roaming abroad","text":"Roaming in the EU costs nothing extra; elsewhere buy a day pass."}
{"id":"router","title":"Restart the router","text":"Unplug the router for ten seconds and plug it back in."}
`)
	queries := write(t, "queries.jsonl", `{"query":"I want my money back","relevant":["refund"]}
{"query":"forgot my password","relevant":["password"]}
{"query":"using my phone in Spain roaming","relevant":["roaming"]}
{"query":"internet box restart","relevant":["router"]}
{"query":"quantum chromodynamics","relevant":["nonexistent"]}
`)
	rep, err := RunFiles(context.Background(), docs, queries, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]Metrics{"hybrid": rep.Hybrid, "lexical": rep.Lexical} {
		if m.Queries != 5 {
			t.Fatalf("%s: %d queries, want 5", name, m.Queries)
		}
		// Four answerable queries, one with an unknown relevant id.
		if m.Recall10 != 0.8 {
			t.Errorf("%s: R@10 = %v, want 0.8 (%v)", name, m.Recall10, m)
		}
		if m.Recall1 > m.Recall5 || m.Recall5 > m.Recall10 || m.MRR > m.Recall10 || m.MRR < m.Recall1 {
			t.Errorf("%s: inconsistent metrics %v", name, m)
		}
	}
	if rep.Hybrid.Recall1 < 0.6 {
		t.Errorf("hybrid R@1 = %v on an easy set", rep.Hybrid.Recall1)
	}
	if math.IsNaN(rep.Vector.MRR) {
		t.Error("vector MRR is NaN")
	}
}

func TestReadErrorsNameTheLine(t *testing.T) {
	for _, c := range []struct {
		docs, queries, want string
	}{
		{`{"id":"a","title":"t","text":"x"}` + "\n{bad json\n", `{"query":"q","relevant":["a"]}`, "docs.jsonl: line 2"},
		{`{"title":"t","text":"x"}`, `{"query":"q","relevant":["a"]}`, "line 1: document has no id"},
		{`{"id":"a","title":"t","text":"x"}`, `{"query":"q","relevant":[]}`, `line 1: query "q" lists no relevant document`},
		{`{"id":"a","title":"t","text":"x"}`, "\n" + `{"query":" ","relevant":["a"]}`, "queries.jsonl: line 2: empty query"},
	} {
		_, err := RunFiles(context.Background(), write(t, "docs.jsonl", c.docs), write(t, "queries.jsonl", c.queries), Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want error containing %q", err, c.want)
		}
	}
	if _, err := RunFiles(context.Background(), "/nonexistent/docs.jsonl", "/nonexistent/q.jsonl", Options{}); err == nil {
		t.Error("missing file accepted")
	}
}
