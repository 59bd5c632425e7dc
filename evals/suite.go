// Package evals runs suites of conversations against a Parley bot and scores
// them, or scores transcripts Parley already recorded: scenarios in YAML
// (scripted or LLM-simulated callers), deterministic, groundedness and LLM
// judges, run metrics, and comparison against a baseline run.
package evals

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Suite is a named set of scenarios with shared defaults, compliance rules
// and rubric.
type Suite struct {
	Name        string     `yaml:"suite" json:"suite"`
	Description string     `yaml:"description" json:"description,omitempty"`
	Defaults    Defaults   `yaml:"defaults" json:"defaults"`
	Compliance  Compliance `yaml:"compliance" json:"compliance"`
	// Rubric questions asked of the LLM judge for every scenario.
	Rubric    []Rubric   `yaml:"rubric" json:"rubric,omitempty"`
	Scenarios []Scenario `yaml:"scenarios" json:"scenarios"`

	// File the suite was read from ("" when built in memory).
	File string `yaml:"-" json:"file,omitempty"`
}

// Defaults apply to every scenario that does not set its own.
type Defaults struct {
	To       string   `yaml:"to" json:"to,omitempty"`             // dialled extension
	From     string   `yaml:"from" json:"from,omitempty"`         // caller id
	Language string   `yaml:"language" json:"language,omitempty"` // BCP 47
	Timeout  Duration `yaml:"timeout" json:"timeout,omitempty"`   // whole scenario; default 30s
	// Latency budgets per stage applied to every bot turn.
	Latency map[string]Duration `yaml:"latency" json:"latency,omitempty"`
	// MaxTurns bounds a simulated caller's turns; default 8.
	MaxTurns int `yaml:"max_turns" json:"max_turns,omitempty"`
}

// Compliance is the script every conversation must follow.
type Compliance struct {
	// Greeting: the bot's first turn matches one of these (regular
	// expressions, case-insensitive). Empty: not checked.
	Greeting []string `yaml:"greeting" json:"greeting,omitempty"`
	// Closing: when the bot ends the call, its last turn matches one of these.
	Closing []string `yaml:"closing" json:"closing,omitempty"`
	// Forbidden phrases never said by the bot (regular expressions).
	Forbidden []string `yaml:"forbidden" json:"forbidden,omitempty"`
	// PersonalData is what the bot must never read back: "cards" (the
	// default: any valid card number, written or spoken, and the caller's
	// e-mail address), "all" (also any number of six digits or more the
	// caller gave: account and phone numbers) or "off".
	PersonalData string `yaml:"personal_data" json:"personal_data,omitempty"`
	// Exempt are bot lines (regular expressions) the groundedness judge does
	// not need a citation for: the deployment's own scripted prompts.
	Exempt []string `yaml:"exempt" json:"exempt,omitempty"`
}

// Scenario is one conversation: who calls, why, what they say, and what
// must happen.
type Scenario struct {
	ID      string  `yaml:"id" json:"id"`
	Name    string  `yaml:"name" json:"name,omitempty"`
	Tags    Strings `yaml:"tags" json:"tags,omitempty"`
	Persona string  `yaml:"persona" json:"persona,omitempty"`
	Goal    string  `yaml:"goal" json:"goal,omitempty"`
	To      string  `yaml:"to" json:"to,omitempty"`
	From    string  `yaml:"from" json:"from,omitempty"`
	// Caller turns, scripted. Empty with Simulate set: an LLM plays the
	// caller from Persona and Goal.
	Caller   []CallerTurn `yaml:"caller" json:"caller,omitempty"`
	Simulate *Simulate    `yaml:"simulate" json:"simulate,omitempty"`
	Expect   Expect       `yaml:"expect" json:"expect"`
	Rubric   []Rubric     `yaml:"rubric" json:"rubric,omitempty"`
	Timeout  Duration     `yaml:"timeout" json:"timeout,omitempty"`
	// CallID names a stored call (or a call in a JSONL file) that replay
	// mode scores against this scenario's expectations.
	CallID string `yaml:"call_id" json:"call_id,omitempty"`
	// Skip names the run modes this scenario does not run in (e.g. voice).
	Skip Strings `yaml:"skip_modes" json:"skip_modes,omitempty"`
}

// Simulate configures the LLM-driven caller.
type Simulate struct {
	MaxTurns int `yaml:"max_turns" json:"max_turns,omitempty"`
	// Opening is the caller's first words; empty: the LLM chooses.
	Opening string `yaml:"opening" json:"opening,omitempty"`
}

// CallerTurn is one thing the caller says (Say) or keys (DTMF), with
// assertions on the bot's reply to it.
type CallerTurn struct {
	Say    string     `yaml:"say" json:"say,omitempty"`
	DTMF   string     `yaml:"dtmf" json:"dtmf,omitempty"`
	Expect TurnExpect `yaml:"expect" json:"expect"`
}

// TurnExpect are assertions on one bot reply.
type TurnExpect struct {
	Intent     string   `yaml:"intent" json:"intent,omitempty"`
	Mention    Strings  `yaml:"mention" json:"mention,omitempty"`         // every one, case-insensitive
	MentionAny Strings  `yaml:"mention_any" json:"mention_any,omitempty"` // at least one
	NotMention Strings  `yaml:"not_mention" json:"not_mention,omitempty"` // none
	Regex      Strings  `yaml:"regex" json:"regex,omitempty"`             // every one matches
	NotRegex   Strings  `yaml:"not_regex" json:"not_regex,omitempty"`     // none matches
	Cites      Strings  `yaml:"cites" json:"cites,omitempty"`             // document ids cited in this reply
	Action     string   `yaml:"action" json:"action,omitempty"`           // transfer, callback, end, none
	Queue      string   `yaml:"queue" json:"queue,omitempty"`             // transfer queue
	Latency    Budgets  `yaml:"latency" json:"latency,omitempty"`
	Slots      SlotsMap `yaml:"slots" json:"slots,omitempty"`
}

// Budgets are latency budgets by stage (first_token, reply, first_audio...).
type Budgets map[string]Duration

// SlotsMap are expected slot values ("*" means any non-empty value).
type SlotsMap map[string]string

// Expect are the scenario's outcome expectations.
type Expect struct {
	Intent   string   `yaml:"intent" json:"intent,omitempty"`     // some caller turn was recognised as this
	Handoff  *bool    `yaml:"handoff" json:"handoff,omitempty"`   // the call was (not) handed to a human
	Queue    string   `yaml:"queue" json:"queue,omitempty"`       // ...to this queue (implies handoff)
	Reason   string   `yaml:"reason" json:"reason,omitempty"`     // ...for this reason (requested, negative_sentiment...)
	Cites    Strings  `yaml:"cites" json:"cites,omitempty"`       // documents cited somewhere
	Slots    SlotsMap `yaml:"slots" json:"slots,omitempty"`       // collected by the end
	Callback *bool    `yaml:"callback" json:"callback,omitempty"` // a callback was (not) scheduled
	// Ended: the bot finished its part (hung up, handed off or scheduled a
	// callback) by the last caller turn.
	Ended *bool `yaml:"ended" json:"ended,omitempty"`
	// MaxTurns: the task is done within this many caller turns.
	MaxTurns int `yaml:"max_turns" json:"max_turns,omitempty"`
}

// Rubric is one question for the LLM judge, scored 1 (no) to 5 (fully);
// it passes at MinScore (default 4).
type Rubric struct {
	Question string `yaml:"question" json:"question"`
	MinScore int    `yaml:"min_score" json:"min_score,omitempty"`
}

// Load reads one suite file.
func Load(path string) (*Suite, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read suite: %w", err)
	}
	return Parse(path, data)
}

// Parse reads a suite from data; file names it in errors.
func Parse(file string, data []byte) (*Suite, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &LoadError{File: file, Msg: "empty suite file"}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		msg := yamlLineRE.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
		return nil, &LoadError{File: file, Line: yamlErrLine(err), Msg: "invalid YAML: " + strings.TrimPrefix(msg, ": ")}
	}
	d := &decoder{file: file, lines: map[string]int{}}
	s := &Suite{File: file}
	if err := d.decode(&root, reflect.ValueOf(s).Elem(), ""); err != nil {
		return nil, err
	}
	if err := s.validate(d); err != nil {
		return nil, err
	}
	return s, nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+)(: )?`)

func yamlErrLine(err error) int {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n := 0
	fmt.Sscanf(m[1], "%d", &n)
	return n
}

// idRE bounds scenario ids so they are safe in file names, JUnit and URLs.
var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

var knownActions = map[string]bool{"transfer": true, "callback": true, "end": true, "none": true}

func (s *Suite) validate(d *decoder) error {
	if s.Name == "" {
		return d.at("suite", "missing: every suite needs a name (suite: billing)")
	}
	if len(s.Scenarios) == 0 {
		return d.at("scenarios", "no scenarios")
	}
	switch s.Compliance.PersonalData {
	case "", "cards", "all", "off":
	default:
		return d.at("compliance.personal_data", "%q: want cards, all or off", s.Compliance.PersonalData)
	}
	for i, pats := range [][]string{s.Compliance.Greeting, s.Compliance.Closing, s.Compliance.Forbidden, s.Compliance.Exempt} {
		field := []string{"greeting", "closing", "forbidden", "exempt"}[i]
		for j, p := range pats {
			if _, err := compileCI(p); err != nil {
				return d.at(fmt.Sprintf("compliance.%s[%d]", field, j), "invalid regular expression: %v", err)
			}
		}
	}
	if err := validateRubric(d, "rubric", s.Rubric); err != nil {
		return err
	}
	seen := map[string]int{}
	for i := range s.Scenarios {
		sc := &s.Scenarios[i]
		p := fmt.Sprintf("scenarios[%d]", i)
		if sc.ID == "" {
			return d.at(p, "missing id")
		}
		if !idRE.MatchString(sc.ID) {
			return d.at(p+".id", "invalid id %q: want letters, digits and _.:- (at most 128)", sc.ID)
		}
		if j, dup := seen[sc.ID]; dup {
			return d.at(p+".id", "duplicate id %q (also scenarios[%d])", sc.ID, j)
		}
		seen[sc.ID] = i
		if len(sc.Caller) == 0 && sc.Simulate == nil && sc.CallID == "" {
			return d.at(p, "no caller turns: give caller (scripted turns), simulate (an LLM caller) or call_id (replay)")
		}
		if sc.Simulate != nil && sc.Goal == "" {
			return d.at(p+".simulate", "a simulated caller needs a goal")
		}
		for j, t := range sc.Caller {
			tp := fmt.Sprintf("%s.caller[%d]", p, j)
			if strings.TrimSpace(t.Say) == "" && t.DTMF == "" {
				return d.at(tp, "empty turn: give say or dtmf")
			}
			if t.DTMF != "" && strings.Trim(t.DTMF, "0123456789*#ABCD") != "" {
				return d.at(tp+".dtmf", "invalid DTMF %q: want digits, * # A-D", t.DTMF)
			}
			if err := validateTurnExpect(d, tp+".expect", t.Expect); err != nil {
				return err
			}
		}
		if sc.Expect.Queue != "" && sc.Expect.Handoff != nil && !*sc.Expect.Handoff {
			return d.at(p+".expect.queue", "a queue is expected but handoff is false")
		}
		if err := validateRubric(d, p+".rubric", sc.Rubric); err != nil {
			return err
		}
	}
	return nil
}

func validateTurnExpect(d *decoder, p string, e TurnExpect) error {
	for field, pats := range map[string]Strings{"regex": e.Regex, "not_regex": e.NotRegex} {
		for k, re := range pats {
			if _, err := compileCI(re); err != nil {
				return d.at(fmt.Sprintf("%s.%s[%d]", p, field, k), "invalid regular expression: %v", err)
			}
		}
	}
	if e.Action != "" && !knownActions[e.Action] {
		return d.at(p+".action", "unknown action %q: want transfer, callback, end or none", e.Action)
	}
	for stage := range e.Latency {
		if !knownStage(stage) {
			return d.at(p+".latency."+stage, "unknown latency stage %q: want %s", stage, strings.Join(Stages, ", "))
		}
	}
	return nil
}

func validateRubric(d *decoder, p string, rs []Rubric) error {
	for i, r := range rs {
		if strings.TrimSpace(r.Question) == "" {
			return d.at(fmt.Sprintf("%s[%d]", p, i), "missing question")
		}
		if r.MinScore != 0 && (r.MinScore < 1 || r.MinScore > 5) {
			return d.at(fmt.Sprintf("%s[%d].min_score", p, i), "min_score %d: want 1 to 5", r.MinScore)
		}
	}
	return nil
}

// compileCI compiles a case-insensitive pattern.
func compileCI(p string) (*regexp.Regexp, error) { return regexp.Compile("(?i)" + p) }

// Latency stages a turn may be measured at. Text mode measures first_token
// and reply; voice mode first_audio and reply (end of the bot's speech);
// replayed calls carry what the pipeline stored.
var Stages = []string{"first_token", "reply", "first_audio", "asr_final", "llm_first_token", "tts_first_audio", "first_rtp_out"}

func knownStage(s string) bool {
	for _, k := range Stages {
		if k == s {
			return true
		}
	}
	return false
}

// ErrNoScenarios is returned when a filter leaves nothing to run.
var ErrNoScenarios = errors.New("no scenarios to run")
