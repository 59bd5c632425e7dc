// Package store persists what Parley must not lose: contacts, calls with their
// transcript turns and events, agents, queues, campaigns, knowledge-base
// document metadata, eval runs, grain snapshots and an audit log.
//
// Two implementations share one interface and one test suite: SQLite (the
// embedded default, a file under the data dir) and PostgreSQL (a DSN, for
// several nodes sharing one store).
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a record with the given id does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a create collides with an existing id or a
// unique key.
var ErrConflict = errors.New("already exists")

// Store is everything Parley persists. Implementations are safe for
// concurrent use.
type Store interface {
	AgentStore
	QueueStore
	ContactStore
	CallStore
	CampaignStore
	DocumentStore
	KBFeedbackStore
	EvalStore
	GrainStateStore
	AuditStore

	// Ping reports whether the database answers; /readyz uses it.
	Ping(ctx context.Context) error
	// Close releases the connections.
	Close() error
}

// Skill is a named ability of an agent with a proficiency from 1 (novice) to
// 5 (expert).
type Skill struct {
	Name        string `json:"name"`
	Proficiency int    `json:"proficiency"`
}

// Agent is a person who handles contacts. Presence and work state live in the
// Agent grain; the record holds who the agent is and what they can do.
type Agent struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email,omitempty"`
	Extension string    `json:"extension,omitempty"` // SIP user for the agent's phone
	Skills    []Skill   `json:"skills"`
	Languages []string  `json:"languages"`
	Capacity  int       `json:"capacity"` // concurrent voice contacts, usually 1
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Queue is a line of waiting contacts served by agents with the required
// skills.
type Queue struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	RequiredSkills   []Skill   `json:"required_skills"` // minimum proficiency per skill
	Language         string    `json:"language,omitempty"`
	Strategy         string    `json:"strategy"` // longest_idle, least_occupied, most_skilled, round_robin, weighted_random
	ServiceLevelSecs int       `json:"service_level_secs"`
	OverflowQueueID  string    `json:"overflow_queue_id,omitempty"`
	OverflowAfterSec int       `json:"overflow_after_secs,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// Contact is a customer known by phone number or other identity.
type Contact struct {
	ID        string            `json:"id"`
	Name      string            `json:"name,omitempty"`
	Phone     string            `json:"phone,omitempty"`
	Email     string            `json:"email,omitempty"`
	Tier      string            `json:"tier,omitempty"` // e.g. "vip"
	Language  string            `json:"language,omitempty"`
	Attrs     map[string]string `json:"attrs,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// Call directions.
const (
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
)

// Call states, in the order a call usually passes through them.
const (
	CallRinging = "ringing"
	CallBot     = "bot"       // talking to the voicebot
	CallQueued  = "queued"    // handed off, waiting for an agent
	CallAgent   = "agent"     // talking to an agent
	CallEnded   = "ended"     // hung up
	CallHandoff = "handoff"   // hand-off requested, summary built
	CallAbandon = "abandoned" // caller hung up while queued
)

// Call is one conversation, from the first signal to hang-up.
type Call struct {
	ID            string     `json:"id"`
	Direction     string     `json:"direction"`
	Channel       string     `json:"channel"` // sip, webrtc, text
	From          string     `json:"from"`
	To            string     `json:"to"`
	ContactID     string     `json:"contact_id,omitempty"`
	QueueID       string     `json:"queue_id,omitempty"`
	AgentID       string     `json:"agent_id,omitempty"`
	CampaignID    string     `json:"campaign_id,omitempty"`
	State         string     `json:"state"`
	Disposition   string     `json:"disposition,omitempty"`
	Summary       string     `json:"summary,omitempty"` // hand-off or wrap-up summary
	RecordingPath string     `json:"recording_path,omitempty"`
	StartedAt     time.Time  `json:"started_at"`
	AnsweredAt    *time.Time `json:"answered_at,omitempty"`
	EndedAt       *time.Time `json:"ended_at,omitempty"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// Turn speakers.
const (
	SpeakerCaller = "caller"
	SpeakerBot    = "bot"
	SpeakerAgent  = "agent"
)

// Turn is one utterance of a transcript. Seq numbers the turns of a call from
// 1; appending a turn with a Seq already stored is a no-op, so retried writes
// never duplicate.
type Turn struct {
	CallID     string    `json:"call_id"`
	Seq        int       `json:"seq"`
	Speaker    string    `json:"speaker"`
	Text       string    `json:"text"`
	Intent     string    `json:"intent,omitempty"`
	Confidence float64   `json:"confidence,omitempty"`
	Sentiment  float64   `json:"sentiment,omitempty"` // -1 (negative) .. 1 (positive)
	Timings    Timings   `json:"timings,omitempty"`
	At         time.Time `json:"at"`
}

// Timings are the per-turn latencies of the voice loop in milliseconds, each
// measured from the caller's end of speech.
type Timings struct {
	ASRFinalMs      float64 `json:"asr_final_ms,omitempty"`
	LLMFirstTokenMs float64 `json:"llm_first_token_ms,omitempty"`
	TTSFirstAudioMs float64 `json:"tts_first_audio_ms,omitempty"`
	FirstRTPOutMs   float64 `json:"first_rtp_out_ms,omitempty"`
}

// CallEvent is something that happened to a call: answered, dtmf, hold,
// bridged, hangup, handoff... Seq numbers the events of a call from 1 and makes
// retried appends idempotent.
type CallEvent struct {
	CallID string            `json:"call_id"`
	Seq    int               `json:"seq"`
	Type   string            `json:"type"`
	By     string            `json:"by,omitempty"` // caller, agent, bot, system
	Data   map[string]string `json:"data,omitempty"`
	At     time.Time         `json:"at"`
}

// CallFilter narrows ListCalls. Zero values match everything.
type CallFilter struct {
	State   string
	QueueID string
	AgentID string
	Since   time.Time
	Limit   int // 0 means a default of 100
}

// Campaign states.
const (
	CampaignDraft   = "draft"
	CampaignRunning = "running"
	CampaignPaused  = "paused"
	CampaignStopped = "stopped"
	CampaignDone    = "done"
)

// Campaign places outbound calls (callbacks, surveys, reminders) under line
// limits and compliance rules.
type Campaign struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Kind      string            `json:"kind"` // callback, survey, reminder
	State     string            `json:"state"`
	QueueID   string            `json:"queue_id,omitempty"`
	MaxLines  int               `json:"max_lines"`
	CallerID  string            `json:"caller_id,omitempty"`
	Settings  map[string]string `json:"settings,omitempty"` // calling window, retries, flow...
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// CampaignContact is one number on a campaign's list and how far dialing it
// has got.
type CampaignContact struct {
	CampaignID  string     `json:"campaign_id"`
	ID          string     `json:"id"`
	Phone       string     `json:"phone"`
	Name        string     `json:"name,omitempty"`
	Status      string     `json:"status"` // pending, dialing, answered, failed, done, skipped
	Attempts    int        `json:"attempts"`
	WindowStart *time.Time `json:"window_start,omitempty"`
	WindowEnd   *time.Time `json:"window_end,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	Summary     string     `json:"summary,omitempty"`
	LastCallID  string     `json:"last_call_id,omitempty"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Document is knowledge-base document metadata; bodies and chunks live with
// the knowledge index.
type Document struct {
	ID         string     `json:"id"`
	Title      string     `json:"title"`
	Category   string     `json:"category,omitempty"` // path: product/problem/solution
	Language   string     `json:"language,omitempty"`
	Tags       []string   `json:"tags,omitempty"`
	Format     string     `json:"format"` // markdown, html, text
	State      string     `json:"state"`  // draft, published
	Version    int        `json:"version"`
	Author     string     `json:"author,omitempty"`
	ChangeNote string     `json:"change_note,omitempty"`
	Body       string     `json:"body"`
	ValidFrom  *time.Time `json:"valid_from,omitempty"`
	ValidTo    *time.Time `json:"valid_to,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// EvalRun is one run of an eval suite with its results as JSON.
type EvalRun struct {
	ID         string    `json:"id"`
	Suite      string    `json:"suite"`
	Mode       string    `json:"mode"` // text, voice, replay
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Passed     int       `json:"passed"`
	Failed     int       `json:"failed"`
	Errored    int       `json:"errored"`
	Report     []byte    `json:"report,omitempty"` // JSON
}

// AuditEntry records who changed what.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`  // user or system component
	Action string    `json:"action"` // e.g. agent.create
	Target string    `json:"target"` // e.g. agent/a-1
	Detail string    `json:"detail,omitempty"`
}

// AgentStore keeps agents.
type AgentStore interface {
	CreateAgent(ctx context.Context, a *Agent) error
	GetAgent(ctx context.Context, id string) (*Agent, error)
	ListAgents(ctx context.Context) ([]Agent, error)
	UpdateAgent(ctx context.Context, a *Agent) error
	DeleteAgent(ctx context.Context, id string) error
}

// QueueStore keeps queues.
type QueueStore interface {
	CreateQueue(ctx context.Context, q *Queue) error
	GetQueue(ctx context.Context, id string) (*Queue, error)
	ListQueues(ctx context.Context) ([]Queue, error)
	UpdateQueue(ctx context.Context, q *Queue) error
	DeleteQueue(ctx context.Context, id string) error
}

// ContactStore keeps customers.
type ContactStore interface {
	UpsertContact(ctx context.Context, c *Contact) error
	GetContact(ctx context.Context, id string) (*Contact, error)
	FindContactByPhone(ctx context.Context, phone string) (*Contact, error)
}

// CallStore keeps calls, their transcript turns and their events.
type CallStore interface {
	// SaveCall inserts or replaces the call record.
	SaveCall(ctx context.Context, c *Call) error
	GetCall(ctx context.Context, id string) (*Call, error)
	ListCalls(ctx context.Context, f CallFilter) ([]Call, error)
	// AppendTurn stores a turn; a turn whose (CallID, Seq) is stored already
	// is ignored.
	AppendTurn(ctx context.Context, t Turn) error
	ListTurns(ctx context.Context, callID string) ([]Turn, error)
	// AppendCallEvent stores an event; an event whose (CallID, Seq) is stored
	// already is ignored.
	AppendCallEvent(ctx context.Context, e CallEvent) error
	ListCallEvents(ctx context.Context, callID string) ([]CallEvent, error)
}

// CampaignStore keeps campaigns and their contact lists.
type CampaignStore interface {
	CreateCampaign(ctx context.Context, c *Campaign) error
	GetCampaign(ctx context.Context, id string) (*Campaign, error)
	ListCampaigns(ctx context.Context) ([]Campaign, error)
	UpdateCampaign(ctx context.Context, c *Campaign) error
	DeleteCampaign(ctx context.Context, id string) error
	// AddCampaignContacts appends contacts in one transaction: all or none.
	AddCampaignContacts(ctx context.Context, contacts []CampaignContact) error
	ListCampaignContacts(ctx context.Context, campaignID string) ([]CampaignContact, error)
	UpdateCampaignContact(ctx context.Context, c *CampaignContact) error
}

// DocumentStore keeps knowledge-base document metadata and bodies, one row
// per version.
type DocumentStore interface {
	// SaveDocument stores a new version of the document; Version must be one
	// more than the stored latest (1 for a new document), else ErrConflict.
	SaveDocument(ctx context.Context, d *Document) error
	GetDocument(ctx context.Context, id string) (*Document, error) // latest version
	GetDocumentVersion(ctx context.Context, id string, version int) (*Document, error)
	ListDocuments(ctx context.Context) ([]Document, error) // latest version of each
	ListDocumentVersions(ctx context.Context, id string) ([]Document, error)
	DeleteDocument(ctx context.Context, id string) error
}

// KBFeedback is one judgement of a knowledge-base answer: whether the
// document helped with the query.
type KBFeedback struct {
	ID         int64     `json:"id"` // assigned by the store, increasing
	Query      string    `json:"query"`
	DocumentID string    `json:"document_id"`
	Version    int       `json:"version,omitempty"`
	Helpful    bool      `json:"helpful"`
	Source     string    `json:"source"` // agent or bot
	CallID     string    `json:"call_id,omitempty"`
	Actor      string    `json:"actor,omitempty"` // agent id or "bot"
	At         time.Time `json:"at"`
}

// KBSearch is one logged knowledge-base search, for editors' analytics.
type KBSearch struct {
	ID        int64     `json:"id"` // assigned by the store, increasing
	Query     string    `json:"query"`
	Documents []string  `json:"documents"`        // top results, best first
	Good      bool      `json:"good"`             // the top result plausibly answered
	Source    string    `json:"source,omitempty"` // api, bot, assist, cli
	At        time.Time `json:"at"`
}

// KBFeedbackStore keeps knowledge-base votes and the search log. Both are
// append-only and read in ID order so that every node can replay what any
// node wrote.
type KBFeedbackStore interface {
	// AppendKBFeedback stores a vote and sets f.ID; At defaults to now.
	AppendKBFeedback(ctx context.Context, f *KBFeedback) error
	// AppendKBSearches stores searches in one transaction: all or none.
	AppendKBSearches(ctx context.Context, s []KBSearch) error
	// ListKBFeedback returns votes with ID > afterID, oldest first, at most
	// limit (100 when 0).
	ListKBFeedback(ctx context.Context, afterID int64, limit int) ([]KBFeedback, error)
	// ListKBSearches returns searches with ID > afterID, oldest first, at
	// most limit (100 when 0).
	ListKBSearches(ctx context.Context, afterID int64, limit int) ([]KBSearch, error)
}

// EvalStore keeps eval runs.
type EvalStore interface {
	SaveEvalRun(ctx context.Context, r *EvalRun) error
	GetEvalRun(ctx context.Context, id string) (*EvalRun, error)
	ListEvalRuns(ctx context.Context, suite string) ([]EvalRun, error)
}

// GrainStateStore keeps snapshots of grain state (Agent presence, Queue
// contents, Campaign progress) so a grain re-activated on another node
// resumes where it was.
type GrainStateStore interface {
	SaveGrainState(ctx context.Context, kind, id string, state []byte) error
	// LoadGrainState returns ErrNotFound when nothing was saved.
	LoadGrainState(ctx context.Context, kind, id string) ([]byte, error)
	DeleteGrainState(ctx context.Context, kind, id string) error
}

// AuditStore keeps the audit log.
type AuditStore interface {
	AppendAudit(ctx context.Context, e AuditEntry) error
	ListAudit(ctx context.Context, limit int) ([]AuditEntry, error)
}
