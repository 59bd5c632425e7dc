package nlu

import "sort"

// Report holds evaluation figures for a test set.
type Report struct {
	N        int     // test turns
	Accuracy float64 // share of turns whose predicted intent is the gold one
	MacroF1  float64 // unweighted mean F1 over gold intents (out-of-scope included when present)
	// InScopeAccuracy is the share of in-scope turns classified correctly and
	// not rejected; OOSRecall the share of out-of-scope turns rejected. Both
	// are zero when the test set has no out-of-scope turns.
	InScopeAccuracy float64
	OOSRecall       float64
	InScope, OOS    int
}

// Evaluate compares predictions with gold intents. Gold and predicted
// intents equal to oosLabel or OutOfScope count as out of scope.
func Evaluate(gold, pred []string, oosLabel string) Report {
	norm := func(s string) string {
		if s == OutOfScope || (oosLabel != "" && s == oosLabel) {
			return OutOfScope
		}
		return s
	}
	r := Report{N: len(gold)}
	tp, fp, fn := map[string]int{}, map[string]int{}, map[string]int{}
	classes := map[string]bool{}
	correct, inCorrect, oosCaught := 0, 0, 0
	for i := range gold {
		g, p := norm(gold[i]), norm(pred[i])
		classes[g] = true
		if g == p {
			correct++
			tp[g]++
		} else {
			fp[p]++
			fn[g]++
		}
		if g == OutOfScope {
			r.OOS++
			if p == OutOfScope {
				oosCaught++
			}
		} else {
			r.InScope++
			if g == p {
				inCorrect++
			}
		}
	}
	if r.N == 0 {
		return r
	}
	r.Accuracy = float64(correct) / float64(r.N)
	names := make([]string, 0, len(classes))
	for c := range classes {
		names = append(names, c)
	}
	sort.Strings(names)
	var f1 float64
	for _, c := range names {
		if d := 2*tp[c] + fp[c] + fn[c]; d > 0 {
			f1 += 2 * float64(tp[c]) / float64(d)
		}
	}
	r.MacroF1 = f1 / float64(len(names))
	if r.OOS > 0 {
		r.OOSRecall = float64(oosCaught) / float64(r.OOS)
		if r.InScope > 0 {
			r.InScopeAccuracy = float64(inCorrect) / float64(r.InScope)
		}
	}
	return r
}
