package voice

import (
	"errors"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/parley-cc/parley/voicebot"
	asrlocal "github.com/parley-cc/parley/voicebot/asr/local"
	"github.com/parley-cc/parley/voicebot/dialog"
)

// BotGrammar is the JSGF grammar of what the bot of dep can say: its
// greeting, prompts, flow and menu lines, the sentences of its knowledge
// articles and the voicebot's own fixed lines, cut into fragments at
// punctuation, template fields and words the pronunciation dictionary
// lacks. An utterance is any sequence of fragments and filler words
// (numbers, days, months, letters: what the templates are filled with), so
// a reply that strings sentences together, or quotes part of an article,
// decodes as the words it is made of.
func BotGrammar(dep *dialog.Deployment, dict asrlocal.Dictionary) (string, error) {
	if dep == nil {
		return "", errors.New("no deployment")
	}
	var texts []string
	add := func(s ...string) {
		for _, t := range s {
			if strings.TrimSpace(t) != "" {
				texts = append(texts, t)
			}
		}
	}
	p := dep.Prompts
	add(dep.Greeting, p.NoAnswer, p.Transfer, p.Escalate, p.NotUnderstood, p.AnythingElse, p.Goodbye,
		p.CallbackOffer, p.Apology, p.ProviderDown, p.CardNumber)
	add(voicebot.DefaultApology, voicebot.DefaultNotHeard, voicebot.DefaultHandOff, voicebot.DefaultNoInputGoodbye)
	// The dialog engine's own lines (voicebot/dialog).
	add("Sure, what else can I help you with?", "Okay, let's try that again.", "I'm sorry, I couldn't book the callback.", "We'll call you back.")
	for _, in := range dep.Intents {
		add(in.Reply, in.End)
	}
	var steps func(st *dialog.Step, depth int)
	steps = func(st *dialog.Step, depth int) {
		if st == nil || depth > 8 {
			return
		}
		add(st.Say)
		if c := st.Collect; c != nil {
			add(c.Prompt, c.Reprompt)
		}
		if c := st.Confirm; c != nil {
			add(c.Prompt)
		}
		if t := st.Transfer; t != nil {
			add(t.Say)
		}
		if c := st.Callback; c != nil {
			add(c.Say)
		}
		if e := st.End; e != nil {
			add(e.Say)
		}
		if m := st.Menu; m != nil {
			add(m.Prompt)
			for _, o := range m.Options {
				steps(&o.Do, depth+1)
			}
		}
	}
	for _, f := range dep.Flows {
		for _, st := range f.Steps {
			steps(st, 0)
		}
	}
	for _, a := range dep.Articles {
		add(a.Title)
		for _, l := range strings.Split(a.Body, "\n") {
			add(strings.TrimLeft(l, "#*->0123456789. "))
		}
	}

	seen := map[string]bool{}
	var frags []string
	for _, t := range texts {
		for _, f := range fragments(t, dict) {
			if !seen[f] {
				seen[f] = true
				frags = append(frags, f)
			}
		}
	}
	if len(frags) == 0 {
		return "", errors.New("no sentence of the deployment is speakable")
	}
	sort.Strings(frags)
	var fill []string
	for _, w := range fillWords {
		if dict[w] && !seen[w] {
			fill = append(fill, w)
		}
	}
	var b strings.Builder
	b.WriteString("#JSGF V1.0;\ngrammar bot;\n<fragment> = ")
	b.WriteString(strings.Join(frags, "\n\t| "))
	b.WriteString(";\n<fill> = ")
	b.WriteString(strings.Join(fill, " | "))
	// Fragments weigh more than single words: a sentence the bot can say
	// is taken whole rather than as a string of numbers and days.
	b.WriteString(";\npublic <utterance> = ( /20/ <fragment> | /1/ <fill> )+;\n")
	return b.String(), nil
}

// fillWords fill the prompts' template fields: numbers read out (account
// and phone numbers, minutes, dates), days, months, letters of postcodes,
// times of day. (Not letters: single letters would soak up any word.)
var fillWords = strings.Fields(`zero oh one two three four five six seven eight nine ten eleven twelve thirteen
	fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand
	monday tuesday wednesday thursday friday saturday sunday today tomorrow morning afternoon evening
	january february march april may june july august september october november december minutes`)

var (
	// breakRE: punctuation where a speaker pauses or a sentence ends.
	breakRE  = regexp.MustCompile(`[.,;:!?()"“”]+(\s|$)|\s[-–—]\s|\{[a-z_]+\}`)
	numberRE = regexp.MustCompile(`£?\d[\d,]*(\.\d+)?%?`)
)

// fragments cuts one text into runs of dictionary words: at punctuation,
// template fields and unknown words; numbers are written as flite reads
// them ("30" thirty, "£2" two pounds).
func fragments(text string, dict asrlocal.Dictionary) []string {
	var out []string
	for _, part := range breakRE.Split(text, -1) {
		part = numberRE.ReplaceAllStringFunc(part, spellNumber)
		var run []string
		flush := func() {
			if len(run) > 0 {
				out = append(out, strings.Join(run, " "))
				run = nil
			}
		}
		for _, w := range strings.Fields(strings.ToLower(strings.ReplaceAll(part, "&", " and "))) {
			w = strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' })
			w = strings.ReplaceAll(w, "’", "'")
			switch {
			case w == "":
			case dict[w]:
				run = append(run, w)
			case strings.Contains(w, "-") && allKnown(strings.Split(w, "-"), dict):
				run = append(run, strings.Split(w, "-")...)
			default:
				flush() // an unknown word: the decoder fills the gap with <fill> or another fragment
			}
		}
		flush()
	}
	return out
}

func allKnown(ws []string, dict asrlocal.Dictionary) bool {
	for _, w := range ws {
		if w == "" || !dict[w] {
			return false
		}
	}
	return true
}

// spellNumber writes a number in words: whole numbers below a million as
// cardinals, longer ones digit by digit, "£" as pounds and "%" as percent.
func spellNumber(s string) string {
	pounds := strings.HasPrefix(s, "£")
	percent := strings.HasSuffix(s, "%")
	s = strings.Trim(s, "£%")
	whole, frac, _ := strings.Cut(strings.ReplaceAll(s, ",", ""), ".")
	var words []string
	if n, err := strconv.Atoi(whole); err == nil && len(whole) <= 6 && !strings.HasPrefix(whole, "0") {
		words = append(words, cardinal(n))
	} else {
		for _, d := range whole {
			words = append(words, digitNames[d-'0'])
		}
	}
	if frac != "" {
		words = append(words, "point")
		for _, d := range frac {
			words = append(words, digitNames[d-'0'])
		}
	}
	if pounds {
		words = append(words, "pounds")
	}
	if percent {
		words = append(words, "percent")
	}
	return " " + strings.Join(words, " ") + " "
}

var (
	digitNames = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	teens      = []string{"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
	tens       = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
)

// cardinal spells 0 <= n < 1,000,000.
func cardinal(n int) string {
	switch {
	case n < 10:
		return digitNames[n]
	case n < 20:
		return teens[n-10]
	case n < 100:
		if n%10 == 0 {
			return tens[n/10]
		}
		return tens[n/10] + " " + digitNames[n%10]
	case n < 1000:
		s := digitNames[n/100] + " hundred"
		if n%100 != 0 {
			s += " and " + cardinal(n%100)
		}
		return s
	default:
		s := cardinal(n/1000) + " thousand"
		if n%1000 != 0 {
			if n%1000 < 100 {
				s += " and"
			}
			s += " " + cardinal(n%1000)
		}
		return s
	}
}
