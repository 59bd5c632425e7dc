package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/parley-cc/parley/store"
)

// ---- knowledge-base votes and search log ----

func checkKBSource(what, source string) error {
	switch source {
	case "agent", "bot":
		return nil
	}
	return store.Invalidf("%s: source %q (want agent or bot)", what, source)
}

// AppendKBFeedback stores a vote and sets f.ID; At defaults to now.
func (s *Store) AppendKBFeedback(ctx context.Context, f *store.KBFeedback) error {
	if f == nil {
		return store.Invalidf("kb feedback is nil")
	}
	if strings.TrimSpace(f.DocumentID) == "" {
		return store.Invalidf("kb feedback: document_id is empty")
	}
	if err := checkKBSource(fmt.Sprintf("kb feedback on %q", f.DocumentID), f.Source); err != nil {
		return err
	}
	if f.At.IsZero() {
		f.At = s.stamp()
	}
	f.At = norm(f.At)
	err := s.queryRowW(ctx, `INSERT INTO kb_feedback (query, document_id, version, helpful, source, call_id, actor, at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id`,
		f.Query, f.DocumentID, f.Version, f.Helpful, f.Source, f.CallID, f.Actor, s.t(f.At)).Scan(&f.ID)
	if err != nil {
		return s.wrap(err, "append kb feedback on %q", f.DocumentID)
	}
	return nil
}

// AppendKBSearches stores searches in one transaction: all or none. IDs are
// not reported back (the log is read by ListKBSearches).
func (s *Store) AppendKBSearches(ctx context.Context, searches []store.KBSearch) error {
	if len(searches) == 0 {
		return nil
	}
	args := make([][]any, len(searches))
	for i := range searches {
		k := &searches[i]
		docs := k.Documents
		if docs == nil {
			docs = []string{}
		}
		js, err := jsonArg(docs, fmt.Sprintf("kb search %d documents", i))
		if err != nil {
			return err
		}
		if k.At.IsZero() {
			k.At = s.stamp()
		}
		args[i] = []any{k.Query, js, k.Good, k.Source, s.t(k.At)}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err, "append %d kb searches: begin", len(searches))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for i, a := range args {
		if _, err := tx.ExecContext(ctx, `INSERT INTO kb_searches (query, documents, good, source, at) VALUES ($1,$2,$3,$4,$5)`, a...); err != nil {
			return s.wrap(err, "append kb search %d of %d", i+1, len(searches))
		}
	}
	if err := tx.Commit(); err != nil {
		return s.wrap(err, "append %d kb searches: commit", len(searches))
	}
	return nil
}

func pageLimit(what string, limit int) (int, error) {
	if limit < 0 {
		return 0, store.Invalidf("%s: limit %d is negative", what, limit)
	}
	if limit == 0 {
		return defaultLimit, nil
	}
	return limit, nil
}

// ListKBFeedback returns votes with ID > afterID, oldest first.
func (s *Store) ListKBFeedback(ctx context.Context, afterID int64, limit int) ([]store.KBFeedback, error) {
	limit, err := pageLimit("list kb feedback", limit)
	if err != nil {
		return nil, err
	}
	return list(ctx, s, "list kb feedback", func(sc scanner) (store.KBFeedback, error) {
		var f store.KBFeedback
		err := sc.Scan(&f.ID, &f.Query, &f.DocumentID, &f.Version, &f.Helpful, &f.Source, &f.CallID, &f.Actor, timeCol{&f.At})
		return f, err
	}, `SELECT id, query, document_id, version, helpful, source, call_id, actor, at FROM kb_feedback
		WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
}

// ListKBSearches returns searches with ID > afterID, oldest first.
func (s *Store) ListKBSearches(ctx context.Context, afterID int64, limit int) ([]store.KBSearch, error) {
	limit, err := pageLimit("list kb searches", limit)
	if err != nil {
		return nil, err
	}
	return list(ctx, s, "list kb searches", func(sc scanner) (store.KBSearch, error) {
		var k store.KBSearch
		err := sc.Scan(&k.ID, &k.Query, jsonCol{&k.Documents}, &k.Good, &k.Source, timeCol{&k.At})
		return k, err
	}, `SELECT id, query, documents, good, source, at FROM kb_searches WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
}
