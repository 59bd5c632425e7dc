package httpapi_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fetchOpenAPI returns the served document, decoded.
func fetchOpenAPI(t *testing.T, e *env) map[string]any {
	t.Helper()
	r := e.must(200, "GET", "/api/v1/openapi.json", "")
	if !json.Valid(r.body) {
		t.Fatalf("openapi.json is not valid JSON")
	}
	var doc map[string]any
	r.decode(t, &doc)
	return doc
}

func TestOpenAPIDocumentShape(t *testing.T) {
	e := newEnv(t, nil)
	doc := fetchOpenAPI(t, e)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi = %v, want 3.1.x", doc["openapi"])
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == "" || info["title"] == nil || info["version"] != "test" {
		t.Errorf("info = %v", info)
	}
	paths, _ := doc["paths"].(map[string]any)
	if len(paths) == 0 {
		t.Fatal("no paths")
	}
	components, _ := doc["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	for _, name := range []string{"Agent", "AgentInput", "Queue", "QueueInput", "CallTranscript", "ErrorBody", "Readiness"} {
		if schemas[name] == nil {
			t.Errorf("components.schemas lacks %s", name)
		}
	}

	// Every $ref points at something in the document.
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if resolve(doc, ref) == nil {
					t.Errorf("%s: $ref %q does not resolve", at, ref)
				}
			}
			for k, sub := range x {
				walk(sub, at+"/"+k)
			}
		case []any:
			for i, sub := range x {
				walk(sub, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "#")

	// Operations: unique ids, documented responses, declared path params.
	wildcard := regexp.MustCompile(`\{(\w+)\}`)
	ids := map[string]bool{}
	for path, item := range paths {
		for method, raw := range item.(map[string]any) {
			op := raw.(map[string]any)
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s %s: operationId %q missing or repeated", method, path, id)
			}
			ids[id] = true
			responses, _ := op["responses"].(map[string]any)
			if len(responses) < 2 {
				t.Errorf("%s %s: %d responses documented; want success and errors", method, path, len(responses))
			}
			declared := map[string]bool{}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				pm := p.(map[string]any)
				if pm["in"] == "path" {
					declared[pm["name"].(string)] = true
				}
			}
			for _, m := range wildcard.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s %s: path parameter %s not declared", method, path, m[1])
				}
			}
			if (method == "post" || method == "put") && op["requestBody"] == nil {
				t.Errorf("%s %s: no requestBody", method, path)
			}
		}
	}

	// Validation rules are in the schemas.
	skill := schemas["SkillInput"].(map[string]any)["properties"].(map[string]any)["proficiency"].(map[string]any)
	if skill["minimum"] != 1.0 || skill["maximum"] != 5.0 {
		t.Errorf("SkillInput.proficiency = %v, want minimum 1, maximum 5", skill)
	}
	strategy := schemas["QueueInput"].(map[string]any)["properties"].(map[string]any)["strategy"].(map[string]any)
	if enum, _ := strategy["enum"].([]any); len(enum) != 5 {
		t.Errorf("QueueInput.strategy enum = %v", strategy["enum"])
	}
	if schemas["AgentInput"].(map[string]any)["additionalProperties"] != false {
		t.Errorf("AgentInput should forbid additional properties")
	}
	unavailable := resolve(doc, "#/components/responses/Unavailable").(map[string]any)
	if unavailable["headers"].(map[string]any)["Retry-After"] == nil {
		t.Errorf("503 response does not document Retry-After")
	}
}

// resolve follows a local JSON pointer such as #/components/schemas/Agent.
func resolve(doc map[string]any, ref string) any {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = doc
	for _, part := range strings.Split(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
	}
	return cur
}

// TestOpenAPICompleteness checks the document against the served routes in
// both directions, and that each documented operation reaches a real handler
// whose answer to a probe request is one of the documented statuses.
func TestOpenAPICompleteness(t *testing.T) {
	e := newEnv(t, nil)
	doc := fetchOpenAPI(t, e)
	paths := doc["paths"].(map[string]any)

	var documented []string
	for path, item := range paths {
		for method := range item.(map[string]any) {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	registered := e.srv.Routes()
	slices.Sort(documented)
	slices.Sort(registered)
	if !slices.Equal(documented, registered) {
		t.Errorf("documented routes:\n%s\nregistered routes:\n%s", strings.Join(documented, "\n"), strings.Join(registered, "\n"))
	}

	// The endpoints the product promises.
	for _, want := range []string{
		"GET /healthz", "GET /readyz", "GET /metrics", "GET /api/v1/openapi.json",
		"GET /api/v1/agents", "POST /api/v1/agents", "GET /api/v1/agents/{id}", "PUT /api/v1/agents/{id}", "DELETE /api/v1/agents/{id}",
		"GET /api/v1/queues", "POST /api/v1/queues", "GET /api/v1/queues/{id}", "PUT /api/v1/queues/{id}", "DELETE /api/v1/queues/{id}",
		"GET /api/v1/calls", "GET /api/v1/calls/{id}", "POST /api/v1/calls/{id}/turns", "GET /api/v1/audit",
	} {
		if !slices.Contains(registered, want) {
			t.Errorf("route %s is missing", want)
		}
	}

	for _, route := range documented {
		method, path, _ := strings.Cut(route, " ")
		body := ""
		if method == "POST" || method == "PUT" {
			body = "{}"
		}
		r := e.do(method, strings.ReplaceAll(path, "{id}", "probe-1"), body)
		if r.status == 405 || (r.status == 404 && strings.Contains(string(r.body), "no API route")) {
			t.Errorf("%s: documented but not served (status %d: %s)", route, r.status, r.body)
			continue
		}
		op := paths[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
		if op["responses"].(map[string]any)[strconv.Itoa(r.status)] == nil {
			t.Errorf("%s: answered %d, which the document does not list (%s)", route, r.status, r.body)
		}
	}
}

// TestOpenAPIExternalValidator checks the document with the Python
// openapi-spec-validator when it is installed.
func TestOpenAPIExternalValidator(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found; skipping the external OpenAPI validator")
	}
	if exec.Command(python, "-c", "import openapi_spec_validator").Run() != nil {
		t.Skip("python module openapi_spec_validator not installed (pip install openapi-spec-validator); skipping")
	}
	e := newEnv(t, nil)
	r := e.must(200, "GET", "/api/v1/openapi.json", "")
	path := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(path, r.body, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", `import sys
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
spec, _ = read_from_filename(sys.argv[1])
validate(spec)`, path).CombinedOutput()
	if err != nil {
		t.Fatalf("openapi-spec-validator rejects the document: %v\n%s", err, out)
	}
}
