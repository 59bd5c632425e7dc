package httpapi

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parley-cc/parley/store"
)

// route is one endpoint: what serves it and what the OpenAPI document says
// about it. The mux and the document are both built from the route table, so
// they cannot drift apart.
type route struct {
	method, path string
	operationID  string
	tag          string
	summary      string
	description  string
	query        []param
	headers      []param
	body         bool // takes a JSON request body of type request
	request      any
	status       int    // success status
	response     any    // success body type; nil means no body
	responseType string // content type of a non-JSON success body
	// alsoStatus is a second documented non-error status with its body,
	// e.g. 503 from /readyz.
	alsoStatus   int
	alsoResponse any
	errors       []int
	handler      http.HandlerFunc
}

// param is a query parameter or header.
type param struct {
	name        string
	description string
	schema      map[string]any
}

func (s *Server) routeTable() []route {
	actorParam := param{name: actorHeader, description: "Who makes the change, recorded in the audit log; \"api\" when absent.", schema: map[string]any{"type": "string", "pattern": actorPattern.String()}}
	limitParam := param{name: "limit", description: "Most entries to return.", schema: map[string]any{"type": "integer", "minimum": 1, "maximum": maxListLimit, "default": defaultLimit}}
	agents, queues := s.agents(), s.queues()
	metrics := promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{ErrorLog: slogPrinter{s}})
	readErrors := []int{http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusInternalServerError, http.StatusServiceUnavailable}
	writeErrors := []int{http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusInternalServerError, http.StatusServiceUnavailable}
	writeOnly := []int{http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusInternalServerError, http.StatusServiceUnavailable}
	return []route{
		{method: "GET", path: "/healthz", operationID: "getHealth", tag: "operations",
			summary:     "Process liveness",
			description: "200 while the process serves HTTP; says nothing about its dependencies (see /readyz).",
			status:      200, response: Health{}, errors: []int{405}, handler: s.healthz},
		{method: "GET", path: "/readyz", operationID: "getReadiness", tag: "operations",
			summary:     "Readiness to take traffic",
			description: "Runs every readiness check (database, cluster membership, write-behind backlog...) at once; 503 names the failing checks.",
			status:      200, response: Readiness{}, alsoStatus: 503, alsoResponse: Readiness{}, errors: []int{405}, handler: s.readyz},
		{method: "GET", path: "/metrics", operationID: "getMetrics", tag: "operations",
			summary: "Prometheus metrics", description: "Prometheus text exposition format.",
			status: 200, responseType: "text/plain; version=0.0.4", errors: []int{405, 500}, handler: metrics.ServeHTTP},
		{method: "GET", path: "/api/v1/openapi.json", operationID: "getOpenAPI", tag: "operations",
			summary: "This OpenAPI 3.1 document",
			status:  200, responseType: "application/json", errors: []int{405}, handler: s.openapi},

		{method: "GET", path: "/api/v1/agents", operationID: "listAgents", tag: "agents",
			summary: "List agents", status: 200, response: AgentList{},
			errors: []int{400, 405, 500, 503}, handler: agents.listHandler(s)},
		{method: "POST", path: "/api/v1/agents", operationID: "createAgent", tag: "agents",
			summary: "Create an agent", description: "The id is generated when the body has none; an existing id is a 409.",
			headers: []param{actorParam}, body: true, request: AgentInput{},
			status: 201, response: store.Agent{}, errors: writeOnly, handler: agents.createHandler(s)},
		{method: "GET", path: "/api/v1/agents/{id}", operationID: "getAgent", tag: "agents",
			summary: "Get an agent", status: 200, response: store.Agent{}, errors: readErrors, handler: agents.getHandler(s)},
		{method: "PUT", path: "/api/v1/agents/{id}", operationID: "replaceAgent", tag: "agents",
			summary: "Replace an agent", description: "Replaces every writable field; absent optional fields take their defaults.",
			headers: []param{actorParam}, body: true, request: AgentInput{},
			status: 200, response: store.Agent{}, errors: writeErrors, handler: agents.replaceHandler(s)},
		{method: "DELETE", path: "/api/v1/agents/{id}", operationID: "deleteAgent", tag: "agents",
			summary: "Delete an agent", headers: []param{actorParam},
			status: 204, errors: []int{400, 404, 405, 500, 503}, handler: agents.deleteHandler(s)},

		{method: "GET", path: "/api/v1/queues", operationID: "listQueues", tag: "queues",
			summary: "List queues", status: 200, response: QueueList{},
			errors: []int{400, 405, 500, 503}, handler: queues.listHandler(s)},
		{method: "POST", path: "/api/v1/queues", operationID: "createQueue", tag: "queues",
			summary: "Create a queue", description: "The id is generated when the body has none; an existing id is a 409. The overflow queue must exist and must not lead back to this queue.",
			headers: []param{actorParam}, body: true, request: QueueInput{},
			status: 201, response: store.Queue{}, errors: writeOnly, handler: queues.createHandler(s)},
		{method: "GET", path: "/api/v1/queues/{id}", operationID: "getQueue", tag: "queues",
			summary: "Get a queue", status: 200, response: store.Queue{}, errors: readErrors, handler: queues.getHandler(s)},
		{method: "PUT", path: "/api/v1/queues/{id}", operationID: "replaceQueue", tag: "queues",
			summary: "Replace a queue", description: "Replaces every writable field; absent optional fields take their defaults.",
			headers: []param{actorParam}, body: true, request: QueueInput{},
			status: 200, response: store.Queue{}, errors: writeErrors, handler: queues.replaceHandler(s)},
		{method: "DELETE", path: "/api/v1/queues/{id}", operationID: "deleteQueue", tag: "queues",
			summary: "Delete a queue", description: "409 while another queue overflows into it.", headers: []param{actorParam},
			status: 204, errors: []int{400, 404, 405, 409, 500, 503}, handler: queues.deleteHandler(s)},

		{method: "GET", path: "/api/v1/calls", operationID: "listCalls", tag: "calls",
			summary: "List calls", description: "Newest first, narrowed by the filters given.",
			query: []param{
				{name: "state", description: "Only calls in this state.", schema: map[string]any{"type": "string", "enum": callStates}},
				{name: "queue", description: "Only calls of this queue id.", schema: idSchema()},
				{name: "agent", description: "Only calls handled by this agent id.", schema: idSchema()},
				{name: "since", description: "Only calls started at or after this time (RFC 3339).", schema: map[string]any{"type": "string", "format": "date-time"}},
				limitParam,
			},
			status: 200, response: CallList{}, errors: []int{400, 405, 500, 503}, handler: s.listCalls},
		{method: "GET", path: "/api/v1/calls/{id}", operationID: "getCall", tag: "calls",
			summary:     "Get a call with its transcript and events",
			description: "Read from the live Call grain when the node runs the cluster, else (or when the cluster cannot answer) from the store.",
			status:      200, response: CallTranscript{}, errors: readErrors, handler: s.getCall},
		{method: "GET", path: "/api/v1/calls/{id}/recording", operationID: "getCallRecording", tag: "calls",
			summary: "The call's recording", description: "Dual-channel WAV (left: caller, right: bot or agent), from the node that recorded it; supports Range requests.",
			status: 200, responseType: "audio/wav", errors: readErrors, handler: s.getRecording},
		{method: "POST", path: "/api/v1/calls/{id}/turns", operationID: "recordTurn", tag: "calls",
			summary:     "Record a transcript turn",
			description: "Appends one turn to a call's transcript (text channels, tests) and returns its sequence number. 409 when the call has ended; 503 when the turn could not be confirmed as stored.",
			headers:     []param{actorParam}, body: true, request: TurnInput{},
			status: 201, response: TurnRecorded{}, errors: writeErrors, handler: s.recordTurn},

		{method: "GET", path: "/api/v1/audit", operationID: "listAudit", tag: "audit",
			summary: "Read the audit log", description: "Newest entry first; every API mutation adds one.",
			query:  []param{limitParam},
			status: 200, response: AuditList{}, errors: []int{400, 405, 500, 503}, handler: s.listAudit},
	}
}

// slogPrinter adapts the server's logger to promhttp's error log.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) { p.s.log.Error("metrics exposition failed", "error", v) }
