package dialplan

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
)

// Builtins configures the applications every node answers without a voicebot.
type Builtins struct {
	// Prompt is what "playback" plays (required for it; without it "playback" is not registered).
	Prompt []audio.Frame
	// DataDir is where "record" stores messages, under DataDir/messages (required for it).
	DataDir string
	// MaxMessage bounds a recorded message (default 2 minutes).
	MaxMessage time.Duration
	// OnMessage is told about each recorded message, e.g. to reference it from the call record.
	OnMessage func(ctx context.Context, callID, path string, length time.Duration)
}

// Built-in extension names.
const (
	ExtEcho     = "echo"
	ExtPlayback = "playback"
	ExtRecord   = "record"
)

// RegisterBuiltins registers echo, and playback and record when configured.
func RegisterBuiltins(r *Registry, b Builtins) error {
	if err := r.Register(ExtEcho, media.Echo{}); err != nil {
		return err
	}
	if len(b.Prompt) > 0 {
		if err := r.Register(ExtPlayback, media.Playback{Prompt: b.Prompt}); err != nil {
			return err
		}
	}
	if b.DataDir != "" {
		if err := r.Register(ExtRecord, recordMessage(b)); err != nil {
			return err
		}
	}
	return nil
}

// recordMessage records the caller until '#', hang-up or the limit, named by the call id.
func recordMessage(b Builtins) media.Application {
	return media.ApplicationFunc(func(ctx context.Context, call media.Call) error {
		rec := &media.Record{DataDir: b.DataDir, Name: call.ID(), MaxDuration: b.MaxMessage}
		err := rec.Run(ctx, call)
		if rec.Path != "" && b.OnMessage != nil && rec.Duration > 0 {
			b.OnMessage(ctx, call.ID(), rec.Path, rec.Duration)
		}
		if errors.Is(err, context.Canceled) {
			return nil // the call ended under us
		}
		if err != nil {
			return fmt.Errorf("record message on call %s: %w", call.ID(), err)
		}
		return nil
	})
}
