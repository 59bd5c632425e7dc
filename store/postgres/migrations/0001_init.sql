-- Parley schema v1 for PostgreSQL. Times are TIMESTAMPTZ (microseconds, as
-- the SQLite schema keeps them); slices and maps are JSONB.

CREATE TABLE agents (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	email TEXT NOT NULL,
	extension TEXT NOT NULL,
	skills JSONB NOT NULL,
	languages JSONB NOT NULL,
	capacity INTEGER NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE queues (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	required_skills JSONB NOT NULL,
	language TEXT NOT NULL,
	strategy TEXT NOT NULL,
	service_level_secs INTEGER NOT NULL,
	overflow_queue_id TEXT NOT NULL,
	overflow_after_secs INTEGER NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE contacts (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	phone TEXT NOT NULL,
	email TEXT NOT NULL,
	tier TEXT NOT NULL,
	language TEXT NOT NULL,
	attrs JSONB NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX contacts_phone ON contacts (phone) WHERE phone <> '';

CREATE TABLE calls (
	id TEXT PRIMARY KEY,
	direction TEXT NOT NULL,
	channel TEXT NOT NULL,
	from_addr TEXT NOT NULL,
	to_addr TEXT NOT NULL,
	contact_id TEXT NOT NULL,
	queue_id TEXT NOT NULL,
	agent_id TEXT NOT NULL,
	campaign_id TEXT NOT NULL,
	state TEXT NOT NULL,
	disposition TEXT NOT NULL,
	summary TEXT NOT NULL,
	recording_path TEXT NOT NULL,
	started_at TIMESTAMPTZ NOT NULL,
	answered_at TIMESTAMPTZ,
	ended_at TIMESTAMPTZ,
	updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX calls_started ON calls (started_at);
CREATE INDEX calls_state ON calls (state, started_at);
CREATE INDEX calls_queue ON calls (queue_id, started_at);
CREATE INDEX calls_agent ON calls (agent_id, started_at);

CREATE TABLE call_turns (
	call_id TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
	seq INTEGER NOT NULL,
	speaker TEXT NOT NULL,
	text TEXT NOT NULL,
	intent TEXT NOT NULL,
	confidence DOUBLE PRECISION NOT NULL,
	sentiment DOUBLE PRECISION NOT NULL,
	timings JSONB NOT NULL,
	at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (call_id, seq)
);

CREATE TABLE call_events (
	call_id TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
	seq INTEGER NOT NULL,
	type TEXT NOT NULL,
	by_whom TEXT NOT NULL,
	data JSONB NOT NULL,
	at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (call_id, seq)
);

CREATE TABLE campaigns (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	kind TEXT NOT NULL,
	state TEXT NOT NULL,
	queue_id TEXT NOT NULL,
	max_lines INTEGER NOT NULL,
	caller_id TEXT NOT NULL,
	settings JSONB NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE campaign_contacts (
	campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
	id TEXT NOT NULL,
	pos BIGINT NOT NULL,
	phone TEXT NOT NULL,
	name TEXT NOT NULL,
	status TEXT NOT NULL,
	attempts INTEGER NOT NULL,
	window_start TIMESTAMPTZ,
	window_end TIMESTAMPTZ,
	reason TEXT NOT NULL,
	summary TEXT NOT NULL,
	last_call_id TEXT NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (campaign_id, id)
);
CREATE INDEX campaign_contacts_pos ON campaign_contacts (campaign_id, pos);

CREATE TABLE documents (
	id TEXT NOT NULL,
	version INTEGER NOT NULL,
	title TEXT NOT NULL,
	category TEXT NOT NULL,
	language TEXT NOT NULL,
	tags JSONB NOT NULL,
	format TEXT NOT NULL,
	state TEXT NOT NULL,
	author TEXT NOT NULL,
	change_note TEXT NOT NULL,
	body TEXT NOT NULL,
	valid_from TIMESTAMPTZ,
	valid_to TIMESTAMPTZ,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (id, version)
);

CREATE TABLE eval_runs (
	id TEXT PRIMARY KEY,
	suite TEXT NOT NULL,
	mode TEXT NOT NULL,
	started_at TIMESTAMPTZ NOT NULL,
	finished_at TIMESTAMPTZ NOT NULL,
	passed INTEGER NOT NULL,
	failed INTEGER NOT NULL,
	errored INTEGER NOT NULL,
	report BYTEA
);
CREATE INDEX eval_runs_suite ON eval_runs (suite, started_at);

CREATE TABLE grain_states (
	kind TEXT NOT NULL,
	id TEXT NOT NULL,
	state BYTEA NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (kind, id)
);

CREATE TABLE audit_log (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at TIMESTAMPTZ NOT NULL,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	target TEXT NOT NULL,
	detail TEXT NOT NULL
);
