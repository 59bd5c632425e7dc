package nlu

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// dataDir finds the shared public data: $PARLEY_DATA, else a shared/data
// folder beside some parent of the package directory.
func dataDir(t testing.TB, sub string) string {
	t.Helper()
	if raceEnabled {
		t.Skip("public-data tests train full models; skipped under -race (too slow), run them without it")
	}
	if d := os.Getenv("PARLEY_DATA"); d != "" {
		p := filepath.Join(d, sub)
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s not found under PARLEY_DATA=%s", sub, d)
		}
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "data", sub)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skipf("public data %s not found (set PARLEY_DATA to the shared/data folder)", sub)
		}
		dir = parent
	}
}

func evaluate(m *Model, test []Example, oosLabel string) Report {
	gold := make([]string, len(test))
	pred := make([]string, len(test))
	for i, e := range test {
		gold[i] = e.Intent
		pred[i] = m.Classify(e.Text).Intent
	}
	return Evaluate(gold, pred, oosLabel)
}

// TestBANKING77 trains on train.csv and scores test.csv. The floors sit 0.01
// under the figures measured when the engine was written (accuracy 0.9146,
// macro-F1 0.9148) to catch regressions.
func TestBANKING77(t *testing.T) {
	dir := dataDir(t, "banking77")
	train, err := LoadCSV(filepath.Join(dir, "train.csv"))
	if err != nil {
		t.Fatal(err)
	}
	test, err := LoadCSV(filepath.Join(dir, "test.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(train) != 10003 || len(test) != 3080 {
		t.Fatalf("read %d train / %d test turns, want 10003 / 3080", len(train), len(test))
	}
	m, err := Train(context.Background(), train, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	r := evaluate(m.WithThreshold(0), test, "")
	t.Logf("BANKING77 accuracy %.4f macro-F1 %.4f", r.Accuracy, r.MacroF1)
	if r.Accuracy < 0.9046 || r.MacroF1 < 0.9048 {
		t.Errorf("BANKING77 accuracy %.4f macro-F1 %.4f, want at least 0.9046 / 0.9048", r.Accuracy, r.MacroF1)
	}
}

// TestCLINC150 trains on train+oos_train, calibrates on val+oos_val only and
// scores test+oos_test once; floors are 0.01 under the measured figures
// (in-scope accuracy 0.8798, out-of-scope recall 0.894).
func TestCLINC150(t *testing.T) {
	path := dataDir(t, filepath.Join("clinc150", "data_full.json"))
	d, err := LoadCLINC150(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.OutOfScopeLabel = CLINCOutOfScope
	opts.Holdout = -1
	m, err := Train(context.Background(), append(d.Train, d.OOSTrain...), opts)
	if err != nil {
		t.Fatal(err)
	}
	if m, err = m.Calibrate(append(d.Val, d.OOSVal...), CalibrateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := evaluate(m, append(d.Test, d.OOSTest...), CLINCOutOfScope)
	t.Logf("CLINC150 in-scope accuracy %.4f out-of-scope recall %.4f (threshold %.3f)", r.InScopeAccuracy, r.OOSRecall, m.Threshold())
	if r.InScope != 4500 || r.OOS != 1000 {
		t.Fatalf("scored %d in-scope / %d out-of-scope turns, want 4500 / 1000", r.InScope, r.OOS)
	}
	if r.InScopeAccuracy < 0.8698 || r.OOSRecall < 0.884 {
		t.Errorf("CLINC150 in-scope accuracy %.4f out-of-scope recall %.4f, want at least 0.8698 / 0.884", r.InScopeAccuracy, r.OOSRecall)
	}
	if m.calib.OOSWeight == 0 {
		t.Errorf("validation chose %+v: rejection ignores the trained out-of-scope class's margin", m.calib)
	}
}

func loadBANKING77Train(b *testing.B) []Example {
	train, err := LoadCSV(filepath.Join(dataDir(b, "banking77"), "train.csv"))
	if err != nil {
		b.Fatal(err)
	}
	return train
}

// BenchmarkTrainBANKING77 times training on the 10,003 BANKING77 train turns
// (holdout calibration included, as a deployment would train).
func BenchmarkTrainBANKING77(b *testing.B) {
	train := loadBANKING77Train(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Train(context.Background(), train, DefaultOptions()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClassifyBANKING77 times one Classify on a 77-intent model.
func BenchmarkClassifyBANKING77(b *testing.B) {
	train := loadBANKING77Train(b)
	m, err := Train(context.Background(), train, DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	texts := []string{"I still have not received my new card, is it lost?", "why was I charged a fee for the transfer", "can I top up with apple pay"}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		m.Classify(texts[i%len(texts)])
		i++
	}
}

// BenchmarkClassifyDeployment times one Classify on the six-intent deployment.
func BenchmarkClassifyDeployment(b *testing.B) {
	m := trainDeployment(b)
	for b.Loop() {
		m.Classify("I think I lost my card yesterday")
	}
}
