// Package dialplan decides what answers a dialled extension, for SIP and
// WebRTC calls alike: a media application registered under that name (the
// built-in echo, playback and record, or one another component registered,
// such as the voicebot's "bot"), or an agent whose extension it is, reached
// through AgentLegs. It knows no transport: everything it returns runs on a
// media.Call.
package dialplan

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"

	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/store"
)

var (
	// ErrNoRoute means no application or agent answers the extension (SIP 404).
	ErrNoRoute = errors.New("no such extension")
	// ErrUnavailable means the extension exists but cannot take a call now,
	// e.g. an agent whose phone is not registered (SIP 480).
	ErrUnavailable = errors.New("extension temporarily unavailable")
	// ErrTaken is returned by Register for an extension that already has an application.
	ErrTaken = errors.New("extension already registered")
)

// extensionName is what an extension may be called: the user part of a SIP URI and a URL path segment.
var extensionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$`)

// Registry maps extensions to the media applications that answer them. It is
// the "media.apps" service of parley serve: components register their
// applications at start (the voicebot its "bot", "support", ...). Safe for
// concurrent use.
type Registry struct {
	mu   sync.RWMutex
	apps map[string]media.Application
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{apps: map[string]media.Application{}} }

// Register makes app answer ext; an extension has one application, so a
// second Register of the same name fails with ErrTaken.
func (r *Registry) Register(ext string, app media.Application) error {
	if !extensionName.MatchString(ext) {
		return fmt.Errorf("dialplan: extension %q: want 1-64 letters, digits, '_', '.', '+' or '-', starting with a letter or digit", ext)
	}
	if app == nil {
		return fmt.Errorf("dialplan: extension %q: application is nil", ext)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.apps[ext]; ok {
		return fmt.Errorf("dialplan: %w: %q", ErrTaken, ext)
	}
	r.apps[ext] = app
	return nil
}

// Unregister removes ext; calls already running keep their application.
func (r *Registry) Unregister(ext string) {
	r.mu.Lock()
	delete(r.apps, ext)
	r.mu.Unlock()
}

// Lookup returns the application of ext.
func (r *Registry) Lookup(ext string) (media.Application, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	app, ok := r.apps[ext]
	return app, ok
}

// Extensions lists the registered extensions, sorted.
func (r *Registry) Extensions() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.apps))
	for ext := range r.apps {
		out = append(out, ext)
	}
	sort.Strings(out)
	return out
}

// Target is what answers an extension.
type Target struct {
	Extension string
	// App runs on the call once it is answered.
	App media.Application
	// AgentID is set when the extension is an agent's: App connects the call to the agent.
	AgentID string
}

// Dialplan resolves extensions: registered applications first, then agents' extensions.
type Dialplan struct {
	Apps *Registry
	// Agents finds agents by extension (optional: without it only applications answer).
	Agents store.AgentStore
	// Legs reaches agents (optional: without it agents' extensions are unavailable).
	Legs *AgentLegs
}

// Route resolves ext; errors wrap ErrNoRoute or ErrUnavailable, or are store failures.
func (d *Dialplan) Route(ctx context.Context, ext string) (Target, error) {
	if d.Apps != nil {
		if app, ok := d.Apps.Lookup(ext); ok {
			return Target{Extension: ext, App: app}, nil
		}
	}
	if d.Agents != nil && ext != "" {
		agents, err := d.Agents.ListAgents(ctx)
		if err != nil {
			return Target{}, fmt.Errorf("dialplan: look up extension %q among agents: %w", ext, err)
		}
		for _, a := range agents {
			if a.Extension != ext {
				continue
			}
			if d.Legs == nil || !d.Legs.Registered(ctx, a.ID) {
				return Target{}, fmt.Errorf("dialplan: %w: agent %s (extension %s) has no registered phone", ErrUnavailable, a.ID, ext)
			}
			return Target{Extension: ext, AgentID: a.ID, App: d.Legs.ConnectApp(a.ID)}, nil
		}
	}
	return Target{}, fmt.Errorf("dialplan: %w: %q", ErrNoRoute, ext)
}

// Resolve returns the application that answers ext (the shape gateway/webrtc asks for).
func (d *Dialplan) Resolve(ctx context.Context, ext string) (media.Application, error) {
	t, err := d.Route(ctx, ext)
	if err != nil {
		return nil, err
	}
	return t.App, nil
}

// Extensions lists the application extensions (agents' extensions are not listed).
func (d *Dialplan) Extensions() []string {
	if d.Apps == nil {
		return nil
	}
	return d.Apps.Extensions()
}
