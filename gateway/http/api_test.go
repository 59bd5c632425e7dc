package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/store"
)

func TestAgentLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	actor := []string{"X-Parley-Actor", "supervisor@example.com"}

	r := e.must(201, "POST", "/api/v1/agents", `{"id":"a-1","name":"Ana Ruiz","email":"ana@example.com","extension":"1001",
		"skills":[{"name":"billing","proficiency":4},{"name":"spanish","proficiency":5}],"languages":["en","es-MX"],"capacity":2}`, actor...)
	if loc := r.header.Get("Location"); loc != "/api/v1/agents/a-1" {
		t.Errorf("Location = %q", loc)
	}
	var a store.Agent
	r.decode(t, &a)
	if a.ID != "a-1" || a.Name != "Ana Ruiz" || a.Capacity != 2 || len(a.Skills) != 2 || a.Skills[0].Proficiency != 4 || a.CreatedAt.IsZero() {
		t.Errorf("created agent = %+v", a)
	}

	// A create without an id gets one; capacity defaults to 1.
	r = e.must(201, "POST", "/api/v1/agents", `{"name":"Bo"}`)
	var gen store.Agent
	r.decode(t, &gen)
	if !strings.HasPrefix(gen.ID, "agent-") || gen.Capacity != 1 || gen.Skills == nil || gen.Languages == nil {
		t.Errorf("generated agent = %+v", gen)
	}

	r = e.must(200, "GET", "/api/v1/agents/a-1", "")
	var got store.Agent
	r.decode(t, &got)
	if got.Email != "ana@example.com" || got.Languages[1] != "es-MX" {
		t.Errorf("got agent = %+v", got)
	}

	var list httpapi.AgentList
	e.must(200, "GET", "/api/v1/agents", "").decode(t, &list)
	if len(list.Agents) != 2 {
		t.Fatalf("listed %d agents, want 2", len(list.Agents))
	}

	r = e.must(200, "PUT", "/api/v1/agents/a-1", `{"id":"a-1","name":"Ana Ruiz","skills":[{"name":"billing","proficiency":5}]}`, actor...)
	var upd store.Agent
	r.decode(t, &upd)
	if upd.Skills[0].Proficiency != 5 || upd.Capacity != 1 || upd.Email != "" {
		t.Errorf("replaced agent = %+v", upd)
	}
	e.must(200, "GET", "/api/v1/agents/a-1", "").decode(t, &got)
	if len(got.Skills) != 1 || got.Skills[0].Proficiency != 5 {
		t.Errorf("stored agent after replace = %+v", got)
	}

	e.must(204, "DELETE", "/api/v1/agents/a-1", "", actor...)
	e.must(404, "GET", "/api/v1/agents/a-1", "")

	var audit httpapi.AuditList
	e.must(200, "GET", "/api/v1/audit?limit=10", "").decode(t, &audit)
	var actions []string
	for _, en := range audit.Entries {
		actions = append(actions, en.Action+" "+en.Target+" "+en.Actor)
	}
	want := []string{
		"agent.delete agent/a-1 supervisor@example.com",
		"agent.update agent/a-1 supervisor@example.com",
		"agent.create agent/" + gen.ID + " api",
		"agent.create agent/a-1 supervisor@example.com",
	}
	if strings.Join(actions, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
	}
	e.must(200, "GET", "/api/v1/audit?limit=1", "").decode(t, &audit)
	if len(audit.Entries) != 1 {
		t.Errorf("audit limit=1 gave %d entries", len(audit.Entries))
	}
}

func TestQueueLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	r := e.must(201, "POST", "/api/v1/queues", `{"id":"support","name":"Support","required_skills":[{"name":"billing","proficiency":2}],"language":"en"}`)
	var q store.Queue
	r.decode(t, &q)
	if q.Strategy != "longest_idle" || q.ServiceLevelSecs != 20 || q.RequiredSkills[0].Name != "billing" {
		t.Errorf("created queue = %+v", q)
	}
	e.must(201, "POST", "/api/v1/queues", `{"id":"overflow","name":"Overflow","strategy":"round_robin","service_level_secs":60}`)
	e.must(200, "PUT", "/api/v1/queues/support", `{"name":"Support","overflow_queue_id":"overflow","overflow_after_secs":90}`)
	e.must(200, "GET", "/api/v1/queues/support", "").decode(t, &q)
	if q.OverflowQueueID != "overflow" || q.OverflowAfterSec != 90 {
		t.Errorf("queue after replace = %+v", q)
	}
	var list httpapi.QueueList
	e.must(200, "GET", "/api/v1/queues", "").decode(t, &list)
	if len(list.Queues) != 2 {
		t.Errorf("listed %d queues, want 2", len(list.Queues))
	}

	// overflow -> support would close a loop support -> overflow -> support.
	r = e.must(422, "PUT", "/api/v1/queues/overflow", `{"name":"Overflow","overflow_queue_id":"support","overflow_after_secs":30}`)
	if f := r.errorBody(t).Field; f != "overflow_queue_id" {
		t.Errorf("loop error field = %q", f)
	}
	// A queue something overflows into cannot go.
	r = e.must(409, "DELETE", "/api/v1/queues/overflow", "")
	if msg := r.errorBody(t).Error; !strings.Contains(msg, `"support"`) {
		t.Errorf("delete conflict message %q does not name the referring queue", msg)
	}
	e.must(204, "DELETE", "/api/v1/queues/support", "")
	e.must(204, "DELETE", "/api/v1/queues/overflow", "")
	e.must(404, "GET", "/api/v1/queues/overflow", "")

	var audit httpapi.AuditList
	e.must(200, "GET", "/api/v1/audit", "").decode(t, &audit)
	if len(audit.Entries) != 5 {
		t.Errorf("audit has %d entries, want 5 (2 creates, 1 update, 2 deletes): %+v", len(audit.Entries), audit.Entries)
	}
}

func TestRequestErrors(t *testing.T) {
	e := newEnv(t, func(o *httpapi.Options) { o.MaxBodyBytes = 512 })
	e.must(201, "POST", "/api/v1/agents", `{"id":"a-1","name":"Ana"}`)
	e.must(201, "POST", "/api/v1/queues", `{"id":"q-1","name":"Sales"}`)

	tests := []struct {
		name         string
		method, path string
		body         string
		header       []string
		status       int
		field        string
		msg          string // substring of the error message
	}{
		{"malformed json", "POST", "/api/v1/agents", `{"name":`, nil, 400, "", "byte offset 8"},
		{"syntax error", "POST", "/api/v1/agents", `{"name" "x"}`, nil, 400, "", "byte offset 8"},
		{"trailing data", "POST", "/api/v1/agents", `{"name":"x"} {}`, nil, 400, "", "unexpected data after the JSON object"},
		{"empty body", "POST", "/api/v1/agents", ``, nil, 400, "", "body is empty"},
		{"not an object", "POST", "/api/v1/agents", `[1,2]`, nil, 400, "", "expected a JSON object"},
		{"unknown field", "POST", "/api/v1/agents", `{"name":"x","bogus":1}`, nil, 400, "bogus", "unknown field"},
		{"nested unknown field", "POST", "/api/v1/agents", `{"name":"x","skills":[{"name":"a","proficiency":1},{"name":"b","proficiency":2,"level":3}]}`, nil, 400, "skills[1].level", "unknown field"},
		{"read-only field", "POST", "/api/v1/queues", `{"name":"x","created_at":"2026-01-01T00:00:00Z"}`, nil, 400, "created_at", "unknown field"},
		{"wrong type", "POST", "/api/v1/agents", `{"name":"x","skills":[{"name":"a","proficiency":"high"}]}`, nil, 400, "skills.proficiency", "got string, want integer"},
		{"proficiency too high", "POST", "/api/v1/agents", `{"name":"x","skills":[{"name":"a","proficiency":6}]}`, nil, 422, "skills[0].proficiency", "outside 1-5"},
		{"proficiency zero", "POST", "/api/v1/queues", `{"name":"x","required_skills":[{"name":"a","proficiency":0}]}`, nil, 422, "required_skills[0].proficiency", "outside 1-5"},
		{"duplicate skill", "POST", "/api/v1/agents", `{"name":"x","skills":[{"name":"a","proficiency":1},{"name":"a","proficiency":2}]}`, nil, 422, "skills[1].name", "listed twice"},
		{"empty name", "POST", "/api/v1/agents", `{"name":"  "}`, nil, 422, "name", "must not be empty"},
		{"missing name", "POST", "/api/v1/queues", `{"strategy":"round_robin"}`, nil, 422, "name", "must not be empty"},
		{"unknown strategy", "POST", "/api/v1/queues", `{"name":"x","strategy":"fastest"}`, nil, 422, "strategy", "unknown strategy"},
		{"bad language", "POST", "/api/v1/agents", `{"name":"x","languages":["English"]}`, nil, 422, "languages[0]", "BCP 47"},
		{"capacity zero", "POST", "/api/v1/agents", `{"name":"x","capacity":0}`, nil, 422, "capacity", "outside"},
		{"bad email", "POST", "/api/v1/agents", `{"name":"x","email":"nobody"}`, nil, 422, "email", "invalid e-mail"},
		{"bad body id", "POST", "/api/v1/agents", `{"id":"a b","name":"x"}`, nil, 422, "id", "invalid id"},
		{"bad path id", "GET", "/api/v1/agents/a%20b", ``, nil, 400, "id", "invalid id"},
		{"path id too long", "DELETE", "/api/v1/queues/" + strings.Repeat("q", 65), ``, nil, 400, "id", "invalid id"},
		{"id mismatch", "PUT", "/api/v1/agents/a-1", `{"id":"a-2","name":"x"}`, nil, 422, "id", "does not match"},
		{"overflow unknown", "POST", "/api/v1/queues", `{"name":"x","overflow_queue_id":"nope","overflow_after_secs":5}`, nil, 422, "overflow_queue_id", `no queue "nope"`},
		{"overflow without delay", "POST", "/api/v1/queues", `{"name":"x","overflow_queue_id":"q-1"}`, nil, 422, "overflow_after_secs", "required"},
		{"overflow self", "PUT", "/api/v1/queues/q-1", `{"name":"x","overflow_queue_id":"q-1","overflow_after_secs":5}`, nil, 422, "overflow_queue_id", "itself"},
		{"unknown agent", "GET", "/api/v1/agents/nobody", ``, nil, 404, "", `agent "nobody" not found`},
		{"replace unknown agent", "PUT", "/api/v1/agents/nobody", `{"name":"x"}`, nil, 404, "", "not found"},
		{"delete unknown queue", "DELETE", "/api/v1/queues/nobody", ``, nil, 404, "", "not found"},
		{"unknown call", "GET", "/api/v1/calls/nobody", ``, nil, 404, "", "not found"},
		{"duplicate agent", "POST", "/api/v1/agents", `{"id":"a-1","name":"Again"}`, nil, 409, "id", "already exists"},
		{"duplicate queue", "POST", "/api/v1/queues", `{"id":"q-1","name":"Again"}`, nil, 409, "id", "already exists"},
		{"body too large", "POST", "/api/v1/agents", `{"name":"` + strings.Repeat("x", 600) + `"}`, nil, 413, "", "larger than 512 bytes"},
		{"wrong method", "PATCH", "/api/v1/agents/a-1", `{}`, nil, 405, "", "not allowed"},
		{"wrong method on collection", "DELETE", "/api/v1/agents", ``, nil, 405, "", "not allowed"},
		{"wrong method on probe", "POST", "/healthz", ``, nil, 405, "", "not allowed"},
		{"unknown api path", "GET", "/api/v1/nothing", ``, nil, 404, "", "no API route"},
		{"unknown query parameter", "GET", "/api/v1/calls?queue_id=q-1", ``, nil, 400, "queue_id", "unknown query parameter"},
		{"repeated query parameter", "GET", "/api/v1/calls?state=bot&state=agent", ``, nil, 400, "state", "given 2 times"},
		{"unknown state", "GET", "/api/v1/calls?state=flying", ``, nil, 400, "state", "unknown call state"},
		{"bad since", "GET", "/api/v1/calls?since=yesterday", ``, nil, 400, "since", "RFC 3339"},
		{"limit zero", "GET", "/api/v1/calls?limit=0", ``, nil, 400, "limit", "1 to 1000"},
		{"limit too big", "GET", "/api/v1/audit?limit=5000", ``, nil, 400, "limit", "1 to 1000"},
		{"bad agent filter", "GET", "/api/v1/calls?agent=a%2Fb", ``, nil, 400, "agent", "invalid id"},
		{"query on list", "GET", "/api/v1/agents?skill=x", ``, nil, 400, "skill", "takes none"},
		{"bad actor", "POST", "/api/v1/agents", `{"name":"x"}`, []string{"X-Parley-Actor", "bad actor!"}, 400, "X-Parley-Actor", "invalid actor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.body, tc.header...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			body := r.errorBody(t)
			if body.Field != tc.field {
				t.Errorf("field %q, want %q (error %q)", body.Field, tc.field, body.Error)
			}
			if !strings.Contains(body.Error, tc.msg) {
				t.Errorf("error %q does not contain %q", body.Error, tc.msg)
			}
			if body.RequestID == "" || body.RequestID != r.header.Get("X-Request-Id") {
				t.Errorf("request id in body %q, header %q", body.RequestID, r.header.Get("X-Request-Id"))
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.status == 405 && r.header.Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
		})
	}

	// No failed request left a trace: one agent, one queue, two audit entries.
	var agents httpapi.AgentList
	e.must(200, "GET", "/api/v1/agents", "").decode(t, &agents)
	var queues httpapi.QueueList
	e.must(200, "GET", "/api/v1/queues", "").decode(t, &queues)
	var audit httpapi.AuditList
	e.must(200, "GET", "/api/v1/audit", "").decode(t, &audit)
	if len(agents.Agents) != 1 || len(queues.Queues) != 1 || len(audit.Entries) != 2 {
		t.Errorf("after failed requests: %d agents, %d queues, %d audit entries; want 1, 1, 2",
			len(agents.Agents), len(queues.Queues), len(audit.Entries))
	}
}

func TestAllowHeader(t *testing.T) {
	e := newEnv(t, nil)
	r := e.must(405, "POST", "/api/v1/agents/a-1", `{}`)
	if allow := r.header.Get("Allow"); allow != "GET, PUT, DELETE, HEAD" {
		t.Errorf("Allow = %q", allow)
	}
}

// seedCalls stores three calls: c-1 (ended, queue support, agent a-1,
// two turns and an event), c-2 (bot, queue support), c-3 (agent, queue sales,
// agent a-2), started an hour apart.
func seedCalls(t *testing.T, e *env) time.Time {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	calls := []store.Call{
		{ID: "c-1", Direction: "inbound", Channel: "sip", From: "+15550001", To: "100", QueueID: "support", AgentID: "a-1", State: store.CallEnded, StartedAt: base},
		{ID: "c-2", Direction: "inbound", Channel: "webrtc", From: "+15550002", To: "100", QueueID: "support", State: store.CallBot, StartedAt: base.Add(time.Hour)},
		{ID: "c-3", Direction: "outbound", Channel: "sip", From: "100", To: "+15550003", QueueID: "sales", AgentID: "a-2", State: store.CallAgent, StartedAt: base.Add(2 * time.Hour)},
	}
	for i := range calls {
		if err := e.store.SaveCall(ctx, &calls[i]); err != nil {
			t.Fatalf("save call: %v", err)
		}
	}
	for _, tr := range []store.Turn{
		{CallID: "c-1", Seq: 1, Speaker: "caller", Text: "My bill is wrong", Intent: "billing", At: base},
		{CallID: "c-1", Seq: 2, Speaker: "bot", Text: "Let me check", At: base.Add(time.Second)},
		{CallID: "c-2", Seq: 1, Speaker: "caller", Text: "Hello", At: base.Add(time.Hour)},
	} {
		if err := e.store.AppendTurn(ctx, tr); err != nil {
			t.Fatalf("append turn: %v", err)
		}
	}
	if err := e.store.AppendCallEvent(ctx, store.CallEvent{CallID: "c-1", Seq: 1, Type: "hangup", By: "caller", At: base.Add(time.Minute)}); err != nil {
		t.Fatalf("append event: %v", err)
	}
	return base
}

func TestCallsFromStore(t *testing.T) {
	e := newEnv(t, nil)
	base := seedCalls(t, e)

	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"c-3", "c-2", "c-1"}},
		{"?state=bot", []string{"c-2"}},
		{"?queue=support", []string{"c-2", "c-1"}},
		{"?agent=a-2", []string{"c-3"}},
		{"?since=" + base.Add(90*time.Minute).Format(time.RFC3339), []string{"c-3"}},
		{"?queue=support&limit=1", []string{"c-2"}},
		{"?state=queued", nil},
	}
	for _, tc := range tests {
		var list httpapi.CallList
		e.must(200, "GET", "/api/v1/calls"+tc.query, "").decode(t, &list)
		var ids []string
		for _, c := range list.Calls {
			ids = append(ids, c.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("calls%s = %v, want %v", tc.query, ids, tc.want)
		}
	}

	var ct httpapi.CallTranscript
	e.must(200, "GET", "/api/v1/calls/c-1", "").decode(t, &ct)
	if ct.Call.ID != "c-1" || ct.Source != "store" || len(ct.Turns) != 2 || ct.Turns[0].Text != "My bill is wrong" ||
		len(ct.Events) != 1 || ct.Events[0].Type != "hangup" {
		t.Errorf("transcript of c-1 = %+v", ct)
	}

	// Recording a turn takes the next sequence number and is then readable.
	var rec httpapi.TurnRecorded
	e.must(201, "POST", "/api/v1/calls/c-2/turns", `{"speaker":"bot","text":"How can I help?","sentiment":0.5,"timings":{"llm_first_token_ms":210}}`).decode(t, &rec)
	if rec.CallID != "c-2" || rec.Seq != 2 {
		t.Errorf("recorded = %+v, want seq 2", rec)
	}
	e.must(200, "GET", "/api/v1/calls/c-2", "").decode(t, &ct)
	if len(ct.Turns) != 2 || ct.Turns[1].Text != "How can I help?" || ct.Turns[1].Timings.LLMFirstTokenMs != 210 || ct.Turns[1].At.IsZero() {
		t.Errorf("transcript of c-2 after recording = %+v", ct.Turns)
	}

	r := e.must(409, "POST", "/api/v1/calls/c-1/turns", `{"speaker":"caller","text":"hello?"}`)
	if !strings.Contains(r.errorBody(t).Error, "ended") {
		t.Errorf("ended call error = %s", r.body)
	}
	e.must(404, "POST", "/api/v1/calls/c-9/turns", `{"speaker":"caller","text":"hello?"}`)
	for body, field := range map[string]string{
		`{"speaker":"robot","text":"x"}`:                             "speaker",
		`{"speaker":"bot","text":""}`:                                "text",
		`{"speaker":"bot","text":"x","confidence":1.5}`:              "confidence",
		`{"speaker":"bot","text":"x","sentiment":-2}`:                "sentiment",
		`{"speaker":"bot","text":"x","timings":{"asr_final_ms":-1}}`: "timings.asr_final_ms",
	} {
		r := e.must(422, "POST", "/api/v1/calls/c-2/turns", body)
		if f := r.errorBody(t).Field; f != field {
			t.Errorf("%s: field %q, want %q", body, f, field)
		}
	}

	var audit httpapi.AuditList
	e.must(200, "GET", "/api/v1/audit", "").decode(t, &audit)
	if len(audit.Entries) != 1 || audit.Entries[0].Action != "call.turn" || audit.Entries[0].Target != "call/c-2" {
		t.Errorf("audit after one recorded turn = %+v", audit.Entries)
	}
}

// TestConcurrentTurns records turns for one call from many requests at once:
// each must get its own sequence number and none may be dropped.
func TestConcurrentTurns(t *testing.T) {
	e := newEnv(t, nil)
	seedCalls(t, e)
	const n = 20
	seqs := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := e.do("POST", "/api/v1/calls/c-3/turns", fmt.Sprintf(`{"speaker":"agent","text":"line %d"}`, i))
			if r.status != 201 {
				t.Errorf("turn %d: status %d: %s", i, r.status, r.body)
				return
			}
			var rec httpapi.TurnRecorded
			r.decode(t, &rec)
			seqs <- rec.Seq
		})
	}
	wg.Wait()
	close(seqs)
	seen := map[int]bool{}
	for s := range seqs {
		if seen[s] {
			t.Errorf("sequence number %d given twice", s)
		}
		seen[s] = true
	}
	turns, err := e.store.ListTurns(context.Background(), "c-3")
	if err != nil {
		t.Fatal(err)
	}
	if len(turns) != n || len(seen) != n {
		t.Errorf("stored %d turns, %d distinct sequence numbers; want %d", len(turns), len(seen), n)
	}
}

// fakeCalls stands in for the Call grains.
type fakeCalls struct {
	mu         sync.Mutex
	turns      map[string][]store.Turn
	recordErr  error
	readErr    error
	transcript func(id string) *httpapi.CallTranscript
}

func (f *fakeCalls) RecordTurn(ctx context.Context, callID string, t store.Turn) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.recordErr != nil {
		return 0, f.recordErr
	}
	t.Seq = len(f.turns[callID]) + 1
	f.turns[callID] = append(f.turns[callID], t)
	return t.Seq, nil
}

func (f *fakeCalls) Transcript(ctx context.Context, callID string) (*httpapi.CallTranscript, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readErr != nil {
		return nil, f.readErr
	}
	return &httpapi.CallTranscript{Call: store.Call{ID: callID, State: store.CallBot}, Turns: f.turns[callID], Member: "node-2"}, nil
}

func TestCallsLive(t *testing.T) {
	calls := &fakeCalls{turns: map[string][]store.Turn{}}
	e := newEnv(t, func(o *httpapi.Options) { o.Calls = calls; o.RetryAfter = 3 * time.Second })
	seedCalls(t, e)

	var rec httpapi.TurnRecorded
	e.must(201, "POST", "/api/v1/calls/live-1/turns", `{"speaker":"caller","text":"hi"}`).decode(t, &rec)
	if rec.Seq != 1 || len(calls.turns["live-1"]) != 1 || calls.turns["live-1"][0].CallID != "live-1" || calls.turns["live-1"][0].At.IsZero() {
		t.Errorf("recorded %+v, grain holds %+v", rec, calls.turns["live-1"])
	}
	var ct httpapi.CallTranscript
	e.must(200, "GET", "/api/v1/calls/live-1", "").decode(t, &ct)
	if ct.Source != "live" || ct.Member != "node-2" || len(ct.Turns) != 1 || ct.Events == nil {
		t.Errorf("live transcript = %+v", ct)
	}

	// A grain that does not confirm the write: 503 with Retry-After, never 201.
	calls.recordErr = fmt.Errorf("grain request timed out: %w", context.DeadlineExceeded)
	r := e.must(503, "POST", "/api/v1/calls/live-1/turns", `{"speaker":"caller","text":"hi"}`)
	if ra := r.header.Get("Retry-After"); ra != "3" {
		t.Errorf("Retry-After = %q, want 3", ra)
	}
	calls.recordErr = fmt.Errorf("call grain: %w", store.ErrNotFound)
	e.must(404, "POST", "/api/v1/calls/live-1/turns", `{"speaker":"caller","text":"hi"}`)
	calls.recordErr = fmt.Errorf("call grain: call ended: %w", store.ErrConflict)
	e.must(409, "POST", "/api/v1/calls/live-1/turns", `{"speaker":"caller","text":"hi"}`)

	// A cluster that cannot answer falls back to the store.
	calls.readErr = fmt.Errorf("no cluster member answered")
	e.must(200, "GET", "/api/v1/calls/c-1", "").decode(t, &ct)
	if ct.Source != "store" || len(ct.Turns) != 2 {
		t.Errorf("fallback transcript = %+v", ct)
	}
	calls.readErr = fmt.Errorf("call grain: %w", store.ErrNotFound)
	e.must(404, "GET", "/api/v1/calls/c-1", "")
}

// TestDatabaseUnavailable closes the database under the server: writes must
// answer 503 with Retry-After, never success, and readiness must fail.
func TestDatabaseUnavailable(t *testing.T) {
	e := newEnv(t, nil)
	seedCalls(t, e)
	e.must(201, "POST", "/api/v1/agents", `{"id":"a-1","name":"Ana"}`)
	if err := e.store.Close(); err != nil {
		t.Fatalf("close store: %v", err)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/v1/agents", `{"name":"Bo"}`},
		{"PUT", "/api/v1/agents/a-1", `{"name":"Bo"}`},
		{"DELETE", "/api/v1/agents/a-1", ``},
		{"POST", "/api/v1/queues", `{"name":"Sales"}`},
		{"DELETE", "/api/v1/queues/q-1", ``},
		{"POST", "/api/v1/calls/c-2/turns", `{"speaker":"caller","text":"hi"}`},
		{"GET", "/api/v1/agents", ``},
		{"GET", "/api/v1/calls", ``},
		{"GET", "/api/v1/calls/c-1", ``},
		{"GET", "/api/v1/audit", ``},
	} {
		r := e.do(tc.method, tc.path, tc.body)
		if r.status != 503 {
			t.Errorf("%s %s with the database closed: status %d, want 503; body %s", tc.method, tc.path, r.status, r.body)
			continue
		}
		if r.header.Get("Retry-After") != "5" {
			t.Errorf("%s %s: Retry-After %q, want 5", tc.method, tc.path, r.header.Get("Retry-After"))
		}
		if msg := r.errorBody(t).Error; !strings.Contains(msg, "database unavailable") {
			t.Errorf("%s %s: error %q", tc.method, tc.path, msg)
		}
	}
	r := e.must(503, "GET", "/readyz", "")
	var rd httpapi.Readiness
	r.decode(t, &rd)
	if len(rd.Failing) != 1 || rd.Failing[0] != "database" {
		t.Errorf("readiness with the database closed = %+v", rd)
	}
}

func TestRequestIDAndLogs(t *testing.T) {
	e := newEnv(t, nil)
	r := e.must(404, "GET", "/api/v1/agents/ghost", "", "X-Request-Id", "lb-1234")
	if r.header.Get("X-Request-Id") != "lb-1234" || r.errorBody(t).RequestID != "lb-1234" {
		t.Errorf("request id not kept: header %q body %s", r.header.Get("X-Request-Id"), r.body)
	}
	// An id with unsafe characters is replaced, not echoed.
	r = e.must(200, "GET", "/healthz", "", "X-Request-Id", "evil\tid")
	if id := r.header.Get("X-Request-Id"); id == "" || strings.Contains(id, "evil") {
		t.Errorf("unsafe request id echoed: %q", id)
	}
	logs := e.logs.String()
	for _, want := range []string{`"request_id":"lb-1234"`, `"method":"GET"`, `"route":"/api/v1/agents/{id}"`, `"status":404`, `"duration_ms":`, `"level":"WARN"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

func TestPanicRecovery(t *testing.T) {
	e := newEnv(t, func(o *httpapi.Options) {
		o.Fallback = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	})
	r := e.must(500, "GET", "/ui/index.html", "")
	if msg := r.errorBody(t).Error; msg != "internal error" {
		t.Errorf("panic error body %q leaks or is wrong", msg)
	}
	if !strings.Contains(e.logs.String(), "boom") {
		t.Errorf("panic not logged")
	}
	e.must(200, "GET", "/healthz", "") // the server still serves
}
