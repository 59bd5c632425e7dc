package nlu

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// deployment is a tiny contact-center deployment: six intents with a handful
// of example utterances each.
func deployment() []Example {
	data := map[string][]string{
		"check_balance": {
			"what is my balance", "how much money do I have", "check my account balance",
			"tell me my current balance", "how much is left in my account", "what's in my checking account",
			"balance please", "can you read me my balance", "I want to know my account balance",
			"how much money is in my savings",
		},
		"talk_to_human": {
			"let me talk to a person", "I want to speak to an agent", "connect me to a human",
			"can I talk to someone real", "get me a representative", "transfer me to customer service",
			"I need a real person", "operator please", "put me through to an agent",
			"I don't want a robot, I want a human",
		},
		"report_lost_card": {
			"I lost my card", "my credit card is missing", "someone stole my debit card",
			"I can't find my card anywhere", "report a stolen card", "my card was stolen yesterday",
			"I think I lost my bank card", "block my lost card", "my wallet with my card is gone",
			"freeze my card, it's lost",
		},
		"opening_hours": {
			"what time do you open", "when are you open", "what are your opening hours",
			"are you open on sunday", "when does the branch close", "what time do you close today",
			"are you open on weekends", "business hours please", "until what time are you open",
			"is the branch open tomorrow morning",
		},
		"yes": {
			"yes", "yeah", "yes please", "correct", "that's right", "sure", "yep", "absolutely",
			"yes that is correct", "of course",
		},
		"no": {
			"no", "nope", "no thanks", "not really", "that's wrong", "no that is not right",
			"incorrect", "no thank you", "nah", "definitely not",
		},
	}
	var out []Example
	for _, intent := range []string{"check_balance", "talk_to_human", "report_lost_card", "opening_hours", "yes", "no"} {
		for _, t := range data[intent] {
			out = append(out, Example{Text: t, Intent: intent})
		}
	}
	return out
}

func trainDeployment(t testing.TB) *Model {
	t.Helper()
	m, err := Train(context.Background(), deployment(), Options{Threshold: 0.5})
	if err != nil {
		t.Fatalf("train: %v", err)
	}
	return m
}

func TestClassifyDeployment(t *testing.T) {
	m := trainDeployment(t)
	cases := map[string]string{
		"how much money is in my account":    "check_balance",
		"could you tell me my balance":       "check_balance",
		"I would like to speak with a human": "talk_to_human",
		"transfer me to an agent please":     "talk_to_human",
		"my card got stolen":                 "report_lost_card",
		"I have lost my debit card":          "report_lost_card",
		"what time does the branch open":     "opening_hours",
		"are you open saturday":              "opening_hours",
		"yes that's correct":                 "yes",
		"yeah sure":                          "yes",
		"no that's not right":                "no",
		"nope":                               "no",
		"WHAT IS MY BALANCE???":              "check_balance",
		"I  cant find my card":               "report_lost_card",
	}
	for text, want := range cases {
		r := m.Classify(text)
		if r.Intent != want {
			t.Errorf("Classify(%q) = %s (%.2f, alternatives %v), want %s", text, r.Intent, r.Confidence, r.Alternatives, want)
		}
		if r.Confidence < 0 || r.Confidence > 1 {
			t.Errorf("Classify(%q) confidence %v outside [0,1]", text, r.Confidence)
		}
		if len(r.Alternatives) != 3 {
			t.Errorf("Classify(%q) gave %d alternatives, want 3", text, len(r.Alternatives))
		}
		for i, a := range r.Alternatives {
			if a.Intent == r.Intent || a.Confidence > r.Confidence || (i > 0 && a.Confidence > r.Alternatives[i-1].Confidence) {
				t.Errorf("Classify(%q) alternatives not ranked below the intent: %+v", text, r)
			}
		}
	}
}

func TestRankIsADistribution(t *testing.T) {
	m := trainDeployment(t)
	ranked := m.Rank("I lost my card")
	if len(ranked) != 6 {
		t.Fatalf("Rank gave %d intents, want 6", len(ranked))
	}
	var sum float64
	for i, a := range ranked {
		sum += a.Confidence
		if i > 0 && a.Confidence > ranked[i-1].Confidence {
			t.Errorf("Rank not sorted: %+v", ranked)
		}
	}
	if sum <= 0.5 || sum > 1.000001 {
		t.Errorf("probabilities sum to %v, want in (0.5, 1] for an in-scope turn", sum)
	}
}

func TestOutOfScopeRejection(t *testing.T) {
	m := trainDeployment(t)
	for _, text := range []string{
		"what is the weather like on mars",
		"play some jazz music",
		"zxqv blorf",
		"",
	} {
		r := m.Classify(text)
		if r.Intent != OutOfScope {
			t.Errorf("Classify(%q) = %s (%.2f), want %s", text, r.Intent, r.Confidence, OutOfScope)
		}
		if r.Confidence >= 0.5 {
			t.Errorf("Classify(%q) rejected with confidence %.2f above the threshold", text, r.Confidence)
		}
		if len(r.Alternatives) == 0 {
			t.Errorf("Classify(%q) rejected without alternatives", text)
		}
	}
	if r := m.WithThreshold(0).Classify("play some jazz music"); r.Intent == OutOfScope {
		t.Errorf("threshold 0 still rejected: %+v", r)
	}
}

func TestDefaultThresholdOnSmallDeployment(t *testing.T) {
	m, err := Train(context.Background(), deployment(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Threshold() != defaultThreshold {
		t.Errorf("threshold %v with 6 held-out turns, want the default %v", m.Threshold(), defaultThreshold)
	}
	if r := m.Classify("play some jazz music"); r.Intent != OutOfScope {
		t.Errorf("Classify(play some jazz music) = %+v, want out of scope", r)
	}
	if r := m.Classify("I have lost my debit card"); r.Intent != "report_lost_card" {
		t.Errorf("Classify(I have lost my debit card) = %+v", r)
	}
}

func TestTrainedOutOfScopeClass(t *testing.T) {
	ex := deployment()
	for _, s := range []string{"play some music", "what's the weather", "tell me a joke", "book a flight to rome",
		"set an alarm for six", "who won the football game", "how tall is mount everest", "order a pizza"} {
		ex = append(ex, Example{Text: s, Intent: "oos"})
	}
	m, err := Train(context.Background(), ex, Options{OutOfScopeLabel: "oos"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Intents(), ","); got != "check_balance,no,opening_hours,report_lost_card,talk_to_human,yes" {
		t.Errorf("Intents() = %v, want the 6 in-scope intents", got)
	}
	for _, in := range m.Intents() {
		if in == "oos" {
			t.Errorf("Intents() lists the out-of-scope label")
		}
	}
	if r := m.Classify("play a song"); r.Intent != OutOfScope {
		t.Errorf("Classify(play a song) = %+v, want out of scope", r)
	}
	if r := m.Classify("I lost my card"); r.Intent != "report_lost_card" {
		t.Errorf("Classify(I lost my card) = %+v", r)
	}
	for _, a := range m.Classify("play a song").Alternatives {
		if a.Intent == "oos" {
			t.Errorf("alternatives list the out-of-scope label: %+v", a)
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, b := trainDeployment(t), trainDeployment(t)
	var bufA, bufB bytes.Buffer
	if err := a.Save(&bufA); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(&bufB); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bufA.Bytes(), bufB.Bytes()) {
		t.Error("two trainings on the same examples produced different models")
	}
	for _, text := range []string{"I lost my card", "operator", "yes please"} {
		if ra, rb := a.Classify(text), b.Classify(text); fmt.Sprint(ra) != fmt.Sprint(rb) {
			t.Errorf("Classify(%q) differs: %+v vs %+v", text, ra, rb)
		}
	}
}

func TestSaveLoad(t *testing.T) {
	m := trainDeployment(t)
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	l, err := Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range deployment() {
		if a, b := m.Classify(e.Text), l.Classify(e.Text); fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("loaded model differs on %q: %+v vs %+v", e.Text, a, b)
		}
	}
	if l.Threshold() != m.Threshold() || l.Temperature() != m.Temperature() {
		t.Errorf("calibration lost: threshold %v/%v temperature %v/%v", l.Threshold(), m.Threshold(), l.Temperature(), m.Temperature())
	}
	if _, err := Load(strings.NewReader("not a model")); err == nil {
		t.Error("Load accepted garbage")
	}
}

func TestConcurrentClassify(t *testing.T) {
	m := trainDeployment(t)
	texts := []string{"I lost my card", "operator please", "yes", "when do you open", "what's my balance", "nope"}
	want := make([]Result, len(texts))
	for i, s := range texts {
		want[i] = m.Classify(s)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 50 {
				i := (g + n) % len(texts)
				if got := m.Classify(texts[i]); fmt.Sprint(got) != fmt.Sprint(want[i]) {
					errs <- fmt.Sprintf("concurrent Classify(%q) = %+v, want %+v", texts[i], got, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestTrainErrors(t *testing.T) {
	cases := map[string][]Example{
		"no examples":  nil,
		"one intent":   {{"hi", "greet"}, {"hello", "greet"}},
		"empty intent": {{"hi", "greet"}, {"bye", ""}},
		"empty text":   {{"hi", "greet"}, {" ", "bye"}},
	}
	for name, ex := range cases {
		if _, err := Train(context.Background(), ex, Options{}); err == nil {
			t.Errorf("%s: Train accepted %v", name, ex)
		}
	}
	for _, f := range []FeatureOptions{
		{WordNGrams: 2, CharMin: 5, CharMax: 3, WordWeight: 1, CharWeight: 1},
		{WordNGrams: -1, WordWeight: 1},
		{WordNGrams: 1, CharMin: 2, CharMax: 4, WordWeight: 0, CharWeight: 0},
		{WordNGrams: 1, CharMin: 2, CharMax: 4, WordWeight: -1, CharWeight: 1},
	} {
		if _, err := Train(context.Background(), deployment(), Options{Features: f}); err == nil {
			t.Errorf("Train accepted features %+v", f)
		}
	}
	if _, err := Train(context.Background(), deployment(), Options{Features: FeatureOptions{CharMin: 2, CharMax: 4, CharWeight: 1}}); err != nil {
		t.Errorf("Train refused character-only features: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Train(ctx, deployment(), Options{}); err == nil {
		t.Error("Train ignored a cancelled context")
	}
}

func TestReadCSV(t *testing.T) {
	good := "text,category\nI lost my card,lost_card\n\"hello, there\",greet\n"
	ex, err := ReadCSV(strings.NewReader(good), "good.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 2 || ex[1] != (Example{Text: "hello, there", Intent: "greet"}) {
		t.Errorf("ReadCSV = %+v", ex)
	}
	swapped, err := ReadCSV(strings.NewReader("intent,utterance\ngreet,hi\n"), "s.csv")
	if err != nil || len(swapped) != 1 || swapped[0] != (Example{Text: "hi", Intent: "greet"}) {
		t.Errorf("ReadCSV(intent,utterance) = %+v, %v", swapped, err)
	}
	bad := map[string]string{
		"":                                "empty file",
		"foo,bar\nx,y\n":                  "bad.csv:1: header",
		"text,label\nhi,greet\nbye\n":     "bad.csv:3: 1 fields",
		"text,label\nhi,greet\n,greet\n":  "bad.csv:3: empty text",
		"text,label\nhi,greet\nbye, \n":   "bad.csv:3: empty label",
		"text,label\n":                    "no examples",
		"text,label\nhi,greet\n\"bye,x\n": "bad.csv",
	}
	for in, want := range bad {
		_, err := ReadCSV(strings.NewReader(in), "bad.csv")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadCSV(%q) error = %v, want it to contain %q", in, err, want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	gold := []string{"a", "a", "b", "oos", "oos"}
	pred := []string{"a", "b", "b", OutOfScope, "a"}
	r := Evaluate(gold, pred, "oos")
	if r.Accuracy != 0.6 || r.InScopeAccuracy != 2.0/3 || r.OOSRecall != 0.5 || r.InScope != 3 || r.OOS != 2 {
		t.Errorf("Evaluate = %+v", r)
	}
	// F1: a = 2*1/(2+1+1)=0.5, b = 2/(2+1)=2/3, oos = 2/(2+1)=2/3.
	if want := (0.5 + 2.0/3 + 2.0/3) / 3; r.MacroF1 < want-1e-9 || r.MacroF1 > want+1e-9 {
		t.Errorf("macro-F1 = %v, want %v", r.MacroF1, want)
	}
}

func TestTokenize(t *testing.T) {
	cases := map[string]string{
		"I can't find my card!":   "i can not find my card",
		"Where’s my £20 refund?":  "where is my £ 00 refund",
		"didnt arrive, it's late": "did not arrive it is late",
		"my card's PIN":           "my card pin",
	}
	for in, want := range cases {
		if got := strings.Join(tokenize(in), " "); got != want {
			t.Errorf("tokenize(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"charges": "charg", "charged": "charg", "charge": "charg", "topping": "top", "status": "status", "card": "card"} {
		if got := stem(in); got != want {
			t.Errorf("stem(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSoftmaxEnsemble(t *testing.T) {
	m, err := Train(context.Background(), deployment(), Options{LRWeight: 0.1, Threshold: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	plain := trainDeployment(t)
	differs := false
	for _, e := range deployment() {
		if r := m.Classify(e.Text); r.Intent != e.Intent {
			t.Errorf("with softmax regression, training turn %q = %+v, want %s", e.Text, r, e.Intent)
		}
		if m.Classify(e.Text).Confidence != plain.Classify(e.Text).Confidence {
			differs = true
		}
	}
	if !differs {
		t.Error("LRWeight had no effect on the scores")
	}
}

func TestCalibrateWithOutOfScopeTurns(t *testing.T) {
	m := trainDeployment(t)
	val := []Example{
		{"how much money is in my account", "check_balance"}, {"could you tell me my balance", "check_balance"},
		{"I would like to speak with a human", "talk_to_human"}, {"transfer me to an agent please", "talk_to_human"},
		{"my card got stolen", "report_lost_card"}, {"I have lost my debit card", "report_lost_card"},
		{"what time does the branch open", "opening_hours"}, {"are you open saturday", "opening_hours"},
		{"yes that's correct", "yes"}, {"yeah sure", "yes"}, {"no that's not right", "no"}, {"nope", "no"},
		{"play some jazz music", "oos"}, {"what is the weather like on mars", "oos"}, {"order a pizza", "oos"},
		{"how tall is mount everest", "oos"}, {"book a flight to rome", "oos"}, {"tell me a joke", "oos"},
	}
	c, err := m.Calibrate(val, CalibrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	score := func(m *Model) float64 {
		r := evaluate(m, val, "oos")
		return (r.InScopeAccuracy + r.OOSRecall) / 2
	}
	best := score(c)
	for _, thr := range []float64{0, 0.2, 0.5, 0.8} {
		if s := score(c.WithThreshold(thr)); s > best+1e-9 {
			t.Errorf("threshold %v scores %.3f on validation, better than the fitted %v (%.3f)", thr, s, c.Threshold(), best)
		}
	}
	if r := evaluate(c, val, "oos"); r.OOSRecall < 0.5 || r.InScopeAccuracy < 0.8 {
		t.Errorf("calibrated on validation: in-scope %.2f out-of-scope recall %.2f", r.InScopeAccuracy, r.OOSRecall)
	}
	if _, err := m.Calibrate(nil, CalibrateOptions{}); err == nil {
		t.Error("Calibrate accepted no validation turns")
	}
}

func TestLoadCLINC150Errors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"not json":      "want an object of splits",
		`{"train": []}`: `missing split "val"`,
		`{"train": [["hi"]], "val": [], "test": [], "oos_train": [], "oos_val": [], "oos_test": []}`: "train[0]: want a non-empty [text, label] pair",
	}
	i := 0
	for body, want := range cases {
		i++
		p := filepath.Join(dir, fmt.Sprintf("c%d.json", i))
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadCLINC150(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadCLINC150(%s) error = %v, want %q", body, err, want)
		}
	}
	ok := `{"train": [["hi there", "greet"]], "val": [["hello", "greet"]], "test": [["hey", "greet"]], "oos_train": [["pizza", "oos"]], "oos_val": [], "oos_test": []}`
	p := filepath.Join(dir, "ok.json")
	if err := os.WriteFile(p, []byte(ok), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := LoadCLINC150(p)
	if err != nil || len(d.Train) != 1 || d.OOSTrain[0] != (Example{"pizza", "oos"}) || d.Test[0].Text != "hey" {
		t.Errorf("LoadCLINC150 = %+v, %v", d, err)
	}
}

// TestOutOfScopeClassRejectLogit checks the calibration that rejects by the
// trained out-of-scope class's margin: that class's probability is the
// reject logit's, the probabilities sum to one, and the best intent's
// confidence falls as the out-of-scope SVM's margin rises.
func TestOutOfScopeClassRejectLogit(t *testing.T) {
	c := calibration{Temperature: 0.2, Background: 0.5, OOSWeight: 1.5}
	const oos = 2
	p := make([]float64, 3)
	prev := 2.0
	for _, mo := range []float64{-1.5, -1, -0.5, 0} {
		c.probs([]float64{0.4, -0.6, mo}, p, oos)
		if s := p[0] + p[1] + p[2]; math.Abs(s-1) > 1e-9 {
			t.Fatalf("oos margin %v: probabilities %v sum to %v, want 1", mo, p, s)
		}
		want := math.Exp((0.5+1.5*mo-0.4)/0.2) * p[0]
		if math.Abs(p[oos]-want) > 1e-9 {
			t.Errorf("oos margin %v: reject probability %v, want %v", mo, p[oos], want)
		}
		if p[0] >= prev {
			t.Errorf("oos margin %v: best confidence %v did not fall (was %v)", mo, p[0], prev)
		}
		prev = p[0]
	}
	// Without a trained class the weight is ignored: a constant background.
	c.UseBackground = true
	c.probs([]float64{0.4, -0.6}, p[:2], -1)
	if s := p[0] + p[1]; s >= 1 {
		t.Errorf("background logit left no mass for 'no intent': sum %v", s)
	}
}
