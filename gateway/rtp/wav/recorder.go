package wav

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
)

// Channel says which party of a call a recorded frame belongs to.
type Channel int

const (
	// Caller is the left channel: the party who called in (or was called).
	Caller Channel = iota
	// Agent is the right channel: the bot or human agent.
	Agent
)

// recorderWindow is how many 20 ms slots a channel may run ahead of the other
// before the lagging one is filled with silence (bounds memory to ~1 s a call).
const recorderWindow = 50

// syncEvery patches the WAV header every this many written slots (10 s), so a
// node crash leaves a readable recording.
const syncEvery = 500

// Recorder writes a call as a stereo 8 kHz WAV file (left = caller, right =
// agent), placing each frame at the 20 ms slot of its arrival time so both
// sides stay aligned and gaps become silence; it streams to disk.
type Recorder struct {
	mu        sync.Mutex
	file      *os.File
	bw        *bufio.Writer
	wr        *Writer
	path      string
	now       func() time.Time
	start     time.Time
	base      int64            // slot index of pending[*][0]
	pending   [2][]audio.Frame // frames not yet written, per channel
	next      [2]int64         // next free slot per channel
	scratch   [2 * audio.FrameSamples]int16
	sinceSync int
	closed    bool
	err       error
}

// RecorderOption configures a Recorder.
type RecorderOption func(*Recorder)

// WithClock makes the Recorder read time from now (tests use a fake clock).
func WithClock(now func() time.Time) RecorderOption {
	return func(r *Recorder) { r.now = now }
}

// NewRecorder creates dataDir/recordings/<name>.wav (name is a call id; path
// separators are rejected) and starts the recording clock now.
func NewRecorder(dataDir, name string, opts ...RecorderOption) (*Recorder, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return nil, fmt.Errorf("recorder: invalid recording name %q", name)
	}
	dir := filepath.Join(dataDir, "recordings")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("recorder: create %s: %w", dir, err)
	}
	path := filepath.Join(dir, name+".wav")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("recorder: create %s: %w", path, err)
	}
	r := &Recorder{file: f, path: path, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	r.bw = bufio.NewWriterSize(f, 8*1024) // ~0.5 s of stereo audio per write; small enough for 1,000 calls a node
	wr, err := NewWriter(&bufferedSeeker{f: f, bw: r.bw}, Format{SampleRate: audio.SampleRate, Channels: 2})
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("recorder: %w", err)
	}
	r.wr = wr
	r.start = r.now()
	return r, nil
}

// Path returns the recording's file path.
func (r *Recorder) Path() string { return r.path }

// Write records one frame of ch at the current time.
func (r *Recorder) Write(ch Channel, f *audio.Frame) error {
	if ch != Caller && ch != Agent {
		return fmt.Errorf("recorder: unknown channel %d", ch)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("recorder: %s is already closed", r.path)
	}
	if r.err != nil {
		return r.err
	}
	slot := int64(r.now().Sub(r.start) / (audio.FrameDurationMs * time.Millisecond))
	// A frame that arrives early (a burst) goes right after the previous one;
	// one that arrives late leaves silence for the time nothing came.
	if slot < r.next[ch] {
		slot = r.next[ch]
	}
	if slot < r.base {
		slot = r.base
	}
	p := r.pending[ch]
	for r.base+int64(len(p)) < slot {
		p = append(p, audio.Frame{})
	}
	r.pending[ch] = append(p, *f)
	r.next[ch] = slot + 1
	return r.flush(false)
}

// flush writes every slot both channels have, and slots more than
// recorderWindow behind the leading channel, filling the gap with silence.
func (r *Recorder) flush(all bool) error {
	for {
		n0, n1 := len(r.pending[Caller]), len(r.pending[Agent])
		if n0 == 0 && n1 == 0 {
			return nil
		}
		both := n0 > 0 && n1 > 0
		if !both && !all && max(n0, n1) <= recorderWindow {
			return nil
		}
		var l, rt audio.Frame
		if n0 > 0 {
			l = r.pending[Caller][0]
			r.pending[Caller] = r.pending[Caller][:copy(r.pending[Caller], r.pending[Caller][1:])]
		}
		if n1 > 0 {
			rt = r.pending[Agent][0]
			r.pending[Agent] = r.pending[Agent][:copy(r.pending[Agent], r.pending[Agent][1:])]
		}
		for i := 0; i < audio.FrameSamples; i++ {
			r.scratch[2*i] = l[i]
			r.scratch[2*i+1] = rt[i]
		}
		if err := r.wr.Write(r.scratch[:]); err != nil {
			r.err = fmt.Errorf("recorder: %s: %w", r.path, err)
			return r.err
		}
		r.base++
		r.sinceSync++
		if r.sinceSync >= syncEvery {
			r.sinceSync = 0
			if err := r.sync(); err != nil {
				return err
			}
		}
	}
}

func (r *Recorder) sync() error {
	if err := r.wr.Sync(); err != nil {
		r.err = fmt.Errorf("recorder: %s: %w", r.path, err)
		return r.err
	}
	if err := r.bw.Flush(); err != nil {
		r.err = fmt.Errorf("recorder: flush %s: %w", r.path, err)
		return r.err
	}
	return nil
}

// PadToNow fills both channels with silence up to the current time, so a
// recording closed at hang-up spans the whole call even when nobody sent
// audio at its end (key presses, a pause before the BYE).
func (r *Recorder) PadToNow() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("recorder: %s is already closed", r.path)
	}
	if r.err != nil {
		return r.err
	}
	slot := int64(r.now().Sub(r.start) / (audio.FrameDurationMs * time.Millisecond))
	for ch := range r.pending {
		for r.base+int64(len(r.pending[ch])) < slot {
			r.pending[ch] = append(r.pending[ch], audio.Frame{})
		}
		r.next[ch] = max(r.next[ch], slot)
	}
	return r.flush(false)
}

// Duration returns how much audio has been committed to the file so far.
func (r *Recorder) Duration() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Duration(r.base) * audio.FrameDurationMs * time.Millisecond
}

// Close writes the remaining frames (the shorter channel padded with silence),
// patches the RIFF sizes and closes the file; it is safe to call more than once.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return r.err
	}
	r.closed = true
	err := r.err
	if err == nil {
		err = r.flush(true)
	}
	if err == nil {
		err = r.sync()
	}
	if cerr := r.file.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("recorder: close %s: %w", r.path, cerr)
	}
	r.err = err
	return err
}

// bufferedSeeker lets the WAV Writer seek on a file written through a bufio.Writer.
type bufferedSeeker struct {
	f  *os.File
	bw *bufio.Writer
}

func (b *bufferedSeeker) Write(p []byte) (int, error) { return b.bw.Write(p) }

func (b *bufferedSeeker) Seek(off int64, whence int) (int64, error) {
	if err := b.bw.Flush(); err != nil {
		return 0, err
	}
	return b.f.Seek(off, whence)
}
