package evals

import (
	"context"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/parley-cc/parley/voicebot/dialog"
	"github.com/parley-cc/parley/voicebot/nlu"
)

// ImportUtterances turns labelled utterances (nlu.Example, e.g. read with
// nlu.ReadCSV from a text,label CSV) into a suite of single-turn scenarios
// that each expect the label as the recognised intent.
func ImportUtterances(name string, examples []nlu.Example) (*Suite, error) {
	if len(examples) == 0 {
		return nil, fmt.Errorf("import %s: no utterances", name)
	}
	s := &Suite{Name: name, Description: fmt.Sprintf("%d labelled utterances, one single-turn scenario each", len(examples))}
	width := len(fmt.Sprint(len(examples)))
	for i, e := range examples {
		s.Scenarios = append(s.Scenarios, Scenario{
			ID:     fmt.Sprintf("%s-%0*d", sanitizeID(name), width, i+1),
			Tags:   Strings{e.Intent},
			Caller: []CallerTurn{{Say: e.Text}},
			Expect: Expect{Intent: e.Intent},
		})
	}
	return s, nil
}

// WriteYAML writes the suite as a suite file that Load reads back.
func (s *Suite) WriteYAML(w io.Writer) error {
	type turn struct {
		Say  string `yaml:"say,omitempty"`
		DTMF string `yaml:"dtmf,omitempty"`
	}
	type expect struct {
		Intent string `yaml:"intent,omitempty"`
	}
	type scenario struct {
		ID     string   `yaml:"id"`
		Tags   []string `yaml:"tags,omitempty,flow"`
		Caller []turn   `yaml:"caller"`
		Expect expect   `yaml:"expect,omitempty"`
	}
	type suite struct {
		Suite       string     `yaml:"suite"`
		Description string     `yaml:"description,omitempty"`
		Scenarios   []scenario `yaml:"scenarios"`
	}
	out := suite{Suite: s.Name, Description: s.Description}
	for _, sc := range s.Scenarios {
		if sc.Simulate != nil || len(sc.Rubric) > 0 || sc.CallID != "" {
			return fmt.Errorf("scenario %s: only scripted single-intent scenarios can be written", sc.ID)
		}
		o := scenario{ID: sc.ID, Tags: sc.Tags, Expect: expect{Intent: sc.Expect.Intent}}
		for _, t := range sc.Caller {
			o.Caller = append(o.Caller, turn{Say: t.Say, DTMF: t.DTMF})
		}
		out.Scenarios = append(out.Scenarios, o)
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return err
	}
	return enc.Close()
}

// IntentEngine is a dialog.Engine that only recognises intents with an NLU
// model and says nothing: it runs imported utterance suites through the
// same harness, so their intent accuracy is the model's (`parley nlu eval`)
// figure. Closed-set: it never rejects a turn as out of scope.
type IntentEngine struct{ Model *nlu.Model }

// NewConversation starts a conversation that classifies each caller turn.
func (e IntentEngine) NewConversation(context.Context, dialog.CallInfo) (dialog.Conversation, error) {
	if e.Model == nil {
		return nil, fmt.Errorf("intent engine: no model")
	}
	return intentConv{m: e.Model.WithThreshold(0)}, nil
}

type intentConv struct{ m *nlu.Model }

func (intentConv) Greet(context.Context, func(string)) (dialog.Result, error) {
	return dialog.Result{}, nil
}
func (intentConv) Interrupted(string) {}
func (c intentConv) Respond(_ context.Context, in dialog.Input, _ func(string)) (dialog.Result, error) {
	if strings.TrimSpace(in.Text) == "" {
		return dialog.Result{}, nil
	}
	r := c.m.Classify(in.Text)
	return dialog.Result{Intent: r.Intent, Confidence: r.Confidence}, nil
}
