package sip

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-cc/parley/gateway/rtp/media"
)

// ErrNoRoute is returned by a Dialplan for a destination it does not know; the caller gets 404.
var ErrNoRoute = errors.New("no route to destination")

// ErrUnavailable is returned by a Dialplan for a known destination that cannot take the call now
// (an agent whose phone is not registered); the caller gets 480.
var ErrUnavailable = errors.New("destination temporarily unavailable")

// Inbound describes an incoming call for routing.
type Inbound struct {
	CallID string
	// User is the request-URI user: the dialled extension, application or queue name.
	User string
	// From and To are the caller and callee URIs.
	From, To string
	// Source is the signalling address the INVITE came from.
	Source string
}

// Destination is where the dialplan sends an inbound call.
type Destination struct {
	// Name identifies the extension, application or queue, e.g. "echo" or "sales".
	Name string
	// App runs on the call once it is answered; when it returns first the gateway hangs up.
	App media.Application
}

// Dialplan maps an inbound call to a destination, returning ErrNoRoute for unknown ones.
type Dialplan interface {
	Route(ctx context.Context, call Inbound) (Destination, error)
}

// Extensions is a static Dialplan from request-URI user to application.
type Extensions map[string]media.Application

// Route looks the request-URI user up in the map.
func (e Extensions) Route(_ context.Context, call Inbound) (Destination, error) {
	app, ok := e[call.User]
	if !ok || app == nil {
		return Destination{}, fmt.Errorf("%w: %q", ErrNoRoute, call.User)
	}
	return Destination{Name: call.User, App: app}, nil
}
