package routing

import (
	"sync"
	"time"
)

// Clock tells the current time; inject a fake one in tests.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Locked serializes access to an Engine with a mutex and stamps every call
// with a Clock, for callers that are not already single-threaded (a grain
// needs none of this). The event sink runs under the lock.
type Locked struct {
	mu    sync.Mutex
	e     *Engine
	clock Clock
}

// NewLocked wraps e; clock nil means the system clock.
func NewLocked(e *Engine, clock Clock) *Locked {
	if clock == nil {
		clock = SystemClock{}
	}
	return &Locked{e: e, clock: clock}
}

// Do runs f with exclusive access to the engine and the current time.
func (l *Locked) Do(f func(e *Engine, now time.Time) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return f(l.e, l.clock.Now())
}

// Enqueue adds a contact now.
func (l *Locked) Enqueue(spec ContactSpec) (res EnqueueResult, err error) {
	err = l.Do(func(e *Engine, now time.Time) error {
		res, err = e.Enqueue(now, spec)
		return err
	})
	return res, err
}

// Accept accepts an offer now.
func (l *Locked) Accept(offerID string) error {
	return l.Do(func(e *Engine, now time.Time) error { return e.Accept(now, offerID) })
}

// Decline declines an offer now.
func (l *Locked) Decline(offerID string) error {
	return l.Do(func(e *Engine, now time.Time) error { return e.Decline(now, offerID) })
}

// Complete ends a connected contact now.
func (l *Locked) Complete(contactID string) error {
	return l.Do(func(e *Engine, now time.Time) error { return e.Complete(now, contactID) })
}

// Abandon removes a waiting contact whose caller hung up now.
func (l *Locked) Abandon(contactID string) error {
	return l.Do(func(e *Engine, now time.Time) error { return e.Abandon(now, contactID) })
}

// SetPresence sets an agent's presence now.
func (l *Locked) SetPresence(agentID string, p Presence, reason string) error {
	return l.Do(func(e *Engine, now time.Time) error { return e.SetPresence(now, agentID, p, reason) })
}

// Advance fires the timers due now and returns the next deadline.
func (l *Locked) Advance() (next time.Time, ok bool) {
	_ = l.Do(func(e *Engine, now time.Time) error {
		e.Advance(now)
		next, ok = e.NextDeadline()
		return nil
	})
	return next, ok
}
