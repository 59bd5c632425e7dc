package webrtc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/parley-cc/parley/gateway/rtp/dtmf"
)

// Signalling message types exchanged over the WebSocket, in both directions
// unless noted.
const (
	TypeOffer      = "offer"      // SDP offer: caller → gateway (with extension), gateway → softphone
	TypeAnswer     = "answer"     // SDP answer: gateway → caller, softphone → gateway
	TypeCandidate  = "candidate"  // one trickled ICE candidate; no candidate means end of candidates
	TypeHangup     = "hangup"     // end the call
	TypeDTMF       = "dtmf"       // a key press sent over signalling (the page's fallback to RFC 4733)
	TypeRegister   = "register"   // softphone → gateway: this socket answers calls for an agent
	TypeRegistered = "registered" // gateway → softphone
	TypeReject     = "reject"     // softphone → gateway: the agent declines an offered call
	TypeState      = "state"      // gateway → browser: call progress (ringing, answered)
	TypeError      = "error"      // gateway → browser: a request failed; Code says how
)

// Error codes carried by TypeError messages.
const (
	CodeBadMessage   = "bad_message"  // malformed or out-of-place signalling message
	CodeNotFound     = "not_found"    // no such extension
	CodeNoCodec      = "no_codec"     // the offer has neither PCMU nor PCMA
	CodeBusy         = "busy"         // node at its call limit
	CodeUnavailable  = "unavailable"  // node draining or stopping
	CodeFailed       = "failed"       // media could not be set up
	CodeUnauthorized = "unauthorized" // softphone: wrong or missing agent credentials; the socket is closed
)

// MaxMessageSize bounds one signalling message (an SDP offer is a few KB).
const MaxMessageSize = 64 << 10

// Message is one signalling message. Which fields are set depends on Type.
type Message struct {
	Type      string     `json:"type"`
	CallID    string     `json:"call_id,omitempty"`
	Extension string     `json:"extension,omitempty"` // offer from a caller: where to
	From      string     `json:"from,omitempty"`      // offer: the caller's display name
	Ref       string     `json:"ref,omitempty"`       // offer to a softphone: the customer's call id the agent joins
	Agent     string     `json:"agent,omitempty"`     // register
	SDP       string     `json:"sdp,omitempty"`       // offer, answer
	Candidate *Candidate `json:"candidate,omitempty"` // candidate
	Digit     string     `json:"digit,omitempty"`     // dtmf
	State     string     `json:"state,omitempty"`     // state
	Reason    string     `json:"reason,omitempty"`    // hangup, reject
	Code      string     `json:"code,omitempty"`      // error
	Error     string     `json:"error,omitempty"`     // error
}

// Candidate is an ICE candidate as the browser's RTCIceCandidate.toJSON() gives it.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// ErrBadMessage is wrapped by every ParseMessage error.
var ErrBadMessage = errors.New("bad signalling message")

// ParseMessage decodes and checks one message from a browser; the error
// names the field and what is wrong with it.
func ParseMessage(b []byte) (Message, error) {
	var m Message
	if len(b) > MaxMessageSize {
		return m, fmt.Errorf("%w: %d bytes, limit %d", ErrBadMessage, len(b), MaxMessageSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return m, fmt.Errorf("%w: invalid JSON: the message ends early (%d bytes)", ErrBadMessage, len(b))
		case errors.As(err, &se):
			return m, fmt.Errorf("%w: invalid JSON at byte %d: %v", ErrBadMessage, se.Offset, se)
		case errors.As(err, &te):
			return m, fmt.Errorf("%w: field %q must be a %s, not %s", ErrBadMessage, te.Field, te.Type, te.Value)
		default:
			return m, fmt.Errorf("%w: %v", ErrBadMessage, err)
		}
	}
	if dec.More() {
		return m, fmt.Errorf("%w: more than one JSON value in one message", ErrBadMessage)
	}
	bad := func(format string, a ...any) (Message, error) {
		return m, fmt.Errorf("%w: %s: %s", ErrBadMessage, m.Type, fmt.Sprintf(format, a...))
	}
	switch m.Type {
	case "":
		return m, fmt.Errorf("%w: missing \"type\"", ErrBadMessage)
	case TypeOffer, TypeAnswer:
		if strings.TrimSpace(m.SDP) == "" {
			return bad("\"sdp\" is empty")
		}
		if !strings.HasPrefix(m.SDP, "v=0") {
			return bad("\"sdp\" does not start with v=0")
		}
	case TypeCandidate:
		if c := m.Candidate; c != nil && c.Candidate != "" && !strings.HasPrefix(c.Candidate, "candidate:") {
			return bad("\"candidate.candidate\" %q does not start with \"candidate:\"", truncate(c.Candidate))
		}
	case TypeDTMF:
		if len(m.Digit) != 1 {
			return bad("\"digit\" %q must be one of %s", truncate(m.Digit), dtmf.Digits)
		}
		d := m.Digit[0]
		if d >= 'a' && d <= 'd' {
			d -= 'a' - 'A'
		}
		if !strings.ContainsRune(dtmf.Digits, rune(d)) {
			return bad("\"digit\" %q must be one of %s", m.Digit, dtmf.Digits)
		}
		m.Digit = string(d)
	case TypeRegister:
		if !validAgentID(m.Agent) {
			return bad("\"agent\" %q must be 1-64 letters, digits, '-', '_', '.' or '@'", truncate(m.Agent))
		}
	case TypeHangup, TypeReject:
	default:
		return m, fmt.Errorf("%w: unknown type %q (want offer, answer, candidate, hangup, dtmf, register or reject)", ErrBadMessage, truncate(m.Type))
	}
	return m, nil
}

func validAgentID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@", r)) {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
