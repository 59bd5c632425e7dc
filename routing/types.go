package routing

import (
	"errors"
	"time"
)

// Presence is what the agent chose: logged out, available, or on a break.
type Presence uint8

// Presences.
const (
	LoggedOut Presence = iota
	Available
	Break // not ready, with a reason code
)

func (p Presence) String() string {
	switch p {
	case LoggedOut:
		return "logged_out"
	case Available:
		return "available"
	default:
		return "break"
	}
}

// WorkState is what the agent is doing, kept apart from presence.
type WorkState uint8

// Work states.
const (
	Idle     WorkState = iota // nothing assigned
	Reserved                  // an offer is reserved for the agent, not yet ringing
	Offering                  // an offer is ringing at the agent
	Busy                      // handling at least one contact
	WrapUp                    // after-contact work
)

func (w WorkState) String() string {
	return [...]string{"idle", "reserved", "offering", "busy", "wrap_up"}[w]
}

// AgentSpec is who an agent is for routing: skills with proficiency 1-5,
// languages, and capacity per channel.
type AgentSpec struct {
	ID        string
	Skills    map[string]int
	Languages []string
	Capacity  map[string]int // channel -> concurrent contacts; empty means 1 on every channel
}

// ContactSpec is a contact to enqueue.
type ContactSpec struct {
	ID         string
	Queue      string
	Attributes map[string]string // matched by priority rules, e.g. tier=vip, task=complaint
	Sentiment  float64           // -1 (angry) .. 1 (happy)
	// EnqueuedAt restores a contact's original place (e.g. when a Queue grain
	// is re-activated from persisted state); zero means now.
	EnqueuedAt time.Time
}

// EnqueueResult says where a contact went.
type EnqueueResult struct {
	Queued     bool             // waiting (or already offered) in Queue
	Queue      string           // the queue that took it (differs after an after-hours overflow)
	AfterHours AfterHoursAction // set when a closed calendar decided the outcome
}

// Offer is a reservation of a contact for an agent, valid until Expires.
type Offer struct {
	ID       string
	Contact  string
	Agent    string
	Queue    string
	Callback bool // the agent calls the customer back (virtual placeholder reached the head)
	Expires  time.Time
}

// Estimate is a waiting contact's position and expected wait.
type Estimate struct {
	Position  int           // 1 = next to be served
	Wait      time.Duration // (Position × AHT) / staffed agents
	Staffed   int           // available agents able to serve the queue
	Unstaffed bool          // no agent can serve the queue now; Wait assumes one
}

// Errors returned by the engine; match with errors.Is.
var (
	ErrUnknownQueue    = errors.New("unknown queue")
	ErrUnknownAgent    = errors.New("unknown agent")
	ErrUnknownContact  = errors.New("unknown contact")
	ErrUnknownOffer    = errors.New("unknown or expired offer")
	ErrDuplicate       = errors.New("already exists")
	ErrContactState    = errors.New("contact is not in a state that allows this")
	ErrAgentState      = errors.New("agent is not in a state that allows this")
	ErrInvalidArgument = errors.New("invalid argument")
)

// EventKind names what happened.
type EventKind uint8

// Event kinds.
const (
	EventEnqueued      EventKind = iota // contact entered Queue
	EventAfterHours                     // contact arrived while Queue was closed; Reason holds the action
	EventStepChanged                    // contact's requirement step relaxed to Step
	EventOffered                        // Offer reserved Contact for Agent
	EventOfferRinging                   // the offer was delivered to the agent
	EventAnswered                       // agent accepted; Wait is the time since entering Queue
	EventOfferMissed                    // agent declined or let the offer time out; Reason says which
	EventOfferCanceled                  // offer withdrawn without the agent's fault (logout, hang-up, reconcile)
	EventAbandoned                      // caller left while waiting; Wait is the time waited
	EventOverflowed                     // contact left Queue for Target
	EventCompleted                      // conversation ended; Duration is the talk time
	EventDropped                        // an active contact was cleared by the reconciler
	EventRequeued                       // an active contact returned to the queue (agent disconnected)
	EventCallback                       // contact became a virtual placeholder for a callback
	EventAgentState                     // agent's Presence or Work changed
)

// Event is one fact the engine reports to its sink, for grains to act on
// (deliver offers, set presence) and for Metrics.
type Event struct {
	Kind     EventKind
	At       time.Time
	Queue    string
	Contact  string
	Agent    string
	Offer    string
	Target   string        // overflow target queue
	Step     int           // requirement step index
	Wait     time.Duration // queue wait (answered, abandoned, overflowed)
	Duration time.Duration // talk time (completed)
	Presence Presence
	Work     WorkState
	Reason   string
	Callback bool
}
