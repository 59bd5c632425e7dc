package dialog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/voicebot/nlu"
)

// Options configure an engine. Only Deployment is required.
type Options struct {
	Deployment *Deployment
	// KB answers questions; nil means no knowledge-base answers.
	KB *knowledge.Base
	// Intents classifies caller turns; nil trains one from the
	// deployment's examples.
	Intents *nlu.Model
	// Callbacks keeps booked callbacks; nil keeps them in memory.
	Callbacks CallbackStore
	// Customers finds callers by number for lookup_customer; may be nil.
	Customers CustomerDirectory
	// EWT is the expected wait in a queue, when known; a long one turns a
	// hand-off into a callback offer.
	EWT func(ctx context.Context, queue string) (time.Duration, bool)
	// Now is the clock for dates and callback windows (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// LLMOptions select the OpenAI-compatible chat model of the openai engine.
type LLMOptions struct {
	BaseURL    string // e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1
	APIKey     string
	Model      string // default the deployment's llm.model
	HTTPClient *http.Client
	// FirstTokenTimeout bounds the wait for the first streamed chunk and
	// StallTimeout the gap between chunks (defaults 6s and 4s): a provider
	// that stalls longer is treated as failed.
	FirstTokenTimeout time.Duration
	StallTimeout      time.Duration
}

// CustomerDirectory finds a caller's customer record.
type CustomerDirectory interface {
	FindContactByPhone(ctx context.Context, phone string) (*store.Contact, error)
}

// Bot is one deployment's dialog engine (a dialog.Engine): `local` (intents, flows and
// knowledge-base answers, deterministic, offline) or `openai` (the same
// flows and hand-off rules, with an LLM and tools for free conversation).
type Bot struct {
	o      Options
	dep    *Deployment
	model  *nlu.Model
	ans    answerer
	llm    *goopenai.Client
	llmOpt LLMOptions
	log    *slog.Logger
}

var _ Engine = (*Bot)(nil)

// NewLocal returns the deterministic offline engine.
func NewLocal(ctx context.Context, o Options) (*Bot, error) {
	if o.Deployment == nil {
		return nil, errors.New("dialog: no deployment")
	}
	e := &Bot{o: o, dep: o.Deployment, model: o.Intents, log: o.Logger}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.o.Now == nil {
		e.o.Now = time.Now
	}
	if e.o.Callbacks == nil {
		e.o.Callbacks = &MemoryCallbacks{}
	}
	if e.model == nil {
		var ex []nlu.Example
		for _, in := range e.dep.Intents {
			for _, t := range in.Examples {
				ex = append(ex, nlu.Example{Text: t, Intent: in.Name})
			}
		}
		m, err := nlu.Train(ctx, ex, nlu.DefaultOptions())
		if err != nil {
			return nil, fmt.Errorf("dialog: train intents of %s: %w", e.dep.Source, err)
		}
		e.model = m
	}
	// The deployment decides how sure is sure enough.
	e.model = e.model.WithThreshold(e.dep.Handoff.LowConfidence)
	e.ans = answerer{kb: o.KB, cfg: e.dep.KB}
	return e, nil
}

// NewOpenAI returns the LLM engine: streaming chat completions with tools
// against any OpenAI-compatible endpoint, with the local engine's flows,
// intents and hand-off rules around it.
func NewOpenAI(ctx context.Context, o Options, lo LLMOptions) (*Bot, error) {
	e, err := NewLocal(ctx, o)
	if err != nil {
		return nil, err
	}
	if lo.BaseURL == "" && lo.APIKey == "" {
		return nil, errors.New("dialog: openai engine needs a base URL or an API key")
	}
	cfg := goopenai.DefaultConfig(lo.APIKey)
	if lo.BaseURL != "" {
		cfg.BaseURL = strings.TrimRight(lo.BaseURL, "/")
	}
	if lo.HTTPClient != nil {
		cfg.HTTPClient = lo.HTTPClient
	}
	if lo.Model == "" {
		lo.Model = e.dep.LLM.Model
	}
	if lo.FirstTokenTimeout <= 0 {
		lo.FirstTokenTimeout = 6 * time.Second
	}
	if lo.StallTimeout <= 0 {
		lo.StallTimeout = 4 * time.Second
	}
	e.llm = goopenai.NewClientWithConfig(cfg)
	e.llmOpt = lo
	return e, nil
}

// Deployment returns the engine's deployment.
func (e *Bot) Deployment() *Deployment { return e.dep }

// Intents returns the intent model in use.
func (e *Bot) Intents() *nlu.Model { return e.model }

// NewConversation starts a call's dialog.
func (e *Bot) NewConversation(_ context.Context, info CallInfo) (Conversation, error) {
	c := &conversation{e: e, dep: e.dep, info: info, slots: map[string]string{}, slotType: map[string]string{}}
	c.trend.Window = e.dep.Handoff.SentimentWindow
	return c, nil
}

// conversation is one call's state.
type conversation struct {
	e    *Bot
	dep  *Deployment
	info CallInfo

	history       []line
	trend         SentimentTrend
	notUnderstood int
	flow          *flowRun
	offer         *offer
	slots         map[string]string
	slotType      map[string]string
	tried         []string
	lastText      string
	lastIntent    string
	offeredCB     bool
	escalated     bool
	cbQueue       string // hand-off queue a callback replaces
	cbReason      string
	llmMsgs       []goopenai.ChatCompletionMessage
}

type line struct{ speaker, text string }

// offer is a yes/no question the bot asked outside a flow.
type offer struct {
	kind   string // "transfer" or "callback"
	queue  string
	reason string
}

// reply collects a turn's words and streams them out; Result.Text is
// exactly what was emitted, trimmed.
type reply struct {
	out    func(string)
	all    strings.Builder
	parts  []string
	res    *Result
	stream strings.Builder // LLM tokens of the part being generated
}

func newReply(emit func(string), res *Result) *reply { return &reply{out: nonNil(emit), res: res} }

func (r *reply) emit(s string) {
	r.out(s)
	r.all.WriteString(s)
}

// sep emits a space unless the words so far end in one.
func (r *reply) sep() {
	if a := r.all.String(); a != "" && !strings.HasSuffix(a, " ") {
		r.emit(" ")
	}
}

func (r *reply) say(s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	r.sep()
	r.emit(s)
	r.parts = append(r.parts, s)
}

// token streams an LLM token; endStream closes the part.
func (r *reply) token(t string) {
	if r.stream.Len() == 0 {
		t = strings.TrimLeft(t, " ")
		if t == "" {
			return
		}
		r.sep()
	}
	r.emit(t)
	r.stream.WriteString(t)
}

func (r *reply) endStream() string {
	s := r.stream.String()
	r.stream.Reset()
	if strings.TrimSpace(s) != "" {
		r.parts = append(r.parts, strings.TrimSpace(s))
	}
	return s
}

func (r *reply) text() string { return strings.TrimSpace(r.all.String()) }

// Greet speaks the deployment's greeting.
func (c *conversation) Greet(_ context.Context, emit func(string)) (Result, error) {
	r := newReply(emit, &Result{})
	r.say(c.dep.Greeting)
	r.res.Text = r.text()
	c.history = append(c.history, line{"bot", r.res.Text})
	c.llmMsgs = append(c.llmMsgs, goopenai.ChatCompletionMessage{Role: goopenai.ChatMessageRoleAssistant, Content: r.res.Text})
	return *r.res, nil
}

func nonNil(emit func(string)) func(string) {
	if emit == nil {
		return func(string) {}
	}
	return emit
}

// Interrupted keeps only what the caller heard of the last reply.
func (c *conversation) Interrupted(heard string) {
	heard = strings.TrimSpace(heard)
	for i := len(c.history) - 1; i >= 0; i-- {
		if c.history[i].speaker == "bot" {
			c.history[i].text = heard + " [interrupted]"
			break
		}
	}
	for i := len(c.llmMsgs) - 1; i >= 0; i-- {
		if m := &c.llmMsgs[i]; m.Role == goopenai.ChatMessageRoleAssistant && len(m.ToolCalls) == 0 {
			m.Content = heard
			break
		}
	}
}

// Respond handles one caller turn.
func (c *conversation) Respond(ctx context.Context, in Input, emit func(string)) (Result, error) {
	res := &Result{}
	r := newReply(emit, res)
	text := strings.TrimSpace(in.Text)
	dtmf := strings.TrimSpace(in.DTMF)
	if text == "" && dtmf == "" {
		// Silence or an empty transcript: say so and repeat the question.
		res.Intent, res.SentimentTrend = nlu.OutOfScope, c.trend.Value()
		r.say(c.dep.Prompts.NotUnderstood)
		if c.flow != nil && c.flow.waiting != nil {
			r.say(c.flow.waitingPrompt(c))
		}
		return c.finish(r, "", "")
	}
	if text != "" {
		cls := c.e.model.Classify(text)
		res.Intent, res.Confidence = cls.Intent, cls.Confidence
		res.Sentiment = Sentiment(text)
		res.SentimentTrend = c.trend.Add(res.Sentiment)
		c.lastText = redactCards(text)
		if res.Intent != nlu.OutOfScope {
			c.lastIntent = res.Intent
		}
	} else {
		res.Intent, res.Confidence, res.SentimentTrend = "dtmf", 1, c.trend.Value()
	}
	shown := redactCards(text)
	if dtmf != "" {
		shown = strings.TrimSpace(shown + " [keys " + dtmf + "]")
	}
	c.history = append(c.history, line{"caller", shown})
	if err := c.turn(ctx, in, text, dtmf, r); err != nil {
		return c.finish(r, "", err.Error())
	}
	return c.finish(r, "", "")
}

func (c *conversation) finish(r *reply, _ string, _ string) (Result, error) {
	r.res.Text = r.text()
	if len(c.slots) > 0 {
		r.res.Slots = make(map[string]string, len(c.slots))
		for k, v := range c.slots {
			r.res.Slots[k] = v
		}
	}
	c.history = append(c.history, line{"bot", r.res.Text})
	return *r.res, nil
}

// turn decides what to do with a caller turn; hand-off triggers first.
func (c *conversation) turn(ctx context.Context, in Input, text, dtmf string, r *reply) error {
	res := r.res
	if text != "" && hasCardNumber(text) && !c.collectingLongDigits() {
		r.say(c.dep.Prompts.CardNumber)
		if c.flow != nil && c.flow.waiting != nil {
			r.say(c.flow.waitingPrompt(c))
		} else {
			c.anythingElse(r)
		}
		return nil
	}
	if text != "" && c.wantsPerson(text, res) {
		queue := c.dep.Handoff.Queue
		if in := c.dep.Intent(res.Intent); in != nil && in.Transfer != "" {
			queue = in.Transfer
		}
		c.tried = append(c.tried, "caller asked for a person")
		c.handoff(ctx, queue, "requested", c.dep.Prompts.Transfer, r)
		return nil
	}
	h := c.dep.Handoff
	if text != "" && !c.escalated && c.trend.Turns() >= h.SentimentMinTurns && c.trend.Value() < h.SentimentThreshold {
		c.escalated = true
		c.handoff(ctx, h.Queue, "negative_sentiment", c.dep.Prompts.Escalate, r)
		return nil
	}
	if c.offer != nil {
		// Keys go to the menu, not to the question the bot asked.
		o := c.offer
		c.offer = nil
		answer := YesNo(text)
		switch {
		case o.kind == "transfer" && answer == "yes":
			c.handoff(ctx, o.queue, o.reason, c.dep.Prompts.Transfer, r)
			return nil
		case o.kind == "transfer" && answer == "no":
			r.say("Okay.")
			c.anythingElse(r)
			return nil
		case o.kind == "callback" && answer == "yes":
			c.cbQueue, c.cbReason = o.queue, o.reason
			c.startFlow(ctx, c.dep.Flows[c.dep.Callback.Flow], r)
			return nil
		case o.kind == "callback" && answer == "no":
			c.transfer(o.queue, o.reason, c.dep.Prompts.Transfer, r)
			return nil
		case o.kind == "more" && answer == "no" && len(strings.Fields(text)) <= 5:
			r.say(c.dep.Prompts.Goodbye)
			r.res.Action = &Action{Kind: ActionEnd}
			return nil
		case o.kind == "more" && answer == "yes" && len(strings.Fields(text)) <= 3:
			r.say("Sure, what else can I help you with?")
			return nil
		}
		// Not an answer to the question: carry on with what they said.
	}
	if c.flow != nil {
		if c.flow.input(ctx, c, text, dtmf, r) {
			return nil
		}
		// The caller left the flow for something else.
		c.flow = nil
	}
	if dtmf != "" && text == "" {
		if c.dep.Menu == "" {
			r.say(c.dep.Prompts.NotUnderstood)
			return nil
		}
		// The key pressed outside a flow chooses in the main menu, whose
		// prompt the caller knows already (or skipped).
		scratch := newReply(nil, &Result{})
		c.startFlow(ctx, c.dep.Flows[c.dep.Menu], scratch)
		if c.flow == nil || c.flow.waiting == nil || c.flow.waiting.Menu == nil {
			for _, p := range scratch.parts {
				r.say(p)
			}
			r.res.Action = scratch.res.Action
			return nil
		}
		c.flow.input(ctx, c, "", dtmf, r)
		return nil
	}
	if c.e.llm != nil {
		if flow := c.intentFlow(res); flow != nil {
			c.startFlow(ctx, flow, r)
			return nil
		}
		return c.llmTurn(ctx, r)
	}
	return c.localTurn(ctx, text, r)
}

// intentFlow is the flow of a confidently recognised intent, or nil.
func (c *conversation) intentFlow(res *Result) *Flow {
	in := c.dep.Intent(res.Intent)
	if in == nil || in.Flow == "" || res.Confidence < c.dep.Handoff.LowConfidence {
		return nil
	}
	return c.dep.Flows[in.Flow]
}

var personRE = regexp.MustCompile(`(?i)\b(speak|talk|chat|connect|put me through|transfer|get|want|need)\b.{0,30}\b(person|human|agent|someone|somebody|representative|operator|advisor|adviser|colleague|manager|supervisor)\b|\b(real|actual|live) (person|human)\b|^\W*(agent|operator|representative|human|a person)\W*(please)?\W*$`)

// wantsPerson: an explicit request for a human.
func (c *conversation) wantsPerson(text string, res *Result) bool {
	if in := c.dep.Intent(res.Intent); in != nil && in.Handoff && res.Confidence >= c.dep.Handoff.LowConfidence {
		return true
	}
	return personRE.MatchString(text)
}

// handoff transfers to queue, or first offers a callback when the wait is
// long and the deployment has a callback flow.
func (c *conversation) handoff(ctx context.Context, queue, reason, say string, r *reply) {
	cb := c.dep.Callback
	if c.e.o.EWT != nil && cb.OfferAbove > 0 && cb.Flow != "" && !c.offeredCB {
		if ewt, ok := c.e.o.EWT(ctx, queue); ok && ewt > time.Duration(cb.OfferAbove) {
			c.offeredCB = true
			c.flow = nil
			c.offer = &offer{kind: "callback", queue: queue, reason: reason}
			mins := int((ewt + time.Minute - 1) / time.Minute)
			r.say(strings.ReplaceAll(c.dep.Prompts.CallbackOffer, "{minutes}", strconv.Itoa(mins)))
			return
		}
	}
	c.transfer(queue, reason, say, r)
}

func (c *conversation) transfer(queue, reason, say string, r *reply) {
	c.flow, c.offer = nil, nil
	r.say(say)
	r.res.Action = &Action{Kind: ActionTransfer, Queue: queue, Reason: reason, Summary: c.summary(reason)}
}

// localTurn is the deterministic engine's answer outside flows.
func (c *conversation) localTurn(ctx context.Context, text string, r *reply) error {
	res := r.res
	in := c.dep.Intent(res.Intent)
	if in != nil && res.Confidence >= c.dep.Handoff.LowConfidence {
		c.notUnderstood = 0
		switch {
		case in.Flow != "":
			c.startFlow(ctx, c.dep.Flows[in.Flow], r)
		case in.Transfer != "":
			c.tried = append(c.tried, "intent "+in.Name+" goes to a person")
			c.handoff(ctx, in.Transfer, "flow", c.dep.Prompts.Transfer, r)
		case in.End != "":
			r.say(in.End)
			res.Action = &Action{Kind: ActionEnd}
		case in.Reply != "":
			r.say(c.fill(in.Reply, false))
			if strings.Contains(strings.ToLower(in.Reply), "anything else") && c.offer == nil {
				c.offer = &offer{kind: "more"}
			}
		default:
			return c.kbTurn(ctx, text, in.KB, r, true)
		}
		return nil
	}
	return c.kbTurn(ctx, text, nil, r, false)
}

// kbTurn answers from the knowledge base, or says nothing was found and
// offers a person; understood says the intent was recognised.
func (c *conversation) kbTurn(ctx context.Context, query string, cat []string, r *reply, understood bool) error {
	ans, err := c.e.ans.answer(ctx, query, cat, c.dep.Language, !understood)
	if err != nil {
		c.e.log.Warn("knowledge base unavailable", "err", err)
	}
	if ans.Relevant {
		c.notUnderstood = 0
		c.tried = append(c.tried, fmt.Sprintf("answered from article %q", ans.Title))
		r.say(ans.Text)
		c.anythingElse(r)
		r.res.Citations = append(r.res.Citations, ans.Citations...)
		return nil
	}
	c.tried = append(c.tried, "no article found for: "+query)
	if !understood {
		c.notUnderstood++
		if c.notUnderstood >= c.dep.Handoff.LowConfidenceTurns {
			c.notUnderstood = 0
			c.handoff(ctx, c.dep.Handoff.Queue, "low_confidence", c.dep.Prompts.Transfer, r)
			return nil
		}
	}
	r.say(c.dep.Prompts.NoAnswer)
	c.offer = &offer{kind: "transfer", queue: c.dep.Handoff.Queue, reason: "requested"}
	return nil
}

// anythingElse asks whether there is more; a plain "no" then ends the call.
func (c *conversation) anythingElse(r *reply) {
	r.say(c.dep.Prompts.AnythingElse)
	if c.offer == nil {
		c.offer = &offer{kind: "more"}
	}
}

func (c *conversation) collectingLongDigits() bool {
	if c.flow == nil || c.flow.waiting == nil || c.flow.waiting.Collect == nil {
		return false
	}
	col := c.flow.waiting.Collect
	return col.Type == SlotDigits && (col.Length >= 13 || col.MaxLength >= 13)
}

var fillRE = regexp.MustCompile(`\{(\w+)\}`)

// fill replaces {slot} (and {caller}) in a template; spoken reads digits
// one by one and dates in words.
func (c *conversation) fill(tmpl string, raw bool) string {
	return fillRE.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[1 : len(m)-1]
		v, ok := c.slots[name]
		if name == "caller" && !ok {
			v, ok = c.info.From, true
			if !raw {
				return speakValue(SlotDigits, ExtractDigits(v))
			}
		}
		if !ok {
			return ""
		}
		if raw {
			return v
		}
		return speakValue(c.slotType[name], v)
	})
}

// summary is an extractive hand-off summary: intent, what the caller said,
// slots, what was tried, sentiment.
func (c *conversation) summary(reason string) string {
	var b strings.Builder
	if c.lastIntent != "" {
		fmt.Fprintf(&b, "Intent: %s. ", c.lastIntent)
	}
	if reason != "" {
		fmt.Fprintf(&b, "Hand-off reason: %s. ", reason)
	}
	var said []string
	for _, l := range c.history {
		if l.speaker == "caller" {
			said = append(said, fmt.Sprintf("%q", l.text))
		}
	}
	if len(said) > 3 {
		said = said[len(said)-3:]
	}
	if len(said) > 0 {
		fmt.Fprintf(&b, "Caller said: %s. ", strings.Join(said, "; "))
	}
	if len(c.slots) > 0 {
		keys := make([]string, 0, len(c.slots))
		for k := range c.slots {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+c.slots[k])
		}
		fmt.Fprintf(&b, "Collected: %s. ", strings.Join(kv, ", "))
	}
	if len(c.tried) > 0 {
		t := c.tried
		if len(t) > 4 {
			t = t[len(t)-4:]
		}
		fmt.Fprintf(&b, "Tried: %s. ", strings.Join(t, "; "))
	}
	fmt.Fprintf(&b, "Sentiment trend: %.2f.", c.trend.Value())
	return b.String()
}

var cardRE = regexp.MustCompile(`(?:\d[ -]?){13,19}`)

// spokenCardRE is a run of 14 to 19 digits said as words, as a speech
// recognizer writes a card number read out ("four one one one ..."):
// recognizers gain or lose a digit now and then, so a run this long is
// taken for a card number without the Luhn check (phone and account
// numbers are shorter).
var spokenCardRE = regexp.MustCompile(`(?i)\b(?:(?:zero|oh|nought|one|two|three|four|five|six|seven|eight|nine|\d)[\s,.-]+){13,18}(?:zero|oh|nought|one|two|three|four|five|six|seven|eight|nine|\d)\b`)

// hasCardNumber finds a payment card number (13-19 digits passing Luhn, or
// a long run of spoken digits).
func hasCardNumber(text string) bool {
	for _, m := range cardRE.FindAllString(text, -1) {
		if luhn(ExtractDigits(m)) {
			return true
		}
	}
	return spokenCardRE.MatchString(text)
}

// RedactCards replaces card numbers (digits passing the Luhn check, or a
// long run of spoken digits) with "[card number removed]", so a transcript
// never stores one.
func RedactCards(text string) string { return redactCards(text) }

// redactCards replaces card numbers so they are never stored or sent on.
func redactCards(text string) string {
	// The patterns may take the space after a number; it is kept.
	removed := func(m string) string { return "[card number removed]" + m[len(strings.TrimRight(m, " ")):] }
	text = cardRE.ReplaceAllStringFunc(text, func(m string) string {
		if luhn(ExtractDigits(m)) {
			return removed(m)
		}
		return m
	})
	return spokenCardRE.ReplaceAllStringFunc(text, removed)
}

func luhn(d string) bool {
	if len(d) < 13 || len(d) > 19 {
		return false
	}
	sum := 0
	for i := 0; i < len(d); i++ {
		n := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
}
