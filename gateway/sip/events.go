package sip

import (
	"context"
	"time"

	"github.com/parley-cc/parley/gateway/rtp"
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
	EventMute      EventKind = "mute"
	EventUnmute    EventKind = "unmute"
	EventRecording EventKind = "recording"
	EventHangup    EventKind = "hangup"
	// EventMissed is an inbound call never answered: cancelled by the caller
	// while ringing, or rejected (busy, unavailable, no common codec); Code,
	// Disposition and Reason say how. Unknown destinations (404) and
	// malformed requests are not reported: they are nobody's missed call.
	EventMissed EventKind = "missed"
)

// Dispositions of an EventMissed.
const (
	DispositionCancelled   = "cancelled"   // the caller gave up while it rang (CANCEL)
	DispositionBusy        = "busy"        // the node was full or draining (503)
	DispositionUnavailable = "unavailable" // the destination could not take it (480)
	DispositionNoCodec     = "no_codec"    // no common codec (488)
	DispositionFailed      = "failed"      // the node could not set the call up (5xx)
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
	// CallID is the leg's Parley call id (CallRef of SIPCallID).
	CallID    string
	SIPCallID string
	Time      time.Time
	// Inbound is true for calls to the gateway; AgentLeg for legs dialled to an agent's phone.
	Inbound, AgentLeg bool
	// Destination is the dialplan name (inbound) or dialled target (outbound).
	Destination string
	// From and To are the caller and callee URIs.
	From, To string
	// Digit is the DTMF digit for EventDTMF ("0"-"9", "*", "#", "A"-"D").
	Digit string
	// By and Reason explain an EventHangup (e.g. "bye", "media timeout", "shutdown").
	By     Party
	Reason string
	// Code is the final SIP status sent for an EventMissed (487 when cancelled);
	// Disposition is one of the Disposition constants.
	Code        int
	Disposition string
	// Path is the call recording's file for EventAnswered and EventRecording ("" when not recorded).
	Path string
	// Peer is the other leg's call id for EventBridged; Agent the agent's id.
	Peer, Agent string
	// Media is the leg's final RTP statistics for EventHangup (nil when the
	// call never had media): loss, jitter and drops, for call-quality records.
	Media *rtp.Stats
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
