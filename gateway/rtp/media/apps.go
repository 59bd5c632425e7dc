package media

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/wav"
)

// Echo plays the caller's audio straight back, until hang-up (a line test).
type Echo struct{}

// Run echoes until the call ends or ctx is done; a hang-up is a normal end.
func (Echo) Run(ctx context.Context, call Call) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-call.Done():
			return nil
		case f := <-call.Frames():
			if err := call.Write(ctx, f); err != nil {
				select {
				case <-call.Done():
					return nil
				default:
					return fmt.Errorf("echo on call %s: %w", call.ID(), err)
				}
			}
		}
	}
}

// Playback plays a prompt to the caller.
type Playback struct {
	Prompt []audio.Frame
	// StopOnKey stops the prompt when the caller presses a key (the key is consumed).
	StopOnKey bool
}

// Run plays the prompt; it returns nil when the prompt ends or is interrupted by a key.
func (p Playback) Run(ctx context.Context, call Call) error {
	if !p.StopOnKey {
		return Play(ctx, call, p.Prompt)
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Play(pctx, call, p.Prompt) }()
	for {
		select {
		case err := <-done:
			return err
		case ev := <-call.Events():
			if ev.Kind == KeyPress {
				cancel()
				<-done
				call.Flush()
				return nil
			}
		}
	}
}

// Record records a message from the caller as an 8 kHz mono WAV file under
// DataDir/messages, ending on the stop key, hang-up, or MaxDuration.
type Record struct {
	DataDir     string
	Name        string        // file name without extension, e.g. the call id
	MaxDuration time.Duration // default 2 minutes
	StopKey     byte          // default '#'
	// Path, after Run, is the recording's path; Duration its length.
	Path     string
	Duration time.Duration
}

// Run records until the stop key, hang-up or the time limit, and finalizes the file.
func (r *Record) Run(ctx context.Context, call Call) (err error) {
	if r.Name == "" || strings.ContainsAny(r.Name, `/\`) || r.Name == "." || r.Name == ".." {
		return fmt.Errorf("record: invalid message name %q", r.Name)
	}
	limit := r.MaxDuration
	if limit <= 0 {
		limit = 2 * time.Minute
	}
	stop := r.StopKey
	if stop == 0 {
		stop = '#'
	}
	dir := filepath.Join(r.DataDir, "messages")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("record: create %s: %w", dir, err)
	}
	r.Path = filepath.Join(dir, r.Name+".wav")
	f, err := os.OpenFile(r.Path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("record: close %s: %w", r.Path, cerr)
		}
	}()
	w, err := wav.NewWriter(f, wav.Format{SampleRate: audio.SampleRate, Channels: 1})
	if err != nil {
		return fmt.Errorf("record %s: %w", r.Path, err)
	}
	// The header is patched however recording ends, so the file stays valid.
	defer func() {
		if cerr := w.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("record %s: %w", r.Path, cerr)
		}
		r.Duration = time.Duration(w.Frames()) * time.Second / audio.SampleRate
	}()
	maxFrames := int(limit / (audio.FrameDurationMs * time.Millisecond))
	for n := 0; n < maxFrames; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-call.Done():
			return nil
		case ev := <-call.Events():
			if ev.Kind == Hangup || (ev.Kind == KeyPress && ev.Digit == stop) {
				return nil
			}
		case fr := <-call.Frames():
			if err := w.Write(fr[:]); err != nil {
				return fmt.Errorf("record %s: %w", r.Path, err)
			}
			n++
		}
	}
	return nil
}
