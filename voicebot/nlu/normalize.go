package nlu

import (
	"strings"
	"unicode"
)

// contractions expands the contracted forms callers (and ASR) produce, with
// and without the apostrophe, so "can't", "cant" and "can not" share features.
var contractions = map[string][]string{
	"can't": {"can", "not"}, "cant": {"can", "not"}, "cannot": {"can", "not"},
	"won't": {"will", "not"}, "wont": {"will", "not"},
	"don't": {"do", "not"}, "dont": {"do", "not"},
	"doesn't": {"does", "not"}, "doesnt": {"does", "not"},
	"didn't": {"did", "not"}, "didnt": {"did", "not"},
	"isn't": {"is", "not"}, "isnt": {"is", "not"},
	"aren't": {"are", "not"}, "arent": {"are", "not"},
	"wasn't": {"was", "not"}, "wasnt": {"was", "not"},
	"weren't": {"were", "not"}, "werent": {"were", "not"},
	"haven't": {"have", "not"}, "havent": {"have", "not"},
	"hasn't": {"has", "not"}, "hasnt": {"has", "not"},
	"hadn't": {"had", "not"}, "hadnt": {"had", "not"},
	"couldn't": {"could", "not"}, "couldnt": {"could", "not"},
	"shouldn't": {"should", "not"}, "shouldnt": {"should", "not"},
	"wouldn't": {"would", "not"}, "wouldnt": {"would", "not"},
	"i'm": {"i", "am"}, "im": {"i", "am"},
	"i've": {"i", "have"}, "ive": {"i", "have"},
	"i'll": {"i", "will"}, "i'd": {"i", "would"},
	"it's": {"it", "is"}, "that's": {"that", "is"}, "what's": {"what", "is"},
	"where's": {"where", "is"}, "how's": {"how", "is"}, "there's": {"there", "is"},
	"who's": {"who", "is"}, "let's": {"let", "us"},
	"you're": {"you", "are"}, "we're": {"we", "are"}, "they're": {"they", "are"},
	"you've": {"you", "have"}, "we've": {"we", "have"}, "they've": {"they", "have"},
}

// currency symbols are kept as words because "£" versus "$" separates intents
// such as exchange rates from card payments.
func isCurrency(r rune) bool {
	return unicode.Is(unicode.Sc, r)
}

// tokenize lowercases text, maps every digit to '0' (amounts and dates matter
// by shape, not value), splits on anything that is not a letter, digit or an
// inner apostrophe, and expands contractions.
func tokenize(text string) []string {
	text = strings.ToLower(text)
	words := make([]string, 0, 16)
	var b strings.Builder
	flush := func() {
		if b.Len() == 0 {
			return
		}
		w := strings.Trim(b.String(), "'")
		b.Reset()
		if w == "" {
			return
		}
		if exp, ok := contractions[w]; ok {
			words = append(words, exp...)
			return
		}
		if i := strings.IndexByte(w, '\''); i >= 0 {
			// Generic suffixes: "n't" -> not, "'s" dropped (possessive or "is"),
			// "'re"/"'ve"/"'ll"/"'d"/"'m" expanded.
			stem, suf := w[:i], w[i+1:]
			switch {
			case strings.HasSuffix(stem, "n") && suf == "t":
				words = append(words, stem[:len(stem)-1], "not")
			case suf == "s":
				words = append(words, stem)
			case suf == "re":
				words = append(words, stem, "are")
			case suf == "ve":
				words = append(words, stem, "have")
			case suf == "ll":
				words = append(words, stem, "will")
			case suf == "d":
				words = append(words, stem, "would")
			case suf == "m":
				words = append(words, stem, "am")
			default:
				words = append(words, strings.ReplaceAll(w, "'", ""))
			}
			return
		}
		words = append(words, w)
	}
	for _, r := range text {
		switch {
		case r >= '0' && r <= '9' || unicode.IsDigit(r):
			b.WriteByte('0')
		case unicode.IsLetter(r):
			b.WriteRune(r)
		case r == '\'' || r == '’' || r == '‘' || r == '`':
			if b.Len() > 0 {
				b.WriteByte('\'')
			}
		case isCurrency(r):
			flush()
			words = append(words, string(r))
		default:
			flush()
		}
	}
	flush()
	return words
}

// stem strips common English inflections so "charged", "charges" and
// "charging" share a word feature. It is deliberately light: character
// n-grams already capture the rest of the morphology.
func stem(w string) string {
	if len(w) <= 4 {
		return w
	}
	for _, suf := range []string{"ingly", "edly", "ings", "ing", "ied", "ies", "ed", "es", "ly", "s"} {
		if strings.HasSuffix(w, suf) && len(w)-len(suf) >= 3 {
			base := w[:len(w)-len(suf)]
			switch suf {
			case "ied", "ies":
				return base + "y"
			case "s":
				if strings.HasSuffix(base, "s") || strings.HasSuffix(base, "u") || strings.HasSuffix(base, "i") {
					return w // "access", "status", "analysis"
				}
			case "ing", "ed", "ings":
				// Undo consonant doubling: "topping" -> "top".
				if n := len(base); n >= 2 && base[n-1] == base[n-2] && !strings.ContainsRune("aeiouls", rune(base[n-1])) {
					base = base[:n-1]
				}
			}
			return trimE(base)
		}
	}
	return trimE(w)
}

// trimE drops a final silent e so "charge", "charges" and "charged" meet.
func trimE(w string) string {
	if len(w) >= 5 && w[len(w)-1] == 'e' {
		return w[:len(w)-1]
	}
	return w
}
