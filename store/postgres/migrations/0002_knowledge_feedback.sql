-- Knowledge-base votes and search log (append-only, replayed by ID).
CREATE TABLE kb_feedback (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	query TEXT NOT NULL,
	document_id TEXT NOT NULL,
	version INTEGER NOT NULL,
	helpful BOOLEAN NOT NULL,
	source TEXT NOT NULL,
	call_id TEXT NOT NULL,
	actor TEXT NOT NULL,
	at TIMESTAMPTZ NOT NULL
);
CREATE INDEX kb_feedback_document ON kb_feedback (document_id);

CREATE TABLE kb_searches (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	query TEXT NOT NULL,
	documents JSONB NOT NULL,
	good BOOLEAN NOT NULL,
	source TEXT NOT NULL,
	at TIMESTAMPTZ NOT NULL
);
