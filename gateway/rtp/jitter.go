package rtp

import (
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
)

// ConcealMode says how the jitter buffer fills audio that never arrived.
type ConcealMode int

const (
	// ConcealRepeat repeats the last frame, fading over two frames, then plays silence.
	ConcealRepeat ConcealMode = iota
	// ConcealSilence plays silence for missing audio.
	ConcealSilence
)

// JitterConfig tunes a JitterBuffer; zero fields take defaults.
type JitterConfig struct {
	MinDelay time.Duration // smallest playout delay (default 40 ms)
	MaxDelay time.Duration // largest playout delay (default 200 ms)
	Conceal  ConcealMode
}

// PushResult says what a JitterBuffer did with a packet.
type PushResult int

const (
	// Accepted means the audio was stored for playout.
	Accepted PushResult = iota
	// Duplicate means every sample of the packet was already buffered.
	Duplicate
	// Late means the packet's time had already been played out.
	Late
	// Resynced means the timestamp jumped too far and the buffer restarted at it.
	Resynced
)

// PopStatus says what a JitterBuffer returned from Pop.
type PopStatus int

const (
	// Buffering means playout has not (re)started: the frame is silence and should not be played.
	Buffering PopStatus = iota
	// Played means the frame is received audio.
	Played
	// Concealed means all of the frame's audio was missing and was concealed.
	Concealed
	// Partial means some of the frame's samples were missing and were filled with silence.
	Partial
)

// JitterStats counts what a JitterBuffer did.
type JitterStats struct {
	Played, Concealed, Partial uint64 // frames popped by status
	Late, Duplicate, Resync    uint64 // packets rejected or restarting the buffer
	LatencyDrops               uint64 // frames skipped to shrink the delay
	TargetDelay, BufferedAudio time.Duration
}

// plus adds b's counters to a's; the delays are b's (the current buffer's).
func (a JitterStats) plus(b JitterStats) JitterStats {
	return JitterStats{Played: a.Played + b.Played, Concealed: a.Concealed + b.Concealed, Partial: a.Partial + b.Partial,
		Late: a.Late + b.Late, Duplicate: a.Duplicate + b.Duplicate, Resync: a.Resync + b.Resync, LatencyDrops: a.LatencyDrops + b.LatencyDrops,
		TargetDelay: b.TargetDelay, BufferedAudio: b.BufferedAudio}
}

// jitterCapacity is the buffer span in samples (1.024 s at 8 kHz); a power of two so positions wrap with a mask.
const jitterCapacity = 8192

// JitterBuffer reorders received audio by RTP timestamp and plays it out one
// Frame per Pop, with a playout delay that adapts to the measured jitter:
// it re-buffers on underrun (growing the delay) and skips a frame when the
// buffer stays well above the target (shrinking it). Not safe for concurrent use.
type JitterBuffer struct {
	cfg      JitterConfig
	samples  [jitterCapacity]int16
	have     presence // which ring slots hold a sample
	init     bool
	started  bool
	begun    bool // playout has started at least once since the last reset
	lastTS   uint32
	lastExt  int64 // extended timestamp of lastTS
	head     int64 // extended timestamp of the next sample to play
	end      int64 // one past the newest buffered sample
	target   int64 // playout delay in samples
	minT     int64
	maxT     int64
	excess   int // consecutive pops with the buffer well above target
	last     audio.Frame
	concealN int
	stats    JitterStats
}

// NewJitterBuffer returns an empty JitterBuffer.
func NewJitterBuffer(cfg JitterConfig) *JitterBuffer {
	if cfg.MinDelay <= 0 {
		cfg.MinDelay = 40 * time.Millisecond
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 200 * time.Millisecond
	}
	if cfg.MaxDelay < cfg.MinDelay {
		cfg.MaxDelay = cfg.MinDelay
	}
	if cfg.MaxDelay > 600*time.Millisecond {
		cfg.MaxDelay = 600 * time.Millisecond // must leave room in the ring for reordering
	}
	j := &JitterBuffer{cfg: cfg}
	j.minT = durSamples(cfg.MinDelay)
	j.maxT = durSamples(cfg.MaxDelay)
	j.target = j.minT
	return j
}

// presence is a bitset over the ring, a bit per sample slot: an eighth of
// a []bool's memory, which matters with a thousand calls per node.
type presence [jitterCapacity / 64]uint64

func (p *presence) get(k int64) bool { return p[k>>6]&(1<<(k&63)) != 0 }
func (p *presence) set(k int64)      { p[k>>6] |= 1 << (k & 63) }
func (p *presence) unset(k int64)    { p[k>>6] &^= 1 << (k & 63) }

func durSamples(d time.Duration) int64 {
	n := int64(d / (time.Second / audio.SampleRate))
	// Round up to whole frames.
	return (n + audio.FrameSamples - 1) / audio.FrameSamples * audio.FrameSamples
}

// Adapt sets the playout delay from the RFC 3550 interarrival jitter (in
// samples): three times the jitter plus one frame, within the configured bounds.
func (j *JitterBuffer) Adapt(jitterSamples float64) {
	t := int64(3*jitterSamples) + audio.FrameSamples
	t = (t + audio.FrameSamples - 1) / audio.FrameSamples * audio.FrameSamples
	j.target = min(max(t, j.minT), j.maxT)
}

// Push stores the audio of one packet whose first sample has RTP timestamp ts.
func (j *JitterBuffer) Push(ts uint32, pcm []int16) PushResult {
	if len(pcm) == 0 {
		return Duplicate
	}
	if len(pcm) > jitterCapacity/4 {
		pcm = pcm[:jitterCapacity/4]
	}
	if !j.init {
		j.init = true
		j.lastTS, j.lastExt = ts, int64(ts)
		j.head, j.end = int64(ts), int64(ts)
	}
	ext := j.lastExt + int64(int32(ts-j.lastTS))
	if ext > j.lastExt {
		j.lastTS, j.lastExt = ts, ext
	}
	stop := ext + int64(len(pcm))
	if !j.begun && ext < j.head && j.head-ext < j.maxT {
		// Reordered before playout ever began (or since a resync): the
		// earlier packet can still be played.
		j.head = ext
	}
	if stop <= j.head {
		j.stats.Late++
		return Late
	}
	result := Accepted
	if stop-j.head > jitterCapacity-audio.FrameSamples || ext < j.head-jitterCapacity {
		// A jump beyond the ring (sender restart, long silence): start over there.
		j.reset(ext)
		j.lastTS, j.lastExt = ts, ext
		j.stats.Resync++
		result = Resynced
	}
	fresh := false
	for i, s := range pcm {
		pos := ext + int64(i)
		if pos < j.head {
			continue
		}
		k := pos & (jitterCapacity - 1)
		if !j.have.get(k) {
			j.have.set(k)
			j.samples[k] = s
			fresh = true
		}
	}
	if !fresh {
		j.stats.Duplicate++
		return Duplicate
	}
	if stop > j.end {
		j.end = stop
	}
	return result
}

func (j *JitterBuffer) reset(at int64) {
	clear(j.have[:])
	j.head, j.end = at, at
	j.started, j.begun = false, false
	j.excess = 0
}

// Buffered returns how much audio lies between the playout point and the newest sample.
func (j *JitterBuffer) Buffered() time.Duration {
	return time.Duration(max(j.end-j.head, 0)) * time.Second / audio.SampleRate
}

// Pop returns the next 20 ms of audio for playout.
func (j *JitterBuffer) Pop() (audio.Frame, PopStatus) {
	var f audio.Frame
	if !j.started {
		if !j.init || j.end-j.head < j.target {
			return f, Buffering
		}
		// (Re)start at the first buffered sample: skips a silence gap left by
		// the sender (DTX) or by an underrun.
		for j.head < j.end && !j.have.get(j.head&(jitterCapacity-1)) {
			j.head++
		}
		if j.end-j.head < j.target {
			return f, Buffering
		}
		j.started, j.begun = true, true
	}
	depth := j.end - j.head
	if depth <= 0 {
		// Underrun: conceal without advancing and re-buffer, which grows the delay.
		j.started = false
		return j.conceal(), Concealed
	}
	if depth > j.target+3*audio.FrameSamples {
		j.excess++
		if j.excess >= 10 { // 200 ms well above target: drop a frame of delay
			j.excess = 0
			j.consume(nil)
			j.stats.LatencyDrops++
		}
	} else {
		j.excess = 0
	}
	n := j.consume(&f)
	switch {
	case n == audio.FrameSamples:
		j.last, j.concealN = f, 0
		j.stats.Played++
		return f, Played
	case n == 0:
		return j.conceal(), Concealed
	default:
		j.last, j.concealN = f, 0
		j.stats.Partial++
		return f, Partial
	}
}

// consume moves one frame from head into f (nil discards) and returns how many samples were present.
func (j *JitterBuffer) consume(f *audio.Frame) int {
	n := 0
	for i := 0; i < audio.FrameSamples; i++ {
		k := (j.head + int64(i)) & (jitterCapacity - 1)
		if j.have.get(k) {
			n++
			if f != nil {
				f[i] = j.samples[k]
			}
			j.have.unset(k)
		}
	}
	j.head += audio.FrameSamples
	return n
}

func (j *JitterBuffer) conceal() audio.Frame {
	j.stats.Concealed++
	j.concealN++
	var f audio.Frame
	if j.cfg.Conceal == ConcealRepeat && j.concealN <= 2 {
		shift := uint(j.concealN) // halve the level per concealed frame
		for i, s := range j.last {
			f[i] = s >> shift
		}
	}
	return f
}

// Stats returns the buffer's counters and current delays.
func (j *JitterBuffer) Stats() JitterStats {
	s := j.stats
	s.TargetDelay = time.Duration(j.target) * time.Second / audio.SampleRate
	s.BufferedAudio = j.Buffered()
	return s
}
