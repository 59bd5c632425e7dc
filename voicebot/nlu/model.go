// Package nlu is Parley's local intent engine: it learns a deployment's
// intents from example utterances and classifies caller turns offline, with no
// model download and no GPU. Utterances become word and character n-gram
// TF-IDF vectors; one linear SVM per intent scores them; a temperature-scaled
// softmax over the margins gives a confidence, and a threshold on it rejects
// out-of-scope turns.
package nlu

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
)

// OutOfScope is the intent Classify returns when a turn matches no intent.
const OutOfScope = "out_of_scope"

// Example is one labeled utterance from a deployment's training data.
type Example struct {
	Text   string
	Intent string
}

// Alternative is one candidate intent with its calibrated probability.
type Alternative struct {
	Intent     string
	Confidence float64
}

// Result is the engine's reading of one caller turn.
type Result struct {
	// Intent is the best intent, or OutOfScope when the turn is rejected.
	Intent string
	// Confidence is the calibrated probability, in [0,1], of the best
	// in-scope intent; a rejected turn has it below the threshold (or lost to
	// the trained out-of-scope class).
	Confidence float64
	// Alternatives are the next best in-scope intents, best first (when the
	// turn is rejected they start with the best in-scope intent).
	Alternatives []Alternative
}

// Options configure training. The zero value means "use the defaults".
type Options struct {
	// Features is used as given, except that its zero value means
	// DefaultFeatureOptions.
	Features FeatureOptions
	// C is the SVM cost: higher fits the examples more tightly.
	C float64
	// Epsilon is the dual solver's stopping tolerance.
	Epsilon float64
	// MaxIter bounds solver passes over the data per intent.
	MaxIter int
	// OutOfScopeLabel names training examples that are deliberately out of
	// scope (CLINC150 "oos"); they train a reject class of their own.
	OutOfScopeLabel string
	// Holdout is the fraction of each intent's examples held out to fit the
	// temperature and threshold before the final model is trained on all of
	// them; 0 means 0.1, negative disables it (call Calibrate instead).
	Holdout float64
	// RejectRate is, without out-of-scope examples to tune on, the share of
	// held-out in-scope turns the fitted threshold may reject; 0 means 0.05.
	RejectRate float64
	// TargetOOSRecall, when positive and the held-out turns include
	// out-of-scope ones, makes the threshold the one with the best in-scope
	// accuracy among those rejecting at least this share of out-of-scope
	// turns; otherwise the threshold maximizes the mean of the two.
	TargetOOSRecall float64
	// Threshold, when positive, fixes the rejection threshold instead of
	// fitting it.
	Threshold float64
	// Alternatives is how many alternatives Classify returns; 0 means 3.
	Alternatives int
	// LRWeight, LRLambda and LREpochs add a softmax regression's logits,
	// scaled by LRWeight, to the SVM margins; 0 disables it. Off by default:
	// on a BANKING77 train split it gained 2 of 965 turns (noise) for twice
	// the training time, and it made a tiny deployment overconfident.
	LRWeight, LRLambda float64
	LREpochs           int
	// Workers bounds training parallelism; 0 means GOMAXPROCS.
	Workers int
}

// DefaultOptions returns the options tuned on a split of BANKING77 train.
func DefaultOptions() Options {
	return Options{Features: DefaultFeatureOptions(), C: 0.5, Epsilon: 0.1, MaxIter: 200, LRLambda: 1e-4, LREpochs: 10, Holdout: 0.1, RejectRate: 0.05, Alternatives: 3}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Features == (FeatureOptions{}) {
		o.Features = d.Features
	}
	if o.C <= 0 {
		o.C = d.C
	}
	if o.Epsilon <= 0 {
		o.Epsilon = d.Epsilon
	}
	if o.MaxIter <= 0 {
		o.MaxIter = d.MaxIter
	}
	if o.Holdout == 0 {
		o.Holdout = d.Holdout
	}
	if o.RejectRate <= 0 {
		o.RejectRate = d.RejectRate
	}
	if o.LRWeight > 0 && o.LRLambda <= 0 {
		o.LRLambda = d.LRLambda
	}
	if o.LRWeight > 0 && o.LREpochs <= 0 {
		o.LREpochs = d.LREpochs
	}
	if o.Alternatives <= 0 {
		o.Alternatives = d.Alternatives
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// Model is a trained intent engine. It is immutable, so Classify may be called
// from many goroutines at once.
type Model struct {
	labels  []string // sorted
	oos     int      // index of the out-of-scope class in labels, or -1
	vec     *vectorizer
	weights []float32 // column-major: weights[col*len(labels)+class]
	calib   calibration
	nalt    int
}

// Train learns a model from a deployment's examples.
func Train(ctx context.Context, examples []Example, opts Options) (*Model, error) {
	opts = opts.withDefaults()
	if err := opts.Features.validate(); err != nil {
		return nil, err
	}
	if err := validate(examples); err != nil {
		return nil, err
	}
	m, err := fit(ctx, examples, opts)
	if err != nil {
		return nil, err
	}
	if opts.Holdout > 0 {
		// Fit the calibration on a model that has not seen the held-out turns,
		// then ship the model trained on everything.
		train, held := SplitHoldout(examples, opts.Holdout)
		if len(held) > 0 && len(labelsOf(train)) == len(m.labels) {
			probe, err := fit(ctx, train, opts)
			if err != nil {
				return nil, err
			}
			m.calib = calibrate(probe, held, opts.RejectRate, opts.TargetOOSRecall)
		}
	}
	if opts.Threshold > 0 {
		m.calib.Threshold = opts.Threshold
	}
	return m, nil
}

// CalibrateOptions tune Calibrate; the zero value means the defaults.
type CalibrateOptions struct {
	// RejectRate applies when the validation turns have no out-of-scope
	// ones: the share of in-scope turns the threshold may reject (0 = 0.05).
	RejectRate float64
	// TargetOOSRecall is as in Options.
	TargetOOSRecall float64
}

// Calibrate returns a copy of m whose confidence calibration and threshold
// are fitted on labeled validation turns; turns whose intent the model does
// not know (or is its out-of-scope label) count as out of scope.
func (m *Model) Calibrate(val []Example, opts CalibrateOptions) (*Model, error) {
	if len(val) == 0 {
		return nil, errors.New("nlu: calibrate: no validation examples")
	}
	if opts.RejectRate <= 0 {
		opts.RejectRate = DefaultOptions().RejectRate
	}
	c := *m
	c.calib = calibrate(m, val, opts.RejectRate, opts.TargetOOSRecall)
	return &c, nil
}

// WithThreshold returns a copy of m that rejects turns whose best in-scope
// confidence is below t (0 never rejects by confidence).
func (m *Model) WithThreshold(t float64) *Model {
	c := *m
	c.calib.Threshold = t
	return &c
}

// Threshold is the confidence below which Classify rejects a turn.
func (m *Model) Threshold() float64 { return m.calib.Threshold }

// Temperature is the softmax temperature applied to the SVM margins.
func (m *Model) Temperature() float64 { return m.calib.Temperature }

// Intents lists the intents the model knows, sorted, without the
// out-of-scope training label.
func (m *Model) Intents() []string {
	out := make([]string, 0, len(m.labels))
	for i, l := range m.labels {
		if i != m.oos {
			out = append(out, l)
		}
	}
	return out
}

func validate(examples []Example) error {
	if len(examples) == 0 {
		return errors.New("nlu: train: no examples")
	}
	for i, e := range examples {
		if strings.TrimSpace(e.Intent) == "" {
			return fmt.Errorf("nlu: train: example %d (%q) has no intent", i+1, e.Text)
		}
		if strings.TrimSpace(e.Text) == "" {
			return fmt.Errorf("nlu: train: example %d (intent %q) has no text", i+1, e.Intent)
		}
	}
	if len(labelsOf(examples)) < 2 {
		return fmt.Errorf("nlu: train: need at least 2 intents, got only %q", examples[0].Intent)
	}
	return nil
}

func labelsOf(examples []Example) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range examples {
		if !seen[e.Intent] {
			seen[e.Intent] = true
			out = append(out, e.Intent)
		}
	}
	sort.Strings(out)
	return out
}

// SplitHoldout takes every k-th example of each intent (k = 1/frac) as
// held-out, deterministically, keeping at least two examples per intent for
// training.
func SplitHoldout(examples []Example, frac float64) (train, held []Example) {
	k := max(int(math.Round(1/frac)), 2)
	count := map[string]int{}
	for _, e := range examples {
		count[e.Intent]++
	}
	seen := map[string]int{}
	for _, e := range examples {
		n := seen[e.Intent]
		seen[e.Intent]++
		if count[e.Intent] >= 3 && n%k == k-1 {
			held = append(held, e)
		} else {
			train = append(train, e)
		}
	}
	return train, held
}

// fit trains the vectorizer and one SVM per intent, with the default
// calibration.
func fit(ctx context.Context, examples []Example, opts Options) (*Model, error) {
	labels := labelsOf(examples)
	m := &Model{labels: labels, oos: -1, calib: defaultCalibration, nalt: opts.Alternatives}
	if opts.OutOfScopeLabel != "" {
		m.oos = slices.Index(labels, opts.OutOfScopeLabel)
	}
	texts := make([]string, len(examples))
	classOf := make([]int, len(examples))
	for i, e := range examples {
		texts[i] = e.Text
		classOf[i], _ = slices.BinarySearch(labels, e.Intent)
	}
	m.vec = fitVectorizer(texts, opts.Features)
	x := make([]sparse, len(texts))
	sq := make([]float64, len(texts))
	for i, t := range texts {
		x[i] = m.vec.vector(t)
		sq[i] = x[i].norm2()
	}
	K := len(labels)
	m.weights = make([]float32, m.vec.ncols*K)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(opts.Workers, K) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := make([]float64, m.vec.ncols)
			y := make([]int8, len(x))
			for k := range jobs {
				for i, c := range classOf {
					y[i] = -1
					if c == k {
						y[i] = 1
					}
				}
				trainBinarySVM(x, sq, y, opts.C, opts.C, opts.Epsilon, opts.MaxIter, uint64(k)+1, w)
				for col, v := range w {
					m.weights[col*K+k] = float32(v)
				}
			}
		}()
	}
	var err error
	for k := range K {
		if err = ctx.Err(); err != nil {
			break
		}
		jobs <- k
	}
	close(jobs)
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("nlu: train: %w", err)
	}
	if opts.LRWeight > 0 {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("nlu: train: %w", err)
		}
		lr := trainSoftmax(x, classOf, K, m.vec.ncols, opts.LRLambda, opts.LREpochs, 7)
		for j, w := range lr {
			m.weights[j] += float32(opts.LRWeight) * w
		}
	}
	return m, nil
}

// margins returns the raw SVM score of every class for text.
func (m *Model) margins(text string) []float64 {
	K := len(m.labels)
	acc := make([]float32, K)
	v := m.vec.vector(text)
	for i, col := range v.idx {
		row := m.weights[int(col)*K : int(col)*K+K]
		x := v.val[i]
		for k, w := range row {
			acc[k] += x * w
		}
	}
	out := make([]float64, K)
	for k, a := range acc {
		out[k] = float64(a)
	}
	return out
}

// Rank returns every intent the model knows (including its out-of-scope
// training label, if any) with calibrated probabilities, best first. The
// probabilities sum to at most one: the rest is the chance that no intent
// applies.
func (m *Model) Rank(text string) []Alternative {
	p := m.margins(text)
	m.calib.probs(p, p, m.oos)
	out := make([]Alternative, len(p))
	for k, v := range p {
		out[k] = Alternative{Intent: m.labels[k], Confidence: v}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Confidence > out[b].Confidence })
	return out
}

// Classify reads one caller turn.
func (m *Model) Classify(text string) Result {
	ranked := m.Rank(text)
	oosLabel := ""
	if m.oos >= 0 {
		oosLabel = m.labels[m.oos]
	}
	rejectedByClass := oosLabel != "" && ranked[0].Intent == oosLabel
	in := ranked[:0:0]
	for _, a := range ranked {
		if a.Intent != oosLabel || oosLabel == "" {
			in = append(in, a)
			if len(in) > m.nalt {
				break
			}
		}
	}
	r := Result{Intent: in[0].Intent, Confidence: in[0].Confidence, Alternatives: in[1:]}
	if rejectedByClass || r.Confidence < m.calib.Threshold {
		r.Intent = OutOfScope
		r.Alternatives = in[:min(len(in), m.nalt)]
	}
	return r
}
