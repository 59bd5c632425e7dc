// Package vad decides, 20 ms frame by frame, whether the caller is
// speaking: an energy detector against an adaptive noise floor, with onset
// and hangover counts so a click does not start speech and a short pause
// inside a word does not end it.
package vad

import (
	"math"
	"slices"

	"github.com/parley-cc/parley/gateway/rtp/audio"
)

// Config tunes the detector; zero fields take the defaults in brackets.
type Config struct {
	// AboveFloorDB: a frame is voiced when its level is this far above the
	// noise floor [12 dB].
	AboveFloorDB float64
	// MinLevelDBFS: and at least this loud, so digital silence with a tiny
	// floor does not make line noise "speech" [-50 dBFS].
	MinLevelDBFS float64
	// OnsetFrames voiced frames in a row start speech [2, i.e. 40 ms]; kept
	// short because barge-in must silence the bot within 100 ms of onset.
	OnsetFrames int
	// HangoverFrames unvoiced frames in a row end speech [8, i.e. 160 ms].
	HangoverFrames int
	// FloorRiseDB is how fast the floor follows a louder background, per
	// frame [0.02 dB, about 1 dB/s]: steady noise stops counting as speech
	// within seconds, speech (which rises and falls) does not lift it much.
	FloorRiseDB float64
	// FloorWindowFrames: the floor also jumps up to the quietest frame of
	// this window [150, i.e. 3 s]. Speech always dips between words within
	// a few seconds, steady noise does not: a line that turns noisy stops
	// counting as speech after one window instead of after a minute.
	FloorWindowFrames int
}

func (c Config) withDefaults() Config {
	if c.AboveFloorDB == 0 {
		c.AboveFloorDB = 12
	}
	if c.MinLevelDBFS == 0 {
		c.MinLevelDBFS = -50
	}
	if c.OnsetFrames <= 0 {
		c.OnsetFrames = 2
	}
	if c.HangoverFrames <= 0 {
		c.HangoverFrames = 8
	}
	if c.FloorRiseDB == 0 {
		c.FloorRiseDB = 0.02
	}
	if c.FloorWindowFrames <= 0 {
		c.FloorWindowFrames = 150
	}
	return c
}

// Event is what a frame changed.
type Event int

const (
	None        Event = iota
	SpeechStart       // OnsetFrames voiced frames ago speech began
	SpeechEnd         // HangoverFrames unvoiced frames ago speech ended
)

// Detector is one call's VAD; not safe for concurrent use.
type Detector struct {
	cfg      Config
	floor    float64
	speaking bool
	run      int // voiced frames in a row (silent) or unvoiced frames in a row (speaking)
	frames   int
	// Minimum statistics over the floor window, in blocks of floorBlock
	// frames: the quietest level of each recent block, and of the current one.
	blocks   []float64
	nblocks  int
	blockMin float64
}

// floorBlock frames make one block of the floor window.
const floorBlock = 10

// New returns a detector with cfg's zero fields defaulted.
func New(cfg Config) *Detector {
	cfg = cfg.withDefaults()
	return &Detector{cfg: cfg, floor: math.Inf(1), blockMin: math.Inf(1),
		blocks: make([]float64, max(1, cfg.FloorWindowFrames/floorBlock))}
}

// Speaking reports whether the caller is speaking (after onset, before hangover ends).
func (d *Detector) Speaking() bool { return d.speaking }

// NoiseFloor is the current floor estimate in dBFS.
func (d *Detector) NoiseFloor() float64 { return d.floor }

// Voiced reports whether f alone is above the thresholds (updates nothing).
func (d *Detector) Voiced(f *audio.Frame) bool {
	lvl := f.Level()
	return lvl >= d.cfg.MinLevelDBFS && lvl >= d.floor+d.cfg.AboveFloorDB
}

// Process classifies the next frame and reports a change of state.
func (d *Detector) Process(f *audio.Frame) Event {
	_, ev := d.Classify(f)
	return ev
}

// Classify is Process that also reports whether f itself was voiced (as
// Voiced would have before it), measuring the frame's level once.
func (d *Detector) Classify(f *audio.Frame) (voiced bool, ev Event) {
	lvl := f.Level()
	if math.IsInf(lvl, -1) {
		lvl = -120
	}
	voiced = lvl >= d.cfg.MinLevelDBFS && lvl >= d.floor+d.cfg.AboveFloorDB
	// The floor drops at once to a quieter frame and rises slowly, so it
	// settles on the quietest background between words.
	switch {
	case lvl < d.floor:
		d.floor = lvl
	default:
		d.floor += d.cfg.FloorRiseDB
	}
	d.frames++
	d.blockMin = min(d.blockMin, lvl)
	if d.frames%floorBlock == 0 {
		d.blocks[d.nblocks%len(d.blocks)] = d.blockMin
		d.nblocks++
		d.blockMin = math.Inf(1)
		if d.nblocks >= len(d.blocks) {
			if quietest := slices.Min(d.blocks); quietest > d.floor {
				d.floor = quietest
			}
		}
	}
	if !d.speaking {
		if voiced {
			d.run++
			if d.run >= d.cfg.OnsetFrames {
				d.speaking, d.run = true, 0
				return true, SpeechStart
			}
		} else {
			d.run = 0
		}
		return voiced, None
	}
	if voiced {
		d.run = 0
		return true, None
	}
	d.run++
	if d.run >= d.cfg.HangoverFrames {
		d.speaking, d.run = false, 0
		return false, SpeechEnd
	}
	return false, None
}

// Reset forgets the speaking state (the floor is kept: same line).
func (d *Detector) Reset() { d.speaking, d.run = false, 0 }
