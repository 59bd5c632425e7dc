package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parley-cc/parley/store"
)

// Defaults applied by the list methods when the caller gives no limit.
const defaultLimit = 100

// Store implements store.Store over one writer pool and one reader pool
// (they may be the same *sql.DB).
type Store struct {
	w, r     *sql.DB
	wst, rst *stmtCache // nil unless the dialect prepares statements
	d        Dialect
	close    func() error
	now      func() time.Time
}

var _ store.Store = (*Store)(nil)

// New returns a Store that writes through w, reads through r and calls
// closeFn on Close.
func New(w, r *sql.DB, d Dialect, closeFn func() error) *Store {
	s := &Store{w: w, r: r, d: d, close: closeFn, now: time.Now}
	if d.PrepareStatements {
		s.wst, s.rst = newStmtCache(w), newStmtCache(r)
	}
	return s
}

// Ping reports whether the database answers. It asks the reader pool so that
// a long write does not make a node look down.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.queryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping %s: %w", s.d.Name, err)
	}
	return nil
}

// Close releases the prepared statements and the connections.
func (s *Store) Close() error {
	var errs []error
	if s.wst != nil {
		errs = append(errs, s.wst.close(), s.rst.close())
	}
	return errors.Join(append(errs, s.close())...)
}

// stamp returns the current time as stored.
func (s *Store) stamp() time.Time { return norm(s.now()) }

func (s *Store) t(t time.Time) any { return s.d.Time(norm(t)) }

func (s *Store) nt(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.t(*t)
}

func normPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := norm(*t)
	return &n
}

// wrap classifies a driver error and says what failed.
func (s *Store) wrap(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", msg, store.ErrNotFound)
	}
	if cls := s.d.Classify(err); cls != nil {
		return fmt.Errorf("%s: %w: %w", msg, cls, err)
	}
	return fmt.Errorf("%s: %s: %w", msg, s.d.Name, err)
}

// wrapChild is wrap for a row that refers to a parent: a missing parent
// says which one, rather than the driver's foreign-key message.
func (s *Store) wrapChild(err error, parent, parentID, format string, args ...any) error {
	if s.d.Classify(err) == store.ErrNotFound {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), notFound(parent, parentID))
	}
	return s.wrap(err, format, args...)
}

func notFound(what, id string) error { return fmt.Errorf("%s %q: %w", what, id, store.ErrNotFound) }

func jsonArg(v any, field string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", store.Invalidf("%s: %v", field, err)
	}
	return string(b), nil
}

func checkSkills(where string, skills []store.Skill) error {
	for i, sk := range skills {
		if strings.TrimSpace(sk.Name) == "" {
			return store.Invalidf("%s[%d]: skill name is empty", where, i)
		}
		if sk.Proficiency < 0 || sk.Proficiency > 5 {
			return store.Invalidf("%s[%d] %q: proficiency %d outside 0..5", where, i, sk.Name, sk.Proficiency)
		}
	}
	return nil
}

func needID(kind, id string) error {
	if strings.TrimSpace(id) == "" {
		return store.Invalidf("%s: id is empty", kind)
	}
	return nil
}

// rowsAffected turns "no row matched" into ErrNotFound.
func (s *Store) rowsAffected(res sql.Result, err error, what, id, op string) error {
	if err != nil {
		return s.wrap(err, "%s %s %q", op, what, id)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap(err, "%s %s %q", op, what, id)
	}
	if n == 0 {
		return notFound(what, id)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

// ---- agents ----

const agentCols = `id, name, email, extension, skills, languages, capacity, created_at, updated_at`

func scanAgent(sc scanner) (store.Agent, error) {
	var a store.Agent
	err := sc.Scan(&a.ID, &a.Name, &a.Email, &a.Extension, jsonCol{&a.Skills}, jsonCol{&a.Languages},
		&a.Capacity, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt})
	return a, err
}

func (s *Store) agentArgs(a *store.Agent) ([]any, error) {
	if a == nil {
		return nil, store.Invalidf("agent is nil")
	}
	if err := needID("agent", a.ID); err != nil {
		return nil, err
	}
	if a.Capacity < 0 {
		return nil, store.Invalidf("agent %q: capacity %d is negative", a.ID, a.Capacity)
	}
	if err := checkSkills(fmt.Sprintf("agent %q: skills", a.ID), a.Skills); err != nil {
		return nil, err
	}
	skills, err := jsonArg(a.Skills, "agent skills")
	if err != nil {
		return nil, err
	}
	langs, err := jsonArg(a.Languages, "agent languages")
	if err != nil {
		return nil, err
	}
	return []any{a.ID, a.Name, a.Email, a.Extension, skills, langs, a.Capacity}, nil
}

// CreateAgent stores a new agent; an existing id is ErrConflict.
func (s *Store) CreateAgent(ctx context.Context, a *store.Agent) error {
	args, err := s.agentArgs(a)
	if err != nil {
		return err
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.stamp()
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = a.CreatedAt
	}
	a.CreatedAt, a.UpdatedAt = norm(a.CreatedAt), norm(a.UpdatedAt)
	args = append(args, s.t(a.CreatedAt), s.t(a.UpdatedAt))
	_, err = s.exec(ctx, `INSERT INTO agents (`+agentCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`, args...)
	if err != nil {
		return s.wrap(err, "create agent %q", a.ID)
	}
	return nil
}

// GetAgent returns the agent or ErrNotFound.
func (s *Store) GetAgent(ctx context.Context, id string) (*store.Agent, error) {
	a, err := scanAgent(s.queryRow(ctx, `SELECT `+agentCols+` FROM agents WHERE id = $1`, id))
	if err != nil {
		return nil, s.wrap(err, "get agent %q", id)
	}
	return &a, nil
}

// ListAgents returns every agent ordered by id.
func (s *Store) ListAgents(ctx context.Context) ([]store.Agent, error) {
	return list(ctx, s, "list agents", scanAgent, `SELECT `+agentCols+` FROM agents ORDER BY id`)
}

// UpdateAgent replaces the agent's fields; UpdatedAt becomes now and
// CreatedAt is kept from the stored record.
func (s *Store) UpdateAgent(ctx context.Context, a *store.Agent) error {
	args, err := s.agentArgs(a)
	if err != nil {
		return err
	}
	now := s.stamp()
	args = append(args, s.t(now))
	var created time.Time
	err = s.queryRowW(ctx, `UPDATE agents SET name = $2, email = $3, extension = $4, skills = $5,
		languages = $6, capacity = $7, updated_at = $8 WHERE id = $1 RETURNING created_at`, args...).Scan(timeCol{&created})
	if err != nil {
		return s.wrap(err, "update agent %q", a.ID)
	}
	a.CreatedAt, a.UpdatedAt = created, now
	return nil
}

// DeleteAgent removes the agent or returns ErrNotFound.
func (s *Store) DeleteAgent(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `DELETE FROM agents WHERE id = $1`, id)
	return s.rowsAffected(res, err, "agent", id, "delete")
}

// ---- queues ----

const queueCols = `id, name, required_skills, language, strategy, service_level_secs, overflow_queue_id,
	overflow_after_secs, created_at, updated_at`

func scanQueue(sc scanner) (store.Queue, error) {
	var q store.Queue
	err := sc.Scan(&q.ID, &q.Name, jsonCol{&q.RequiredSkills}, &q.Language, &q.Strategy, &q.ServiceLevelSecs,
		&q.OverflowQueueID, &q.OverflowAfterSec, timeCol{&q.CreatedAt}, timeCol{&q.UpdatedAt})
	return q, err
}

func (s *Store) queueArgs(q *store.Queue) ([]any, error) {
	if q == nil {
		return nil, store.Invalidf("queue is nil")
	}
	if err := needID("queue", q.ID); err != nil {
		return nil, err
	}
	if q.ServiceLevelSecs < 0 || q.OverflowAfterSec < 0 {
		return nil, store.Invalidf("queue %q: service_level_secs and overflow_after_secs must not be negative", q.ID)
	}
	if err := checkSkills(fmt.Sprintf("queue %q: required_skills", q.ID), q.RequiredSkills); err != nil {
		return nil, err
	}
	skills, err := jsonArg(q.RequiredSkills, "queue required_skills")
	if err != nil {
		return nil, err
	}
	return []any{q.ID, q.Name, skills, q.Language, q.Strategy, q.ServiceLevelSecs, q.OverflowQueueID, q.OverflowAfterSec}, nil
}

// CreateQueue stores a new queue; an existing id is ErrConflict.
func (s *Store) CreateQueue(ctx context.Context, q *store.Queue) error {
	args, err := s.queueArgs(q)
	if err != nil {
		return err
	}
	if q.CreatedAt.IsZero() {
		q.CreatedAt = s.stamp()
	}
	if q.UpdatedAt.IsZero() {
		q.UpdatedAt = q.CreatedAt
	}
	q.CreatedAt, q.UpdatedAt = norm(q.CreatedAt), norm(q.UpdatedAt)
	args = append(args, s.t(q.CreatedAt), s.t(q.UpdatedAt))
	_, err = s.exec(ctx, `INSERT INTO queues (`+queueCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`, args...)
	if err != nil {
		return s.wrap(err, "create queue %q", q.ID)
	}
	return nil
}

// GetQueue returns the queue or ErrNotFound.
func (s *Store) GetQueue(ctx context.Context, id string) (*store.Queue, error) {
	q, err := scanQueue(s.queryRow(ctx, `SELECT `+queueCols+` FROM queues WHERE id = $1`, id))
	if err != nil {
		return nil, s.wrap(err, "get queue %q", id)
	}
	return &q, nil
}

// ListQueues returns every queue ordered by id.
func (s *Store) ListQueues(ctx context.Context) ([]store.Queue, error) {
	return list(ctx, s, "list queues", scanQueue, `SELECT `+queueCols+` FROM queues ORDER BY id`)
}

// UpdateQueue replaces the queue's fields; UpdatedAt becomes now and
// CreatedAt is kept from the stored record.
func (s *Store) UpdateQueue(ctx context.Context, q *store.Queue) error {
	args, err := s.queueArgs(q)
	if err != nil {
		return err
	}
	now := s.stamp()
	args = append(args, s.t(now))
	var created time.Time
	err = s.queryRowW(ctx, `UPDATE queues SET name = $2, required_skills = $3, language = $4, strategy = $5,
		service_level_secs = $6, overflow_queue_id = $7, overflow_after_secs = $8, updated_at = $9
		WHERE id = $1 RETURNING created_at`, args...).Scan(timeCol{&created})
	if err != nil {
		return s.wrap(err, "update queue %q", q.ID)
	}
	q.CreatedAt, q.UpdatedAt = created, now
	return nil
}

// DeleteQueue removes the queue or returns ErrNotFound.
func (s *Store) DeleteQueue(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `DELETE FROM queues WHERE id = $1`, id)
	return s.rowsAffected(res, err, "queue", id, "delete")
}

// ---- contacts ----

const contactCols = `id, name, phone, email, tier, language, attrs, created_at, updated_at`

func scanContact(sc scanner) (store.Contact, error) {
	var c store.Contact
	err := sc.Scan(&c.ID, &c.Name, &c.Phone, &c.Email, &c.Tier, &c.Language, jsonCol{&c.Attrs},
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt})
	return c, err
}

// UpsertContact inserts the contact or replaces the stored one with the same
// id; a phone number held by another contact is ErrConflict.
func (s *Store) UpsertContact(ctx context.Context, c *store.Contact) error {
	if c == nil {
		return store.Invalidf("contact is nil")
	}
	if err := needID("contact", c.ID); err != nil {
		return err
	}
	attrs, err := jsonArg(c.Attrs, "contact attrs")
	if err != nil {
		return err
	}
	now := s.stamp()
	created := now
	if !c.CreatedAt.IsZero() {
		created = norm(c.CreatedAt)
	}
	var stored time.Time
	err = s.queryRowW(ctx, `INSERT INTO contacts (`+contactCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, phone = excluded.phone, email = excluded.email,
		tier = excluded.tier, language = excluded.language, attrs = excluded.attrs, updated_at = excluded.updated_at
		RETURNING created_at`,
		c.ID, c.Name, c.Phone, c.Email, c.Tier, c.Language, attrs, s.t(created), s.t(now)).Scan(timeCol{&stored})
	if err != nil {
		return s.wrap(err, "upsert contact %q", c.ID)
	}
	c.CreatedAt, c.UpdatedAt = stored, now
	return nil
}

// GetContact returns the contact or ErrNotFound.
func (s *Store) GetContact(ctx context.Context, id string) (*store.Contact, error) {
	c, err := scanContact(s.queryRow(ctx, `SELECT `+contactCols+` FROM contacts WHERE id = $1`, id))
	if err != nil {
		return nil, s.wrap(err, "get contact %q", id)
	}
	return &c, nil
}

// FindContactByPhone returns the contact with this phone number or
// ErrNotFound.
func (s *Store) FindContactByPhone(ctx context.Context, phone string) (*store.Contact, error) {
	if phone == "" {
		return nil, store.Invalidf("find contact: phone is empty")
	}
	c, err := scanContact(s.queryRow(ctx, `SELECT `+contactCols+` FROM contacts WHERE phone = $1`, phone))
	if err != nil {
		return nil, s.wrap(err, "find contact by phone %q", phone)
	}
	return &c, nil
}

// ---- calls ----

const callCols = `id, direction, channel, from_addr, to_addr, contact_id, queue_id, agent_id, campaign_id, state,
	disposition, summary, recording_path, started_at, answered_at, ended_at, updated_at`

func scanCall(sc scanner) (store.Call, error) {
	var c store.Call
	err := sc.Scan(&c.ID, &c.Direction, &c.Channel, &c.From, &c.To, &c.ContactID, &c.QueueID, &c.AgentID,
		&c.CampaignID, &c.State, &c.Disposition, &c.Summary, &c.RecordingPath, timeCol{&c.StartedAt},
		nullTimeCol{&c.AnsweredAt}, nullTimeCol{&c.EndedAt}, timeCol{&c.UpdatedAt})
	return c, err
}

// SaveCall inserts the call or replaces the stored one; StartedAt defaults
// to now and UpdatedAt becomes now.
func (s *Store) SaveCall(ctx context.Context, c *store.Call) error {
	if c == nil {
		return store.Invalidf("call is nil")
	}
	if err := needID("call", c.ID); err != nil {
		return err
	}
	now := s.stamp()
	if c.StartedAt.IsZero() {
		c.StartedAt = now
	}
	c.StartedAt, c.AnsweredAt, c.EndedAt, c.UpdatedAt = norm(c.StartedAt), normPtr(c.AnsweredAt), normPtr(c.EndedAt), now
	_, err := s.exec(ctx, `INSERT INTO calls (`+callCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)
		ON CONFLICT (id) DO UPDATE SET direction = excluded.direction, channel = excluded.channel,
		from_addr = excluded.from_addr, to_addr = excluded.to_addr, contact_id = excluded.contact_id,
		queue_id = excluded.queue_id, agent_id = excluded.agent_id, campaign_id = excluded.campaign_id,
		state = excluded.state, disposition = excluded.disposition, summary = excluded.summary,
		recording_path = excluded.recording_path, started_at = excluded.started_at,
		answered_at = excluded.answered_at, ended_at = excluded.ended_at, updated_at = excluded.updated_at`,
		c.ID, c.Direction, c.Channel, c.From, c.To, c.ContactID, c.QueueID, c.AgentID, c.CampaignID, c.State,
		c.Disposition, c.Summary, c.RecordingPath, s.t(c.StartedAt), s.nt(c.AnsweredAt), s.nt(c.EndedAt), s.t(now))
	if err != nil {
		return s.wrap(err, "save call %q", c.ID)
	}
	return nil
}

// GetCall returns the call or ErrNotFound.
func (s *Store) GetCall(ctx context.Context, id string) (*store.Call, error) {
	c, err := scanCall(s.queryRow(ctx, `SELECT `+callCols+` FROM calls WHERE id = $1`, id))
	if err != nil {
		return nil, s.wrap(err, "get call %q", id)
	}
	return &c, nil
}

// ListCalls returns the calls matching f, most recently started first.
func (s *Store) ListCalls(ctx context.Context, f store.CallFilter) ([]store.Call, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.State != "" {
		add("state = $%d", f.State)
	}
	if f.QueueID != "" {
		add("queue_id = $%d", f.QueueID)
	}
	if f.AgentID != "" {
		add("agent_id = $%d", f.AgentID)
	}
	if !f.Since.IsZero() {
		add("started_at >= $%d", s.t(f.Since))
	}
	if f.Limit < 0 {
		return nil, store.Invalidf("list calls: limit %d is negative", f.Limit)
	}
	limit := f.Limit
	if limit == 0 {
		limit = defaultLimit
	}
	q := `SELECT ` + callCols + ` FROM calls`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY started_at DESC, id LIMIT $%d`, len(args))
	return list(ctx, s, "list calls", scanCall, q, args...)
}

// callExists tells ErrNotFound apart from an empty list.
func (s *Store) callExists(ctx context.Context, id string) error {
	var one int
	if err := s.queryRow(ctx, `SELECT 1 FROM calls WHERE id = $1`, id).Scan(&one); err != nil {
		return s.wrap(err, "call %q", id)
	}
	return nil
}

// AppendTurn stores a turn of a saved call; a turn whose (CallID, Seq) is
// stored already is ignored, and an unknown call is ErrNotFound.
func (s *Store) AppendTurn(ctx context.Context, t store.Turn) error {
	if err := needID("turn call", t.CallID); err != nil {
		return err
	}
	if t.Seq < 1 {
		return store.Invalidf("turn of call %q: seq %d must be 1 or more", t.CallID, t.Seq)
	}
	if t.At.IsZero() {
		t.At = s.now()
	}
	timings, err := jsonArg(t.Timings, "turn timings")
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, `INSERT INTO call_turns (call_id, seq, speaker, text, intent, confidence, sentiment, timings, at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (call_id, seq) DO NOTHING`,
		t.CallID, t.Seq, t.Speaker, t.Text, t.Intent, t.Confidence, t.Sentiment, timings, s.t(t.At))
	if err != nil {
		return s.wrapChild(err, "call", t.CallID, "append turn %d", t.Seq)
	}
	return nil
}

// ListTurns returns the call's turns in Seq order; an unknown call is
// ErrNotFound.
func (s *Store) ListTurns(ctx context.Context, callID string) ([]store.Turn, error) {
	ts, err := list(ctx, s, "list turns", func(sc scanner) (store.Turn, error) {
		var t store.Turn
		err := sc.Scan(&t.CallID, &t.Seq, &t.Speaker, &t.Text, &t.Intent, &t.Confidence, &t.Sentiment,
			jsonCol{&t.Timings}, timeCol{&t.At})
		return t, err
	}, `SELECT call_id, seq, speaker, text, intent, confidence, sentiment, timings, at
		FROM call_turns WHERE call_id = $1 ORDER BY seq`, callID)
	if err == nil && len(ts) == 0 {
		err = s.callExists(ctx, callID)
	}
	if err != nil {
		return nil, err
	}
	return ts, nil
}

// AppendCallEvent stores an event of a saved call; an event whose (CallID,
// Seq) is stored already is ignored, and an unknown call is ErrNotFound.
func (s *Store) AppendCallEvent(ctx context.Context, e store.CallEvent) error {
	if err := needID("call event call", e.CallID); err != nil {
		return err
	}
	if e.Seq < 1 {
		return store.Invalidf("event of call %q: seq %d must be 1 or more", e.CallID, e.Seq)
	}
	if e.Type == "" {
		return store.Invalidf("event %d of call %q: type is empty", e.Seq, e.CallID)
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	data, err := jsonArg(e.Data, "call event data")
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, `INSERT INTO call_events (call_id, seq, type, by_whom, data, at)
		VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (call_id, seq) DO NOTHING`,
		e.CallID, e.Seq, e.Type, e.By, data, s.t(e.At))
	if err != nil {
		return s.wrapChild(err, "call", e.CallID, "append event %d", e.Seq)
	}
	return nil
}

// ListCallEvents returns the call's events in Seq order; an unknown call is
// ErrNotFound.
func (s *Store) ListCallEvents(ctx context.Context, callID string) ([]store.CallEvent, error) {
	es, err := list(ctx, s, "list call events", func(sc scanner) (store.CallEvent, error) {
		var e store.CallEvent
		err := sc.Scan(&e.CallID, &e.Seq, &e.Type, &e.By, jsonCol{&e.Data}, timeCol{&e.At})
		return e, err
	}, `SELECT call_id, seq, type, by_whom, data, at FROM call_events WHERE call_id = $1 ORDER BY seq`, callID)
	if err == nil && len(es) == 0 {
		err = s.callExists(ctx, callID)
	}
	if err != nil {
		return nil, err
	}
	return es, nil
}

// ---- campaigns ----

const campaignCols = `id, name, kind, state, queue_id, max_lines, caller_id, settings, created_at, updated_at`

func scanCampaign(sc scanner) (store.Campaign, error) {
	var c store.Campaign
	err := sc.Scan(&c.ID, &c.Name, &c.Kind, &c.State, &c.QueueID, &c.MaxLines, &c.CallerID, jsonCol{&c.Settings},
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt})
	return c, err
}

func (s *Store) campaignArgs(c *store.Campaign) ([]any, error) {
	if c == nil {
		return nil, store.Invalidf("campaign is nil")
	}
	if err := needID("campaign", c.ID); err != nil {
		return nil, err
	}
	if c.MaxLines < 0 {
		return nil, store.Invalidf("campaign %q: max_lines %d is negative", c.ID, c.MaxLines)
	}
	if c.State == "" {
		c.State = store.CampaignDraft
	}
	settings, err := jsonArg(c.Settings, "campaign settings")
	if err != nil {
		return nil, err
	}
	return []any{c.ID, c.Name, c.Kind, c.State, c.QueueID, c.MaxLines, c.CallerID, settings}, nil
}

// CreateCampaign stores a new campaign (State defaults to draft); an
// existing id is ErrConflict.
func (s *Store) CreateCampaign(ctx context.Context, c *store.Campaign) error {
	args, err := s.campaignArgs(c)
	if err != nil {
		return err
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.stamp()
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	c.CreatedAt, c.UpdatedAt = norm(c.CreatedAt), norm(c.UpdatedAt)
	args = append(args, s.t(c.CreatedAt), s.t(c.UpdatedAt))
	_, err = s.exec(ctx, `INSERT INTO campaigns (`+campaignCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`, args...)
	if err != nil {
		return s.wrap(err, "create campaign %q", c.ID)
	}
	return nil
}

// GetCampaign returns the campaign or ErrNotFound.
func (s *Store) GetCampaign(ctx context.Context, id string) (*store.Campaign, error) {
	c, err := scanCampaign(s.queryRow(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE id = $1`, id))
	if err != nil {
		return nil, s.wrap(err, "get campaign %q", id)
	}
	return &c, nil
}

// ListCampaigns returns every campaign ordered by id.
func (s *Store) ListCampaigns(ctx context.Context) ([]store.Campaign, error) {
	return list(ctx, s, "list campaigns", scanCampaign, `SELECT `+campaignCols+` FROM campaigns ORDER BY id`)
}

// UpdateCampaign replaces the campaign's fields; UpdatedAt becomes now and
// CreatedAt is kept from the stored record.
func (s *Store) UpdateCampaign(ctx context.Context, c *store.Campaign) error {
	args, err := s.campaignArgs(c)
	if err != nil {
		return err
	}
	now := s.stamp()
	args = append(args, s.t(now))
	var created time.Time
	err = s.queryRowW(ctx, `UPDATE campaigns SET name = $2, kind = $3, state = $4, queue_id = $5,
		max_lines = $6, caller_id = $7, settings = $8, updated_at = $9 WHERE id = $1 RETURNING created_at`,
		args...).Scan(timeCol{&created})
	if err != nil {
		return s.wrap(err, "update campaign %q", c.ID)
	}
	c.CreatedAt, c.UpdatedAt = created, now
	return nil
}

// DeleteCampaign removes the campaign with its contact list, or returns
// ErrNotFound.
func (s *Store) DeleteCampaign(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `DELETE FROM campaigns WHERE id = $1`, id)
	return s.rowsAffected(res, err, "campaign", id, "delete")
}

const campaignContactCols = `campaign_id, id, phone, name, status, attempts, window_start, window_end, reason,
	summary, last_call_id, updated_at`

func scanCampaignContact(sc scanner) (store.CampaignContact, error) {
	var c store.CampaignContact
	err := sc.Scan(&c.CampaignID, &c.ID, &c.Phone, &c.Name, &c.Status, &c.Attempts, nullTimeCol{&c.WindowStart},
		nullTimeCol{&c.WindowEnd}, &c.Reason, &c.Summary, &c.LastCallID, timeCol{&c.UpdatedAt})
	return c, err
}

func checkCampaignContact(i int, c *store.CampaignContact) error {
	if c.CampaignID == "" {
		return store.Invalidf("campaign contact %d: campaign_id is empty", i)
	}
	if c.ID == "" {
		return store.Invalidf("campaign contact %d of campaign %q: id is empty", i, c.CampaignID)
	}
	if c.Attempts < 0 {
		return store.Invalidf("campaign contact %q of campaign %q: attempts %d is negative", c.ID, c.CampaignID, c.Attempts)
	}
	if c.Status == "" {
		c.Status = "pending"
	}
	return nil
}

// AddCampaignContacts appends contacts (Status defaults to pending) in one
// transaction: all or none. A duplicate id is ErrConflict, an unknown
// campaign ErrNotFound.
func (s *Store) AddCampaignContacts(ctx context.Context, contacts []store.CampaignContact) error {
	if len(contacts) == 0 {
		return nil
	}
	for i := range contacts {
		if err := checkCampaignContact(i, &contacts[i]); err != nil {
			return err
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err, "add campaign contacts: begin")
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	next := map[string]int64{}
	now := s.stamp()
	for i := range contacts {
		c := &contacts[i]
		pos, ok := next[c.CampaignID]
		if !ok {
			var max sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT MAX(pos) FROM campaign_contacts WHERE campaign_id = $1`,
				c.CampaignID).Scan(&max); err != nil {
				return s.wrap(err, "add contacts to campaign %q", c.CampaignID)
			}
			pos = max.Int64
		}
		pos++
		next[c.CampaignID] = pos
		c.WindowStart, c.WindowEnd, c.UpdatedAt = normPtr(c.WindowStart), normPtr(c.WindowEnd), now
		_, err := tx.ExecContext(ctx, `INSERT INTO campaign_contacts (`+campaignContactCols+`, pos)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
			c.CampaignID, c.ID, c.Phone, c.Name, c.Status, c.Attempts, s.nt(c.WindowStart), s.nt(c.WindowEnd),
			c.Reason, c.Summary, c.LastCallID, s.t(now), pos)
		if err != nil {
			return s.wrapChild(err, "campaign", c.CampaignID, "add contact %q", c.ID)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.wrap(err, "add campaign contacts: commit")
	}
	return nil
}

// ListCampaignContacts returns the campaign's contacts in the order they
// were added; an unknown campaign is ErrNotFound.
func (s *Store) ListCampaignContacts(ctx context.Context, campaignID string) ([]store.CampaignContact, error) {
	cs, err := list(ctx, s, "list campaign contacts", scanCampaignContact,
		`SELECT `+campaignContactCols+` FROM campaign_contacts WHERE campaign_id = $1 ORDER BY pos`, campaignID)
	if err == nil && len(cs) == 0 {
		var one int
		if err = s.queryRow(ctx, `SELECT 1 FROM campaigns WHERE id = $1`, campaignID).Scan(&one); err != nil {
			err = s.wrap(err, "campaign %q", campaignID)
		}
	}
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// UpdateCampaignContact replaces the contact's dialing progress; UpdatedAt
// becomes now.
func (s *Store) UpdateCampaignContact(ctx context.Context, c *store.CampaignContact) error {
	if c == nil {
		return store.Invalidf("campaign contact is nil")
	}
	if err := checkCampaignContact(0, c); err != nil {
		return err
	}
	now := s.stamp()
	c.WindowStart, c.WindowEnd = normPtr(c.WindowStart), normPtr(c.WindowEnd)
	res, err := s.exec(ctx, `UPDATE campaign_contacts SET phone = $3, name = $4, status = $5, attempts = $6,
		window_start = $7, window_end = $8, reason = $9, summary = $10, last_call_id = $11, updated_at = $12
		WHERE campaign_id = $1 AND id = $2`,
		c.CampaignID, c.ID, c.Phone, c.Name, c.Status, c.Attempts, s.nt(c.WindowStart), s.nt(c.WindowEnd),
		c.Reason, c.Summary, c.LastCallID, s.t(now))
	if err := s.rowsAffected(res, err, "campaign contact", c.CampaignID+"/"+c.ID, "update"); err != nil {
		return err
	}
	c.UpdatedAt = now
	return nil
}

// ---- documents ----

const documentCols = `id, version, title, category, language, tags, format, state, author, change_note, body,
	valid_from, valid_to, created_at, updated_at`

func scanDocument(sc scanner) (store.Document, error) {
	var d store.Document
	err := sc.Scan(&d.ID, &d.Version, &d.Title, &d.Category, &d.Language, jsonCol{&d.Tags}, &d.Format, &d.State,
		&d.Author, &d.ChangeNote, &d.Body, nullTimeCol{&d.ValidFrom}, nullTimeCol{&d.ValidTo},
		timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt})
	return d, err
}

// SaveDocument stores a new version of the document. Version must be one
// more than the stored latest (1 for a new document), else ErrConflict.
// CreatedAt defaults to the first version's, UpdatedAt to now.
func (s *Store) SaveDocument(ctx context.Context, d *store.Document) error {
	if d == nil {
		return store.Invalidf("document is nil")
	}
	if err := needID("document", d.ID); err != nil {
		return err
	}
	tags, err := jsonArg(d.Tags, "document tags")
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err, "save document %q: begin", d.ID)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var latest int
	var created time.Time
	err = tx.QueryRowContext(ctx, `SELECT version, created_at FROM documents WHERE id = $1 ORDER BY version DESC LIMIT 1`,
		d.ID).Scan(&latest, timeCol{&created})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return s.wrap(err, "save document %q", d.ID)
	}
	if d.Version != latest+1 {
		return fmt.Errorf("save document %q: version %d, want %d: %w", d.ID, d.Version, latest+1, store.ErrConflict)
	}
	now := s.stamp()
	switch {
	case !d.CreatedAt.IsZero():
		d.CreatedAt = norm(d.CreatedAt)
	case latest > 0:
		d.CreatedAt = created
	default:
		d.CreatedAt = now
	}
	if d.UpdatedAt.IsZero() {
		d.UpdatedAt = now
	}
	d.UpdatedAt, d.ValidFrom, d.ValidTo = norm(d.UpdatedAt), normPtr(d.ValidFrom), normPtr(d.ValidTo)
	_, err = tx.ExecContext(ctx, `INSERT INTO documents (`+documentCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)`,
		d.ID, d.Version, d.Title, d.Category, d.Language, tags, d.Format, d.State, d.Author, d.ChangeNote, d.Body,
		s.nt(d.ValidFrom), s.nt(d.ValidTo), s.t(d.CreatedAt), s.t(d.UpdatedAt))
	if err != nil {
		return s.wrap(err, "save document %q version %d", d.ID, d.Version)
	}
	if err := tx.Commit(); err != nil {
		return s.wrap(err, "save document %q version %d: commit", d.ID, d.Version)
	}
	return nil
}

// GetDocument returns the latest version of the document or ErrNotFound.
func (s *Store) GetDocument(ctx context.Context, id string) (*store.Document, error) {
	d, err := scanDocument(s.queryRow(ctx, `SELECT `+documentCols+` FROM documents WHERE id = $1
		ORDER BY version DESC LIMIT 1`, id))
	if err != nil {
		return nil, s.wrap(err, "get document %q", id)
	}
	return &d, nil
}

// GetDocumentVersion returns one version of the document or ErrNotFound.
func (s *Store) GetDocumentVersion(ctx context.Context, id string, version int) (*store.Document, error) {
	d, err := scanDocument(s.queryRow(ctx, `SELECT `+documentCols+` FROM documents
		WHERE id = $1 AND version = $2`, id, version))
	if err != nil {
		return nil, s.wrap(err, "get document %q version %d", id, version)
	}
	return &d, nil
}

// ListDocuments returns the latest version of each document ordered by id.
func (s *Store) ListDocuments(ctx context.Context) ([]store.Document, error) {
	return list(ctx, s, "list documents", scanDocument, `SELECT `+documentCols+` FROM documents d
		WHERE version = (SELECT MAX(version) FROM documents l WHERE l.id = d.id) ORDER BY id`)
}

// ListDocumentVersions returns every version of the document, oldest first;
// an unknown document is ErrNotFound.
func (s *Store) ListDocumentVersions(ctx context.Context, id string) ([]store.Document, error) {
	ds, err := list(ctx, s, "list document versions", scanDocument, `SELECT `+documentCols+` FROM documents
		WHERE id = $1 ORDER BY version`, id)
	if err == nil && len(ds) == 0 {
		err = notFound("document", id)
	}
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// DeleteDocument removes every version of the document or returns
// ErrNotFound.
func (s *Store) DeleteDocument(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `DELETE FROM documents WHERE id = $1`, id)
	return s.rowsAffected(res, err, "document", id, "delete")
}

// ---- eval runs ----

const evalCols = `id, suite, mode, started_at, finished_at, passed, failed, errored, report`

func scanEvalRun(sc scanner) (store.EvalRun, error) {
	var r store.EvalRun
	err := sc.Scan(&r.ID, &r.Suite, &r.Mode, timeCol{&r.StartedAt}, timeCol{&r.FinishedAt}, &r.Passed, &r.Failed,
		&r.Errored, bytesCol{&r.Report})
	return r, err
}

// SaveEvalRun inserts the run or replaces the stored one with the same id.
func (s *Store) SaveEvalRun(ctx context.Context, r *store.EvalRun) error {
	if r == nil {
		return store.Invalidf("eval run is nil")
	}
	if err := needID("eval run", r.ID); err != nil {
		return err
	}
	if r.Report != nil && !json.Valid(r.Report) {
		return store.Invalidf("eval run %q: report is not valid JSON", r.ID)
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = s.stamp()
	}
	r.StartedAt, r.FinishedAt = norm(r.StartedAt), norm(r.FinishedAt)
	var report any
	if r.Report != nil {
		report = r.Report
	}
	_, err := s.exec(ctx, `INSERT INTO eval_runs (`+evalCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
		ON CONFLICT (id) DO UPDATE SET suite = excluded.suite, mode = excluded.mode, started_at = excluded.started_at,
		finished_at = excluded.finished_at, passed = excluded.passed, failed = excluded.failed,
		errored = excluded.errored, report = excluded.report`,
		r.ID, r.Suite, r.Mode, s.t(r.StartedAt), s.t(r.FinishedAt), r.Passed, r.Failed, r.Errored, report)
	if err != nil {
		return s.wrap(err, "save eval run %q", r.ID)
	}
	return nil
}

// GetEvalRun returns the run or ErrNotFound.
func (s *Store) GetEvalRun(ctx context.Context, id string) (*store.EvalRun, error) {
	r, err := scanEvalRun(s.queryRow(ctx, `SELECT `+evalCols+` FROM eval_runs WHERE id = $1`, id))
	if err != nil {
		return nil, s.wrap(err, "get eval run %q", id)
	}
	return &r, nil
}

// ListEvalRuns returns the runs of suite (every suite when empty), most
// recently started first.
func (s *Store) ListEvalRuns(ctx context.Context, suite string) ([]store.EvalRun, error) {
	if suite == "" {
		return list(ctx, s, "list eval runs", scanEvalRun, `SELECT `+evalCols+` FROM eval_runs ORDER BY started_at DESC, id`)
	}
	return list(ctx, s, "list eval runs", scanEvalRun, `SELECT `+evalCols+` FROM eval_runs WHERE suite = $1
		ORDER BY started_at DESC, id`, suite)
}

// ---- grain state ----

func grainKey(kind, id string) error {
	if kind == "" || id == "" {
		return store.Invalidf("grain state: kind %q and id %q must both be set", kind, id)
	}
	return nil
}

// SaveGrainState stores the latest snapshot of a grain.
func (s *Store) SaveGrainState(ctx context.Context, kind, id string, state []byte) error {
	if err := grainKey(kind, id); err != nil {
		return err
	}
	if state == nil {
		state = []byte{}
	}
	_, err := s.exec(ctx, `INSERT INTO grain_states (kind, id, state, updated_at) VALUES ($1,$2,$3,$4)
		ON CONFLICT (kind, id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
		kind, id, state, s.t(s.now()))
	if err != nil {
		return s.wrap(err, "save %s grain state %q", kind, id)
	}
	return nil
}

// LoadGrainState returns the snapshot or ErrNotFound when nothing was saved.
func (s *Store) LoadGrainState(ctx context.Context, kind, id string) ([]byte, error) {
	if err := grainKey(kind, id); err != nil {
		return nil, err
	}
	var b []byte
	err := s.queryRow(ctx, `SELECT state FROM grain_states WHERE kind = $1 AND id = $2`, kind, id).Scan(bytesCol{&b})
	if err != nil {
		return nil, s.wrap(err, "load %s grain state %q", kind, id)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// DeleteGrainState removes the snapshot; deleting nothing is not an error,
// so a grain may clear its state unconditionally.
func (s *Store) DeleteGrainState(ctx context.Context, kind, id string) error {
	if err := grainKey(kind, id); err != nil {
		return err
	}
	if _, err := s.exec(ctx, `DELETE FROM grain_states WHERE kind = $1 AND id = $2`, kind, id); err != nil {
		return s.wrap(err, "delete %s grain state %q", kind, id)
	}
	return nil
}

// ---- audit ----

// AppendAudit records an entry; At defaults to now and the database assigns
// ID (e.ID is ignored).
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	if e.Action == "" {
		return store.Invalidf("audit entry: action is empty")
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	_, err := s.exec(ctx, `INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1,$2,$3,$4,$5)`,
		s.t(e.At), e.Actor, e.Action, e.Target, e.Detail)
	if err != nil {
		return s.wrap(err, "append audit %s %s", e.Action, e.Target)
	}
	return nil
}

// ListAudit returns the newest limit entries (100 when limit is 0), newest
// first.
func (s *Store) ListAudit(ctx context.Context, limit int) ([]store.AuditEntry, error) {
	if limit < 0 {
		return nil, store.Invalidf("list audit: limit %d is negative", limit)
	}
	if limit == 0 {
		limit = defaultLimit
	}
	return list(ctx, s, "list audit", func(sc scanner) (store.AuditEntry, error) {
		var e store.AuditEntry
		err := sc.Scan(&e.ID, timeCol{&e.At}, &e.Actor, &e.Action, &e.Target, &e.Detail)
		return e, err
	}, `SELECT id, at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT $1`, limit)
}

// list runs a query on the reader pool and scans every row; it never
// returns a nil slice without an error.
func list[T any](ctx context.Context, s *Store, what string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap(err, "%s", what)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, s.wrap(err, "%s: scan", what)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, "%s", what)
	}
	return out, nil
}
