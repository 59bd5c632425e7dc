package actors

import (
	"context"
	"sync"

	"github.com/parley-cc/parley/store"
)

// memStore is an in-memory Store for benchmarks that must measure the
// cluster, not SQLite.
type memStore struct {
	mu     sync.Mutex
	calls  map[string]store.Call
	turns  map[string][]store.Turn
	events map[string][]store.CallEvent
	grains map[string][]byte
}

func newMemStore() *memStore {
	return &memStore{calls: map[string]store.Call{}, turns: map[string][]store.Turn{}, events: map[string][]store.CallEvent{}, grains: map[string][]byte{}}
}

func (m *memStore) SaveCall(_ context.Context, c *store.Call) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[c.ID] = *c
	return nil
}

func (m *memStore) GetCall(_ context.Context, id string) (*store.Call, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.calls[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &c, nil
}

func (m *memStore) ListCalls(context.Context, store.CallFilter) ([]store.Call, error) {
	return nil, nil
}

func (m *memStore) AppendTurn(_ context.Context, t store.Turn) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts := m.turns[t.CallID]
	if len(ts) > 0 && ts[len(ts)-1].Seq >= t.Seq {
		return nil
	}
	m.turns[t.CallID] = append(ts, t)
	return nil
}

func (m *memStore) ListTurns(_ context.Context, id string) ([]store.Turn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.Turn(nil), m.turns[id]...), nil
}

func (m *memStore) AppendCallEvent(_ context.Context, e store.CallEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	es := m.events[e.CallID]
	if len(es) > 0 && es[len(es)-1].Seq >= e.Seq {
		return nil
	}
	m.events[e.CallID] = append(es, e)
	return nil
}

func (m *memStore) ListCallEvents(_ context.Context, id string) ([]store.CallEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.CallEvent(nil), m.events[id]...), nil
}

func (m *memStore) SaveGrainState(_ context.Context, kind, id string, state []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.grains[kind+"/"+id] = append([]byte(nil), state...)
	return nil
}

func (m *memStore) LoadGrainState(_ context.Context, kind, id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.grains[kind+"/"+id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return b, nil
}

func (m *memStore) DeleteGrainState(_ context.Context, kind, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.grains, kind+"/"+id)
	return nil
}
