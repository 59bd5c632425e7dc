package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-cc/parley/evals"
	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/store/backend"
)

func evalCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runEval(context.Background(), args, &out, &errb, func(string) string { return "" })
	return code, out.String(), errb.String()
}

const demoSuite = "../../deploy/demo/evals/lumen.yaml"

// TestEvalRunStoreAPIAndCompare runs the demo suite from the command line,
// stores it, reads it back through the API, then breaks one expectation and
// has compare flag it and exit 1.
func TestEvalRunStoreAPIAndCompare(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "p.db")
	jsonA, junit, html := filepath.Join(dir, "a.json"), filepath.Join(dir, "a.xml"), filepath.Join(dir, "a.html")
	code, out, errs := evalCmd(t, "run", demoSuite, "--db", db, "--json", jsonA, "--junit", junit, "--html", html, "--gate", "task_success>=1", "--gate", "compliance_violations<=0")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"scenarios 36: passed 36", "gate PASS task_success>=1", "stored run ", "latency reply"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "36/36") {
		t.Errorf("no progress bar on stderr: %q", errs)
	}
	var ju struct {
		Suites []struct {
			Tests int `xml:"tests,attr"`
		} `xml:"testsuite"`
	}
	if b, err := os.ReadFile(junit); err != nil || xml.Unmarshal(b, &ju) != nil || ju.Suites[0].Tests != 36 {
		t.Fatalf("junit: %v %+v", err, ju)
	}
	if b, err := os.ReadFile(html); err != nil || !bytes.Contains(b, []byte(`id="chart-passfail"`)) {
		t.Fatalf("html: %v", err)
	}

	// A broken expectation: the agent request expects the billing queue.
	body, _ := os.ReadFile(demoSuite)
	broken := strings.Replace(string(body), "expect: {handoff: true, queue: support, ended: true}", "expect: {handoff: true, queue: billing, ended: true}", 1)
	if broken == string(body) {
		t.Fatal("suite text changed: update the test")
	}
	brokenPath := filepath.Join(dir, "broken.yaml")
	os.WriteFile(brokenPath, []byte(broken), 0o644)
	jsonB := filepath.Join(dir, "b.json")
	code, out, _ = evalCmd(t, "run", brokenPath, "--quiet", "--db", db, "--json", jsonB, "--baseline", jsonA)
	if code != 1 || !strings.Contains(out, "handoff-agent-request") || !strings.Contains(out, "expected hand-off to queue billing, got queue support") ||
		!strings.Contains(out, "REGRESSION scenario handoff-agent-request") {
		t.Fatalf("broken run: exit %d\n%s", code, out)
	}
	code, out, _ = evalCmd(t, "compare", jsonA, jsonB)
	if code != 1 || !strings.Contains(out, "REGRESSION scenario handoff-agent-request") || !strings.Contains(out, "gate FAIL regressions<=0") {
		t.Fatalf("compare: exit %d\n%s", code, out)
	}
	if code, out, _ = evalCmd(t, "compare", jsonA, jsonA); code != 0 || !strings.Contains(out, "no regressions") {
		t.Fatalf("self-compare: exit %d\n%s", code, out)
	}

	// Both runs through the API.
	st, err := backend.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Store: st, Routes: evalRoutes(st)}).Handler())
	defer srv.Close()
	get := func(path string) (int, []byte) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	status, b := get("/api/v1/evals/runs?suite=lumen")
	var list EvalRunList
	if status != 200 || json.Unmarshal(b, &list) != nil || len(list.Runs) != 2 || list.Runs[0].Failed != 1 || list.Runs[1].Total != 36 {
		t.Fatalf("list: %d %s", status, b)
	}
	status, b = get("/api/v1/evals/runs/" + list.Runs[0].ID)
	var rep evals.Report
	if status != 200 || json.Unmarshal(b, &rep) != nil || rep.Failed != 1 || len(rep.Scenarios) != 36 {
		t.Fatalf("get: %d %.300s", status, b)
	}
	if status, b = get("/api/v1/evals/runs/" + list.Runs[0].ID + "/report.html"); status != 200 || !bytes.Contains(b, []byte("chart-passfail")) {
		t.Fatalf("report.html: %d", status)
	}
	if status, _ = get("/api/v1/evals/runs/nope"); status != 404 {
		t.Fatalf("unknown run: %d", status)
	}
	if status, b = get("/api/v1/openapi.json"); status != 200 || !bytes.Contains(b, []byte("getEvalRun")) {
		t.Fatalf("openapi: %d", status)
	}
	// compare by stored run id.
	if code, out, _ := evalCmd(t, "compare", "--db", db, list.Runs[1].ID, list.Runs[0].ID); code != 1 || !strings.Contains(out, "REGRESSION scenario handoff-agent-request") {
		t.Fatalf("compare by id: %d\n%s", code, out)
	}
}

func TestEvalBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("suite: x\nscenarios:\n  - id: a\n    caller:\n      - sya: hello\n"), 0o644)
	code, _, errs := evalCmd(t, "run", bad)
	if code != 2 || !strings.Contains(errs, "bad.yaml:5: scenarios[0].caller[0].sya: unknown field") {
		t.Fatalf("malformed suite: %d %s", code, errs)
	}
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o644)
	if code, _, errs = evalCmd(t, "replay", "--transcripts", empty); code != 2 || !strings.Contains(errs, "empty transcript file") {
		t.Fatalf("empty transcripts: %d %s", code, errs)
	}
	if code, _, errs = evalCmd(t, "run", demoSuite, "--gate", "task_success=>1"); code != 2 || !strings.Contains(errs, "want metric<op>number") {
		t.Fatalf("bad gate: %d %s", code, errs)
	}
	if code, _, errs = evalCmd(t, "compare", filepath.Join(dir, "nope.json"), bad); code != 2 || !strings.Contains(errs, "nope.json") {
		t.Fatalf("missing baseline: %d %s", code, errs)
	}
}

func TestEvalImportCSV(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "utts.csv")
	os.WriteFile(csv, []byte("text,label\nwhat do I owe,check_balance\nget me a person,talk_to_agent\n"), 0o644)
	out := filepath.Join(dir, "s.yaml")
	code, stdout, errs := evalCmd(t, "import", "--csv", csv, "--out", out, "--name", "mini")
	if code != 0 || !strings.Contains(stdout, "2 scenarios, 2 intents") {
		t.Fatalf("import: %d %s %s", code, stdout, errs)
	}
	code, stdout, _ = evalCmd(t, "run", out, "--quiet")
	if code != 0 || !strings.Contains(stdout, "intent accuracy 1.0000 (2 scenarios)") {
		t.Fatalf("run imported: %d\n%s", code, stdout)
	}
}
