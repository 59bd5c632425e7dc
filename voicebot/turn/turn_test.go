package turn

import (
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/internal/shareddata"
	"github.com/parley-cc/parley/voicebot/vad"
)

const frame = audio.FrameDurationMs * time.Millisecond

func TestSilenceNeededByPartial(t *testing.T) {
	d := New(Config{})
	for _, tc := range []struct {
		partial string
		want    time.Duration
	}{
		{"", 600 * time.Millisecond},
		{"I want to check my account balance", 300 * time.Millisecond},
		{"what are your opening hours?", 300 * time.Millisecond},
		{"I want to check my", 1200 * time.Millisecond},
		{"my number is um", 1200 * time.Millisecond},
		{"balance and", 1200 * time.Millisecond},
		{"Yes, the", 1200 * time.Millisecond},
		{"pay it on Friday.", 300 * time.Millisecond},
	} {
		if got := d.SilenceNeeded(tc.partial); got != tc.want {
			t.Errorf("SilenceNeeded(%q) = %s, want %s", tc.partial, got, tc.want)
		}
	}
}

// run feeds speech then silence frames and returns the decision and how
// much silence it took.
func run(d *Detector, speech time.Duration, partial func(silence time.Duration) string) (Decision, time.Duration) {
	d.Reset()
	for e := time.Duration(0); e < speech; e += frame {
		if dec := d.Observe(true, frame, partial(0)); dec != Continue {
			return dec, 0
		}
	}
	for s := frame; s < time.Minute; s += frame {
		if dec := d.Observe(false, frame, partial(s)); dec != Continue {
			return dec, s
		}
	}
	return Continue, time.Minute
}

func TestEndOfTurnRules(t *testing.T) {
	d := New(Config{})
	fixed := func(p string) func(time.Duration) string { return func(time.Duration) string { return p } }
	for _, tc := range []struct {
		name    string
		speech  time.Duration
		partial func(time.Duration) string
		want    Decision
		after   time.Duration
	}{
		{"no partial", time.Second, fixed(""), EndOfTurn, 600 * time.Millisecond},
		{"complete", time.Second, fixed("check my balance"), EndOfTurn, 300 * time.Millisecond},
		{"mid-phrase", time.Second, fixed("I want to check my"), EndOfTurn, 1200 * time.Millisecond},
		// The recogniser catches up during the pause: the turn ends as soon
		// as the completed partial's shorter silence has passed.
		{"partial completes late", time.Second, func(s time.Duration) string {
			if s < 500*time.Millisecond {
				return "I want to check my"
			}
			return "I want to check my balance"
		}, EndOfTurn, 500 * time.Millisecond},
		{"a click", 60 * time.Millisecond, fixed(""), Discard, 600 * time.Millisecond},
		{"a cough at the limit", 100 * time.Millisecond, fixed(""), EndOfTurn, 600 * time.Millisecond},
	} {
		dec, after := run(d, tc.speech, tc.partial)
		if dec != tc.want || after != tc.after {
			t.Errorf("%s: decision %d after %s of silence, want %d after %s", tc.name, dec, after, tc.want, tc.after)
		}
	}
}

func TestMaxUtteranceEndsAMonologue(t *testing.T) {
	d := New(Config{MaxUtterance: 3 * time.Second})
	n := 0
	for ; n < 1000; n++ {
		if d.Observe(n%10 != 0, frame, "and then") == EndOfTurn { // short pauses never long enough
			break
		}
	}
	if got := time.Duration(n+1) * frame; got != 3*time.Second {
		t.Fatalf("monologue ended after %s, want 3s", got)
	}
	// 9 of every 10 frames voiced; the first voiced frame after each
	// 20 ms gap is held back as a possible click.
	if d.Speech() != 2400*time.Millisecond {
		t.Fatalf("speech %s, want 2.4s", d.Speech())
	}
}

// TestHarvardTurns: VAD and end-of-turn rules together over a telephone
// recording of ten sentences read with pauses: ten turns, each ending
// within the silence rule after its sentence.
func TestHarvardTurns(t *testing.T) {
	frames, err := media.LoadPrompt(shareddata.Path(t, "asr", "osr-harvard-8k", "OSR_us_000_0034_8k.wav"))
	if err != nil {
		t.Fatal(err)
	}
	v := vad.New(vad.Config{})
	// Without partials every pause waits Silence; 700 ms keeps the comma
	// pause of the last sentence inside its turn.
	d := New(Config{Silence: 700 * time.Millisecond})
	in := false
	var ends []time.Duration
	lastVoiced, prev := 0, false // the last of two voiced frames in a row
	for i := range frames {
		voiced, ev := v.Classify(&frames[i])
		if voiced && prev {
			lastVoiced = i
		}
		prev = voiced
		if !in {
			if ev == vad.SpeechStart {
				in = true
				d.Reset()
			}
			continue
		}
		switch d.Observe(voiced, frame, "") {
		case EndOfTurn:
			in = false
			ends = append(ends, time.Duration(i+1)*frame)
			// 700 ms of pause, perhaps with a lone click in it.
			if gap := time.Duration(i-lastVoiced) * frame; gap < 700*time.Millisecond || gap > 760*time.Millisecond {
				t.Errorf("turn %d ended %s after the last voiced frame", len(ends), gap)
			}
		case Discard:
			in = false
		}
	}
	t.Logf("turns end at %v", ends)
	if len(ends) != 10 {
		t.Fatalf("%d turns in a recording of ten sentences", len(ends))
	}
}
