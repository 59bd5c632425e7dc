package dialog

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// flowRun is a running flow: a stack of step lists (a menu option's step
// runs in a frame of its own, so a flow continues after the menu once the
// option is done) and the step waiting for the caller, if any.
type flowRun struct {
	flow      *Flow
	stack     []*frame
	waiting   *Step
	retries   int
	collected []string // slots this flow collected, cleared when the caller says a confirmation is wrong
}

type frame struct {
	steps []*Step
	pc    int
	// parent is the frame holding the menu this frame's option came from
	// ("*" returns there).
	parent *frame
}

// startFlow runs flow from its first step.
func (c *conversation) startFlow(ctx context.Context, flow *Flow, r *reply) {
	if flow == nil {
		r.say(c.dep.Prompts.NotUnderstood)
		return
	}
	c.tried = append(c.tried, "flow "+flow.Name)
	c.flow = &flowRun{flow: flow, stack: []*frame{{steps: flow.Steps}}}
	c.flow.run(ctx, c, r)
}

// waitingPrompt repeats the question the flow waits on.
func (f *flowRun) waitingPrompt(c *conversation) string {
	switch s := f.waiting; {
	case s == nil:
		return ""
	case s.Collect != nil:
		return c.fill(s.Collect.Prompt, false)
	case s.Confirm != nil:
		return c.fill(s.Confirm.Prompt, false)
	case s.Menu != nil:
		return s.Menu.Prompt
	}
	return ""
}

// run executes steps until one waits for the caller or the flow ends.
func (f *flowRun) run(ctx context.Context, c *conversation, r *reply) {
	f.waiting = nil
	for len(f.stack) > 0 {
		fr := f.stack[len(f.stack)-1]
		if fr.pc >= len(fr.steps) {
			f.stack = f.stack[:len(f.stack)-1]
			continue
		}
		s := fr.steps[fr.pc]
		k, _ := s.kind()
		switch k {
		case "say":
			r.say(c.fill(s.Say, false))
			fr.pc++
		case "collect", "confirm", "menu":
			f.waiting, f.retries = s, 0
			r.say(f.waitingPrompt(c))
			return
		case "answer":
			fr.pc++
			q := c.fill(s.Answer.Query, true)
			if q == "" {
				q = c.lastText
			}
			ans, err := c.e.ans.answer(ctx, q, s.Answer.KB, c.dep.Language, false)
			if err != nil {
				c.e.log.Warn("knowledge base unavailable", "err", err)
			}
			if ans.Relevant {
				c.tried = append(c.tried, fmt.Sprintf("answered from article %q", ans.Title))
				r.say(ans.Text)
				r.res.Citations = append(r.res.Citations, ans.Citations...)
			} else {
				c.flow = nil
				r.say(c.dep.Prompts.NoAnswer)
				c.offer = &offer{kind: "transfer", queue: c.dep.Handoff.Queue, reason: "requested"}
				return
			}
		case "transfer":
			t := s.Transfer
			say := c.fill(t.Say, false)
			if say == "" {
				say = c.dep.Prompts.Transfer
			}
			reason := t.Reason
			if reason == "" {
				reason = "flow"
			}
			c.flow = nil
			c.handoff(ctx, t.Queue, reason, say, r)
			return
		case "callback":
			fr.pc++
			if !c.bookCallback(ctx, s.Callback, r) {
				return
			}
		case "end":
			say := c.fill(s.End.Say, false)
			if say == "" {
				say = c.dep.Prompts.Goodbye
			}
			r.say(say)
			r.res.Action = &Action{Kind: ActionEnd}
			c.flow = nil
			return
		case "flow":
			next := c.dep.Flows[s.Flow]
			c.tried = append(c.tried, "flow "+next.Name)
			f.flow, f.stack = next, []*frame{{steps: next.Steps}}
		}
	}
	// The flow ran to its end.
	c.flow = nil
	if r.res.Action == nil || r.res.Action.Kind == ActionCallback {
		c.anythingElse(r)
	}
}

// input gives the waiting step the caller's answer. It returns false when
// the caller clearly left the flow for another intent (the caller's turn
// is then handled outside the flow).
func (f *flowRun) input(ctx context.Context, c *conversation, text, dtmf string, r *reply) bool {
	s := f.waiting
	if s == nil {
		return false
	}
	fr := f.stack[len(f.stack)-1]
	answer := text
	if answer == "" {
		answer = dtmf
	}
	now := c.e.o.Now()
	switch {
	case s.Collect != nil:
		col := s.Collect
		v, err := validateSlot(col, answer, now)
		if err != nil && col.UseCaller && c.info.From != "" && sameNumberRE.MatchString(answer) {
			v, err = ExtractDigits(c.info.From), nil
		}
		if err != nil {
			if f.leaves(c, r.res) {
				return false
			}
			return f.retry(ctx, c, r, fmt.Sprintf("slot %s: %v", col.Slot, err))
		}
		c.slots[col.Slot], c.slotType[col.Slot] = v, col.Type
		f.collected = append(f.collected, col.Slot)
		fr.pc++
		f.run(ctx, c, r)
	case s.Confirm != nil:
		switch YesNo(answer) {
		case "yes":
			fr.pc++
			f.run(ctx, c, r)
		case "no":
			for _, slot := range f.collected {
				delete(c.slots, slot)
			}
			f.collected = nil
			r.say("Okay, let's try that again.")
			f.stack = []*frame{{steps: f.flow.Steps}}
			f.run(ctx, c, r)
		default:
			if f.leaves(c, r.res) {
				return false
			}
			return f.retry(ctx, c, r, "confirmation neither yes nor no")
		}
	case s.Menu != nil:
		keys := dtmf
		if keys == "" {
			keys = f.spokenChoice(s.Menu, text)
		}
		if keys == "" {
			if f.leaves(c, r.res) {
				return false
			}
			return f.retry(ctx, c, r, "no menu choice")
		}
		return f.choose(ctx, c, keys, r)
	}
	return true
}

// choose applies menu keys; keys beyond the first go to the next menu
// (callers type ahead: "2", "1" as "21").
func (f *flowRun) choose(ctx context.Context, c *conversation, keys string, r *reply) bool {
	for _, k := range keys {
		s := f.waiting
		if s == nil || s.Menu == nil {
			break
		}
		fr := f.stack[len(f.stack)-1]
		if k == '*' {
			// Back to the menu above, or repeat this one at the top.
			if fr.parent != nil {
				f.stack = f.stack[:len(f.stack)-1]
				fr.parent.pc--
			}
			f.run(ctx, c, r)
			continue
		}
		if k == '#' {
			continue
		}
		var opt *Option
		for _, o := range s.Menu.Options {
			if o.Key == string(k) {
				opt = o
			}
		}
		if opt == nil {
			return f.retry(ctx, c, r, fmt.Sprintf("no option %c", k))
		}
		c.tried = append(c.tried, fmt.Sprintf("menu option %s", opt.Key))
		fr.pc++
		f.stack = append(f.stack, &frame{steps: []*Step{&opt.Do}, parent: fr})
		f.run(ctx, c, r)
	}
	return true
}

var spokenNumbers = map[string]string{"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
	"seven": "7", "eight": "8", "nine": "9", "zero": "0", "first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5"}

var (
	optionNumRE  = regexp.MustCompile(`(?i)\b(?:option|number|press(?:ed|ing)?|choose|pick)\s+(\w+)\b|^\s*(\w+)\s*[.!]?\s*$`)
	backRE       = regexp.MustCompile(`(?i)\b(go back|previous menu|back)\b`)
	sameNumberRE = regexp.MustCompile(`(?i)\b(this|same|that|current|my)\s+(number|phone|one)\b|\bcalling from\b|^\s*(yes|yeah|yep|sure|please)\b`)
)

// spokenChoice maps speech to a key: "billing" (an option's words), "two",
// "option 2", "go back".
func (f *flowRun) spokenChoice(m *Menu, text string) string {
	t := strings.ToLower(text)
	if backRE.MatchString(t) {
		return "*"
	}
	if mm := optionNumRE.FindStringSubmatch(t); mm != nil {
		w := mm[1] + mm[2]
		if k, ok := spokenNumbers[w]; ok {
			w = k
		}
		for _, o := range m.Options {
			if o.Key == w {
				return w
			}
		}
	}
	best, bestLen := "", 0
	for _, o := range m.Options {
		for _, w := range o.Words {
			w = strings.ToLower(w)
			if len(w) > bestLen && regexp.MustCompile(`\b`+regexp.QuoteMeta(w)+`\b`).MatchString(t) {
				best, bestLen = o.Key, len(w)
			}
		}
	}
	return best
}

// leaves: an invalid answer that is confidently another intent (not this
// flow's) leaves the flow.
func (f *flowRun) leaves(c *conversation, res *Result) bool {
	in := c.dep.Intent(res.Intent)
	if in == nil || res.Confidence < 0.7 || in.Flow == f.flow.Name {
		return false
	}
	c.tried = append(c.tried, "left flow "+f.flow.Name)
	return true
}

// retry re-asks after an invalid answer, or hands off when retries run
// out.
func (f *flowRun) retry(ctx context.Context, c *conversation, r *reply, why string) bool {
	f.retries++
	limit := 2
	switch {
	case f.waiting.Collect != nil:
		limit = f.waiting.Collect.Retries
	case f.waiting.Menu != nil:
		limit = f.waiting.Menu.Retries
	}
	if f.retries > limit {
		c.tried = append(c.tried, fmt.Sprintf("flow %s gave up: %s", f.flow.Name, why))
		c.flow = nil
		c.handoff(ctx, c.dep.Handoff.Queue, "flow", c.dep.Prompts.Transfer, r)
		return true
	}
	if s := f.waiting; s.Collect != nil && s.Collect.Reprompt != "" {
		r.say(c.fill(s.Collect.Reprompt, false))
		return true
	}
	r.say(c.dep.Prompts.NotUnderstood)
	r.say(f.waitingPrompt(c))
	return true
}

// bookCallback stores a callback from a flow step; false when it failed
// (the caller then hears why and is offered a person).
func (c *conversation) bookCallback(ctx context.Context, s *CallbackStep, r *reply) bool {
	number := ExtractDigits(c.fill(s.Number, true))
	if number == "" {
		number = ExtractDigits(c.info.From)
	}
	now := c.e.o.Now()
	from, to := ParseWindow(c.fill(s.When, true), now, time.Duration(c.dep.Callback.Window))
	reason := c.fill(s.Reason, true)
	if reason == "" {
		reason = c.cbReason
	}
	if reason == "" {
		reason = c.lastIntent
	}
	queue := s.Queue
	if queue == "" {
		queue = c.cbQueue
	}
	if queue == "" {
		queue = c.dep.Handoff.Queue
	}
	cb := &Callback{CallID: c.info.CallID, Number: number, WindowFrom: from, WindowTo: to, Queue: queue, Reason: reason, Summary: c.summary("")}
	if err := c.e.o.Callbacks.ScheduleCallback(ctx, cb); err != nil {
		c.e.log.Warn("callback not booked", "call", c.info.CallID, "err", err)
		c.flow = nil
		r.say("I'm sorry, I couldn't book the callback.")
		c.transfer(queue, "flow", c.dep.Prompts.Transfer, r)
		return false
	}
	c.tried = append(c.tried, "callback booked "+cb.ID)
	r.res.Action = &Action{Kind: ActionCallback, CallbackID: cb.ID, Number: number, WindowFrom: from, WindowTo: to, Queue: queue, Reason: reason, Summary: cb.Summary}
	say := s.Say
	if say == "" {
		say = "We'll call you back {window}."
	}
	say = strings.ReplaceAll(say, "{window}", "\x00")
	r.say(strings.ReplaceAll(c.fill(say, false), "\x00", speakWindow(from, to, now)))
	return true
}

// speakWindow reads a window out: "today between 1 PM and 5 PM".
func speakWindow(from, to, now time.Time) string {
	day := from.Format("on Monday 2 January")
	y, m, d := now.Date()
	switch fy, fm, fd := from.Date(); {
	case fy == y && fm == m && fd == d:
		day = "today"
	case from.Sub(time.Date(y, m, d, 0, 0, 0, 0, now.Location())) < 48*time.Hour:
		day = "tomorrow"
	}
	return fmt.Sprintf("%s between %s and %s", day, from.Format("3:04 PM"), to.Format("3:04 PM"))
}
