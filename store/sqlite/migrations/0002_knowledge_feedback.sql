-- Knowledge-base votes and search log (append-only, replayed by ID).
CREATE TABLE kb_feedback (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	query TEXT NOT NULL,
	document_id TEXT NOT NULL,
	version INTEGER NOT NULL,
	helpful INTEGER NOT NULL,
	source TEXT NOT NULL,
	call_id TEXT NOT NULL,
	actor TEXT NOT NULL,
	at TEXT NOT NULL
);
CREATE INDEX kb_feedback_document ON kb_feedback (document_id);

CREATE TABLE kb_searches (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	query TEXT NOT NULL,
	documents TEXT NOT NULL,
	good INTEGER NOT NULL,
	source TEXT NOT NULL,
	at TEXT NOT NULL
);
