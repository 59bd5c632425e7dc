package evals

import (
	"fmt"
	"regexp"
	"strings"
)

// Groundedness checks that every factual answer is supported by a cited
// passage. A bot turn with citations is a knowledge answer: each of its
// statements that carries content (three content words or more; questions
// and the suite's exempt script lines aside) must have most of its content
// words (>= 60%) and every figure in the cited passages. A bot turn without citations that states an amount (money,
// percentage) the caller did not say is an uncited claim.
func Groundedness(s *Suite, tr *Transcript) []Check {
	var out []Check
	callerNums := map[string]bool{}
	for _, t := range tr.Turns {
		if t.Speaker == "caller" {
			for _, n := range numberRE.FindAllString(t.Text, -1) {
				callerNums[normNum(n)] = true
			}
		}
	}
	for _, i := range tr.botTurns() {
		t := tr.Turns[i]
		if len(t.Citations) == 0 {
			if m := amountRE.FindString(t.Text); m != "" && !callerNums[normNum(numberRE.FindString(m))] && !anyMatch(s.Compliance.Exempt, t.Text) {
				out = append(out, Check{Judge: "groundedness", Name: "uncited_claim", Step: t.Step, Status: CheckFail,
					Detail: fmt.Sprintf("states %q without a cited passage: %q", m, clip(t.Text))})
			}
			continue
		}
		var passages strings.Builder
		for _, c := range t.Citations {
			passages.WriteString(c.Passage)
			passages.WriteByte(' ')
		}
		src := contentWords(passages.String())
		srcNums := map[string]bool{}
		for _, n := range numberRE.FindAllString(passages.String(), -1) {
			srcNums[normNum(n)] = true
		}
		claims, supported := 0, 0
		var firstBad string
		for _, sent := range sentences(t.Text) {
			words := contentWords(sent)
			if len(words) < 3 || strings.HasSuffix(sent, "?") || anyMatch(s.Compliance.Exempt, sent) {
				continue
			}
			claims++
			hit := 0
			for w := range words {
				if src[w] {
					hit++
				}
			}
			numsOK := true
			for _, n := range numberRE.FindAllString(sent, -1) {
				if !srcNums[normNum(n)] && !callerNums[normNum(n)] {
					numsOK = false
				}
			}
			if float64(hit) >= 0.6*float64(len(words)) && numsOK {
				supported++
			} else if firstBad == "" {
				firstBad = sent
			}
		}
		c := Check{Judge: "groundedness", Name: "supported", Step: t.Step, Status: CheckPass, Score: ratio(supported, claims),
			Detail: fmt.Sprintf("%d of %d sentences supported by the cited passages", supported, claims)}
		if supported < claims {
			c.Status = CheckFail
			c.Detail += fmt.Sprintf("; unsupported: %q", clip(firstBad))
		}
		out = append(out, c)
	}
	return out
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

var (
	numberRE   = regexp.MustCompile(`\d+(?:[.,:]\d+)*`)
	amountRE   = regexp.MustCompile(`(?i)[£$€]\s?\d+(?:[.,]\d+)*|\d+(?:[.,]\d+)*\s?(?:%|percent|pounds?|dollars?|euros?|pence|cents?)\b`)
	sentenceRE = regexp.MustCompile(`[^.!?]+[.!?]*`)
	tokenRE    = regexp.MustCompile(`[a-z0-9]+`)
	decimalRE  = regexp.MustCompile(`(\d)\.(\d)`)
)

func normNum(n string) string { return strings.NewReplacer(",", "", ".00", "").Replace(n) }

func sentences(text string) []string {
	// Keep decimals ("2.50") inside their sentence.
	protected := decimalRE.ReplaceAllString(text, "$1\x00$2")
	var out []string
	for _, s := range sentenceRE.FindAllString(protected, -1) {
		if s = strings.TrimSpace(strings.ReplaceAll(s, "\x00", ".")); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// contentWords returns the text's words less stop words, lightly stemmed.
func contentWords(text string) map[string]bool {
	out := map[string]bool{}
	for _, w := range tokenRE.FindAllString(strings.ToLower(text), -1) {
		if stopWords[w] || len(w) < 2 {
			continue
		}
		out[stemWord(w)] = true
	}
	return out
}

func stemWord(w string) string {
	for _, suf := range []string{"ing", "ed", "es", "s"} {
		if len(w) > len(suf)+3 && strings.HasSuffix(w, suf) {
			return w[:len(w)-len(suf)]
		}
	}
	return w
}

var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or but if then so to of in on at by for with from about as into
		is are was were be been being am do does did done have has had having can could will would shall should may might must
		i me my we us our you your yours he she it its they them their this that these those there here what which who whom
		when where why how all any each every some no not nor only own same than too very just also more most other such
		up down out over under again further once both few s t don now yes ok okay please thank thanks sure let lets get got
		one ll re ve d m o y ain isn aren wasn weren hasn haven hadn doesn didn won wouldn shan shouldn mustn can't cannot
		here's that's it's you're we're i'm i'll you'll we'll`) {
		m[w] = true
	}
	return m
}()
