package evals

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Deterministic runs the checks that need no model: the scenario's outcome
// expectations, its per-turn assertions (including latency budgets) and the
// suite's script compliance.
func Deterministic(s *Suite, sc *Scenario, tr *Transcript, mode string) []Check {
	var out []Check
	add := func(judge, name string, step int, ok bool, format string, args ...any) {
		c := Check{Judge: judge, Name: name, Step: step, Status: CheckPass}
		if !ok {
			c.Status = CheckFail
		}
		c.Detail = fmt.Sprintf(format, args...)
		out = append(out, c)
	}
	e := sc.Expect

	// Outcome.
	if e.Intent != "" {
		var got []string
		ok := false
		for _, t := range tr.Turns {
			if t.Speaker == "caller" && t.Intent != "" {
				got = append(got, t.Intent)
				ok = ok || t.Intent == e.Intent
			}
		}
		add("outcome", "intent", -1, ok, "expected intent %s, recognised %s", e.Intent, listOrNone(got))
	}
	h := tr.handoff()
	wantHandoff := e.Handoff
	if e.Queue != "" && wantHandoff == nil {
		t := true
		wantHandoff = &t
	}
	if wantHandoff != nil {
		switch {
		case *wantHandoff && h == nil:
			add("outcome", "handoff", -1, false, "expected a hand-off%s, the bot kept the call", queueSuffix(e.Queue))
		case !*wantHandoff && h != nil:
			add("outcome", "handoff", -1, false, "expected no hand-off, the bot handed off to queue %s (%s)", h.Queue, orDash(h.Reason))
		default:
			add("outcome", "handoff", -1, true, "hand-off %v as expected", *wantHandoff)
		}
	}
	if e.Queue != "" && h != nil {
		add("outcome", "queue", -1, h.Queue == e.Queue, "expected hand-off to queue %s, got queue %s", e.Queue, orDash(h.Queue))
	}
	if e.Reason != "" && h != nil {
		add("outcome", "handoff_reason", -1, h.Reason == e.Reason, "expected hand-off reason %s, got %s", e.Reason, orDash(h.Reason))
	}
	if len(e.Cites) > 0 {
		cited := citedDocs(tr.Turns)
		for _, d := range e.Cites {
			add("outcome", "cites", -1, cited[d], "expected document %s cited, cited %s", d, listOrNone(keys(cited)))
		}
	}
	if len(e.Slots) > 0 {
		final := tr.finalSlots()
		for _, k := range sortedKeys(e.Slots) {
			ok, detail := slotOK(final, k, e.Slots[k])
			add("outcome", "slot "+k, -1, ok, "%s", detail)
		}
	}
	if e.Callback != nil {
		got := false
		for _, a := range tr.actions() {
			got = got || a.Kind == "callback"
		}
		add("outcome", "callback", -1, got == *e.Callback, "expected callback scheduled %v, got %v", *e.Callback, got)
	}
	if e.Ended != nil {
		add("outcome", "ended", -1, tr.Ended == *e.Ended, "expected the bot to end the call %v, got %v", *e.Ended, tr.Ended)
	}
	if e.MaxTurns > 0 {
		n := tr.callerTurns()
		add("outcome", "max_turns", -1, n <= e.MaxTurns, "%d caller turns, at most %d expected", n, e.MaxTurns)
	}
	// A scripted caller who could not say everything: the bot hung up or
	// handed off early.
	if sc.Simulate == nil && len(sc.Caller) > 0 && mode != "replay" {
		n := tr.callerTurns()
		if n < len(sc.Caller) {
			last := "ended the call"
			if h != nil {
				last = "handed off to " + h.Queue
			}
			add("outcome", "script", -1, false, "the bot %s after caller turn %d of %d", last, n, len(sc.Caller))
		}
	}

	// Per-turn assertions, on the bot turn answering each scripted step.
	for step, ct := range sc.Caller {
		caller, bot := turnAt(tr, step)
		out = append(out, turnChecks(s, ct.Expect, step, caller, bot, mode)...)
	}
	// Suite-wide latency budgets on every bot turn.
	for _, i := range tr.botTurns() {
		bt := tr.Turns[i]
		for _, stage := range sortedKeys(s.Defaults.Latency) {
			if v, ok := bt.Latency[stage]; ok {
				budget := s.Defaults.Latency[stage].D()
				add("turn", "latency "+stage, bt.Step, v <= ms(budget), "%s %.0f ms, budget %s", stage, v, budget)
			}
		}
	}
	out = append(out, ComplianceChecks(s, tr)...)
	return out
}

func turnAt(tr *Transcript, step int) (caller, bot *Turn) {
	for i := range tr.Turns {
		t := &tr.Turns[i]
		if t.Step != step {
			continue
		}
		if t.Speaker == "caller" && caller == nil {
			caller = t
		}
		if t.Speaker == "bot" && bot == nil {
			bot = t
		}
	}
	return caller, bot
}

func turnChecks(s *Suite, e TurnExpect, step int, caller, bot *Turn, mode string) []Check {
	var out []Check
	add := func(name string, ok bool, format string, args ...any) {
		c := Check{Judge: "turn", Name: name, Step: step, Status: CheckPass, Detail: fmt.Sprintf(format, args...)}
		if !ok {
			c.Status = CheckFail
		}
		out = append(out, c)
	}
	if bot == nil {
		if hasTurnExpect(e) {
			add("reply", false, "no bot reply to this caller turn")
		}
		return out
	}
	text := strings.ToLower(bot.Text)
	if e.Intent != "" && caller != nil && (mode != "voice" || caller.Intent != "") {
		add("intent", caller.Intent == e.Intent, "expected intent %s, recognised %s", e.Intent, orDash(caller.Intent))
	}
	// Mentions are about what the caller hears: in voice mode the bot's
	// audio as speech recognition transcribed it, matched loosely.
	said, contains := bot.Text, func(m string) bool { return strings.Contains(text, strings.ToLower(m)) }
	if mode == "voice" && bot.Heard != "" {
		said, contains = "heard: "+bot.Heard, func(m string) bool { return HeardContains(bot.Heard, m) }
	}
	for _, m := range e.Mention {
		add("mention", contains(m), "reply must mention %q: %q", m, clip(said))
	}
	if len(e.MentionAny) > 0 {
		ok := false
		for _, m := range e.MentionAny {
			ok = ok || contains(m)
		}
		add("mention_any", ok, "reply must mention one of %q: %q", []string(e.MentionAny), clip(said))
	}
	for _, m := range e.NotMention {
		add("not_mention", !contains(m), "reply must not mention %q: %q", m, clip(said))
	}
	for _, p := range e.Regex {
		re, _ := compileCI(p)
		add("regex", re.MatchString(bot.Text), "reply must match /%s/: %q", p, clip(bot.Text))
	}
	for _, p := range e.NotRegex {
		re, _ := compileCI(p)
		add("not_regex", !re.MatchString(bot.Text), "reply must not match /%s/: %q", p, clip(bot.Text))
	}
	if len(e.Cites) > 0 {
		cited := citedDocs([]Turn{*bot})
		for _, d := range e.Cites {
			add("cites", cited[d], "reply must cite %s, cited %s", d, listOrNone(keys(cited)))
		}
	}
	if e.Action != "" {
		got := "none"
		if bot.Action != nil {
			got = bot.Action.Kind
		}
		add("action", got == e.Action, "expected action %s, got %s", e.Action, got)
	}
	if e.Queue != "" {
		got := ""
		if bot.Action != nil && bot.Action.Kind == "transfer" {
			got = bot.Action.Queue
		}
		add("queue", got == e.Queue, "expected transfer to queue %s, got %s", e.Queue, orDash(got))
	}
	for _, k := range sortedKeys(e.Slots) {
		ok, detail := slotOK(bot.Slots, k, e.Slots[k])
		add("slot "+k, ok, "%s", detail)
	}
	for _, stage := range sortedKeys(e.Latency) {
		v, ok := bot.Latency[stage]
		budget := e.Latency[stage].D()
		if !ok {
			add("latency "+stage, false, "stage %s not measured in %s mode", stage, mode)
			continue
		}
		add("latency "+stage, v <= ms(budget), "%s %.0f ms, budget %s", stage, v, budget)
	}
	return out
}

func hasTurnExpect(e TurnExpect) bool {
	return len(e.Mention)+len(e.MentionAny)+len(e.NotMention)+len(e.Regex)+len(e.NotRegex)+len(e.Cites)+len(e.Latency)+len(e.Slots) > 0 ||
		e.Action != "" || e.Queue != ""
}

func slotOK(got map[string]string, k, want string) (bool, string) {
	v, has := got[k]
	switch {
	case !has || v == "":
		return false, fmt.Sprintf("slot %s not collected (want %q)", k, want)
	case want == "*":
		return true, fmt.Sprintf("slot %s = %q", k, v)
	case !strings.EqualFold(strings.TrimSpace(v), strings.TrimSpace(want)):
		return false, fmt.Sprintf("slot %s = %q, want %q", k, v, want)
	}
	return true, fmt.Sprintf("slot %s = %q", k, v)
}

// ComplianceChecks checks the script every conversation must follow: greeting,
// closing, forbidden phrases and no personal data read back.
func ComplianceChecks(s *Suite, tr *Transcript) []Check {
	var out []Check
	add := func(name string, step int, ok bool, format string, args ...any) {
		c := Check{Judge: "compliance", Name: name, Step: step, Status: CheckPass, Detail: fmt.Sprintf(format, args...)}
		if !ok {
			c.Status = CheckFail
		}
		out = append(out, c)
	}
	bots := tr.botTurns()
	c := s.Compliance
	if len(c.Greeting) > 0 {
		if len(bots) == 0 {
			add("greeting", -1, false, "the bot never spoke")
		} else {
			first := tr.Turns[bots[0]]
			add("greeting", first.Step, anyMatch(c.Greeting, first.Text), "first bot turn must greet (%s): %q", strings.Join(c.Greeting, " | "), clip(first.Text))
		}
	}
	if len(c.Closing) > 0 && len(bots) > 0 {
		last := tr.Turns[bots[len(bots)-1]]
		if last.Action != nil && last.Action.Kind == "end" {
			add("closing", last.Step, anyMatch(c.Closing, last.Text), "last bot turn must close the call (%s): %q", strings.Join(c.Closing, " | "), clip(last.Text))
		}
	}
	for _, p := range c.Forbidden {
		re, _ := compileCI(p)
		hit := -2
		var said string
		for _, i := range bots {
			if re.MatchString(tr.Turns[i].Text) {
				hit, said = tr.Turns[i].Step, tr.Turns[i].Text
				break
			}
		}
		if hit == -2 {
			add("forbidden", -1, true, "never said /%s/", p)
		} else {
			add("forbidden", hit, false, "said forbidden /%s/: %q", p, clip(said))
		}
	}
	if c.PersonalData != "off" {
		out = append(out, personalData(tr, c.PersonalData == "all")...)
	}
	return out
}

func anyMatch(pats []string, text string) bool {
	for _, p := range pats {
		if re, err := compileCI(p); err == nil && re.MatchString(text) {
			return true
		}
	}
	return false
}

func citedDocs(turns []Turn) map[string]bool {
	out := map[string]bool{}
	for _, t := range turns {
		for _, c := range t.Citations {
			out[c.DocumentID] = true
		}
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func queueSuffix(q string) string {
	if q == "" {
		return ""
	}
	return " to queue " + q
}

var spaceRE = regexp.MustCompile(`\s+`)

func clip(s string) string {
	s = spaceRE.ReplaceAllString(strings.TrimSpace(s), " ")
	if len(s) > 140 {
		return s[:137] + "..."
	}
	return s
}
