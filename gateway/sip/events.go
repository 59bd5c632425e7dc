package sip

import (
	"context"
	"time"
)

// EventKind names what happened to a call.
type EventKind string

// The call events the gateway reports.
const (
	EventAnswered  EventKind = "answered"
	EventDTMF      EventKind = "dtmf"
	EventHold      EventKind = "hold"
	EventResume    EventKind = "resume"
	EventBridged   EventKind = "bridged"
	EventRecording EventKind = "recording"
	EventHangup    EventKind = "hangup"
)

// Party says who ended a call.
type Party string

// The parties that can hang up a call.
const (
	ByCaller Party = "caller"
	ByAgent  Party = "agent"
	BySystem Party = "system"
)

// Event is one thing that happened to a call leg.
type Event struct {
	Kind EventKind
	// CallID is the SIP Call-ID of the leg.
	CallID string
	Time   time.Time
	// Destination is the dialplan name (inbound) or dialled target (outbound).
	Destination string
	// From and To are the caller and callee URIs.
	From, To string
	// Digit is the DTMF digit for EventDTMF ("0"-"9", "*", "#", "A"-"D").
	Digit string
	// By and Reason explain an EventHangup (e.g. "bye", "media timeout", "shutdown").
	By     Party
	Reason string
	// Path is the recording file for EventRecording.
	Path string
	// Peer is the other leg's Call-ID for EventBridged.
	Peer string
}

// Events receives call events; the integrator forwards them to the Call grain.
// CallEvent must not block for long: it runs on the call's signalling path.
type Events interface {
	CallEvent(ctx context.Context, e Event)
}

// EventsFunc adapts a function to the Events interface.
type EventsFunc func(ctx context.Context, e Event)

// CallEvent calls f.
func (f EventsFunc) CallEvent(ctx context.Context, e Event) { f(ctx, e) }
