package dialog

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/parley-cc/parley/knowledge"
)

// A deployment is one company's bot, kept as a folder:
//
//	deployment.yaml   name, greeting, menu, hand-off and callback settings, prompts, LLM prompt and guardrails
//	*.yaml            any other YAML file holds `intents:` and/or `flows:`
//	kb/*.md           knowledge-base articles, Markdown with a YAML front matter (id, title, category, tags)
//
// Load rejects anything it does not understand with the file, line and
// field at fault.

// Deployment is a loaded deployment folder.
type Deployment struct {
	Name     string `yaml:"name"`
	Language string `yaml:"language"`
	Greeting string `yaml:"greeting"`
	// Menu is the flow a key press starts when no flow is running (the IVR
	// main menu); its first step should be a menu.
	Menu     string         `yaml:"menu"`
	Handoff  HandoffConfig  `yaml:"handoff"`
	Callback CallbackConfig `yaml:"callback"`
	KB       KBConfig       `yaml:"kb"`
	LLM      LLMConfig      `yaml:"llm"`
	Prompts  Prompts        `yaml:"prompts"`

	Intents []*Intent        `yaml:"-"`
	Flows   map[string]*Flow `yaml:"-"`
	// Articles are the KB articles of the folder, ready to ingest.
	Articles []knowledge.Document `yaml:"-"`
	// Source names the folder in messages.
	Source string `yaml:"-"`
}

// HandoffConfig tunes when the bot hands the caller to a person.
type HandoffConfig struct {
	// Queue takes hand-offs that name no queue.
	Queue string `yaml:"queue"`
	// SentimentThreshold: the rolling sentiment trend below it, after at
	// least SentimentMinTurns caller turns, escalates (default -0.4).
	SentimentThreshold float64 `yaml:"sentiment_threshold"`
	SentimentMinTurns  int     `yaml:"sentiment_min_turns"`
	// SentimentWindow is how many recent caller turns the trend averages (default 3).
	SentimentWindow int `yaml:"sentiment_window"`
	// A turn is not understood when its intent confidence is below
	// LowConfidence and the knowledge base has nothing relevant either;
	// LowConfidenceTurns of them in a row escalate (default 0.45 and 3).
	LowConfidence      float64 `yaml:"low_confidence"`
	LowConfidenceTurns int     `yaml:"low_confidence_turns"`
}

// CallbackConfig tunes smart callbacks.
type CallbackConfig struct {
	// Flow collects the callback details; started when the caller accepts a
	// callback offer.
	Flow string `yaml:"flow"`
	// OfferAbove: a hand-off whose queue's expected wait exceeds it is
	// offered as a callback first (0 disables the offer).
	OfferAbove Duration `yaml:"offer_above"`
	// Window is how long a callback window lasts when the caller gives only
	// a start ("this afternoon" has its own); default 2h.
	Window Duration `yaml:"window"`
}

// KBConfig tunes answers from the knowledge base.
type KBConfig struct {
	Dir string `yaml:"dir"` // article folder, default "kb"
	// MinScore is the BM25 score the best passage needs to count as
	// relevant, unless its vector similarity reaches MinSimilarity
	// (defaults 3 and 0.45).
	MinScore      float64 `yaml:"min_score"`
	MinSimilarity float64 `yaml:"min_similarity"`
	// MaxSentences read out of a passage (default 2).
	MaxSentences int `yaml:"max_sentences"`
}

// LLMConfig is the LLM mode's prompt.
type LLMConfig struct {
	Model        string   `yaml:"model"`
	SystemPrompt string   `yaml:"system_prompt"`
	Guardrails   []string `yaml:"guardrails"`
	Temperature  float32  `yaml:"temperature"`
	// MaxToolRounds bounds tool calls per caller turn (default 4).
	MaxToolRounds int `yaml:"max_tool_rounds"`
}

// Prompts are the engine's own lines; every one has a default.
type Prompts struct {
	NoAnswer      string `yaml:"no_answer"`      // nothing relevant in the KB; offers a person
	Transfer      string `yaml:"transfer"`       // before a hand-off
	Escalate      string `yaml:"escalate"`       // hand-off on negative sentiment
	NotUnderstood string `yaml:"not_understood"` // retry prompt for slots and menus
	AnythingElse  string `yaml:"anything_else"`  // after a completed flow or answer
	Goodbye       string `yaml:"goodbye"`
	CallbackOffer string `yaml:"callback_offer"` // {minutes} is the expected wait
	Apology       string `yaml:"apology"`        // provider error, retrying
	ProviderDown  string `yaml:"provider_down"`  // provider failed twice; hand-off follows
	CardNumber    string `yaml:"card_number"`    // caller read out a card number
}

// Intent is one thing callers want, learned from its examples.
type Intent struct {
	Name     string   `yaml:"name"`
	Examples []string `yaml:"examples"`
	// What the bot does on it: at most one of Flow, Transfer (a queue),
	// End (closing words) or Reply (fixed words); otherwise it answers
	// from the knowledge base, within KB categories when given.
	Flow     string   `yaml:"flow"`
	Transfer string   `yaml:"transfer"`
	End      string   `yaml:"end"`
	Reply    string   `yaml:"reply"`
	KB       []string `yaml:"kb"`
	// Handoff marks an explicit request for a person (a hand-off trigger).
	Handoff bool   `yaml:"handoff"`
	Line    int    `yaml:"-"`
	File    string `yaml:"-"`
}

// Flow is a named sequence of steps.
type Flow struct {
	Name  string  `yaml:"-"`
	Steps []*Step `yaml:"steps"`
	Line  int     `yaml:"-"`
	File  string  `yaml:"-"`
}

// Step is one thing a flow does; exactly one field is set.
type Step struct {
	Say      string         `yaml:"say"`
	Collect  *CollectStep   `yaml:"collect"`
	Confirm  *ConfirmStep   `yaml:"confirm"`
	Menu     *Menu          `yaml:"menu"`
	Answer   *AnswerStep    `yaml:"answer"`
	Transfer *TransferStep  `yaml:"transfer"`
	Callback *CallbackStep  `yaml:"callback"`
	End      *EndStep       `yaml:"end"`
	Flow     string         `yaml:"flow"` // continue in another flow
	Line     int            `yaml:"-"`
	set      map[string]int `yaml:"-"`
}

// Slot types a collect step validates.
const (
	SlotDigits = "digits"
	SlotDate   = "date"
	SlotYesNo  = "yes_no"
	SlotText   = "text"
	SlotRegex  = "regex"
)

// CollectStep asks for a slot until the answer validates.
type CollectStep struct {
	Slot   string `yaml:"slot"`
	Type   string `yaml:"type"`
	Prompt string `yaml:"prompt"`
	// Reprompt follows an invalid answer (default Prompts.NotUnderstood + Prompt).
	Reprompt string `yaml:"reprompt"`
	// digits: exact Length, or MinLength..MaxLength.
	Length    int `yaml:"length"`
	MinLength int `yaml:"min_length"`
	MaxLength int `yaml:"max_length"`
	// regex: the whole (trimmed, upper-cased if Upper) answer must match.
	Pattern string `yaml:"pattern"`
	Upper   bool   `yaml:"upper"`
	// date: Future rejects dates before today.
	Future bool `yaml:"future"`
	// Retries after the first invalid answer before hand-off (default 2).
	Retries int `yaml:"retries"`
	// UseCaller (digits) fills the slot with the caller's own number when
	// they answer "this number", "the one I'm calling from" or "yes".
	UseCaller bool `yaml:"use_caller"`
	re        *regexp.Regexp
}

// ConfirmStep reads the slots back and asks yes or no; no restarts the flow.
type ConfirmStep struct {
	Prompt string `yaml:"prompt"`
}

// Menu is an IVR menu answerable by key or by speech.
type Menu struct {
	Prompt  string    `yaml:"prompt"`
	Options []*Option `yaml:"options"`
	Retries int       `yaml:"retries"` // invalid choices before hand-off (default 2)
	Line    int       `yaml:"-"`
}

// Option is one menu choice: a key, words that select it by speech, and the
// step it runs (a nested menu, a flow, a transfer, an answer...).
type Option struct {
	Key   string   `yaml:"key"`
	Words []string `yaml:"words"`
	Do    Step     `yaml:"-"` // the option's other keys
	Line  int      `yaml:"-"`
}

// AnswerStep answers from the knowledge base.
type AnswerStep struct {
	Query string   `yaml:"query"` // template; default the caller's last words
	KB    []string `yaml:"kb"`
}

// TransferStep hands the caller to a queue.
type TransferStep struct {
	Queue  string `yaml:"queue"`
	Reason string `yaml:"reason"`
	Say    string `yaml:"say"`
}

// CallbackStep stores a callback request from the flow's slots.
type CallbackStep struct {
	Number string `yaml:"number"` // template, default "{caller}"
	When   string `yaml:"when"`   // template read as a time window, e.g. "{when}"
	Reason string `yaml:"reason"` // template
	Queue  string `yaml:"queue"`  // who calls back; default the hand-off queue
	Say    string `yaml:"say"`    // template; {window} is the booked window
}

// EndStep ends the call after Say.
type EndStep struct {
	Say string `yaml:"say"`
}

// Duration is a time.Duration written as "90s" or "2m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return &lineError{line: n.Line, reason: fmt.Sprintf("%q is not a duration (e.g. 90s, 2m)", n.Value)}
	}
	*d = Duration(v)
	return nil
}

// MaxMenuDepth is how deeply menus may nest.
const MaxMenuDepth = 5

// LoadError is a deployment file that cannot be used.
type LoadError struct {
	File   string
	Line   int
	Field  string
	Reason string
}

func (e *LoadError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Reason)
	}
	return fmt.Sprintf("%s: %s", loc, e.Reason)
}

// lineError is raised while decoding, before the file name is known.
type lineError struct {
	line   int
	field  string
	reason string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s: %s", e.line, e.field, e.reason) }

// strictDecode decodes a mapping node into out (a pointer to a struct),
// rejecting keys the struct does not have.
func strictDecode(n *yaml.Node, out any) error {
	if n.Kind != yaml.MappingNode {
		return &lineError{line: n.Line, field: "", reason: fmt.Sprintf("expected a mapping, got %s", kindName(n))}
	}
	known := map[string]bool{}
	collectKeys(reflect.TypeOf(out).Elem(), known)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !known[k.Value] {
			return &lineError{line: k.Line, field: k.Value, reason: "unknown field (known: " + sortedKeys(known) + ")"}
		}
	}
	return n.Decode(out)
}

func collectKeys(t reflect.Type, into map[string]bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if opts == "inline" {
			collectKeys(f.Type, into)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		into[name] = true
	}
}

func sortedKeys(m map[string]bool) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "nothing"
}

// UnmarshalYAML decodes strictly and keeps the line.
func (i *Intent) UnmarshalYAML(n *yaml.Node) error {
	type plain Intent
	if err := strictDecode(n, (*plain)(i)); err != nil {
		return err
	}
	i.Line = n.Line
	return nil
}

// UnmarshalYAML decodes strictly and keeps the line.
func (f *Flow) UnmarshalYAML(n *yaml.Node) error {
	type plain Flow
	if err := strictDecode(n, (*plain)(f)); err != nil {
		return err
	}
	f.Line = n.Line
	return nil
}

// UnmarshalYAML decodes strictly, keeps the line and which kinds were set.
func (s *Step) UnmarshalYAML(n *yaml.Node) error {
	type plain Step
	if err := strictDecode(n, (*plain)(s)); err != nil {
		return err
	}
	s.Line = n.Line
	s.set = map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		s.set[n.Content[i].Value] = n.Content[i].Line
	}
	return nil
}

// UnmarshalYAML takes key and words, and decodes the rest as the step.
func (o *Option) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &lineError{line: n.Line, field: "options", reason: fmt.Sprintf("expected a mapping, got %s", kindName(n))}
	}
	rest := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err error
		switch k.Value {
		case "key":
			err = v.Decode(&o.Key)
		case "words":
			err = v.Decode(&o.Words)
		default:
			rest.Content = append(rest.Content, k, v)
		}
		if err != nil {
			return err
		}
	}
	if err := rest.Decode(&o.Do); err != nil {
		return err
	}
	o.Line, o.Do.Line = n.Line, n.Line
	return nil
}

// UnmarshalYAML decodes strictly and keeps the line.
func (m *Menu) UnmarshalYAML(n *yaml.Node) error {
	type plain Menu
	if err := strictDecode(n, (*plain)(m)); err != nil {
		return err
	}
	m.Line = n.Line
	return nil
}

func strictInto[T any](n *yaml.Node, v *T) error { return strictDecode(n, v) }

// UnmarshalYAML decodes strictly.
func (c *CollectStep) UnmarshalYAML(n *yaml.Node) error {
	type plain CollectStep
	return strictInto(n, (*plain)(c))
}

// UnmarshalYAML decodes strictly.
func (c *ConfirmStep) UnmarshalYAML(n *yaml.Node) error {
	type plain ConfirmStep
	return strictInto(n, (*plain)(c))
}

// UnmarshalYAML decodes strictly.
func (a *AnswerStep) UnmarshalYAML(n *yaml.Node) error {
	type plain AnswerStep
	return strictInto(n, (*plain)(a))
}

// UnmarshalYAML decodes strictly.
func (t *TransferStep) UnmarshalYAML(n *yaml.Node) error {
	type plain TransferStep
	return strictInto(n, (*plain)(t))
}

// UnmarshalYAML decodes strictly.
func (c *CallbackStep) UnmarshalYAML(n *yaml.Node) error {
	type plain CallbackStep
	return strictInto(n, (*plain)(c))
}

// UnmarshalYAML decodes strictly.
func (e *EndStep) UnmarshalYAML(n *yaml.Node) error {
	type plain EndStep
	return strictInto(n, (*plain)(e))
}

// decodeFile decodes one YAML file into out strictly, turning decoding
// errors into LoadErrors naming the file.
func decodeFile(name string, data []byte, out any) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return yamlErr(name, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	if err := strictDecode(doc.Content[0], out); err != nil {
		return yamlErr(name, err)
	}
	return nil
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

func yamlErr(file string, err error) error {
	var le *lineError
	if errors.As(err, &le) {
		return &LoadError{File: file, Line: le.line, Field: le.field, Reason: le.reason}
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		err = errors.New(te.Errors[0])
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		return &LoadError{File: file, Line: line, Reason: m[2]}
	}
	return &LoadError{File: file, Reason: msg}
}

// LoadDir loads the deployment in directory dir.
func LoadDir(dir string) (*Deployment, error) {
	return Load(os.DirFS(dir), dir)
}

// Load reads a deployment from fsys; source names it in error messages
// (file names are joined to it).
func Load(fsys fs.FS, source string) (*Deployment, error) {
	d := &Deployment{Source: source, Flows: map[string]*Flow{}}
	name := func(f string) string { return path.Join(source, f) }
	data, err := fs.ReadFile(fsys, "deployment.yaml")
	if err != nil {
		return nil, &LoadError{File: name("deployment.yaml"), Reason: "cannot read: " + err.Error()}
	}
	if err := decodeFile(name("deployment.yaml"), data, d); err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, &LoadError{File: source, Reason: err.Error()}
	}
	intentAt := map[string]*Intent{}
	for _, e := range entries {
		f := e.Name()
		if e.IsDir() || f == "deployment.yaml" || !(strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml")) {
			continue
		}
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, &LoadError{File: name(f), Reason: "cannot read: " + err.Error()}
		}
		var part struct {
			Intents []*Intent `yaml:"intents"`
			Flows   yaml.Node `yaml:"flows"`
		}
		if err := decodeFile(name(f), data, &part); err != nil {
			return nil, err
		}
		for _, in := range part.Intents {
			in.File = name(f)
			if prev := intentAt[in.Name]; prev != nil {
				return nil, &LoadError{File: in.File, Line: in.Line, Field: "intents.name", Reason: fmt.Sprintf("intent %q is already defined at %s:%d", in.Name, prev.File, prev.Line)}
			}
			intentAt[in.Name] = in
			d.Intents = append(d.Intents, in)
		}
		if part.Flows.Kind == 0 {
			continue
		}
		if part.Flows.Kind != yaml.MappingNode {
			return nil, &LoadError{File: name(f), Line: part.Flows.Line, Field: "flows", Reason: "expected a mapping of flow name to flow"}
		}
		for i := 0; i+1 < len(part.Flows.Content); i += 2 {
			k, v := part.Flows.Content[i], part.Flows.Content[i+1]
			if prev := d.Flows[k.Value]; prev != nil {
				return nil, &LoadError{File: name(f), Line: k.Line, Field: "flows." + k.Value, Reason: fmt.Sprintf("flow is already defined at %s:%d", prev.File, prev.Line)}
			}
			fl := &Flow{}
			if err := v.Decode(fl); err != nil {
				return nil, yamlErr(name(f), err)
			}
			fl.Name, fl.File, fl.Line = k.Value, name(f), k.Line
			d.Flows[k.Value] = fl
		}
	}
	d.withDefaults()
	if err := d.validate(); err != nil {
		return nil, err
	}
	if err := d.loadArticles(fsys); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Deployment) withDefaults() {
	if d.Language == "" {
		d.Language = "en"
	}
	h := &d.Handoff
	if h.Queue == "" {
		h.Queue = "support"
	}
	if h.SentimentThreshold == 0 {
		h.SentimentThreshold = -0.4
	}
	if h.SentimentMinTurns == 0 {
		h.SentimentMinTurns = 2
	}
	if h.SentimentWindow == 0 {
		h.SentimentWindow = 3
	}
	if h.LowConfidence == 0 {
		h.LowConfidence = 0.45
	}
	if h.LowConfidenceTurns == 0 {
		h.LowConfidenceTurns = 3
	}
	if d.Callback.Window == 0 {
		d.Callback.Window = Duration(2 * time.Hour)
	}
	if d.KB.Dir == "" {
		d.KB.Dir = "kb"
	}
	if d.KB.MinScore == 0 {
		d.KB.MinScore = 3
	}
	if d.KB.MinSimilarity == 0 {
		d.KB.MinSimilarity = 0.45
	}
	if d.KB.MaxSentences == 0 {
		d.KB.MaxSentences = 2
	}
	if d.LLM.Model == "" {
		d.LLM.Model = "gpt-4o-mini"
	}
	if d.LLM.MaxToolRounds == 0 {
		d.LLM.MaxToolRounds = 4
	}
	p := &d.Prompts
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&p.NoAnswer, "I'm sorry, I couldn't find anything about that in our help articles. Would you like me to connect you with a person?")
	def(&p.Transfer, "Let me connect you with a colleague who can help.")
	def(&p.Escalate, "I'm sorry this has been frustrating. Let me get you to a colleague who can sort this out.")
	def(&p.NotUnderstood, "Sorry, I didn't catch that.")
	def(&p.AnythingElse, "Is there anything else I can help with?")
	def(&p.Goodbye, "Thank you for calling. Goodbye!")
	def(&p.CallbackOffer, "All our colleagues are busy right now; the wait is about {minutes} minutes. Would you like us to call you back instead?")
	def(&p.Apology, "Sorry, just a moment.")
	def(&p.ProviderDown, "I'm sorry, I'm having technical trouble. Let me connect you with a colleague.")
	def(&p.CardNumber, "For your security, please don't read out card numbers on this line. A colleague can take payments securely if you need.")
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func (d *Deployment) validate() error {
	dep := path.Join(d.Source, "deployment.yaml")
	if strings.TrimSpace(d.Greeting) == "" {
		return &LoadError{File: dep, Field: "greeting", Reason: "is required"}
	}
	if d.Menu != "" && d.Flows[d.Menu] == nil {
		return &LoadError{File: dep, Field: "menu", Reason: fmt.Sprintf("flow %q is not defined", d.Menu)}
	}
	if d.Callback.Flow != "" && d.Flows[d.Callback.Flow] == nil {
		return &LoadError{File: dep, Field: "callback.flow", Reason: fmt.Sprintf("flow %q is not defined", d.Callback.Flow)}
	}
	if d.Handoff.SentimentThreshold < -1 || d.Handoff.SentimentThreshold > 1 {
		return &LoadError{File: dep, Field: "handoff.sentiment_threshold", Reason: "must be within [-1, 1]"}
	}
	if d.Handoff.LowConfidence < 0 || d.Handoff.LowConfidence > 1 {
		return &LoadError{File: dep, Field: "handoff.low_confidence", Reason: "must be within [0, 1]"}
	}
	if len(d.Intents) < 2 {
		return &LoadError{File: d.Source, Field: "intents", Reason: fmt.Sprintf("need at least 2 intents with examples, found %d", len(d.Intents))}
	}
	for _, in := range d.Intents {
		bad := func(field, format string, a ...any) error {
			return &LoadError{File: in.File, Line: in.Line, Field: "intents." + in.Name + "." + field, Reason: fmt.Sprintf(format, a...)}
		}
		if !nameRE.MatchString(in.Name) {
			return &LoadError{File: in.File, Line: in.Line, Field: "intents.name", Reason: fmt.Sprintf("%q must be lower case letters, digits and _", in.Name)}
		}
		if len(in.Examples) < 2 {
			return bad("examples", "need at least 2 example utterances, got %d", len(in.Examples))
		}
		n := 0
		for _, s := range []string{in.Flow, in.Transfer, in.End, in.Reply} {
			if s != "" {
				n++
			}
		}
		if n > 1 {
			return bad("flow", "set at most one of flow, transfer, end and reply")
		}
		if in.Flow != "" && d.Flows[in.Flow] == nil {
			return bad("flow", "flow %q is not defined", in.Flow)
		}
	}
	names := make([]string, 0, len(d.Flows))
	for n := range d.Flows {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fl := d.Flows[n]
		if len(fl.Steps) == 0 {
			return &LoadError{File: fl.File, Line: fl.Line, Field: "flows." + n + ".steps", Reason: "a flow needs at least one step"}
		}
		for i, s := range fl.Steps {
			if err := d.validateStep(fl, s, fmt.Sprintf("flows.%s.steps[%d]", n, i), 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// kind names the one field a step sets, or an error.
func (s *Step) kind() (string, error) {
	var kinds []string
	for _, k := range []string{"say", "collect", "confirm", "menu", "answer", "transfer", "callback", "end", "flow"} {
		if _, ok := s.set[k]; ok {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		return "", fmt.Errorf("a step sets exactly one of say, collect, confirm, menu, answer, transfer, callback, end, flow; found %d (%s)", len(kinds), strings.Join(kinds, ", "))
	}
	return kinds[0], nil
}

func (d *Deployment) validateStep(fl *Flow, s *Step, field string, depth int) error {
	bad := func(line int, f, format string, a ...any) error {
		if line == 0 {
			line = s.Line
		}
		return &LoadError{File: fl.File, Line: line, Field: field + f, Reason: fmt.Sprintf(format, a...)}
	}
	k, err := s.kind()
	if err != nil {
		return bad(0, "", "%v", err)
	}
	line := s.set[k]
	switch k {
	case "collect":
		c := s.Collect
		if c == nil || !nameRE.MatchString(c.Slot) {
			return bad(line, ".collect.slot", "a slot name (lower case letters, digits, _) is required")
		}
		if strings.TrimSpace(c.Prompt) == "" {
			return bad(line, ".collect.prompt", "is required")
		}
		switch c.Type {
		case SlotDigits:
			if c.Length < 0 || c.MinLength < 0 || c.MaxLength < 0 || (c.MaxLength > 0 && c.MinLength > c.MaxLength) {
				return bad(line, ".collect.length", "lengths must be positive and min_length <= max_length")
			}
		case SlotRegex:
			re, err := regexp.Compile(`^(?:` + c.Pattern + `)$`)
			if c.Pattern == "" || err != nil {
				return bad(line, ".collect.pattern", "a valid regular expression is required for type regex: %v", err)
			}
			c.re = re
		case SlotDate, SlotYesNo, SlotText:
		default:
			return bad(line, ".collect.type", "unknown slot type %q (want digits, date, yes_no, text or regex)", c.Type)
		}
		if c.Retries == 0 {
			c.Retries = 2
		}
	case "confirm":
		if s.Confirm == nil || strings.TrimSpace(s.Confirm.Prompt) == "" {
			return bad(line, ".confirm.prompt", "is required")
		}
	case "menu":
		m := s.Menu
		if depth+1 > MaxMenuDepth {
			return bad(line, ".menu", "menus nest %d levels deep; at most %d are allowed", depth+1, MaxMenuDepth)
		}
		if m == nil || strings.TrimSpace(m.Prompt) == "" {
			return bad(line, ".menu.prompt", "is required")
		}
		if len(m.Options) == 0 {
			return bad(line, ".menu.options", "a menu needs at least one option")
		}
		if m.Retries == 0 {
			m.Retries = 2
		}
		keys := map[string]bool{}
		for i, o := range m.Options {
			of := fmt.Sprintf(".menu.options[%d]", i)
			if len(o.Key) != 1 || !strings.Contains("0123456789", o.Key) {
				return &LoadError{File: fl.File, Line: o.Line, Field: field + of + ".key", Reason: fmt.Sprintf("%q must be one digit 0-9 (* goes back)", o.Key)}
			}
			if keys[o.Key] {
				return &LoadError{File: fl.File, Line: o.Line, Field: field + of + ".key", Reason: fmt.Sprintf("key %s is used twice in this menu", o.Key)}
			}
			keys[o.Key] = true
			if err := d.validateStep(fl, &o.Do, field+of, depth+1); err != nil {
				return err
			}
		}
	case "answer":
		if s.Answer == nil {
			s.Answer = &AnswerStep{}
		}
	case "transfer":
		if s.Transfer == nil {
			s.Transfer = &TransferStep{}
		}
		if s.Transfer.Queue == "" {
			s.Transfer.Queue = d.Handoff.Queue
		}
	case "callback":
		if s.Callback == nil {
			s.Callback = &CallbackStep{}
		}
	case "end":
		if s.End == nil {
			s.End = &EndStep{}
		}
	case "flow":
		if d.Flows[s.Flow] == nil {
			return bad(line, ".flow", "flow %q is not defined", s.Flow)
		}
	case "say":
		if strings.TrimSpace(s.Say) == "" {
			return bad(line, ".say", "is empty")
		}
	}
	return nil
}

// loadArticles reads the KB folder: Markdown files with a front matter.
func (d *Deployment) loadArticles(fsys fs.FS) error {
	entries, err := fs.ReadDir(fsys, d.KB.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &LoadError{File: path.Join(d.Source, d.KB.Dir), Reason: err.Error()}
	}
	seen := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		rel := path.Join(d.KB.Dir, e.Name())
		file := path.Join(d.Source, rel)
		data, err := fs.ReadFile(fsys, rel)
		if err != nil {
			return &LoadError{File: file, Reason: err.Error()}
		}
		var meta struct {
			ID       string   `yaml:"id"`
			Title    string   `yaml:"title"`
			Category []string `yaml:"category"`
			Tags     []string `yaml:"tags"`
			Language string   `yaml:"language"`
			Version  int      `yaml:"version"`
		}
		body := data
		if bytes.HasPrefix(data, []byte("---\n")) {
			end := bytes.Index(data[4:], []byte("\n---"))
			if end < 0 {
				return &LoadError{File: file, Line: 1, Field: "front matter", Reason: "no closing --- line"}
			}
			front := data[4 : 4+end]
			body = bytes.TrimLeft(data[4+end+4:], "-\r\n")
			var n yaml.Node
			if err := yaml.Unmarshal(front, &n); err != nil {
				le := yamlErr(file, err).(*LoadError)
				if le.Line > 0 {
					le.Line++ // the front matter starts on line 2
				}
				return le
			}
			if len(n.Content) > 0 {
				if err := strictDecode(n.Content[0], &meta); err != nil {
					le := yamlErr(file, err).(*LoadError)
					le.Line++
					return le
				}
			}
		}
		if meta.ID == "" {
			meta.ID = strings.TrimSuffix(e.Name(), ".md")
		}
		if prev, dup := seen[meta.ID]; dup {
			return &LoadError{File: file, Field: "id", Reason: fmt.Sprintf("article id %q is also used by %s", meta.ID, prev)}
		}
		seen[meta.ID] = file
		if meta.Language == "" {
			meta.Language = d.Language
		}
		if meta.Version == 0 {
			meta.Version = 1
		}
		if meta.Title == "" {
			// The first Markdown heading is the title.
			for _, l := range strings.Split(string(body), "\n") {
				if strings.HasPrefix(l, "# ") {
					meta.Title = strings.TrimSpace(l[2:])
					break
				}
			}
		}
		doc := knowledge.Document{ID: meta.ID, Title: meta.Title, Body: string(body), Format: knowledge.FormatMarkdown,
			Category: meta.Category, Language: meta.Language, Tags: meta.Tags, Version: meta.Version, Status: knowledge.StatusPublished}
		if err := doc.Validate(knowledge.Limits{}); err != nil {
			return &LoadError{File: file, Reason: err.Error()}
		}
		d.Articles = append(d.Articles, doc)
	}
	return nil
}

// Intent returns the named intent, or nil.
func (d *Deployment) Intent(name string) *Intent {
	for _, in := range d.Intents {
		if in.Name == name {
			return in
		}
	}
	return nil
}
