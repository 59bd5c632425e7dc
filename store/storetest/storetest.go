// Package storetest is the conformance suite every store.Store
// implementation passes: call Run from the implementation's tests.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/parley-cc/parley/store"
)

// Open returns a new, empty store for one subtest; it registers its own
// cleanup with t.
type Open func(t *testing.T) store.Store

// Run exercises every method of the store returned by open, each subtest on
// a fresh store.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"CanceledContext", testCanceledContext},
		{"Agents", testAgents},
		{"Queues", testQueues},
		{"Contacts", testContacts},
		{"Calls", testCalls},
		{"ListCalls", testListCalls},
		{"Turns", testTurns},
		{"CallEvents", testCallEvents},
		{"Campaigns", testCampaigns},
		{"CampaignContacts", testCampaignContacts},
		{"Documents", testDocuments},
		{"DocumentVersionRace", testDocumentVersionRace},
		{"KBFeedback", testKBFeedback},
		{"KBSearches", testKBSearches},
		{"EvalRuns", testEvalRuns},
		{"GrainState", testGrainState},
		{"Audit", testAudit},
		{"TimesNormalized", testTimesNormalized},
		{"ConcurrentTurns", testConcurrentTurns},
		{"ConcurrentDuplicateAppends", testConcurrentDuplicateAppends},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// at returns a fixed UTC time with microsecond precision, as stores keep it.
func at(minute int) time.Time {
	return time.Date(2026, 3, 14, 9, minute, 26, 535897000, time.UTC)
}

func ptr(t time.Time) *time.Time { return &t }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Fatalf("%s differs\n got: %s\nwant: %s\n(got %#v)", what, g, w, got)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

// recent checks that a store-set time is UTC, microsecond-truncated and
// close to now.
func recent(t *testing.T, what string, ts time.Time) {
	t.Helper()
	if ts.Location() != time.UTC || ts.Nanosecond()%1000 != 0 {
		t.Fatalf("%s = %v: want UTC with microsecond precision", what, ts)
	}
	if d := time.Since(ts); d < -time.Minute || d > time.Minute {
		t.Fatalf("%s = %v: not set to now", what, ts)
	}
}

func testPing(t *testing.T, s store.Store) {
	must(t, "ping", s.Ping(ctxT(t)))
}

func testCanceledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.GetAgent(ctx, "a-1")
	wantErr(t, "get with a cancelled context", err, context.Canceled)
	err = s.AppendAudit(ctx, store.AuditEntry{Action: "agent.create"})
	wantErr(t, "write with a cancelled context", err, context.Canceled)
	entries, err := s.ListAudit(context.Background(), 0)
	must(t, "list audit", err)
	if len(entries) != 0 {
		t.Fatalf("a write with a cancelled context was stored: %+v", entries)
	}
}

func testAgents(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := store.Agent{
		ID: "a-2", Name: "Ada Lovelace", Email: "ada@example.com", Extension: "1002",
		Skills:    []store.Skill{{Name: "billing", Proficiency: 5}, {Name: "french", Proficiency: 2}},
		Languages: []string{"en", "fr"}, Capacity: 2, CreatedAt: at(1), UpdatedAt: at(2),
	}
	must(t, "create", s.CreateAgent(ctx, &a))
	got, err := s.GetAgent(ctx, "a-2")
	must(t, "get", err)
	equal(t, "agent", *got, a)

	dup := a
	wantErr(t, "duplicate create", s.CreateAgent(ctx, &dup), store.ErrConflict)
	_, err = s.GetAgent(ctx, "nobody")
	wantErr(t, "get unknown", err, store.ErrNotFound)
	wantErr(t, "empty id", s.CreateAgent(ctx, &store.Agent{Name: "x"}), store.ErrInvalid)
	wantErr(t, "nil agent", s.CreateAgent(ctx, nil), store.ErrInvalid)
	wantErr(t, "bad proficiency", s.CreateAgent(ctx, &store.Agent{ID: "a-9", Skills: []store.Skill{{Name: "x", Proficiency: 9}}}), store.ErrInvalid)

	// Timestamps are the store's when zero; nil slices stay nil.
	b := store.Agent{ID: "a-1", Name: "Bob", Capacity: 1}
	must(t, "create b", s.CreateAgent(ctx, &b))
	recent(t, "CreatedAt", b.CreatedAt)
	equal(t, "UpdatedAt of new agent", b.UpdatedAt, b.CreatedAt)
	gotB, err := s.GetAgent(ctx, "a-1")
	must(t, "get b", err)
	equal(t, "agent b", *gotB, b)

	list, err := s.ListAgents(ctx)
	must(t, "list", err)
	equal(t, "agents", list, []store.Agent{b, a})

	upd := a
	upd.Name, upd.Skills, upd.Languages, upd.Capacity = "Ada King", []store.Skill{{Name: "tech", Proficiency: 3}}, []string{}, 1
	upd.CreatedAt = time.Time{}
	must(t, "update", s.UpdateAgent(ctx, &upd))
	equal(t, "CreatedAt kept on update", upd.CreatedAt, a.CreatedAt)
	recent(t, "UpdatedAt after update", upd.UpdatedAt)
	got, err = s.GetAgent(ctx, "a-2")
	must(t, "get updated", err)
	equal(t, "updated agent", *got, upd)
	wantErr(t, "update unknown", s.UpdateAgent(ctx, &store.Agent{ID: "nobody"}), store.ErrNotFound)

	must(t, "delete", s.DeleteAgent(ctx, "a-2"))
	_, err = s.GetAgent(ctx, "a-2")
	wantErr(t, "get deleted", err, store.ErrNotFound)
	wantErr(t, "delete again", s.DeleteAgent(ctx, "a-2"), store.ErrNotFound)
	list, err = s.ListAgents(ctx)
	must(t, "list after delete", err)
	equal(t, "agents after delete", list, []store.Agent{b})
}

func testQueues(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	empty, err := s.ListQueues(ctx)
	must(t, "list empty", err)
	if empty == nil || len(empty) != 0 {
		t.Fatalf("empty list = %#v, want empty non-nil", empty)
	}
	q := store.Queue{
		ID: "support", Name: "Support", RequiredSkills: []store.Skill{{Name: "tech", Proficiency: 2}},
		Language: "en", Strategy: "longest_idle", ServiceLevelSecs: 20, OverflowQueueID: "overflow",
		OverflowAfterSec: 90, CreatedAt: at(3), UpdatedAt: at(4),
	}
	must(t, "create", s.CreateQueue(ctx, &q))
	got, err := s.GetQueue(ctx, "support")
	must(t, "get", err)
	equal(t, "queue", *got, q)
	dup := q
	wantErr(t, "duplicate", s.CreateQueue(ctx, &dup), store.ErrConflict)
	_, err = s.GetQueue(ctx, "nope")
	wantErr(t, "get unknown", err, store.ErrNotFound)
	wantErr(t, "negative service level", s.CreateQueue(ctx, &store.Queue{ID: "x", ServiceLevelSecs: -1}), store.ErrInvalid)

	o := store.Queue{ID: "overflow", Name: "Overflow", Strategy: "round_robin"}
	must(t, "create overflow", s.CreateQueue(ctx, &o))
	list, err := s.ListQueues(ctx)
	must(t, "list", err)
	equal(t, "queues", list, []store.Queue{o, q})

	q.Strategy, q.RequiredSkills, q.OverflowQueueID, q.OverflowAfterSec = "most_skilled", nil, "", 0
	must(t, "update", s.UpdateQueue(ctx, &q))
	got, err = s.GetQueue(ctx, "support")
	must(t, "get updated", err)
	equal(t, "updated queue", *got, q)
	equal(t, "CreatedAt kept", got.CreatedAt, at(3))
	wantErr(t, "update unknown", s.UpdateQueue(ctx, &store.Queue{ID: "nope"}), store.ErrNotFound)
	must(t, "delete", s.DeleteQueue(ctx, "support"))
	wantErr(t, "delete again", s.DeleteQueue(ctx, "support"), store.ErrNotFound)
}

func testContacts(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	c := store.Contact{
		ID: "c-1", Name: "Grace Hopper", Phone: "+15550001", Email: "grace@example.com", Tier: "vip",
		Language: "en", Attrs: map[string]string{"account": "42", "plan": "gold"}, CreatedAt: at(5),
	}
	must(t, "insert", s.UpsertContact(ctx, &c))
	recent(t, "UpdatedAt", c.UpdatedAt)
	got, err := s.GetContact(ctx, "c-1")
	must(t, "get", err)
	equal(t, "contact", *got, c)
	byPhone, err := s.FindContactByPhone(ctx, "+15550001")
	must(t, "find by phone", err)
	equal(t, "contact by phone", *byPhone, c)

	// An upsert replaces fields but keeps the first CreatedAt.
	c2 := store.Contact{ID: "c-1", Name: "Grace B. Hopper", Phone: "+15550002"}
	must(t, "update", s.UpsertContact(ctx, &c2))
	equal(t, "CreatedAt kept", c2.CreatedAt, at(5))
	got, err = s.GetContact(ctx, "c-1")
	must(t, "get updated", err)
	equal(t, "updated contact", *got, c2)
	_, err = s.FindContactByPhone(ctx, "+15550001")
	wantErr(t, "old phone", err, store.ErrNotFound)

	// Another contact may not take the same phone, but many may have none.
	wantErr(t, "phone taken", s.UpsertContact(ctx, &store.Contact{ID: "c-2", Phone: "+15550002"}), store.ErrConflict)
	must(t, "no phone 1", s.UpsertContact(ctx, &store.Contact{ID: "c-3"}))
	must(t, "no phone 2", s.UpsertContact(ctx, &store.Contact{ID: "c-4"}))
	_, err = s.GetContact(ctx, "c-2")
	wantErr(t, "rejected contact", err, store.ErrNotFound)
	_, err = s.FindContactByPhone(ctx, "")
	wantErr(t, "empty phone", err, store.ErrInvalid)
	wantErr(t, "empty id", s.UpsertContact(ctx, &store.Contact{Name: "x"}), store.ErrInvalid)
}

func sampleCall(id string, started time.Time) store.Call {
	return store.Call{
		ID: id, Direction: store.DirectionInbound, Channel: "sip", From: "sip:+15550001@example.com",
		To: "sip:support@parley", ContactID: "c-1", QueueID: "support", AgentID: "a-1", CampaignID: "camp-1",
		State: store.CallAgent, Disposition: "resolved", Summary: "Caller wanted a refund; agent granted it.",
		RecordingPath: "/data/rec/" + id + ".wav", StartedAt: started,
		AnsweredAt: ptr(started.Add(3 * time.Second)), EndedAt: ptr(started.Add(5 * time.Minute)),
	}
}

func testCalls(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	c := sampleCall("call-1", at(10))
	must(t, "save", s.SaveCall(ctx, &c))
	recent(t, "UpdatedAt", c.UpdatedAt)
	got, err := s.GetCall(ctx, "call-1")
	must(t, "get", err)
	equal(t, "call", *got, c)

	// Saving again replaces every field, including clearing the pointers.
	c.State, c.AgentID, c.AnsweredAt, c.EndedAt, c.Summary = store.CallQueued, "", nil, nil, ""
	must(t, "save again", s.SaveCall(ctx, &c))
	got, err = s.GetCall(ctx, "call-1")
	must(t, "get again", err)
	equal(t, "replaced call", *got, c)

	_, err = s.GetCall(ctx, "nope")
	wantErr(t, "unknown", err, store.ErrNotFound)
	wantErr(t, "empty id", s.SaveCall(ctx, &store.Call{}), store.ErrInvalid)

	d := store.Call{ID: "call-2", State: store.CallRinging}
	must(t, "save minimal", s.SaveCall(ctx, &d))
	recent(t, "StartedAt default", d.StartedAt)
	got, err = s.GetCall(ctx, "call-2")
	must(t, "get minimal", err)
	equal(t, "minimal call", *got, d)
}

func testListCalls(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	var calls []store.Call
	for i := range 6 {
		c := store.Call{ID: fmt.Sprintf("call-%d", i), State: store.CallEnded, QueueID: "q1", AgentID: "a1", StartedAt: at(i)}
		if i%2 == 1 {
			c.State, c.QueueID = store.CallBot, "q2"
		}
		if i >= 4 {
			c.AgentID = "a2"
		}
		must(t, "save", s.SaveCall(ctx, &c))
		calls = append(calls, c)
	}
	ids := func(cs []store.Call) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.CallFilter
		want []string
	}{
		{"all, newest first", store.CallFilter{}, []string{"call-5", "call-4", "call-3", "call-2", "call-1", "call-0"}},
		{"state", store.CallFilter{State: store.CallBot}, []string{"call-5", "call-3", "call-1"}},
		{"queue", store.CallFilter{QueueID: "q1"}, []string{"call-4", "call-2", "call-0"}},
		{"agent", store.CallFilter{AgentID: "a2"}, []string{"call-5", "call-4"}},
		{"since", store.CallFilter{Since: at(3)}, []string{"call-5", "call-4", "call-3"}},
		{"limit", store.CallFilter{Limit: 2}, []string{"call-5", "call-4"}},
		{"combined", store.CallFilter{State: store.CallEnded, AgentID: "a1", Since: at(1)}, []string{"call-2"}},
		{"none", store.CallFilter{QueueID: "q9"}, []string{}},
	} {
		got, err := s.ListCalls(ctx, tc.f)
		must(t, tc.name, err)
		equal(t, tc.name, ids(got), tc.want)
	}
	got, err := s.ListCalls(ctx, store.CallFilter{State: store.CallEnded, AgentID: "a2"})
	must(t, "full rows", err)
	equal(t, "full rows", got, []store.Call{calls[4]})
	_, err = s.ListCalls(ctx, store.CallFilter{Limit: -1})
	wantErr(t, "negative limit", err, store.ErrInvalid)

	// The default limit is 100.
	for i := range 101 {
		c := store.Call{ID: fmt.Sprintf("bulk-%03d", i), State: store.CallEnded, StartedAt: at(30)}
		must(t, "save bulk", s.SaveCall(ctx, &c))
	}
	got, err = s.ListCalls(ctx, store.CallFilter{})
	must(t, "default limit", err)
	if len(got) != 100 {
		t.Fatalf("default limit returned %d calls, want 100", len(got))
	}
}

func testTurns(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	c := store.Call{ID: "call-t", State: store.CallBot, StartedAt: at(0)}
	must(t, "save call", s.SaveCall(ctx, &c))
	none, err := s.ListTurns(ctx, "call-t")
	must(t, "list empty", err)
	if none == nil || len(none) != 0 {
		t.Fatalf("turns of a new call = %#v, want empty non-nil", none)
	}
	turns := []store.Turn{
		{CallID: "call-t", Seq: 1, Speaker: store.SpeakerCaller, Text: "I want my money back", Intent: "refund",
			Confidence: 0.93, Sentiment: -0.4, Timings: store.Timings{ASRFinalMs: 180.5}, At: at(1)},
		{CallID: "call-t", Seq: 2, Speaker: store.SpeakerBot, Text: "I can help with that.", At: at(2),
			Timings: store.Timings{ASRFinalMs: 150, LLMFirstTokenMs: 320.25, TTSFirstAudioMs: 410, FirstRTPOutMs: 431.75}},
		{CallID: "call-t", Seq: 3, Speaker: store.SpeakerAgent, Text: "Hello, this is Ada. ünïcødé ✓", At: at(3)},
	}
	// Out of order, and each twice: retried writes never duplicate.
	for _, i := range []int{2, 0, 1, 0, 2} {
		must(t, fmt.Sprintf("append %d", turns[i].Seq), s.AppendTurn(ctx, turns[i]))
	}
	// A retry with different content keeps the first write.
	changed := turns[0]
	changed.Text = "something else"
	must(t, "append changed duplicate", s.AppendTurn(ctx, changed))
	got, err := s.ListTurns(ctx, "call-t")
	must(t, "list", err)
	equal(t, "turns", got, turns)

	wantErr(t, "unknown call", s.AppendTurn(ctx, store.Turn{CallID: "nope", Seq: 1, Text: "x"}), store.ErrNotFound)
	_, err = s.ListTurns(ctx, "nope")
	wantErr(t, "list unknown call", err, store.ErrNotFound)
	wantErr(t, "seq 0", s.AppendTurn(ctx, store.Turn{CallID: "call-t", Seq: 0}), store.ErrInvalid)
	wantErr(t, "no call id", s.AppendTurn(ctx, store.Turn{Seq: 1}), store.ErrInvalid)

	must(t, "append with zero At", s.AppendTurn(ctx, store.Turn{CallID: "call-t", Seq: 4, Speaker: store.SpeakerCaller, Text: "ok"}))
	got, err = s.ListTurns(ctx, "call-t")
	must(t, "list after default At", err)
	if len(got) != 4 {
		t.Fatalf("got %d turns, want 4", len(got))
	}
	recent(t, "turn At default", got[3].At)
}

func testCallEvents(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	c := store.Call{ID: "call-e", State: store.CallRinging, StartedAt: at(0)}
	must(t, "save call", s.SaveCall(ctx, &c))
	events := []store.CallEvent{
		{CallID: "call-e", Seq: 1, Type: "answered", By: "bot", At: at(1)},
		{CallID: "call-e", Seq: 2, Type: "dtmf", By: "caller", Data: map[string]string{"digit": "5"}, At: at(2)},
		{CallID: "call-e", Seq: 3, Type: "handoff", By: "system", Data: map[string]string{"queue": "support", "reason": "asked for a person"}, At: at(3)},
	}
	for _, i := range []int{1, 2, 0, 1} {
		must(t, "append", s.AppendCallEvent(ctx, events[i]))
	}
	got, err := s.ListCallEvents(ctx, "call-e")
	must(t, "list", err)
	equal(t, "events", got, events)
	wantErr(t, "unknown call", s.AppendCallEvent(ctx, store.CallEvent{CallID: "nope", Seq: 1, Type: "hangup"}), store.ErrNotFound)
	_, err = s.ListCallEvents(ctx, "nope")
	wantErr(t, "list unknown", err, store.ErrNotFound)
	wantErr(t, "no type", s.AppendCallEvent(ctx, store.CallEvent{CallID: "call-e", Seq: 9}), store.ErrInvalid)
	wantErr(t, "seq -1", s.AppendCallEvent(ctx, store.CallEvent{CallID: "call-e", Seq: -1, Type: "x"}), store.ErrInvalid)
}

func testCampaigns(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	c := store.Campaign{
		ID: "camp-1", Name: "March renewals", Kind: "reminder", State: store.CampaignRunning, QueueID: "support",
		MaxLines: 4, CallerID: "+15559999", Settings: map[string]string{"window": "09:00-17:00", "retries": "2"},
		CreatedAt: at(1), UpdatedAt: at(1),
	}
	must(t, "create", s.CreateCampaign(ctx, &c))
	got, err := s.GetCampaign(ctx, "camp-1")
	must(t, "get", err)
	equal(t, "campaign", *got, c)
	dup := c
	wantErr(t, "duplicate", s.CreateCampaign(ctx, &dup), store.ErrConflict)

	d := store.Campaign{ID: "camp-0", Name: "Survey", Kind: "survey"}
	must(t, "create default state", s.CreateCampaign(ctx, &d))
	equal(t, "default state", d.State, store.CampaignDraft)
	list, err := s.ListCampaigns(ctx)
	must(t, "list", err)
	equal(t, "campaigns", list, []store.Campaign{d, c})

	c.State, c.MaxLines, c.Settings = store.CampaignPaused, 2, nil
	must(t, "update", s.UpdateCampaign(ctx, &c))
	got, err = s.GetCampaign(ctx, "camp-1")
	must(t, "get updated", err)
	equal(t, "updated campaign", *got, c)
	wantErr(t, "update unknown", s.UpdateCampaign(ctx, &store.Campaign{ID: "nope"}), store.ErrNotFound)
	wantErr(t, "negative lines", s.CreateCampaign(ctx, &store.Campaign{ID: "x", MaxLines: -1}), store.ErrInvalid)
	must(t, "delete", s.DeleteCampaign(ctx, "camp-0"))
	wantErr(t, "delete again", s.DeleteCampaign(ctx, "camp-0"), store.ErrNotFound)
	_, err = s.GetCampaign(ctx, "camp-0")
	wantErr(t, "get deleted", err, store.ErrNotFound)
}

func testCampaignContacts(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	c := store.Campaign{ID: "camp-1", Name: "Callbacks", Kind: "callback", MaxLines: 1}
	must(t, "create campaign", s.CreateCampaign(ctx, &c))
	batch := []store.CampaignContact{
		{CampaignID: "camp-1", ID: "z-last-id-first", Phone: "+15550010", Name: "Zed", Status: "pending",
			WindowStart: ptr(at(0)), WindowEnd: ptr(at(59)), Reason: "callback requested"},
		{CampaignID: "camp-1", ID: "a-first-id-second", Phone: "+15550011"},
	}
	must(t, "add", s.AddCampaignContacts(ctx, batch))
	equal(t, "default status", batch[1].Status, "pending")
	recent(t, "UpdatedAt", batch[0].UpdatedAt)
	more := []store.CampaignContact{{CampaignID: "camp-1", ID: "m-third", Phone: "+15550012", Attempts: 1}}
	must(t, "add more", s.AddCampaignContacts(ctx, more))
	got, err := s.ListCampaignContacts(ctx, "camp-1")
	must(t, "list", err)
	equal(t, "contacts in the order added", got, append(append([]store.CampaignContact{}, batch...), more...))

	// All or none: the duplicate makes the whole batch fail.
	bad := []store.CampaignContact{
		{CampaignID: "camp-1", ID: "new-1", Phone: "+1"},
		{CampaignID: "camp-1", ID: "z-last-id-first", Phone: "+2"},
	}
	wantErr(t, "duplicate in batch", s.AddCampaignContacts(ctx, bad), store.ErrConflict)
	got, err = s.ListCampaignContacts(ctx, "camp-1")
	must(t, "list after failed batch", err)
	if len(got) != 3 {
		t.Fatalf("after a failed batch: %d contacts, want 3", len(got))
	}
	wantErr(t, "unknown campaign", s.AddCampaignContacts(ctx, []store.CampaignContact{{CampaignID: "nope", ID: "x"}}), store.ErrNotFound)
	wantErr(t, "missing id", s.AddCampaignContacts(ctx, []store.CampaignContact{{CampaignID: "camp-1"}}), store.ErrInvalid)
	must(t, "empty batch", s.AddCampaignContacts(ctx, nil))
	_, err = s.ListCampaignContacts(ctx, "nope")
	wantErr(t, "list unknown campaign", err, store.ErrNotFound)

	upd := got[1]
	upd.Status, upd.Attempts, upd.LastCallID, upd.Summary, upd.WindowStart = "done", 2, "call-9", "Renewed.", ptr(at(7))
	must(t, "update", s.UpdateCampaignContact(ctx, &upd))
	got, err = s.ListCampaignContacts(ctx, "camp-1")
	must(t, "list after update", err)
	equal(t, "updated contact", got[1], upd)
	wantErr(t, "update unknown", s.UpdateCampaignContact(ctx, &store.CampaignContact{CampaignID: "camp-1", ID: "nope"}), store.ErrNotFound)

	// Deleting the campaign deletes its list.
	must(t, "delete campaign", s.DeleteCampaign(ctx, "camp-1"))
	_, err = s.ListCampaignContacts(ctx, "camp-1")
	wantErr(t, "list of deleted campaign", err, store.ErrNotFound)
	must(t, "recreate", s.CreateCampaign(ctx, &store.Campaign{ID: "camp-1"}))
	got, err = s.ListCampaignContacts(ctx, "camp-1")
	must(t, "list of recreated campaign", err)
	equal(t, "contacts of recreated campaign", got, []store.CampaignContact{})
}

func testDocuments(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	v1 := store.Document{
		ID: "kb-router", Title: "Router will not connect", Category: "internet/router/restart", Language: "en",
		Tags: []string{"router", "wifi"}, Format: "markdown", State: "published", Version: 1, Author: "ada",
		ChangeNote: "first draft", Body: "# Restart\nUnplug it for 30 s.", ValidFrom: ptr(at(0)), ValidTo: ptr(at(50)),
		CreatedAt: at(1), UpdatedAt: at(1),
	}
	must(t, "save v1", s.SaveDocument(ctx, &v1))
	again := v1
	wantErr(t, "save v1 again", s.SaveDocument(ctx, &again), store.ErrConflict)
	skip := v1
	skip.Version = 3
	wantErr(t, "skip a version", s.SaveDocument(ctx, &skip), store.ErrConflict)
	zero := store.Document{ID: "kb-new"}
	wantErr(t, "version 0", s.SaveDocument(ctx, &zero), store.ErrConflict)

	v2 := v1
	v2.Version, v2.Body, v2.ChangeNote, v2.Tags, v2.ValidTo, v2.CreatedAt, v2.UpdatedAt = 2, "Unplug it for 60 s.", "longer wait", nil, nil, time.Time{}, time.Time{}
	must(t, "save v2", s.SaveDocument(ctx, &v2))
	equal(t, "v2 CreatedAt from v1", v2.CreatedAt, v1.CreatedAt)
	recent(t, "v2 UpdatedAt", v2.UpdatedAt)

	got, err := s.GetDocument(ctx, "kb-router")
	must(t, "get latest", err)
	equal(t, "latest", *got, v2)
	got, err = s.GetDocumentVersion(ctx, "kb-router", 1)
	must(t, "get v1", err)
	equal(t, "v1", *got, v1)
	_, err = s.GetDocumentVersion(ctx, "kb-router", 3)
	wantErr(t, "unknown version", err, store.ErrNotFound)
	_, err = s.GetDocument(ctx, "nope")
	wantErr(t, "unknown document", err, store.ErrNotFound)

	other := store.Document{ID: "kb-billing", Title: "Invoices", Format: "text", State: "draft", Version: 1, Body: "…"}
	must(t, "save other", s.SaveDocument(ctx, &other))
	list, err := s.ListDocuments(ctx)
	must(t, "list", err)
	equal(t, "latest of each", list, []store.Document{other, v2})
	versions, err := s.ListDocumentVersions(ctx, "kb-router")
	must(t, "versions", err)
	equal(t, "versions", versions, []store.Document{v1, v2})
	_, err = s.ListDocumentVersions(ctx, "nope")
	wantErr(t, "versions of unknown", err, store.ErrNotFound)

	must(t, "delete", s.DeleteDocument(ctx, "kb-router"))
	_, err = s.GetDocumentVersion(ctx, "kb-router", 1)
	wantErr(t, "deleted v1", err, store.ErrNotFound)
	wantErr(t, "delete again", s.DeleteDocument(ctx, "kb-router"), store.ErrNotFound)
	// A deleted document starts again at version 1.
	fresh := store.Document{ID: "kb-router", Title: "Router", Version: 1}
	must(t, "recreate", s.SaveDocument(ctx, &fresh))
}

func testDocumentVersionRace(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	must(t, "save v1", s.SaveDocument(ctx, &store.Document{ID: "kb-race", Title: "v1", Version: 1}))
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.SaveDocument(ctx, &store.Document{ID: "kb-race", Title: fmt.Sprintf("v2 by %d", i), Version: 2})
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("writer %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d writers saved version 2, want exactly 1", won)
	}
	vs, err := s.ListDocumentVersions(ctx, "kb-race")
	must(t, "versions", err)
	if len(vs) != 2 {
		t.Fatalf("%d versions stored, want 2", len(vs))
	}
}

func testEvalRuns(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	r1 := store.EvalRun{ID: "run-1", Suite: "billing", Mode: "text", StartedAt: at(1), FinishedAt: at(2),
		Passed: 9, Failed: 1, Errored: 0, Report: []byte(`{"cases":[{"name":"refund","pass":true}]}`)}
	r2 := store.EvalRun{ID: "run-2", Suite: "billing", Mode: "voice", StartedAt: at(5), FinishedAt: at(9), Passed: 3}
	r3 := store.EvalRun{ID: "run-3", Suite: "router", Mode: "replay", StartedAt: at(3), FinishedAt: at(4), Errored: 2,
		Report: []byte(`[]`)}
	for _, r := range []*store.EvalRun{&r1, &r2, &r3} {
		must(t, "save "+r.ID, s.SaveEvalRun(ctx, r))
	}
	got, err := s.GetEvalRun(ctx, "run-1")
	must(t, "get", err)
	equal(t, "run", *got, r1)
	got, err = s.GetEvalRun(ctx, "run-2")
	must(t, "get without report", err)
	equal(t, "run without report", *got, r2)
	_, err = s.GetEvalRun(ctx, "nope")
	wantErr(t, "unknown", err, store.ErrNotFound)
	wantErr(t, "bad report", s.SaveEvalRun(ctx, &store.EvalRun{ID: "run-x", Report: []byte("{nope")}), store.ErrInvalid)

	list, err := s.ListEvalRuns(ctx, "billing")
	must(t, "list suite", err)
	equal(t, "billing runs newest first", list, []store.EvalRun{r2, r1})
	list, err = s.ListEvalRuns(ctx, "")
	must(t, "list all", err)
	equal(t, "all runs newest first", list, []store.EvalRun{r2, r3, r1})

	// A run still going has no FinishedAt yet.
	running := store.EvalRun{ID: "run-4", Suite: "other", Mode: "text", StartedAt: at(20)}
	must(t, "save running", s.SaveEvalRun(ctx, &running))
	got, err = s.GetEvalRun(ctx, "run-4")
	must(t, "get running", err)
	equal(t, "running run", *got, running)
	if !got.FinishedAt.IsZero() {
		t.Fatalf("FinishedAt of a running run = %v, want zero", got.FinishedAt)
	}

	r1.Failed, r1.Passed, r1.Report = 0, 10, []byte(`{"rerun":true}`)
	must(t, "save again", s.SaveEvalRun(ctx, &r1))
	got, err = s.GetEvalRun(ctx, "run-1")
	must(t, "get replaced", err)
	equal(t, "replaced run", *got, r1)
}

func testGrainState(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	_, err := s.LoadGrainState(ctx, "queue", "support")
	wantErr(t, "nothing saved", err, store.ErrNotFound)
	state := []byte{0, 1, 2, 0xff, 'q'}
	must(t, "save", s.SaveGrainState(ctx, "queue", "support", state))
	must(t, "save other kind", s.SaveGrainState(ctx, "agent", "support", []byte("agent")))
	got, err := s.LoadGrainState(ctx, "queue", "support")
	must(t, "load", err)
	equal(t, "state", got, state)
	must(t, "overwrite", s.SaveGrainState(ctx, "queue", "support", []byte("v2")))
	got, err = s.LoadGrainState(ctx, "queue", "support")
	must(t, "load overwritten", err)
	equal(t, "overwritten state", got, []byte("v2"))
	must(t, "save empty", s.SaveGrainState(ctx, "campaign", "c1", nil))
	got, err = s.LoadGrainState(ctx, "campaign", "c1")
	must(t, "load empty", err)
	equal(t, "empty state", got, []byte{})

	must(t, "delete", s.DeleteGrainState(ctx, "queue", "support"))
	_, err = s.LoadGrainState(ctx, "queue", "support")
	wantErr(t, "deleted", err, store.ErrNotFound)
	must(t, "delete missing is fine", s.DeleteGrainState(ctx, "queue", "support"))
	got, err = s.LoadGrainState(ctx, "agent", "support")
	must(t, "other kind untouched", err)
	equal(t, "other kind", got, []byte("agent"))
	wantErr(t, "empty kind", s.SaveGrainState(ctx, "", "x", nil), store.ErrInvalid)
}

func testKBFeedback(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	votes := []store.KBFeedback{
		{Query: "router blinks red", DocumentID: "kb-router", Version: 2, Helpful: true, Source: "agent", CallID: "c-1", Actor: "alice", At: at(1)},
		{Query: "router blinks red", DocumentID: "kb-billing", Version: 1, Helpful: false, Source: "bot"},
		{Query: "", DocumentID: "kb-router", Helpful: true, Source: "bot", At: at(3)},
	}
	for i := range votes {
		must(t, "append vote", s.AppendKBFeedback(ctx, &votes[i]))
		if votes[i].ID <= 0 || i > 0 && votes[i].ID <= votes[i-1].ID {
			t.Fatalf("vote %d id %d: want increasing positive ids", i, votes[i].ID)
		}
	}
	recent(t, "At default", votes[1].At)
	wantErr(t, "no document", s.AppendKBFeedback(ctx, &store.KBFeedback{Source: "bot"}), store.ErrInvalid)
	wantErr(t, "bad source", s.AppendKBFeedback(ctx, &store.KBFeedback{DocumentID: "d", Source: "robot"}), store.ErrInvalid)
	got, err := s.ListKBFeedback(ctx, 0, 0)
	must(t, "list", err)
	equal(t, "all votes", got, votes)
	got, err = s.ListKBFeedback(ctx, votes[0].ID, 1)
	must(t, "list after first", err)
	equal(t, "page", got, votes[1:2])
	got, err = s.ListKBFeedback(ctx, votes[2].ID, 0)
	must(t, "list after last", err)
	equal(t, "nothing new", len(got), 0)
	_, err = s.ListKBFeedback(ctx, 0, -1)
	wantErr(t, "negative limit", err, store.ErrInvalid)
}

func testKBSearches(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	must(t, "append none", s.AppendKBSearches(ctx, nil))
	batch := []store.KBSearch{
		{Query: "reset router", Documents: []string{"kb-router", "kb-wifi"}, Good: true, Source: "api", At: at(1)},
		{Query: "quantum billing", Documents: nil, Good: false, Source: "bot", At: at(2)},
	}
	must(t, "append", s.AppendKBSearches(ctx, batch))
	must(t, "append more", s.AppendKBSearches(ctx, []store.KBSearch{{Query: "wifi", Documents: []string{"kb-wifi"}, Good: true}}))
	got, err := s.ListKBSearches(ctx, 0, 0)
	must(t, "list", err)
	if len(got) != 3 {
		t.Fatalf("%d searches, want 3", len(got))
	}
	for i, g := range got {
		if g.ID <= 0 || i > 0 && g.ID <= got[i-1].ID {
			t.Fatalf("search %d id %d: want increasing positive ids", i, g.ID)
		}
	}
	batch[1].Documents = []string{}
	got[0].ID, got[1].ID = 0, 0
	equal(t, "first batch", got[:2], batch)
	recent(t, "At default", got[2].At)
	page, err := s.ListKBSearches(ctx, got[2].ID-1, 5)
	must(t, "after", err)
	equal(t, "last only", len(page), 1)
}

func testAudit(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	entries := []store.AuditEntry{
		{At: at(1), Actor: "admin", Action: "agent.create", Target: "agent/a-1", Detail: `{"name":"Ada"}`},
		{At: at(2), Actor: "admin", Action: "queue.update", Target: "queue/support"},
		{Actor: "system", Action: "campaign.start", Target: "campaign/c-1"},
	}
	for _, e := range entries {
		must(t, "append", s.AppendAudit(ctx, e))
	}
	wantErr(t, "no action", s.AppendAudit(ctx, store.AuditEntry{Actor: "x"}), store.ErrInvalid)
	got, err := s.ListAudit(ctx, 0)
	must(t, "list", err)
	if len(got) != 3 {
		t.Fatalf("%d entries, want 3", len(got))
	}
	// Newest first, ids assigned in order.
	for i, g := range got {
		want := entries[2-i]
		if g.Actor != want.Actor || g.Action != want.Action || g.Target != want.Target || g.Detail != want.Detail {
			t.Fatalf("entry %d = %+v, want %+v", i, g, want)
		}
		if i > 0 && g.ID >= got[i-1].ID {
			t.Fatalf("ids not decreasing: %d after %d", g.ID, got[i-1].ID)
		}
	}
	equal(t, "At kept", got[2].At, at(1))
	recent(t, "At default", got[0].At)
	got, err = s.ListAudit(ctx, 2)
	must(t, "list limit", err)
	if len(got) != 2 || got[0].Action != "campaign.start" {
		t.Fatalf("limit 2 gave %+v", got)
	}
	_, err = s.ListAudit(ctx, -1)
	wantErr(t, "negative limit", err, store.ErrInvalid)
}

func testTimesNormalized(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	paris := time.FixedZone("CET", 3600)
	local := time.Date(2026, 3, 14, 10, 0, 0, 123456789, paris)
	want := time.Date(2026, 3, 14, 9, 0, 0, 123456000, time.UTC)
	a := store.Agent{ID: "a-tz", CreatedAt: local, UpdatedAt: local}
	must(t, "create", s.CreateAgent(ctx, &a))
	equal(t, "normalized in place", a.CreatedAt, want)
	got, err := s.GetAgent(ctx, "a-tz")
	must(t, "get", err)
	equal(t, "stored CreatedAt", got.CreatedAt, want)
	c := store.Call{ID: "call-tz", StartedAt: local, AnsweredAt: ptr(local.Add(time.Second))}
	must(t, "save call", s.SaveCall(ctx, &c))
	gc, err := s.GetCall(ctx, "call-tz")
	must(t, "get call", err)
	equal(t, "StartedAt", gc.StartedAt, want)
	equal(t, "AnsweredAt", *gc.AnsweredAt, want.Add(time.Second))
	// Since compares instants, whatever the zone.
	list, err := s.ListCalls(ctx, store.CallFilter{Since: local.Add(-time.Nanosecond).In(time.FixedZone("X", -5*3600))})
	must(t, "list since", err)
	if len(list) != 1 {
		t.Fatalf("since just before: %d calls, want 1", len(list))
	}
	list, err = s.ListCalls(ctx, store.CallFilter{Since: want.Add(time.Microsecond)})
	must(t, "list since after", err)
	if len(list) != 0 {
		t.Fatalf("since just after: %d calls, want 0", len(list))
	}
}

func testConcurrentTurns(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	const calls, turns = 8, 40
	for i := range calls {
		c := store.Call{ID: fmt.Sprintf("cc-%d", i), State: store.CallBot, StartedAt: at(i)}
		must(t, "save call", s.SaveCall(ctx, &c))
	}
	var wg sync.WaitGroup
	errs := make(chan error, calls*3)
	for i := range calls {
		wg.Add(2)
		go func() { // writer
			defer wg.Done()
			for seq := 1; seq <= turns; seq++ {
				err := s.AppendTurn(ctx, store.Turn{CallID: fmt.Sprintf("cc-%d", i), Seq: seq, Speaker: store.SpeakerCaller,
					Text: fmt.Sprintf("turn %d of call %d", seq, i), At: at(0).Add(time.Duration(seq) * time.Second)})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() { // reader: every read is a prefix in order
			defer wg.Done()
			for range 20 {
				ts, err := s.ListTurns(ctx, fmt.Sprintf("cc-%d", i))
				if err != nil {
					errs <- err
					return
				}
				for k, tr := range ts {
					if tr.Seq != k+1 {
						errs <- fmt.Errorf("call %d: turn %d has seq %d", i, k, tr.Seq)
						return
					}
				}
				if _, err := s.ListCalls(ctx, store.CallFilter{Limit: 5}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range calls {
		ts, err := s.ListTurns(ctx, fmt.Sprintf("cc-%d", i))
		must(t, "list", err)
		if len(ts) != turns {
			t.Fatalf("call %d: %d turns, want %d", i, len(ts), turns)
		}
		for k, tr := range ts {
			if tr.Seq != k+1 || tr.Text != fmt.Sprintf("turn %d of call %d", k+1, i) {
				t.Fatalf("call %d turn %d = %+v", i, k, tr)
			}
		}
	}
}

func testConcurrentDuplicateAppends(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	c := store.Call{ID: "dup", State: store.CallBot}
	must(t, "save call", s.SaveCall(ctx, &c))
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for g := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 1; seq <= 10; seq++ {
				if err := s.AppendCallEvent(ctx, store.CallEvent{CallID: "dup", Seq: seq, Type: "dtmf", By: fmt.Sprint(g)}); err != nil {
					errs[g] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for g, err := range errs {
		must(t, fmt.Sprintf("writer %d", g), err)
	}
	es, err := s.ListCallEvents(ctx, "dup")
	must(t, "list", err)
	if len(es) != 10 {
		t.Fatalf("%d events after concurrent retries, want 10", len(es))
	}
}
