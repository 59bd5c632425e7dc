package nlu

import (
	"math"
	"slices"
	"sort"
)

// calibration turns SVM margins into probabilities: a softmax at temperature
// T over the intents' margins plus, optionally, a constant "no intent" logit
// at margin Background. That logit is what makes the confidence fall when no
// intent's SVM claims the turn (all margins negative), not only when two
// intents compete; the probabilities then sum to less than one, the rest
// being the chance that the turn is out of scope.
//
// With a trained out-of-scope class and OOSWeight > 0, the "no intent" logit
// becomes Background + OOSWeight times that class's margin, replacing both the
// constant and the class's own logit: a turn is then rejected by how far the
// best intent's margin stands above the out-of-scope SVM's, which on
// CLINC150's validation split separates out-of-scope turns better than the
// best intent's probability alone.
type calibration struct {
	Temperature   float64
	Background    float64
	UseBackground bool
	Threshold     float64
	OOSWeight     float64
}

// defaultCalibration is used when there is too little held-out data to fit
// one; the temperature is close to what BANKING77 and CLINC150 splits give.
var defaultCalibration = calibration{Temperature: 0.2, UseBackground: true, Background: 0}

// defaultThreshold rejects, when there are too few held-out turns to fit a
// threshold, any turn whose best intent is less likely than all the rest
// together, "no intent" included.
const defaultThreshold = 0.5

// minCalibrationTurns is the fewest held-out turns a temperature is fitted on.
const minCalibrationTurns = 50

// probs writes the calibrated probability of each class into p; oos is the
// index of the trained out-of-scope class, or -1.
func (c calibration) probs(margins, p []float64, oos int) {
	reject, useReject := c.Background, c.UseBackground
	if oos >= 0 && c.OOSWeight > 0 {
		reject, useReject = c.Background+c.OOSWeight*margins[oos], false
	} else {
		oos = -1
	}
	hi := math.Inf(-1)
	for i, v := range margins {
		if i == oos {
			v = reject
		}
		hi = max(hi, v)
	}
	if useReject {
		hi = max(hi, reject)
	}
	var z float64
	for i, v := range margins {
		if i == oos {
			v = reject
		}
		p[i] = math.Exp((v - hi) / c.Temperature)
		z += p[i]
	}
	if useReject {
		z += math.Exp((reject - hi) / c.Temperature)
	}
	for i := range p {
		p[i] /= z
	}
}

// scoredTurn is a validation turn with its margins, computed once.
type scoredTurn struct {
	margins []float64
	gold    int // class index, or -1 when out of scope
}

func scoreTurns(m *Model, val []Example) []scoredTurn {
	out := make([]scoredTurn, 0, len(val))
	for _, e := range val {
		k, ok := slices.BinarySearch(m.labels, e.Intent)
		if !ok || k == m.oos {
			k = -1
		}
		out = append(out, scoredTurn{m.margins(e.Text), k})
	}
	return out
}

// fitTemperature finds the temperature that minimizes the negative
// log-likelihood of the in-scope turns. The likelihood is convex in 1/T, so a
// golden-section search on log(1/T) finds its minimum.
func fitTemperature(c calibration, turns []scoredTurn, oos int) float64 {
	var in []scoredTurn
	for _, t := range turns {
		if t.gold >= 0 {
			in = append(in, t)
		}
	}
	if len(in) < minCalibrationTurns {
		return defaultCalibration.Temperature
	}
	p := make([]float64, len(in[0].margins))
	nll := func(logBeta float64) float64 {
		c.Temperature = math.Exp(-logBeta)
		var sum float64
		for _, t := range in {
			c.probs(t.margins, p, oos)
			sum -= math.Log(max(p[t.gold], 1e-300))
		}
		return sum
	}
	lo, hi := math.Log(0.5), math.Log(100) // T between 0.01 and 2
	g := (math.Sqrt(5) - 1) / 2
	a, b := hi-g*(hi-lo), lo+g*(hi-lo)
	fa, fb := nll(a), nll(b)
	for range 40 {
		if fa < fb {
			hi, b, fb = b, a, fa
			a = hi - g*(hi-lo)
			fa = nll(a)
		} else {
			lo, a, fa = a, b, fb
			b = lo + g*(hi-lo)
			fb = nll(b)
		}
	}
	return math.Exp(-(lo + hi) / 2)
}

// chooseThreshold picks the rejection threshold for c on validation turns.
// With out-of-scope turns it maximizes the mean of in-scope accuracy and
// out-of-scope recall or, when targetRecall > 0, in-scope accuracy among the
// thresholds reaching that out-of-scope recall (the objective is returned as
// score); without them it rejects about rejectRate of the in-scope turns and
// score is 0.
func chooseThreshold(m *Model, c calibration, turns []scoredTurn, rejectRate, targetRecall float64) (threshold, score float64) {
	type point struct {
		conf    float64
		oos     bool // gold is out of scope
		correct bool // in scope and the best in-scope intent is right
		byClass bool // rejected by the trained out-of-scope class
	}
	pts := make([]point, 0, len(turns))
	nOOS := 0
	var p []float64
	for _, t := range turns {
		p = slices.Grow(p[:0], len(t.margins))[:len(t.margins)]
		c.probs(t.margins, p, m.oos)
		best, top := -1, -1
		for k := range p {
			if top < 0 || p[k] > p[top] {
				top = k
			}
			if k != m.oos && (best < 0 || p[k] > p[best]) {
				best = k
			}
		}
		pt := point{conf: p[best], oos: t.gold < 0, byClass: top == m.oos}
		if pt.oos {
			nOOS++
		} else {
			pt.correct = best == t.gold
		}
		pts = append(pts, pt)
	}
	if len(pts) == 0 {
		return 0, 0
	}
	sort.Slice(pts, func(a, b int) bool { return pts[a].conf < pts[b].conf })
	nIn := len(pts) - nOOS
	if nOOS == 0 {
		if len(pts) < minCalibrationTurns {
			return defaultThreshold, 0
		}
		i := int(rejectRate * float64(len(pts)))
		if i <= 0 {
			return 0, 0
		}
		return pts[min(i, len(pts)-1)].conf, 0
	}
	// A threshold between pts[i].conf and pts[i+1].conf rejects pts[:i+1].
	inCorrect, oosCaught := 0, 0
	for _, p := range pts {
		if p.correct && !p.byClass {
			inCorrect++
		}
		if p.oos && p.byClass {
			oosCaught++
		}
	}
	objective := func() float64 {
		recall := float64(oosCaught) / float64(nOOS)
		acc := float64(inCorrect) / float64(max(nIn, 1))
		if targetRecall > 0 {
			if recall < targetRecall {
				return -1 + recall // below target: only recall counts
			}
			return acc
		}
		return (recall + acc) / 2
	}
	score = objective()
	for i, p := range pts {
		if p.correct && !p.byClass {
			inCorrect--
		}
		if p.oos && !p.byClass {
			oosCaught++
		}
		if i+1 < len(pts) && pts[i+1].conf == p.conf {
			continue
		}
		if s := objective(); s > score {
			score = s
			if i+1 < len(pts) {
				threshold = (p.conf + pts[i+1].conf) / 2
			} else {
				threshold = math.Nextafter(p.conf, 2)
			}
		}
	}
	return threshold, score
}

// oosWeights are the candidate OOSWeight values calibrate tries.
var oosWeights = []float64{1, 1.5}

// calibrate fits a calibration for m on validation turns. With out-of-scope
// turns it also chooses whether and where to place the "no intent" logit.
func calibrate(m *Model, val []Example, rejectRate, targetRecall float64) calibration {
	turns := scoreTurns(m, val)
	hasOOS := false
	for _, t := range turns {
		hasOOS = hasOOS || t.gold < 0
	}
	if !hasOOS {
		c := m.calib
		c.Temperature = fitTemperature(c, turns, m.oos)
		c.Threshold, _ = chooseThreshold(m, c, turns, rejectRate, 0)
		return c
	}
	var best calibration
	bestScore := math.Inf(-1)
	candidates := []calibration{{UseBackground: false}}
	for bg := -1.5; bg <= 0.51; bg += 0.25 {
		candidates = append(candidates, calibration{UseBackground: true, Background: bg})
	}
	if m.oos >= 0 {
		for _, w := range oosWeights {
			for bg := 0.5; bg <= 2.01; bg += 0.5 {
				candidates = append(candidates, calibration{OOSWeight: w, Background: bg})
			}
		}
	}
	for _, c := range candidates {
		c.Temperature = fitTemperature(c, turns, m.oos)
		var s float64
		c.Threshold, s = chooseThreshold(m, c, turns, rejectRate, targetRecall)
		if s > bestScore {
			best, bestScore = c, s
		}
	}
	return best
}
