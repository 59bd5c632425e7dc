package routing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the routing configuration: the skill and language vocabulary,
// priority rules, offer policy, calendars and queues.
type Config struct {
	Skills       []string         `yaml:"skills" json:"skills"`
	Languages    []string         `yaml:"languages" json:"languages"` // empty: any language accepted
	BreakReasons []string         `yaml:"break_reasons" json:"break_reasons"`
	Priority     PriorityConfig   `yaml:"priority" json:"priority"`
	Offers       OfferConfig      `yaml:"offers" json:"offers"`
	Calendars    []CalendarConfig `yaml:"calendars" json:"calendars"`
	Queues       []QueueConfig    `yaml:"queues" json:"queues"`
}

// PriorityConfig computes a contact's priority: the queue's base points plus
// the points of every matching rule, plus AgingPerSecond for each second
// waited. One aging rate for all contacts keeps the order between two waiting
// contacts fixed over time (so heaps never need re-keying) and guarantees
// eventual service: a contact that waited long enough outranks every later
// arrival, whatever its rules.
type PriorityConfig struct {
	AgingPerSecond float64        `yaml:"aging_per_second" json:"aging_per_second"` // must be > 0; default 1
	Rules          []PriorityRule `yaml:"rules" json:"rules"`
}

// PriorityRule adds Points to contacts whose attribute is one of In, or whose
// sentiment is below SentimentBelow.
type PriorityRule struct {
	Attribute      string   `yaml:"attribute,omitempty" json:"attribute,omitempty"` // e.g. tier, task
	In             []string `yaml:"in,omitempty" json:"in,omitempty"`               // e.g. [vip]
	SentimentBelow *float64 `yaml:"sentiment_below,omitempty" json:"sentiment_below,omitempty"`
	Points         float64  `yaml:"points" json:"points"`
}

// OfferConfig is the reservation policy for offers to agents.
type OfferConfig struct {
	Timeout   time.Duration `yaml:"timeout" json:"timeout"`       // unanswered offer expires; default 20s
	MaxMisses int           `yaml:"max_misses" json:"max_misses"` // consecutive misses before not-ready; default 3
	MissHold  time.Duration `yaml:"miss_hold" json:"miss_hold"`   // agent not offered again for this long after a miss; default 5s
}

// Strategy names how a queue chooses among eligible available agents.
type Strategy string

// Strategies.
const (
	LongestIdle    Strategy = "longest_idle"    // available the longest
	LeastOccupied  Strategy = "least_occupied"  // least handling time since login, then longest idle
	MostSkilled    Strategy = "most_skilled"    // highest proficiency sum over the step's skills, then longest idle
	RoundRobin     Strategy = "round_robin"     // offered by this queue least recently
	WeightedRandom Strategy = "weighted_random" // random, weight 1 + proficiency sum over the step's skills
)

// QueueConfig describes one queue.
type QueueConfig struct {
	ID           string            `yaml:"id" json:"id"`
	Channel      string            `yaml:"channel" json:"channel"`   // voice, chat, email...; default voice
	Strategy     Strategy          `yaml:"strategy" json:"strategy"` // default longest_idle
	Priority     float64           `yaml:"priority" json:"priority"` // base points for its contacts
	ServiceLevel time.Duration     `yaml:"service_level" json:"service_level"`
	WrapUp       time.Duration     `yaml:"wrap_up" json:"wrap_up"`         // after-contact work before the agent is available again
	HandleHint   time.Duration     `yaml:"handle_hint" json:"handle_hint"` // expected handle time before any is observed; default 5m
	Calendar     string            `yaml:"calendar,omitempty" json:"calendar,omitempty"`
	AfterHours   AfterHoursConfig  `yaml:"after_hours" json:"after_hours"`
	Overflow     *OverflowConfig   `yaml:"overflow,omitempty" json:"overflow,omitempty"`
	Steps        []StepConfig      `yaml:"steps" json:"steps"`
	Labels       map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
}

// AfterHoursAction says what happens to a contact arriving while the queue's
// calendar is closed.
type AfterHoursAction string

// After-hours actions.
const (
	AfterHoursReject    AfterHoursAction = "reject"    // play a closed message and end
	AfterHoursVoicemail AfterHoursAction = "voicemail" // take a message
	AfterHoursOverflow  AfterHoursAction = "overflow"  // enqueue in Queue instead
	AfterHoursQueue     AfterHoursAction = "queue"     // queue anyway (served when agents are there)
)

// AfterHoursConfig is the action for contacts arriving outside business hours.
type AfterHoursConfig struct {
	Action AfterHoursAction `yaml:"action" json:"action"` // default reject
	Queue  string           `yaml:"queue,omitempty" json:"queue,omitempty"`
}

// OverflowConfig moves a contact to another queue after a wait.
type OverflowConfig struct {
	After time.Duration `yaml:"after" json:"after"`
	Queue string        `yaml:"queue" json:"queue"`
}

// StepConfig is one requirement step: agents satisfying Require are eligible
// until Expiry after the contact entered the queue, then the next step applies.
// Each step replaces the previous one; write widening predicates to widen the
// pool. The last step must have no expiry.
type StepConfig struct {
	Expiry  time.Duration `yaml:"expiry,omitempty" json:"expiry,omitempty"`
	Require Predicate     `yaml:"require" json:"require"`
}

// ParseConfig decodes YAML (unknown fields rejected) and validates it.
func ParseConfig(data []byte) (*Config, error) {
	return LoadConfig(bytes.NewReader(data))
}

// LoadConfig decodes YAML from r (unknown fields rejected) and validates it.
func LoadConfig(r io.Reader) (*Config, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("routing config: %w", err)
	}
	if _, err := compileConfig(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks the configuration and returns the first problem found, with
// its location.
func (c *Config) Validate() error {
	_, err := compileConfig(c)
	return err
}

// compiled is a validated configuration with names resolved.
type compiled struct {
	names    names
	breaks   map[string]bool
	aging    float64
	rules    []PriorityRule
	offers   OfferConfig
	queues   []*queueSpec
	queueIdx map[string]int
	channels map[string]int
}

type queueSpec struct {
	cfg      QueueConfig
	calendar *Calendar
	steps    []stepSpec
	channel  int
}

type stepSpec struct {
	expiry time.Duration
	pred   compiledPredicate
	max    int // maxScore of pred
}

// Reason codes the engine sets itself.
const (
	ReasonMissedOffers = "missed_offers" // set not-ready after consecutive missed offers
)

func compileConfig(c *Config) (*compiled, error) {
	cc := &compiled{
		names:    names{skills: map[string]int{}, langs: map[string]int{}, openLangs: len(c.Languages) == 0},
		breaks:   map[string]bool{ReasonMissedOffers: true},
		queueIdx: map[string]int{},
		channels: map[string]int{},
	}
	for i, s := range c.Skills {
		if s == "" {
			return nil, fmt.Errorf("routing config: skills[%d]: empty name", i)
		}
		if _, dup := cc.names.skills[s]; dup {
			return nil, fmt.Errorf("routing config: skills[%d]: duplicate skill %q", i, s)
		}
		cc.names.skills[s] = len(cc.names.skillNames)
		cc.names.skillNames = append(cc.names.skillNames, s)
	}
	for i, l := range c.Languages {
		if _, dup := cc.names.langs[l]; dup || l == "" {
			return nil, fmt.Errorf("routing config: languages[%d]: empty or duplicate language %q", i, l)
		}
		cc.names.langs[l] = len(cc.names.langNames)
		cc.names.langNames = append(cc.names.langNames, l)
	}
	for i, r := range c.BreakReasons {
		if r == "" {
			return nil, fmt.Errorf("routing config: break_reasons[%d]: empty", i)
		}
		cc.breaks[r] = true
	}
	cc.aging = c.Priority.AgingPerSecond
	if cc.aging == 0 {
		cc.aging = 1
	}
	if cc.aging < 0 {
		return nil, fmt.Errorf("routing config: priority.aging_per_second: %v must be > 0 so that every contact is eventually served", c.Priority.AgingPerSecond)
	}
	for i, r := range c.Priority.Rules {
		path := fmt.Sprintf("routing config: priority.rules[%d]", i)
		hasAttr := r.Attribute != ""
		if hasAttr == (r.SentimentBelow != nil) {
			return nil, fmt.Errorf("%s: needs exactly one of attribute (with in) or sentiment_below", path)
		}
		if hasAttr && len(r.In) == 0 {
			return nil, fmt.Errorf("%s: attribute %q needs a non-empty in list", path, r.Attribute)
		}
	}
	cc.rules = c.Priority.Rules
	cc.offers = c.Offers
	if cc.offers.Timeout == 0 {
		cc.offers.Timeout = 20 * time.Second
	}
	if cc.offers.MaxMisses == 0 {
		cc.offers.MaxMisses = 3
	}
	if cc.offers.Timeout < 0 || cc.offers.MaxMisses < 0 || cc.offers.MissHold < 0 {
		return nil, fmt.Errorf("routing config: offers: timeout, max_misses and miss_hold must not be negative")
	}
	if c.Offers.MissHold == 0 {
		cc.offers.MissHold = 5 * time.Second
	}
	cals := map[string]*Calendar{}
	for i, cal := range c.Calendars {
		k, err := NewCalendar(cal, fmt.Sprintf("routing config: calendars[%d]", i))
		if err != nil {
			return nil, err
		}
		if cals[k.name] != nil {
			return nil, fmt.Errorf("routing config: calendars[%d]: duplicate calendar %q", i, k.name)
		}
		cals[k.name] = k
	}
	if len(c.Queues) == 0 {
		return nil, errors.New("routing config: queues: at least one queue is required")
	}
	for i, q := range c.Queues {
		if q.ID == "" {
			return nil, fmt.Errorf("routing config: queues[%d].id: empty", i)
		}
		if _, dup := cc.queueIdx[q.ID]; dup {
			return nil, fmt.Errorf("routing config: queues[%d]: duplicate queue id %q", i, q.ID)
		}
		cc.queueIdx[q.ID] = i
	}
	for i, q := range c.Queues {
		path := fmt.Sprintf("routing config: queues[%d] (%s)", i, q.ID)
		qs := &queueSpec{cfg: q}
		if qs.cfg.Channel == "" {
			qs.cfg.Channel = "voice"
		}
		ch, ok := cc.channels[qs.cfg.Channel]
		if !ok {
			ch = len(cc.channels)
			cc.channels[qs.cfg.Channel] = ch
		}
		qs.channel = ch
		switch qs.cfg.Strategy {
		case "":
			qs.cfg.Strategy = LongestIdle
		case LongestIdle, LeastOccupied, MostSkilled, RoundRobin, WeightedRandom:
		default:
			return nil, fmt.Errorf("%s.strategy: unknown strategy %q (use longest_idle, least_occupied, most_skilled, round_robin, weighted_random)", path, q.Strategy)
		}
		if q.ServiceLevel < 0 || q.WrapUp < 0 || q.HandleHint < 0 {
			return nil, fmt.Errorf("%s: service_level, wrap_up and handle_hint must not be negative", path)
		}
		if qs.cfg.ServiceLevel == 0 {
			qs.cfg.ServiceLevel = 20 * time.Second
		}
		if qs.cfg.HandleHint == 0 {
			qs.cfg.HandleHint = 5 * time.Minute
		}
		if q.Calendar != "" {
			qs.calendar = cals[q.Calendar]
			if qs.calendar == nil {
				return nil, fmt.Errorf("%s.calendar: unknown calendar %q", path, q.Calendar)
			}
		}
		switch qs.cfg.AfterHours.Action {
		case "":
			qs.cfg.AfterHours.Action = AfterHoursReject
		case AfterHoursReject, AfterHoursVoicemail, AfterHoursQueue:
		case AfterHoursOverflow:
			if err := cc.checkQueueRef(q.AfterHours.Queue, q.ID, path+".after_hours.queue"); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%s.after_hours.action: unknown action %q (use reject, voicemail, overflow, queue)", path, q.AfterHours.Action)
		}
		if q.Overflow != nil {
			if q.Overflow.After <= 0 {
				return nil, fmt.Errorf("%s.overflow.after: must be > 0", path)
			}
			if err := cc.checkQueueRef(q.Overflow.Queue, q.ID, path+".overflow.queue"); err != nil {
				return nil, err
			}
		}
		if len(q.Steps) == 0 {
			return nil, fmt.Errorf("%s.steps: at least one step is required", path)
		}
		var prev time.Duration
		for j, s := range q.Steps {
			sp := fmt.Sprintf("%s.steps[%d]", path, j)
			last := j == len(q.Steps)-1
			if last && s.Expiry != 0 {
				return nil, fmt.Errorf("%s.expiry: the last step must not expire", sp)
			}
			if !last && s.Expiry <= prev {
				return nil, fmt.Errorf("%s.expiry: %v must be greater than the previous step's (%v)", sp, s.Expiry, prev)
			}
			prev = s.Expiry
			p, err := compilePredicate(s.Require, &cc.names, sp+".require")
			if err != nil {
				return nil, err
			}
			qs.steps = append(qs.steps, stepSpec{expiry: s.Expiry, pred: p, max: p.maxScore()})
		}
		cc.queues = append(cc.queues, qs)
	}
	return cc, nil
}

func (cc *compiled) checkQueueRef(id, self, path string) error {
	if id == "" {
		return fmt.Errorf("%s: empty", path)
	}
	if id == self {
		return fmt.Errorf("%s: queue %q cannot target itself", path, id)
	}
	if _, ok := cc.queueIdx[id]; !ok {
		known := make([]string, 0, len(cc.queueIdx))
		for k := range cc.queueIdx {
			known = append(known, k)
		}
		return fmt.Errorf("%s: unknown queue %q (known: %s)", path, id, strings.Join(known, ", "))
	}
	return nil
}

// basePriority is the time-independent part of a contact's priority.
func (cc *compiled) basePriority(q *queueSpec, attrs map[string]string, sentiment float64) float64 {
	p := q.cfg.Priority
	for _, r := range cc.rules {
		if r.SentimentBelow != nil {
			if sentiment < *r.SentimentBelow {
				p += r.Points
			}
			continue
		}
		v, ok := attrs[r.Attribute]
		if !ok {
			continue
		}
		for _, want := range r.In {
			if v == want {
				p += r.Points
				break
			}
		}
	}
	return p
}
