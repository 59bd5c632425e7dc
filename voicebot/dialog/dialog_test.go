package dialog

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/store/sqlite"
)

// A fixed clock: Saturday 21 November 2026, 10:30 UTC.
var testNow = time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)

var (
	demoOnce sync.Once
	demoDep  *Deployment
	demoKB   *knowledge.Base
	demoErr  error
)

// demo loads deploy/demo and its knowledge base once per test binary.
func demo(t testing.TB) (*Deployment, *knowledge.Base) {
	t.Helper()
	demoOnce.Do(func() {
		demoDep, demoErr = LoadDir("../../deploy/demo")
		if demoErr == nil {
			demoKB, demoErr = NewKnowledgeBase(context.Background(), demoDep)
		}
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demoDep, demoKB
}

func demoBot(t testing.TB, o Options) *Bot {
	t.Helper()
	d, kb := demo(t)
	if o.Deployment == nil {
		o.Deployment = d
	}
	if o.KB == nil {
		o.KB = kb
	}
	if o.Now == nil {
		o.Now = func() time.Time { return testNow }
	}
	b, err := NewLocal(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// call is a conversation under test.
type call struct {
	t    testing.TB
	c    Conversation
	last Result
}

func startCall(t testing.TB, b *Bot) *call {
	t.Helper()
	c, err := b.NewConversation(context.Background(), CallInfo{CallID: "call-1", Channel: "text", From: "+447700900123", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.Greet(context.Background(), nil)
	if err != nil || g.Text == "" {
		t.Fatalf("greet: %q %v", g.Text, err)
	}
	return &call{t: t, c: c}
}

// say sends caller text; a leading "#" sends the rest as keys.
func (k *call) say(s string) Result {
	k.t.Helper()
	in := Input{Text: s, Confidence: 1}
	if strings.HasPrefix(s, "#") {
		in = Input{DTMF: s[1:]}
	}
	var streamed strings.Builder
	r, err := k.c.Respond(context.Background(), in, func(p string) { streamed.WriteString(p) })
	if err != nil {
		k.t.Fatalf("respond to %q: %v", s, err)
	}
	if strings.TrimSpace(streamed.String()) != r.Text {
		k.t.Fatalf("streamed %q but Result.Text %q", streamed.String(), r.Text)
	}
	k.t.Logf("caller: %s\n  bot: %s  [%s %.2f action=%v]", s, r.Text, r.Intent, r.Confidence, r.Action)
	k.last = r
	return r
}

func has(t testing.TB, r Result, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(strings.ToLower(r.Text), strings.ToLower(p)) {
			t.Fatalf("reply %q lacks %q", r.Text, p)
		}
	}
}

func cites(t testing.TB, r Result, doc string) {
	t.Helper()
	for _, c := range r.Citations {
		if c.DocumentID == doc {
			if c.Passage == "" {
				t.Fatalf("citation of %s has no passage", doc)
			}
			return
		}
	}
	t.Fatalf("reply %q does not cite %s (cites %+v)", r.Text, doc, r.Citations)
}

func transferTo(t testing.TB, r Result, queue, reason string) {
	t.Helper()
	if r.Action == nil || r.Action.Kind != ActionTransfer || r.Action.Queue != queue || (reason != "" && r.Action.Reason != reason) {
		t.Fatalf("want transfer to %s (%s), got %+v after %q", queue, reason, r.Action, r.Text)
	}
	if r.Action.Summary == "" {
		t.Fatal("transfer without a summary")
	}
}

func noAction(t testing.TB, r Result) {
	t.Helper()
	if r.Action != nil {
		t.Fatalf("unexpected action %+v after %q", r.Action, r.Text)
	}
}

func TestDemoDeploymentShape(t *testing.T) {
	d, _ := demo(t)
	if len(d.Intents) < 15 || len(d.Articles) < 10 || len(d.Articles) > 20 {
		t.Fatalf("%d intents, %d articles", len(d.Intents), len(d.Articles))
	}
	depth := 0
	var walk func(m *Menu, level int)
	walk = func(m *Menu, level int) {
		depth = max(depth, level)
		for _, o := range m.Options {
			if o.Do.Menu != nil {
				walk(o.Do.Menu, level+1)
			}
		}
	}
	walk(d.Flows[d.Menu].Steps[0].Menu, 1)
	if depth < 3 {
		t.Fatalf("main menu is %d levels deep", depth)
	}
}

func TestKBAnswersWithCitationsAndSaysWhenNothingFound(t *testing.T) {
	k := startCall(t, demoBot(t, Options{}))
	r := k.say("I want to check my account balance")
	if r.Intent != "check_balance" || r.Confidence < 0.5 {
		t.Fatalf("intent %s %.2f", r.Intent, r.Confidence)
	}
	has(t, r, "Lumen app", "anything else")
	cites(t, r, "billing-balance")
	noAction(t, r)
	r = k.say("how much does roaming cost in Europe")
	cites(t, r, "mobile-roaming")
	has(t, r, "£2 a day")
	r = k.say("what is the meaning of life")
	if r.Intent != "out_of_scope" || len(r.Citations) != 0 {
		t.Fatalf("out of scope turn answered: %+v", r)
	}
	has(t, r, "couldn't find anything", "connect you with a person")
	r = k.say("yes please")
	transferTo(t, r, "support", "requested")
}

func TestAnythingElseNoEndsTheCall(t *testing.T) {
	k := startCall(t, demoBot(t, Options{}))
	k.say("what's my wifi password")
	r := k.say("no thanks")
	if r.Action == nil || r.Action.Kind != ActionEnd {
		t.Fatalf("want end, got %+v", r.Action)
	}
	has(t, r, "goodbye")
}

func TestPaymentArrangementSlotsValidationConfirm(t *testing.T) {
	k := startCall(t, demoBot(t, Options{}))
	r := k.say("I can't pay my bill this month, I need more time")
	has(t, r, "8-digit account number")
	r = k.say("it's 1234567") // 7 digits
	has(t, r, "didn't sound like 8 digits")
	if _, ok := r.Slots["account_number"]; ok {
		t.Fatal("invalid account number stored")
	}
	r = k.say("one two three four five six seven eight")
	if r.Slots["account_number"] != "12345678" {
		t.Fatalf("slots %v", r.Slots)
	}
	has(t, r, "what date")
	r = k.say("last tuesday the 3rd of March 2020")
	has(t, r, "from today onwards")
	r = k.say("next friday")
	if r.Slots["pay_date"] != "2026-11-27" {
		t.Fatalf("pay_date %q", r.Slots["pay_date"])
	}
	has(t, r, "1 2 3 4 5 6 7 8", "Friday 27 November", "is that right")
	r = k.say("no, that's wrong")
	has(t, r, "try that again", "account number")
	if len(r.Slots) != 0 {
		t.Fatalf("slots not cleared after a no: %v", r.Slots)
	}
	k.say("#87654321#")
	r = k.say("the 30th")
	if r.Slots["pay_date"] != "2026-11-30" || r.Slots["account_number"] != "87654321" {
		t.Fatalf("slots %v", r.Slots)
	}
	r = k.say("yes that's right")
	has(t, r, "payment is arranged for Monday 30 November", "anything else")
	noAction(t, r)
}

func TestSlotRetriesRunOutIntoTransfer(t *testing.T) {
	k := startCall(t, demoBot(t, Options{}))
	k.say("my internet is down")
	k.say("banana")
	k.say("still banana")
	r := k.say("no idea")
	transferTo(t, r, "support", "flow")
	if !strings.Contains(r.Action.Summary, "gave up") {
		t.Fatalf("summary %q does not say what failed", r.Action.Summary)
	}
}

func TestOutageFlowRegexAndYesNo(t *testing.T) {
	k := startCall(t, demoBot(t, Options{}))
	k.say("my internet stopped working")
	r := k.say("s w one a, one a a")
	if r.Slots["postcode"] != "SW1A1AA" {
		t.Fatalf("postcode %q", r.Slots["postcode"])
	}
	r = k.say("yep I did")
	if r.Slots["router_restarted"] != "yes" {
		t.Fatalf("slots %v", r.Slots)
	}
	cites(t, r, "tech-outage")
	has(t, r, "fault report for SW1A1AA")
}

func TestDTMFMenuFourLevels(t *testing.T) {
	k := startCall(t, demoBot(t, Options{}))
	has(t, k.say("#2"), "Technical support")
	has(t, k.say("#1"), "Broadband")
	has(t, k.say("#3"), "Router")
	r := k.say("#2")
	cites(t, r, "tech-wifi-password")
	if r.Intent != "dtmf" || r.Confidence != 1 {
		t.Fatalf("keys reported as %s %.2f", r.Intent, r.Confidence)
	}
	// Typed ahead in one go, then back up a level with *.
	has(t, k.say("#213"), "Router")
	has(t, k.say("#*"), "Broadband")
	has(t, k.say("#9"), "didn't catch", "Broadband")
	r = k.say("#1")
	cites(t, r, "tech-slow-broadband")
	// 0 in the billing menu goes to the billing queue.
	k.say("#1")
	transferTo(t, k.say("#0"), "billing", "menu")
}

func TestMenuBySpeech(t *testing.T) {
	k := startCall(t, demoBot(t, Options{}))
	has(t, k.say("main menu"), "For billing, press 1")
	has(t, k.say("technical support please"), "Technical support")
	has(t, k.say("mobile"), "Mobile:")
	r := k.say("go back")
	has(t, r, "Technical support")
	has(t, k.say("option one"), "Broadband")
	has(t, k.say("the router"), "Router")
	cites(t, k.say("restart it"), "tech-router")
}

// TestMenusFiveLevelsDeep builds a deployment whose menus nest five deep
// and walks it by keys and by speech.
func TestMenusFiveLevelsDeep(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "deployment.yaml", "greeting: Hello.\nmenu: deep\n")
	write(t, dir, "intents.yaml", twoIntents)
	write(t, dir, "flows.yaml", "flows:\n  deep:\n    steps:\n"+nestedMenu(5, "      ")+"      - say: back at the top\n")
	d, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewLocal(context.Background(), Options{Deployment: d})
	if err != nil {
		t.Fatal(err)
	}
	k := startCall(t, b)
	for level := 2; level <= 5; level++ {
		has(t, k.say("#1"), "level "+string(rune('0'+level)))
	}
	r := k.say("#1")
	transferTo(t, r, "deepest", "flow")

	k = startCall(t, b)
	k.say("#1")
	for level := 2; level <= 5; level++ {
		has(t, k.say("level "+string(rune('0'+level))+" choice"), "")
	}
	has(t, k.say("option one"), "")
	transferTo(t, k.last, "deepest", "flow")

	// A sixth level is refused at load, naming file, line and field.
	write(t, dir, "flows.yaml", "flows:\n  deep:\n    steps:\n"+nestedMenu(6, "      "))
	_, err = LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), "flows.yaml:") || !strings.Contains(err.Error(), "at most 5") {
		t.Fatalf("6 levels: %v", err)
	}
}

// nestedMenu writes n nested menus; option 1 of the innermost transfers.
func nestedMenu(n int, indent string) string {
	var b strings.Builder
	var rec func(level int, ind string, first bool)
	rec = func(level int, ind string, first bool) {
		lead := ind + "- "
		if !first {
			lead = ind + "  "
		}
		b.WriteString(lead + "menu:\n")
		b.WriteString(ind + "    prompt: This is level " + string(rune('0'+level)) + ".\n")
		b.WriteString(ind + "    options:\n")
		b.WriteString(ind + "      - key: \"1\"\n")
		if level < n {
			b.WriteString(ind + "        words: [level " + string(rune('0'+level+1)) + " choice]\n")
			rec(level+1, ind+"      ", false)
		} else {
			b.WriteString(ind + "        transfer: {queue: deepest}\n")
		}
	}
	rec(1, indent, true)
	return b.String()
}

const twoIntents = `intents:
  - name: hello
    examples: [hello there, hi]
  - name: bye
    end: Bye.
    examples: [goodbye, bye now]
`

func write(t testing.TB, dir, name, body string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrorsNameFileLineAndField(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"unknown slot type", map[string]string{"flows.yaml": "flows:\n  f:\n    steps:\n      - collect: {slot: n, type: digit, prompt: Your number}\n"},
			[]string{"flows.yaml:4", "flows.f.steps[0].collect.type", `unknown slot type "digit"`}},
		{"unknown field", map[string]string{"flows.yaml": "flows:\n  f:\n    steps:\n      - say: hi\n        tpye: x\n"},
			[]string{"flows.yaml:5", "tpye", "unknown field"}},
		{"two kinds in a step", map[string]string{"flows.yaml": "flows:\n  f:\n    steps:\n      - say: hi\n        flow: f\n"},
			[]string{"flows.yaml:4", "flows.f.steps[0]", "exactly one"}},
		{"missing flow", map[string]string{"intents.yaml": twoIntents + "  - name: pay\n    flow: nowhere\n    examples: [pay, pay now]\n"},
			[]string{"intents.yaml:7", "intents.pay.flow", `flow "nowhere" is not defined`}},
		{"bad regex", map[string]string{"flows.yaml": "flows:\n  f:\n    steps:\n      - say: ok\n      - collect: {slot: p, type: regex, pattern: '[A-Z', prompt: Postcode}\n"},
			[]string{"flows.yaml:5", "collect.pattern"}},
		{"duplicate intent", map[string]string{"more.yaml": "intents:\n  - name: hello\n    examples: [hey, yo]\n"},
			[]string{"more.yaml:2", "already defined at", "intents.yaml:2"}},
		{"duplicate key", map[string]string{"flows.yaml": "flows:\n  f:\n    steps:\n      - menu:\n          prompt: P\n          options:\n            - {key: \"1\", say: a}\n            - {key: \"1\", say: b}\n"},
			[]string{"flows.yaml:8", "options[1].key", "used twice"}},
		{"wrong type", map[string]string{"deployment.yaml": "greeting: Hi\nhandoff:\n  low_confidence_turns: many\n"},
			[]string{"deployment.yaml:3", "cannot unmarshal"}},
		{"bad duration", map[string]string{"deployment.yaml": "greeting: Hi\ncallback:\n  offer_above: soon\n"},
			[]string{"deployment.yaml:3", "not a duration"}},
		{"no greeting", map[string]string{"deployment.yaml": "name: x\n"},
			[]string{"deployment.yaml", "greeting", "required"}},
		{"article front matter", map[string]string{"kb/a.md": "---\nid: a\ntitel: A\n---\nBody.\n"},
			[]string{"kb/a.md:3", "titel", "unknown field"}},
		{"invalid YAML", map[string]string{"flows.yaml": "flows:\n  f:\n   - [unclosed\n"},
			[]string{"flows.yaml:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"deployment.yaml": "greeting: Hello.\n", "intents.yaml": twoIntents}
			for k, v := range tc.files {
				files[k] = v
			}
			for k, v := range files {
				write(t, dir, k, v)
			}
			_, err := LoadDir(dir)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q lacks %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), dir) {
				t.Fatalf("error %q does not start with the folder", err)
			}
		})
	}
}

func TestHandoffOnExplicitRequest(t *testing.T) {
	for _, s := range []string{"let me talk to a person", "can I speak to someone please", "agent", "I want a real person now"} {
		k := startCall(t, demoBot(t, Options{}))
		transferTo(t, k.say(s), "support", "requested")
	}
	// Even in the middle of a flow.
	k := startCall(t, demoBot(t, Options{}))
	k.say("I need a payment plan")
	r := k.say("actually just put me through to a human")
	transferTo(t, r, "support", "requested")
	if !strings.Contains(r.Action.Summary, "payment_arrangement") {
		t.Fatalf("summary %q lacks the intent", r.Action.Summary)
	}
}

func TestHandoffOnNegativeSentimentTrend(t *testing.T) {
	k := startCall(t, demoBot(t, Options{}))
	r := k.say("my broadband is slow again")
	noAction(t, r)
	r = k.say("this is useless, I'm so fed up and angry, terrible service")
	if r.Sentiment > -0.5 || r.SentimentTrend >= 0 {
		t.Fatalf("sentiment %.2f trend %.2f", r.Sentiment, r.SentimentTrend)
	}
	transferTo(t, r, "support", "negative_sentiment")
	if !strings.Contains(r.Action.Summary, "Sentiment trend: -") {
		t.Fatalf("summary %q", r.Action.Summary)
	}
	// One grumpy word among content turns does not escalate.
	k = startCall(t, demoBot(t, Options{}))
	k.say("what's my balance")
	noAction(t, k.say("that's annoying but fine, how do I pay my bill"))
}

func TestHandoffOnRepeatedLowConfidence(t *testing.T) {
	k := startCall(t, demoBot(t, Options{}))
	r := k.say("who won the football last night")
	if r.Intent != "out_of_scope" || r.Confidence >= 0.4 {
		t.Fatalf("%s %.2f", r.Intent, r.Confidence)
	}
	noAction(t, r)
	r = k.say("can you order me a pizza")
	transferTo(t, r, "support", "low_confidence")
	// A recognised turn in between resets the count.
	k = startCall(t, demoBot(t, Options{}))
	k.say("who won the football last night")
	k.say("what's my balance")
	noAction(t, k.say("can you order me a pizza"))
}

func TestHandoffFromFlowStep(t *testing.T) {
	k := startCall(t, demoBot(t, Options{}))
	transferTo(t, k.say("I want to cancel my contract"), "billing", "flow")
}

func TestCallbackFlowStoresCallback(t *testing.T) {
	cbs := &MemoryCallbacks{}
	k := startCall(t, demoBot(t, Options{Callbacks: cbs}))
	has(t, k.say("can someone call me back"), "what number")
	k.say("this number")
	r := k.say("tomorrow morning")
	has(t, r, "4 4 7 7 0 0 9 0 0 1 2 3", "tomorrow morning", "book")
	r = k.say("yes")
	if r.Action == nil || r.Action.Kind != ActionCallback || r.Action.CallbackID == "" {
		t.Fatalf("action %+v", r.Action)
	}
	list := cbs.List()
	if len(list) != 1 {
		t.Fatalf("%d callbacks", len(list))
	}
	cb := list[0]
	wantFrom := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	if cb.Number != "447700900123" || !cb.WindowFrom.Equal(wantFrom) || !cb.WindowTo.Equal(wantFrom.Add(3*time.Hour)) ||
		cb.CallID != "call-1" || cb.Reason != "request_callback" || !strings.Contains(cb.Summary, "when=tomorrow morning") {
		t.Fatalf("callback %+v", cb)
	}
	has(t, r, "tomorrow between 9:00 AM and 12:00 PM")
}

func TestCallbackOfferedWhenWaitIsLong(t *testing.T) {
	cbs := &MemoryCallbacks{}
	ewt := func(_ context.Context, q string) (time.Duration, bool) { return 12 * time.Minute, q == "support" }
	k := startCall(t, demoBot(t, Options{Callbacks: cbs, EWT: ewt}))
	r := k.say("let me talk to a person")
	noAction(t, r)
	has(t, r, "about 12 minutes", "call you back")
	has(t, k.say("yes please"), "what number")
	k.say("0 7 7 0 0 9 0 0 9 9 9")
	k.say("after 5")
	r = k.say("yes")
	if r.Action == nil || r.Action.Kind != ActionCallback || r.Action.Number != "07700900999" {
		t.Fatalf("action %+v", r.Action)
	}
	if cb := cbs.List()[0]; cb.WindowFrom.Hour() != 17 || cb.Reason != "requested" || cb.Queue != "support" {
		t.Fatalf("callback %+v", cb)
	}
	// Declining the offer transfers at once.
	k = startCall(t, demoBot(t, Options{Callbacks: cbs, EWT: ewt}))
	k.say("let me talk to a person")
	transferTo(t, k.say("no, I'll wait"), "support", "requested")
}

func TestStoreCallbacksFileCampaignContacts(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sc := &StoreCallbacks{Store: st, Queue: "support"}
	from := testNow.Add(time.Hour)
	for i, q := range []string{"support", "billing"} {
		cb := &Callback{CallID: "c1", Number: "447700900123", WindowFrom: from, WindowTo: from.Add(2 * time.Hour), Queue: q, Reason: "bill query", Summary: "Caller asked about a bill."}
		if err := sc.ScheduleCallback(ctx, cb); err != nil {
			t.Fatalf("callback %d: %v", i, err)
		}
	}
	camp, err := st.GetCampaign(ctx, CallbackCampaignID)
	if err != nil || camp.Kind != "callback" || camp.QueueID != "support" {
		t.Fatalf("campaign %+v %v", camp, err)
	}
	list, err := st.ListCampaignContacts(ctx, CallbackCampaignID)
	if err != nil || len(list) != 2 {
		t.Fatalf("%d contacts %v", len(list), err)
	}
	c := list[1]
	if c.Phone != "447700900123" || c.Status != "pending" || c.WindowStart == nil || !c.WindowStart.Equal(from) ||
		c.Reason != "bill query (queue billing)" || !strings.Contains(c.Summary, "call c1") {
		t.Fatalf("contact %+v", c)
	}
	if err := sc.ScheduleCallback(ctx, &Callback{Reason: "x"}); err == nil {
		t.Fatal("callback without a number accepted")
	}
}

func TestCardNumberIsNeitherAcceptedNorStored(t *testing.T) {
	k := startCall(t, demoBot(t, Options{}))
	r := k.say("can I pay with my card, it's 4111 1111 1111 1111")
	has(t, r, "don't read out card numbers")
	r = k.say("let me talk to a person")
	transferTo(t, r, "support", "requested")
	if strings.Contains(r.Action.Summary, "4111") || !strings.Contains(r.Action.Summary, "[card number removed]") {
		t.Fatalf("summary %q", r.Action.Summary)
	}
}

// A card number read out on the phone reaches the dialog as the speech
// recognizer writes it: digits as words, one of them perhaps misheard.
func TestSpokenCardNumberIsNeitherAcceptedNorStored(t *testing.T) {
	k := startCall(t, demoBot(t, Options{}))
	r := k.say("my card number is four one one one one one one one one one one two one one one one")
	has(t, r, "don't read out card numbers")
	r = k.say("let me talk to a person")
	if strings.Contains(r.Action.Summary, "one one one one") || !strings.Contains(r.Action.Summary, "[card number removed]") {
		t.Fatalf("summary %q", r.Action.Summary)
	}
	// An account number read out is not a card number.
	k = startCall(t, demoBot(t, Options{}))
	r = k.say("my account number is two four six eight one three five seven")
	if strings.Contains(r.Text, "card numbers") {
		t.Fatalf("an 8-digit account number taken for a card: %q", r.Text)
	}
}

func TestSilenceAndGarbleNeverHang(t *testing.T) {
	k := startCall(t, demoBot(t, Options{}))
	has(t, k.say(""), "didn't catch")
	k.say("I need more time to pay")
	r := k.say("")
	has(t, r, "didn't catch", "account number")
	r = k.say("#")
	has(t, r, "account number")
}

func TestSentimentLexiconAndNegation(t *testing.T) {
	cases := []struct {
		text     string
		lo, hi   float64
		positive bool
	}{
		{"this is great, thank you", 0.4, 1, true},
		{"it's not good", -1, -0.1, false},
		{"not bad at all", 0.05, 1, true},
		{"this is terrible and I'm really angry", -1, -0.6, false},
		{"I don't hate it", 0, 1, true},
		{"my account number is 12345678", 0, 0, false},
		{"THIS IS RIDICULOUS!!!", -1, -0.7, false},
		{"the engineer was late but he fixed it brilliantly", 0.1, 1, true},
	}
	for _, c := range cases {
		s := Sentiment(c.text)
		if s < c.lo || s > c.hi || s < -1 || s > 1 {
			t.Errorf("Sentiment(%q) = %.2f, want [%.2f, %.2f]", c.text, s, c.lo, c.hi)
		}
	}
	if Sentiment("very happy") <= Sentiment("happy") {
		t.Error("intensifier does not strengthen")
	}
	tr := SentimentTrend{Window: 3}
	for _, s := range []float64{0.5, -0.5, -0.8, -0.9} {
		tr.Add(s)
	}
	if got := tr.Value(); math.Abs(got-(-0.7333)) > 1e-3 {
		t.Fatalf("trend %.4f", got)
	}
}

func TestSlotParsers(t *testing.T) {
	digits := map[string]string{
		"one two three":                    "123",
		"oh seven seven double oh nine":    "077009",
		"it's 4 5 6 7":                     "4567",
		"twenty three, fifteen":            "2315",
		"12#34":                            "12",
		"I want to pay for 2 months":       "2",
		"my number is 07700 900123 thanks": "07700900123",
	}
	for in, want := range digits {
		if got := ExtractDigits(in); got != want {
			t.Errorf("ExtractDigits(%q) = %q, want %q", in, got, want)
		}
	}
	dates := map[string]string{
		"today": "2026-11-21", "tomorrow": "2026-11-22", "next friday": "2026-11-27", "saturday": "2026-11-28",
		"the 30th": "2026-11-30", "the 3rd": "2026-12-03", "15 March": "2027-03-15", "March the fifteenth": "2027-03-15",
		"2026-12-24": "2026-12-24", "24/12": "2026-12-24", "december twenty first": "2026-12-21",
	}
	for in, want := range dates {
		d, ok := ParseDate(in, testNow)
		if !ok || d.Format("2006-01-02") != want {
			t.Errorf("ParseDate(%q) = %s %v, want %s", in, d.Format("2006-01-02"), ok, want)
		}
	}
	for _, bad := range []string{"whenever", "31 february", "soon"} {
		if d, ok := ParseDate(bad, testNow); ok {
			t.Errorf("ParseDate(%q) = %s", bad, d)
		}
	}
	yn := map[string]string{"yes": "yes", "yeah that's right": "yes", "nope": "no", "no, that's wrong": "no", "1": "yes", "2": "no", "maybe": "", "not really": "no"}
	for in, want := range yn {
		if got := YesNo(in); got != want {
			t.Errorf("YesNo(%q) = %q, want %q", in, got, want)
		}
	}
	from, to := ParseWindow("this afternoon", testNow, 2*time.Hour)
	if from.Hour() != 13 || to.Hour() != 17 || from.Day() != 21 {
		t.Errorf("afternoon: %s - %s", from, to)
	}
	from, to = ParseWindow("in two hours", testNow, 2*time.Hour)
	if !from.Equal(testNow.Add(2*time.Hour)) || !to.Equal(from.Add(2*time.Hour)) {
		t.Errorf("in two hours: %s - %s", from, to)
	}
	from, _ = ParseWindow("this morning", testNow, time.Hour) // 9-12, but it is 10:30 already
	if !from.Equal(testNow) {
		t.Errorf("a window never starts in the past: %s", from)
	}
}

// TestConcurrentConversations: one engine serves many calls at once (run
// with -race).
func TestConcurrentConversations(t *testing.T) {
	cbs := &MemoryCallbacks{}
	b := demoBot(t, Options{Callbacks: cbs})
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx := context.Background()
			c, _ := b.NewConversation(ctx, CallInfo{CallID: "c", From: "+447700900123"})
			for _, s := range []string{"what's my balance", "can someone call me back", "this number", "tomorrow", "yes"} {
				if _, err := c.Respond(ctx, Input{Text: s}, nil); err != nil {
					errs <- err.Error()
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if n := len(cbs.List()); n != 16 {
		t.Fatalf("%d callbacks booked, want 16", n)
	}
}

func TestRedactCardsForStoredTranscripts(t *testing.T) {
	for in, want := range map[string]string{
		"my card is 4111 1111 1111 1111 thanks":                            "my card is [card number removed] thanks",
		"account 12345678":                                                 "account 12345678",
		"four one one one one one one one one one one one one one one one": "[card number removed]",
	} {
		if got := RedactCards(in); got != want {
			t.Errorf("RedactCards(%q) = %q, want %q", in, got, want)
		}
	}
}
