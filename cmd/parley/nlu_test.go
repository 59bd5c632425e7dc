package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nluCSV is a small deployment: three intents, eight turns each.
func nluCSV(t *testing.T, dir, name string, rows [][2]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("text,intent\n")
	for _, r := range rows {
		b.WriteString(r[0] + "," + r[1] + "\n")
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func nluRows() (train, test [][2]string) {
	data := map[string][]string{
		"balance": {"what is my balance", "how much money do i have", "check my balance", "tell me my balance",
			"balance please", "how much is in my account", "my account balance", "show me my balance",
			"what's my balance today", "how much money is left"},
		"agent": {"talk to a person", "speak to an agent", "connect me to a human", "get me a representative",
			"operator please", "i need a real person", "human please", "put me through to an agent",
			"can i talk to someone", "let me speak with an agent"},
		"lost_card": {"i lost my card", "my card was stolen", "card missing", "someone stole my card",
			"report a lost card", "block my stolen card", "i can't find my card", "my card is gone",
			"i think i lost my card", "freeze my lost card"},
	}
	for _, intent := range []string{"balance", "agent", "lost_card"} {
		for i, s := range data[intent] {
			if i >= 8 {
				test = append(test, [2]string{s, intent})
			} else {
				train = append(train, [2]string{s, intent})
			}
		}
	}
	return train, test
}

func TestNLUEval(t *testing.T) {
	dir := t.TempDir()
	tr, te := nluRows()
	train, test := nluCSV(t, dir, "train.csv", tr), nluCSV(t, dir, "test.csv", te)
	model := filepath.Join(dir, "model.bin")
	var out, errOut bytes.Buffer
	if code := nluEval(context.Background(), []string{"--train", train, "--test", test, "--save", model, "--confusions", "3"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"train: 24 examples, 3 intents", "test:  6 turns", "accuracy         1.0000", "macro-F1         1.0000", "most frequent confusions"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if st, err := os.Stat(model); err != nil || st.Size() == 0 {
		t.Errorf("model not saved: %v", err)
	}
}

func TestNLUEvalErrors(t *testing.T) {
	dir := t.TempDir()
	tr, _ := nluRows()
	train := nluCSV(t, dir, "train.csv", tr)
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("text,label\nhello,greet\n,greet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--train", train, "--test", bad}, 1, "bad.csv:3: empty text"},
		{[]string{"--train", filepath.Join(dir, "missing.csv"), "--test", train}, 1, "missing.csv"},
		{[]string{"--train", train}, 1, "no test data"},
		{[]string{"--test", train}, 2, "--train (or --clinc) is required"},
		{[]string{"--train", train, "--split", "1.5"}, 1, "want a fraction"},
		{[]string{"--bogus"}, 2, "flag provided but not defined"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		code := nluEval(context.Background(), c.args, &out, &errOut)
		if code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("nlu eval %v: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut.String(), c.code, c.want)
		}
	}
	if code := runNLU(nil); code != 2 {
		t.Errorf("parley nlu without a subcommand: exit %d, want 2", code)
	}
}

func TestPrintConfusions(t *testing.T) {
	var b bytes.Buffer
	printConfusions(&b, []string{"a", "a", "a", "b", "c"}, []string{"b", "b", "a", "c", "c"}, 1)
	if got, want := b.String(), "most frequent confusions (gold -> predicted):\n     2  a -> b\n"; got != want {
		t.Errorf("printConfusions = %q, want %q", got, want)
	}
}

func TestNLUEvalValidationAndCLINC(t *testing.T) {
	dir := t.TempDir()
	tr, te := nluRows()
	train, test := nluCSV(t, dir, "train.csv", tr), nluCSV(t, dir, "test.csv", te)
	val := nluCSV(t, dir, "val.csv", append(te, [2]string{"play some music", "oos"}, [2]string{"what's the weather", "oos"}))
	var out, errOut bytes.Buffer
	if code := nluEval(context.Background(), []string{"--train", train, "--val", val, "--test", test, "--oos-label", "oos"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"in-scope acc", "out-of-scope rec", "(6 turns)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--val output lacks %q:\n%s", want, out.String())
		}
	}

	pairs := func(rows [][2]string) string {
		var parts []string
		for _, r := range rows {
			parts = append(parts, `["`+r[0]+`", "`+r[1]+`"]`)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	oos := [][2]string{{"play some music", "oos"}, {"tell me a joke", "oos"}, {"book a flight", "oos"}}
	js := `{"train": ` + pairs(tr) + `, "val": ` + pairs(te) + `, "test": ` + pairs(te) +
		`, "oos_train": ` + pairs(oos) + `, "oos_val": ` + pairs(oos[:1]) + `, "oos_test": ` + pairs(oos[1:]) + `}`
	clinc := filepath.Join(dir, "data_full.json")
	if err := os.WriteFile(clinc, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := nluEval(context.Background(), []string{"--train", clinc}, &out, &errOut); code != 0 {
		t.Fatalf("--train data_full.json: exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"train: 27 examples, 3 intents", "test:  8 turns", "out-of-scope rec", "(2 turns)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("CLINC output lacks %q:\n%s", want, out.String())
		}
	}
}
