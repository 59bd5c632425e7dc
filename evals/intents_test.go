package evals

import (
	"bytes"
	"context"
	"testing"

	"github.com/parley-cc/parley/internal/shareddata"
	"github.com/parley-cc/parley/voicebot/nlu"
)

// TestBanking77ImportMatchesNLUEval imports the BANKING77 test set as
// scenarios, runs them through the harness on the intent engine trained on
// the train set, and gets exactly the accuracy `parley nlu eval` computes.
func TestBanking77ImportMatchesNLUEval(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on BANKING77")
	}
	train, err := nlu.LoadCSV(shareddata.Path(t, "banking77", "train.csv"))
	if err != nil {
		t.Fatal(err)
	}
	test, err := nlu.LoadCSV(shareddata.Path(t, "banking77", "test.csv"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := nlu.Train(context.Background(), train, nlu.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	// What `parley nlu eval` does.
	gold, pred := make([]string, len(test)), make([]string, len(test))
	closed := m.WithThreshold(0)
	for i, e := range test {
		gold[i], pred[i] = e.Intent, closed.Classify(e.Text).Intent
	}
	want := nlu.Evaluate(gold, pred, "").Accuracy

	s, err := ImportUtterances("banking77", test)
	if err != nil {
		t.Fatal(err)
	}
	// Round trip through the suite file format.
	var buf bytes.Buffer
	if err := s.WriteYAML(&buf); err != nil {
		t.Fatal(err)
	}
	s, err = Parse("banking77.yaml", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Scenarios) != len(test) {
		t.Fatalf("%d scenarios for %d utterances", len(s.Scenarios), len(test))
	}
	rep, err := (&Runner{Connector: TextConnector{Engine: IntentEngine{Model: m}}, Concurrency: 2, Seed: 1}).Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Metrics.IntentN != len(test) || rep.Metrics.IntentAccuracy != want {
		t.Fatalf("harness intent accuracy %.4f over %d, nlu eval %.4f over %d", rep.Metrics.IntentAccuracy, rep.Metrics.IntentN, want, len(test))
	}
	t.Logf("BANKING77 test: %d scenarios, intent accuracy %.4f (nlu eval %.4f), %d passed", len(test), rep.Metrics.IntentAccuracy, want, rep.Passed)
}
