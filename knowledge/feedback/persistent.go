package feedback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-cc/parley/store"
)

// Log is where votes and searches are kept: store.Store satisfies it.
type Log interface {
	AppendKBFeedback(ctx context.Context, f *store.KBFeedback) error
	AppendKBSearches(ctx context.Context, s []store.KBSearch) error
	ListKBFeedback(ctx context.Context, afterID int64, limit int) ([]store.KBFeedback, error)
	ListKBSearches(ctx context.Context, afterID int64, limit int) ([]store.KBSearch, error)
}

// PersistentOptions tune a Persistent store; zero values take the defaults noted.
type PersistentOptions struct {
	// FlushInterval is how often logged searches are written and other
	// nodes' votes and searches read back; default 2s.
	FlushInterval time.Duration
	// MaxPending bounds searches held while the database is down; the
	// oldest are dropped (with a warning) beyond it. Default 100000.
	MaxPending int
	Logger     *slog.Logger
}

// Persistent is the feedback store of a node: votes and the search log go
// to the database, and the in-memory aggregates (which drive ranking and
// analytics) are rebuilt from the database's rows in ID order, so every
// node of a cluster converges on the same figures and a restart loses
// nothing.
type Persistent struct {
	mem *Memory
	log Log
	o   PersistentOptions

	mu      sync.Mutex // guards pending, dropped
	pending []store.KBSearch
	dropped int

	syncMu               sync.Mutex // one replay at a time
	lastVote, lastSearch int64

	stop chan struct{}
	done chan struct{}
}

// OpenPersistent replays the log into memory and starts the flush loop.
func OpenPersistent(ctx context.Context, log Log, o PersistentOptions) (*Persistent, error) {
	if o.FlushInterval <= 0 {
		o.FlushInterval = 2 * time.Second
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 100000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	p := &Persistent{mem: NewMemory(), log: log, o: o, stop: make(chan struct{}), done: make(chan struct{})}
	if err := p.Sync(ctx); err != nil {
		return nil, fmt.Errorf("open feedback: %w", err)
	}
	go p.loop()
	return p, nil
}

func (p *Persistent) loop() {
	defer close(p.done)
	t := time.NewTicker(p.o.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := p.Flush(ctx); err != nil {
			p.o.Logger.Warn("knowledge feedback: search log not written yet; will retry", "err", err)
		}
		cancel()
	}
}

// Sync applies rows written since the last sync (by any node) to memory.
func (p *Persistent) Sync(ctx context.Context) error {
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	for {
		votes, err := p.log.ListKBFeedback(ctx, p.lastVote, 1000)
		if err != nil {
			return fmt.Errorf("read knowledge feedback: %w", err)
		}
		for _, v := range votes {
			// Rows were validated on the way in; a vote the memory rejects
			// (an unknown source written by a newer node) is skipped.
			_ = p.mem.Record(ctx, Vote{Query: v.Query, DocumentID: v.DocumentID, Helpful: v.Helpful, Source: Source(v.Source), At: v.At})
			p.lastVote = v.ID
		}
		if len(votes) < 1000 {
			break
		}
	}
	for {
		searches, err := p.log.ListKBSearches(ctx, p.lastSearch, 1000)
		if err != nil {
			return fmt.Errorf("read knowledge search log: %w", err)
		}
		for _, s := range searches {
			p.mem.ObserveSearch(s.Query, s.Documents, s.Good)
			p.lastSearch = s.ID
		}
		if len(searches) < 1000 {
			return nil
		}
	}
}

// Flush writes the pending searches, then syncs.
func (p *Persistent) Flush(ctx context.Context) error {
	p.mu.Lock()
	batch := p.pending
	p.pending = nil
	dropped := p.dropped
	p.dropped = 0
	p.mu.Unlock()
	if dropped > 0 {
		p.o.Logger.Warn("knowledge feedback: search log overflowed while the database was down; oldest entries dropped", "dropped", dropped)
	}
	if len(batch) > 0 {
		if err := p.log.AppendKBSearches(ctx, batch); err != nil {
			p.mu.Lock()
			p.pending = append(batch, p.pending...)
			p.trimLocked()
			p.mu.Unlock()
			return fmt.Errorf("write %d knowledge searches: %w", len(batch), err)
		}
	}
	return p.Sync(ctx)
}

func (p *Persistent) trimLocked() {
	if over := len(p.pending) - p.o.MaxPending; over > 0 {
		p.pending = p.pending[over:]
		p.dropped += over
	}
}

// Record stores a vote in the database first; it counts for ranking once
// written (so a failed write is reported, never half-applied).
func (p *Persistent) Record(ctx context.Context, v Vote) error {
	if err := validate(v); err != nil {
		return err
	}
	row := store.KBFeedback{Query: v.Query, DocumentID: v.DocumentID, Version: v.Version, Helpful: v.Helpful,
		Source: string(v.Source), CallID: v.CallID, Actor: v.Actor, At: v.At}
	if err := p.log.AppendKBFeedback(ctx, &row); err != nil {
		return fmt.Errorf("record feedback on %q: %w", v.DocumentID, err)
	}
	return p.Sync(ctx)
}

// ObserveSearch logs a search; it reaches the analytics at the next flush.
func (p *Persistent) ObserveSearch(query string, documentIDs []string, good bool) {
	if Normalize(query) == "" {
		return
	}
	top := documentIDs
	if len(top) > 10 {
		top = top[:10]
	}
	p.mu.Lock()
	p.pending = append(p.pending, store.KBSearch{Query: query, Documents: append([]string(nil), top...), Good: good, At: time.Now()})
	p.trimLocked()
	p.mu.Unlock()
}

// Boost reads the in-memory aggregate.
func (p *Persistent) Boost(query, documentID string) float64 { return p.mem.Boost(query, documentID) }

// TopQueries reads the in-memory aggregate.
func (p *Persistent) TopQueries(n int) []QueryStat { return p.mem.TopQueries(n) }

// NoGoodResult reads the in-memory aggregate.
func (p *Persistent) NoGoodResult(n int) []QueryStat { return p.mem.NoGoodResult(n) }

// NeverUsed reads the in-memory aggregate.
func (p *Persistent) NeverUsed(documentIDs []string) []string { return p.mem.NeverUsed(documentIDs) }

// Unhelpful reads the in-memory aggregate.
func (p *Persistent) Unhelpful(n int) []DocumentStat { return p.mem.Unhelpful(n) }

// Close stops the loop and makes a last attempt to write pending searches.
func (p *Persistent) Close(ctx context.Context) error {
	select {
	case <-p.stop:
		return nil
	default:
	}
	close(p.stop)
	<-p.done
	err := p.Flush(ctx)
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("close feedback: %w", err)
	}
	return err
}

var _ Store = (*Persistent)(nil)
