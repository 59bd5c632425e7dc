// Package routing is Parley's automatic contact distributor (ACD): agents with
// presence and work state, queues whose agent requirements relax with waiting
// time, configurable contact priority with aging, selection strategies,
// overflow, business-hours calendars, offers that are reservations with a
// timeout, position and estimated wait, callbacks that keep the caller's
// place, Erlang C / Erlang A helpers and metrics computed from events.
//
// The package knows nothing of actors or transports. An Engine is a
// single-threaded state machine: it starts no goroutines, reads no clock of
// its own (every method takes the current time as an argument) and must be
// used by one caller at a time, the way a Queue grain processes one message at
// a time. Locked wraps an Engine with a mutex and a Clock for callers that
// share one across goroutines.
//
// Timers (offer timeouts, step expiries, overflow, wrap-up end) are kept
// inside the engine; every method first fires the timers due at or before the
// time it is given, and NextDeadline tells the caller when to call Advance.
//
// Decisions are made from indexes, never by scanning agents × contacts: each
// queue step keeps a priority heap of its waiting contacts and an ordered pool
// of the available agents that satisfy the step, and the engine keeps the
// invariant that for every step at least one of the two is empty. A contact
// entering a step takes the best agent of that step's pool; an agent becoming
// available looks only at the head contact of each step it qualifies for.
package routing
