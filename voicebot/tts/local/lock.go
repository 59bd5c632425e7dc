package local

import (
	"context"
	"slices"
	"sync"
)

// turnLock is a mutex whose waiters give up when their context ends (a
// reply cut short by barge-in must not wait its turn to synthesize a
// sentence nobody will hear, holding up the call's next reply) and where
// urgent waiters (a reply's first sentence: the caller is waiting in
// silence) go before the others (later sentences, which have the playback
// of the sentences before them as slack).
type turnLock struct {
	mu             sync.Mutex
	busy           bool
	urgent, normal []chan struct{}
}

func (l *turnLock) acquire(ctx context.Context, urgent bool) error {
	l.mu.Lock()
	if !l.busy {
		l.busy = true
		l.mu.Unlock()
		return nil
	}
	if err := ctx.Err(); err != nil {
		l.mu.Unlock()
		return err
	}
	ch := make(chan struct{})
	if urgent {
		l.urgent = append(l.urgent, ch)
	} else {
		l.normal = append(l.normal, ch)
	}
	l.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		n := len(l.urgent) + len(l.normal)
		l.urgent = slices.DeleteFunc(l.urgent, func(c chan struct{}) bool { return c == ch })
		l.normal = slices.DeleteFunc(l.normal, func(c chan struct{}) bool { return c == ch })
		handed := len(l.urgent)+len(l.normal) == n // not queued any more: the lock was handed over meanwhile
		l.mu.Unlock()
		if handed {
			l.release()
		}
		return ctx.Err()
	}
}

func (l *turnLock) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	var next chan struct{}
	switch {
	case len(l.urgent) > 0:
		next, l.urgent = l.urgent[0], l.urgent[1:]
	case len(l.normal) > 0:
		next, l.normal = l.normal[0], l.normal[1:]
	default:
		l.busy = false
		return
	}
	close(next) // busy stays true: the lock passes to next
}
