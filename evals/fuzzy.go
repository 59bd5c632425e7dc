package evals

import (
	"strings"
	"unicode"
)

// Voice mode judges what the caller heard: the bot's audio transcribed by
// speech recognition, which misspells and splits words ("wi fi", "fiber").
// A phrase counts as heard when some stretch of the transcript is within a
// quarter of the phrase's length in character edits, word boundaries
// included (so "app" is not heard inside "happy").

// HeardContains reports whether phrase was heard in heard.
func HeardContains(heard, phrase string) bool {
	p := normalizeHeard(phrase)
	if p == "" {
		return true
	}
	h := " " + normalizeHeard(heard) + " "
	p = " " + p + " "
	return approxSubstring(h, p) <= (len(p)-2)/4
}

var digitNames = [...]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// normalizeHeard lower-cases, spells digits as words (recognisers write
// numbers as words), folds British spellings the US model uses and keeps
// single spaces between words.
func normalizeHeard(s string) string {
	var b strings.Builder
	space := true
	word := func(w string) {
		if !space {
			b.WriteByte(' ')
		}
		b.WriteString(w)
		b.WriteByte(' ')
		space = true
	}
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= '0' && r <= '9':
			word(digitNames[r-'0'])
		case r == '\'':
			// "don't" and "dont" alike
		case unicode.IsLetter(r):
			b.WriteRune(r)
			space = false
		default:
			if !space {
				b.WriteByte(' ')
				space = true
			}
		}
	}
	out := strings.Fields(b.String())
	for i, w := range out {
		out[i] = usSpelling(w)
	}
	return strings.Join(out, " ")
}

func usSpelling(w string) string {
	switch {
	case strings.HasSuffix(w, "tre") || strings.HasSuffix(w, "bre"):
		return w[:len(w)-2] + "er" // centre, fibre
	case strings.HasSuffix(w, "our") && len(w) > 5:
		return w[:len(w)-3] + "or" // colour, favour (not "your", "hour")
	case strings.HasSuffix(w, "ise") && len(w) > 6:
		return w[:len(w)-3] + "ize"
	}
	return w
}

// approxSubstring is the least edit distance between p and any substring
// of h (Sellers' algorithm).
func approxSubstring(h, p string) int {
	prev := make([]int, len(p)+1)
	cur := make([]int, len(p)+1)
	for j := range prev {
		prev[j] = j
	}
	best := prev[len(p)]
	for i := 1; i <= len(h); i++ {
		cur[0] = 0 // a match may start anywhere in h
		for j := 1; j <= len(p); j++ {
			cost := 1
			if h[i-1] == p[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j-1]+cost, prev[j]+1, cur[j-1]+1)
		}
		best = min(best, cur[len(p)])
		prev, cur = cur, prev
	}
	return best
}
