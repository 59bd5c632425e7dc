package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKBEvalPrintsRecallAndMRR(t *testing.T) {
	dir := t.TempDir()
	docs := filepath.Join(dir, "docs.jsonl")
	queries := filepath.Join(dir, "queries.jsonl")
	os.WriteFile(docs, []byte(`{"id":"a","title":"Reset the router","text":"Unplug the router for 30 seconds."}
{"id":"b","title":"Refund to a card","text":"Refunds reach the card within 5 days."}
`), 0o644)
	os.WriteFile(queries, []byte(`{"query":"how do I restart my router","relevant":["a"]}
{"query":"money back on my card","relevant":["b"]}
`), 0o644)
	var out, errOut bytes.Buffer
	if code := runKB(context.Background(), []string{"eval", "--docs", docs, "--queries", queries}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"R@1", "R@5", "R@10", "MRR", "hybrid", "lexical", "vector", "1.000"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	os.WriteFile(queries, []byte("{\"query\":\"x\",\"relevant\":[\"a\"]}\n{\"query\":\n"), 0o644)
	errOut.Reset()
	if code := runKB(context.Background(), []string{"eval", "--docs", docs, "--queries", queries}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "line 2") {
		t.Fatalf("malformed queries: exit %d, %q (want 1 naming line 2)", code, errOut.String())
	}
}

func TestKBImportSearchReindexExport(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src", "internet", "router")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "restart.md"), []byte("# Router will not connect\n\nUnplug the router for 30 seconds and wait for the green light.\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "more.jsonl"), []byte(`{"id":"refund","title":"Refund to a card","text":"Refunds reach the card within 5 days."}`+"\n"), 0o644)
	data := filepath.Join(dir, "data")
	run := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := runKB(ctx, append(args[:1:1], append([]string{"--data-dir", data}, args[1:]...)...), &out, &errOut); code != 0 {
			t.Fatalf("parley kb %v: exit %d: %s", args, code, errOut.String())
		}
		return out.String()
	}
	if out := run("import", filepath.Join(dir, "src")); !strings.Contains(out, "1 created") {
		t.Fatalf("import folder: %s", out)
	}
	if out := run("import", filepath.Join(dir, "more.jsonl")); !strings.Contains(out, "1 created") {
		t.Fatalf("import jsonl: %s", out)
	}
	if out := run("import", filepath.Join(dir, "src")); !strings.Contains(out, "1 unchanged") {
		t.Fatalf("re-import: %s", out)
	}
	if out := run("search", "router", "green", "light"); !strings.HasPrefix(out, "1. restart v1") {
		t.Fatalf("search: %s", out)
	}
	if out := run("reindex"); !strings.Contains(out, "reindexed 2 articles") || !strings.Contains(out, " 0 chunks embedded") {
		t.Fatalf("reindex after restart should embed nothing: %s", out)
	}
	exp := filepath.Join(dir, "out.jsonl")
	run("export", "--out", exp)
	b, _ := os.ReadFile(exp)
	if n := strings.Count(string(b), "\n"); n != 2 || !strings.Contains(string(b), `"category":["internet","router"]`) {
		t.Fatalf("export (%d lines): %s", n, b)
	}
}
