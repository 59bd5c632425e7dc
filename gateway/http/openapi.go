package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// errorResponse names and describes an error status once; operations refer
// to it. ok is false for a status with no description.
func errorResponse(status int) (name, description string, ok bool) {
	switch status {
	case http.StatusBadRequest:
		return "BadRequest", "Malformed JSON (the message gives the byte offset), an unknown field, an invalid id, header or query parameter; field names it.", true
	case http.StatusNotFound:
		return "NotFound", "No record with that id.", true
	case http.StatusMethodNotAllowed:
		return "MethodNotAllowed", "The path does not take this method; the Allow header lists those it takes.", true
	case http.StatusConflict:
		return "Conflict", "The id exists already, or the record is in a state that forbids the change.", true
	case http.StatusRequestEntityTooLarge:
		return "PayloadTooLarge", "The request body is larger than the server's limit.", true
	case http.StatusUnprocessableEntity:
		return "UnprocessableEntity", "Well-formed JSON with an invalid value; field names it.", true
	case http.StatusInternalServerError:
		return "InternalError", "An unexpected failure; the request id finds it in the logs.", true
	case http.StatusServiceUnavailable:
		return "Unavailable", "The database (or the live call) did not answer; nothing was changed. Retry after the Retry-After seconds.", true
	}
	return "", "", false
}

// errorStatuses are the statuses errorResponse describes.
func errorStatuses() []int { return []int{400, 404, 405, 409, 413, 422, 500, 503} }

// wildcardPattern finds path wildcards such as {id}.
var wildcardPattern = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func idSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": idPattern.String(), "description": "Id: " + idRule + "."}
}

// openAPIDocument builds the OpenAPI 3.1 document for the route table.
func (s *Server) openAPIDocument() map[string]any {
	g := &schemaGen{schemas: map[string]any{}}
	g.ref(reflect.TypeFor[ErrorBody]())
	paths := map[string]any{}
	tags := []any{}
	seenTag := map[string]bool{}
	for _, rt := range s.routes {
		if !seenTag[rt.tag] {
			seenTag[rt.tag] = true
			tags = append(tags, map[string]any{"name": rt.tag})
		}
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = g.operation(rt)
	}
	responses := map[string]any{}
	for _, status := range errorStatuses() {
		name, description, _ := errorResponse(status)
		resp := map[string]any{
			"description": description,
			"content":     map[string]any{"application/json": map[string]any{"schema": g.ref(reflect.TypeFor[ErrorBody]())}},
			"headers":     map[string]any{"X-Request-Id": map[string]any{"description": "Request id.", "schema": map[string]any{"type": "string"}}},
		}
		switch status {
		case http.StatusServiceUnavailable:
			resp["headers"].(map[string]any)["Retry-After"] = map[string]any{"description": "Seconds to wait before retrying.", "schema": map[string]any{"type": "integer"}}
		case http.StatusMethodNotAllowed:
			resp["headers"].(map[string]any)["Allow"] = map[string]any{"description": "Methods the path takes.", "schema": map[string]any{"type": "string"}}
		}
		responses[name] = resp
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Parley API",
			"version":     s.opts.Version,
			"description": "Parley contact center: agents, queues, calls with their transcripts, the audit log, and the node's health. Errors are JSON {\"error\", \"field\", \"request_id\"}; every response carries X-Request-Id.",
		},
		"tags":  tags,
		"paths": paths,
		"components": map[string]any{
			"schemas":   g.schemas,
			"responses": responses,
		},
	}
}

func (g *schemaGen) operation(rt route) map[string]any {
	op := map[string]any{
		"operationId": rt.operationID,
		"summary":     rt.summary,
		"tags":        []string{rt.tag},
	}
	if rt.description != "" {
		op["description"] = rt.description
	}
	params := []any{}
	for _, m := range wildcardPattern.FindAllStringSubmatch(rt.path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": idSchema()})
	}
	for _, p := range rt.query {
		params = append(params, map[string]any{"name": p.name, "in": "query", "required": false, "description": p.description, "schema": p.schema})
	}
	for _, p := range rt.headers {
		params = append(params, map[string]any{"name": p.name, "in": "header", "required": false, "description": p.description, "schema": p.schema})
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if rt.body {
		op["requestBody"] = map[string]any{
			"required": true,
			"content":  map[string]any{"application/json": map[string]any{"schema": g.ref(reflect.TypeOf(rt.request))}},
		}
	}
	responses := map[string]any{}
	responses[strconv.Itoa(rt.status)] = g.response(rt.status, rt.response, rt.responseType)
	if rt.alsoStatus != 0 {
		responses[strconv.Itoa(rt.alsoStatus)] = g.response(rt.alsoStatus, rt.alsoResponse, "")
	}
	for _, status := range rt.errors {
		name, _, ok := errorResponse(status)
		if !ok {
			panic(fmt.Sprintf("httpapi: route %s %s documents status %d with no error response", rt.method, rt.path, status))
		}
		responses[strconv.Itoa(status)] = map[string]any{"$ref": "#/components/responses/" + name}
	}
	op["responses"] = responses
	return op
}

func (g *schemaGen) response(status int, body any, contentType string) map[string]any {
	resp := map[string]any{"description": http.StatusText(status)}
	switch {
	case body != nil:
		resp["content"] = map[string]any{"application/json": map[string]any{"schema": g.ref(reflect.TypeOf(body))}}
	case contentType != "":
		schema := map[string]any{"type": "string"}
		if contentType == "application/json" {
			schema = map[string]any{"type": "object"}
		}
		resp["content"] = map[string]any{contentType: map[string]any{"schema": schema}}
	}
	return resp
}

// schemaGen turns Go types into JSON Schema (2020-12, as OpenAPI 3.1 uses),
// collecting named structs under components/schemas.
type schemaGen struct {
	schemas map[string]any
}

var timeType = reflect.TypeFor[time.Time]()

// ref returns the schema for t, a $ref for named structs.
func (g *schemaGen) ref(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Struct && t.Name() != "":
		name := t.Name()
		if _, done := g.schemas[name]; !done {
			g.schemas[name] = nil // reserve: recursive types stop here
			g.schemas[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return g.inline(t)
}

func (g *schemaGen) inline(t reflect.Type) map[string]any {
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.ref(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.ref(t.Elem())}
	case reflect.Struct:
		return g.object(t)
	case reflect.Interface:
		return map[string]any{}
	}
	panic("httpapi: no JSON schema for " + t.String())
}

// fieldEnums documents the closed value sets of store types, whose struct
// tags this package cannot annotate.
func fieldEnums(typeName, field string) []string {
	switch typeName + "." + field {
	case "Queue.strategy":
		return strategies
	case "Call.state":
		return callStates
	case "Call.direction":
		return []string{"inbound", "outbound"}
	case "Turn.speaker":
		return speakers
	}
	return nil
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	required := []string{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		schema := g.ref(f.Type)
		if _, isRef := schema["$ref"]; isRef {
			// Sibling keywords next to $ref are allowed in 2020-12, but keep
			// the reference pure and put annotations around it.
			if d := f.Tag.Get("description"); d != "" {
				schema = map[string]any{"allOf": []any{schema}, "description": d}
			}
		} else {
			annotate(schema, f.Tag)
			if enum := fieldEnums(t.Name(), name); enum != nil {
				schema["enum"] = enum
			}
		}
		props[name] = schema
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	obj := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		obj["required"] = required
	}
	// Request bodies reject unknown fields; say so.
	if strings.HasSuffix(t.Name(), "Input") {
		obj["additionalProperties"] = false
	}
	return obj
}

// annotate copies validation struct tags into a schema.
func annotate(schema map[string]any, tag reflect.StructTag) {
	if d := tag.Get("description"); d != "" {
		schema["description"] = d
	}
	if p := tag.Get("pattern"); p != "" {
		schema["pattern"] = p
	}
	if e := tag.Get("enum"); e != "" {
		schema["enum"] = strings.Split(e, ",")
	}
	for _, k := range []string{"minimum", "maximum"} {
		if v := tag.Get(k); v != "" {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				panic("httpapi: bad " + k + " tag " + strconv.Quote(v))
			}
			schema[k] = n
		}
	}
}

// openapi serves the document, built once per server.
func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	s.docOnce.Do(func() {
		s.doc, s.docErr = json.MarshalIndent(s.openAPIDocument(), "", "  ")
	})
	if s.docErr != nil {
		writeError(w, r, fmt.Errorf("encode OpenAPI document: %w", s.docErr))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(s.doc)
}
