package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/parley-cc/parley/voicebot/nlu"
)

func init() { register("nlu", "train and evaluate the local intent engine", runNLU) }

func runNLU(args []string) int {
	if len(args) == 0 || args[0] != "eval" {
		fmt.Fprintln(os.Stderr, "usage: parley nlu eval --train FILE --test FILE [--val FILE] [--oos-label L]\n       parley nlu eval --clinc data_full.json")
		return 2
	}
	return nluEval(context.Background(), args[1:], os.Stdout, os.Stderr)
}

func nluEval(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nlu eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	trainPath := fs.String("train", "", "training CSV (text + label|category|intent columns), or CLINC150 data_full.json")
	testPath := fs.String("test", "", "test CSV; reported once, never used for tuning")
	valPath := fs.String("val", "", "validation CSV to fit the confidence temperature and rejection threshold")
	clincPath := fs.String("clinc", "", "CLINC150 data_full.json: train+oos_train, val+oos_val, test+oos_test")
	oosLabel := fs.String("oos-label", "", "label of out-of-scope turns in the data (CLINC150: oos)")
	oosTrain := fs.Bool("oos-train", true, "with --clinc, train a reject class on oos_train")
	split := fs.Float64("split", 0, "evaluate on this fraction of --train held out (for tuning) instead of --test")
	target := fs.Float64("target-oos-recall", 0, "choose the threshold with the best in-scope accuracy reaching this out-of-scope recall on validation (0: maximize their mean)")
	confusions := fs.Int("confusions", 0, "also print the N most frequent (gold -> predicted) confusions")
	savePath := fs.String("save", "", "write the trained model to this file")
	def := nlu.DefaultOptions()
	c := fs.Float64("c", def.C, "SVM cost")
	wordN := fs.Int("word-ngrams", def.Features.WordNGrams, "longest word n-gram")
	charMin := fs.Int("char-min", def.Features.CharMin, "shortest character n-gram")
	charMax := fs.Int("char-max", def.Features.CharMax, "longest character n-gram (0 disables)")
	stem := fs.Bool("stem", def.Features.Stem, "stem words for word n-grams")
	wordW := fs.Float64("word-weight", def.Features.WordWeight, "weight of the word n-gram block")
	charW := fs.Float64("char-weight", def.Features.CharWeight, "weight of the character n-gram block")
	skip := fs.Int("skip-window", def.Features.SkipWindow, "pair stemmed words up to this many apart (0 disables)")
	minDF := fs.Int("min-df", def.Features.MinDF, "drop features seen in fewer training turns")
	lrW := fs.Float64("lr-weight", def.LRWeight, "weight of the softmax regression logits added to the SVM margins (0 disables)")
	lrL := fs.Float64("lr-lambda", def.LRLambda, "softmax regression L2")
	lrE := fs.Int("lr-epochs", def.LREpochs, "softmax regression epochs")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "parley nlu eval: %v\n", err)
		return 1
	}
	if *clincPath == "" && strings.HasSuffix(*trainPath, ".json") {
		*clincPath, *trainPath = *trainPath, ""
	}
	var train, val, test []nlu.Example
	switch {
	case *clincPath != "":
		d, err := nlu.LoadCLINC150(*clincPath)
		if err != nil {
			return fail(err)
		}
		if *oosLabel == "" {
			*oosLabel = nlu.CLINCOutOfScope
		}
		train = d.Train
		if *oosTrain {
			train = append(train, d.OOSTrain...)
		}
		val = append(d.Val, d.OOSVal...)
		test = append(d.Test, d.OOSTest...)
	case *trainPath != "":
		var err error
		if train, err = nlu.LoadCSV(*trainPath); err != nil {
			return fail(err)
		}
		if *valPath != "" {
			if val, err = nlu.LoadCSV(*valPath); err != nil {
				return fail(err)
			}
		}
		if *testPath != "" {
			if test, err = nlu.LoadCSV(*testPath); err != nil {
				return fail(err)
			}
		}
	default:
		fmt.Fprintln(stderr, "parley nlu eval: --train (or --clinc) is required")
		fs.Usage()
		return 2
	}
	if *split > 0 {
		if *split >= 1 {
			return fail(fmt.Errorf("--split %v: want a fraction in (0,1)", *split))
		}
		train, test = nlu.SplitHoldout(train, *split)
		if len(val) == 0 {
			// Tune on a further split so the held-out test stays unseen.
			train, val = nlu.SplitHoldout(train, *split)
		}
	}
	if len(test) == 0 {
		return fail(fmt.Errorf("no test data: give --test FILE or --split FRACTION"))
	}

	opts := nlu.DefaultOptions()
	opts.C = *c
	opts.Features = nlu.FeatureOptions{WordNGrams: *wordN, CharMin: *charMin, CharMax: *charMax, Stem: *stem, WordWeight: *wordW, CharWeight: *charW, MinDF: *minDF, SkipWindow: *skip}
	opts.OutOfScopeLabel = *oosLabel
	opts.TargetOOSRecall = *target
	opts.LRWeight, opts.LRLambda, opts.LREpochs = *lrW, *lrL, *lrE
	if len(val) > 0 {
		opts.Holdout = -1
	}
	start := time.Now()
	m, err := nlu.Train(ctx, train, opts)
	if err != nil {
		return fail(err)
	}
	if len(val) > 0 {
		if m, err = m.Calibrate(val, nlu.CalibrateOptions{TargetOOSRecall: *target}); err != nil {
			return fail(err)
		}
	}
	trainTime := time.Since(start)
	if *savePath != "" {
		if err := nlu.SaveFile(m, *savePath); err != nil {
			return fail(err)
		}
	}

	classify := m
	if *oosLabel == "" {
		classify = m.WithThreshold(0) // closed-set accuracy: never reject
	}
	gold := make([]string, len(test))
	pred := make([]string, len(test))
	start = time.Now()
	for i, e := range test {
		gold[i] = e.Intent
		pred[i] = classify.Classify(e.Text).Intent
	}
	perTurn := time.Since(start) / time.Duration(len(test))
	r := nlu.Evaluate(gold, pred, *oosLabel)
	// Closed-set accuracy on the in-scope turns shows what rejection costs.
	closed, inScope := 0, 0
	open := m.WithThreshold(0)
	for _, e := range test {
		if *oosLabel != "" && e.Intent == *oosLabel {
			continue
		}
		inScope++
		if rk := open.Rank(e.Text); rk[0].Intent == e.Intent || (rk[0].Intent == *oosLabel && len(rk) > 1 && rk[1].Intent == e.Intent) {
			closed++
		}
	}

	fmt.Fprintf(stdout, "train: %d examples, %d intents, %s (temperature %.3f, threshold %.3f)\n",
		len(train), len(m.Intents()), trainTime.Round(time.Millisecond), m.Temperature(), m.Threshold())
	fmt.Fprintf(stdout, "test:  %d turns, %s per turn\n", r.N, perTurn.Round(time.Microsecond))
	fmt.Fprintf(stdout, "accuracy         %.4f\n", r.Accuracy)
	fmt.Fprintf(stdout, "macro-F1         %.4f\n", r.MacroF1)
	if *oosLabel != "" {
		fmt.Fprintf(stdout, "in-scope acc     %.4f  (%d turns)\n", r.InScopeAccuracy, r.InScope)
		fmt.Fprintf(stdout, "out-of-scope rec %.4f  (%d turns)\n", r.OOSRecall, r.OOS)
		fmt.Fprintf(stdout, "in-scope acc without rejection %.4f\n", float64(closed)/float64(max(inScope, 1)))
	}
	if *confusions > 0 {
		printConfusions(stdout, gold, pred, *confusions)
	}
	return 0
}

// printConfusions lists the most frequent gold -> predicted mistakes, which
// show a deployment which intents need clearer examples.
func printConfusions(w io.Writer, gold, pred []string, n int) {
	count := map[[2]string]int{}
	for i := range gold {
		if gold[i] != pred[i] {
			count[[2]string{gold[i], pred[i]}]++
		}
	}
	pairs := make([][2]string, 0, len(count))
	for p := range count {
		pairs = append(pairs, p)
	}
	sort.Slice(pairs, func(a, b int) bool {
		if count[pairs[a]] != count[pairs[b]] {
			return count[pairs[a]] > count[pairs[b]]
		}
		return pairs[a][0]+pairs[a][1] < pairs[b][0]+pairs[b][1]
	})
	fmt.Fprintln(w, "most frequent confusions (gold -> predicted):")
	for _, p := range pairs[:min(n, len(pairs))] {
		fmt.Fprintf(w, "  %4d  %s -> %s\n", count[p], p[0], p[1])
	}
}
