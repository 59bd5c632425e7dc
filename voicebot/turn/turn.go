// Package turn decides when the caller has finished speaking: a silence
// after speech, shortened when the recogniser's partial transcript already
// reads as a complete utterance and lengthened when it ends mid-phrase
// ("I want to check my...", "um").
package turn

import (
	"strings"
	"time"
)

// Config tunes end-of-turn detection; zero fields take the defaults.
type Config struct {
	// Silence ends a turn when there is no partial transcript to judge by [600 ms].
	Silence time.Duration
	// CompleteSilence ends a turn whose partial reads as complete [300 ms].
	CompleteSilence time.Duration
	// IncompleteSilence ends a turn whose partial ends with a filler,
	// conjunction, article or preposition [1200 ms].
	IncompleteSilence time.Duration
	// MinSpeech: speech shorter than this is a click or cough, not a turn [100 ms].
	MinSpeech time.Duration
	// MaxUtterance ends a turn that never pauses [20 s].
	MaxUtterance time.Duration
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Silence, 600*time.Millisecond)
	def(&c.CompleteSilence, 300*time.Millisecond)
	def(&c.IncompleteSilence, 1200*time.Millisecond)
	def(&c.MinSpeech, 100*time.Millisecond)
	def(&c.MaxUtterance, 20*time.Second)
	return c
}

// trailing words after which a speaker is rarely done.
var incomplete = map[string]bool{
	"um": true, "uh": true, "er": true, "erm": true, "hmm": true, "and": true, "or": true, "but": true,
	"so": true, "because": true, "the": true, "a": true, "an": true, "to": true, "my": true, "of": true,
	"with": true, "for": true, "in": true, "on": true, "at": true, "is": true, "i": true, "i'm": true,
	"like": true, "then": true, "if": true, "that": true, "your": true, "our": true, "want": true,
	"need": true, "about": true, "from": true, "it's": true, "was": true, "be": true,
}

// Decision is the detector's verdict on a frame.
type Decision int

const (
	Continue  Decision = iota
	EndOfTurn          // the caller is done
	Discard            // the "utterance" was too short to be speech
)

// Detector follows one utterance; not safe for concurrent use.
type Detector struct {
	cfg       Config
	speech    time.Duration // voiced time in this utterance
	total     time.Duration
	silence   time.Duration // trailing unvoiced time
	voicedRun int           // voiced frames in a row
	// the last partial judged and its verdict: the partial changes a few
	// times a second, Observe runs every frame.
	lastPartial string
	lastNeed    time.Duration
}

// New returns a detector for cfg (defaults applied).
func New(cfg Config) *Detector { return &Detector{cfg: cfg.WithDefaults()} }

// Config returns the effective configuration.
func (d *Detector) Config() Config { return d.cfg }

// Reset starts a new utterance.
func (d *Detector) Reset() { d.speech, d.total, d.silence, d.voicedRun = 0, 0, 0, 0 }

// resumeFrames voiced frames in a row end a pause: a lone click or breath
// between sentences does not restart the silence count (as the VAD's onset).
const resumeFrames = 2

// Speech is the voiced time observed in this utterance.
func (d *Detector) Speech() time.Duration { return d.speech }

// Observe accounts one frame of dur; partial is the recogniser's latest
// hypothesis ("" when it has none).
func (d *Detector) Observe(voiced bool, dur time.Duration, partial string) Decision {
	d.total += dur
	if voiced {
		d.voicedRun++
	} else {
		d.voicedRun = 0
	}
	switch {
	case !voiced:
		d.silence += dur
	case d.silence > 0 && d.voicedRun < resumeFrames:
		d.silence += dur // perhaps a click: the pause goes on
	default:
		d.speech += dur
		d.silence = 0
	}
	if d.total >= d.cfg.MaxUtterance {
		return EndOfTurn
	}
	if d.silence == 0 {
		return Continue
	}
	if partial != d.lastPartial || d.lastNeed == 0 {
		d.lastPartial, d.lastNeed = partial, d.SilenceNeeded(partial)
	}
	if d.silence < d.lastNeed {
		return Continue
	}
	if d.speech < d.cfg.MinSpeech {
		return Discard
	}
	return EndOfTurn
}

// SilenceNeeded is how long a pause after partial ends the turn.
func (d *Detector) SilenceNeeded(partial string) time.Duration {
	words := strings.Fields(strings.ToLower(partial))
	switch {
	case len(words) == 0:
		return d.cfg.Silence
	case incomplete[strings.Trim(words[len(words)-1], ".,?!")]:
		return d.cfg.IncompleteSilence
	default:
		return d.cfg.CompleteSilence
	}
}
