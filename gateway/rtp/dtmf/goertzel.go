package dtmf

import (
	"math"

	"github.com/parley-cc/parley/gateway/rtp/audio"
)

var (
	rowFreqs = [4]float64{697, 770, 852, 941}
	colFreqs = [4]float64{1209, 1336, 1477, 1633}
	keypad   = [4][4]byte{{'1', '2', '3', 'A'}, {'4', '5', '6', 'B'}, {'7', '8', '9', 'C'}, {'*', '0', '#', 'D'}}
)

// DetectorConfig holds the thresholds of the in-band detector; zero fields take defaults.
type DetectorConfig struct {
	// MinLevelDBFS is the weakest tone (each of the pair) accepted, in dBFS of a sine (default -38).
	MinLevelDBFS float64
	// NormalTwistDB is how much weaker the column tone may be than the row tone (default 8 dB).
	NormalTwistDB float64
	// ReverseTwistDB is how much weaker the row tone may be than the column tone (default 8 dB).
	ReverseTwistDB float64
	// MinFrames is how many consecutive 20 ms frames a key must be seen in (default 2: 40 ms).
	MinFrames int
	// GapFrames is how many frames without that key end it, so a repeat is a new press (default 2).
	GapFrames int
}

func (c *DetectorConfig) withDefaults() DetectorConfig {
	d := *c
	if d.MinLevelDBFS == 0 {
		d.MinLevelDBFS = -38
	}
	if d.NormalTwistDB == 0 {
		d.NormalTwistDB = 8
	}
	if d.ReverseTwistDB == 0 {
		d.ReverseTwistDB = 8
	}
	if d.MinFrames == 0 {
		d.MinFrames = 2
	}
	if d.GapFrames == 0 {
		d.GapFrames = 2
	}
	return d
}

// Detector finds DTMF keys in 8 kHz audio, one 20 ms Frame at a time, with
// Goertzel filters on the eight DTMF frequencies plus energy, twist,
// relative-peak and minimum-duration checks, and debouncing.
type Detector struct {
	cfg       DetectorConfig
	rowCoef   [4]float64
	colCoef   [4]float64
	minPower  float64
	normTwist float64
	revTwist  float64
	candidate byte // key seen in the latest frames
	count     int  // consecutive frames of candidate
	current   byte // key reported and still held
	miss      int  // consecutive frames without the current key
}

// NewDetector returns an in-band DTMF Detector for 8 kHz audio.
func NewDetector(cfg DetectorConfig) *Detector {
	c := cfg.withDefaults()
	d := &Detector{cfg: c}
	for i := range rowFreqs {
		d.rowCoef[i] = 2 * math.Cos(2*math.Pi*rowFreqs[i]/audio.SampleRate)
		d.colCoef[i] = 2 * math.Cos(2*math.Pi*colFreqs[i]/audio.SampleRate)
	}
	// Goertzel power of a sine of amplitude A over N samples is (A*N/2)^2.
	amp := 32768 * math.Sqrt2 * math.Pow(10, c.MinLevelDBFS/20)
	d.minPower = (amp * audio.FrameSamples / 2) * (amp * audio.FrameSamples / 2)
	d.normTwist = math.Pow(10, c.NormalTwistDB/10)
	d.revTwist = math.Pow(10, c.ReverseTwistDB/10)
	return d
}

func goertzel(coef float64, x *audio.Frame) float64 {
	var s1, s2 float64
	for _, v := range x {
		s0 := float64(v) + coef*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - coef*s1*s2
}

// classify returns the key whose tone pair dominates the frame, or 0.
func (d *Detector) classify(f *audio.Frame) byte {
	var total float64
	for _, v := range f {
		total += float64(v) * float64(v)
	}
	// A frequency's Goertzel power is at most N times the frame's energy
	// (Cauchy-Schwarz), so a frame this quiet cannot hold a tone loud
	// enough: skip the filters (most frames of a call are such).
	if total*audio.FrameSamples < d.minPower {
		return 0
	}
	var rows, cols [4]float64
	r, c := 0, 0
	for i := 0; i < 4; i++ {
		rows[i] = goertzel(d.rowCoef[i], f)
		cols[i] = goertzel(d.colCoef[i], f)
		if rows[i] > rows[r] {
			r = i
		}
		if cols[i] > cols[c] {
			c = i
		}
	}
	rp, cp := rows[r], cols[c]
	if rp < d.minPower || cp < d.minPower {
		return 0
	}
	// Twist: the two tones' levels must be close (ITU-T Q.24 allows 4-8 dB).
	if cp*d.normTwist < rp || rp*d.revTwist < cp {
		return 0
	}
	// Each peak must stand 6 dB above its group's other frequencies.
	for i := 0; i < 4; i++ {
		if i != r && rows[i]*4 > rp {
			return 0
		}
		if i != c && cols[i]*4 > cp {
			return 0
		}
	}
	// The two tones must carry most of the frame's energy (speech spreads it):
	// a sine's Goertzel power equals N/2 times its energy over the frame.
	if (rp+cp)/(audio.FrameSamples/2) < 0.6*total {
		return 0
	}
	return keypad[r][c]
}

// Process analyses one frame and returns a key when a press is confirmed.
func (d *Detector) Process(f *audio.Frame) (KeyPress, bool) {
	k := d.classify(f)
	if k != 0 && k == d.candidate {
		d.count++
	} else {
		d.candidate, d.count = k, 1
	}
	if d.current != 0 {
		if k == d.current {
			d.miss = 0
			return KeyPress{}, false
		}
		d.miss++
		if d.miss < d.cfg.GapFrames {
			return KeyPress{}, false
		}
		d.current = 0
	}
	if k != 0 && d.count >= d.cfg.MinFrames {
		d.current, d.miss = k, 0
		return KeyPress{Digit: k, InBand: true}, true
	}
	return KeyPress{}, false
}
