// Package textproc turns text into search terms: lowercase word tokens,
// English stop-word removal and Porter stemming, shared by the lexical index
// and the offline embedder so both see the same vocabulary.
package textproc

import (
	"unicode"
	"unicode/utf8"
)

// Words splits s into lowercase words made of letters and digits; an
// apostrophe inside a word is dropped ("don't" -> "dont") so contractions
// stay one token.
func Words(s string) []string {
	out := make([]string, 0, len(s)/6)
	buf := make([]byte, 0, 32)
	flush := func() {
		if len(buf) > 0 {
			out = append(out, string(buf))
			buf = buf[:0]
		}
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9'):
			buf = append(buf, byte(r))
		case r < utf8.RuneSelf && r >= 'A' && r <= 'Z':
			buf = append(buf, byte(r+'a'-'A'))
		case (r == '\'' || r == '\u2019') && len(buf) > 0:
			// keep contractions together: the next letter continues the word
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			buf = utf8.AppendRune(buf, unicode.ToLower(r))
		default:
			flush()
		}
	}
	flush()
	return out
}

// Terms returns the stemmed, stop-word-free search terms of s.
func Terms(s string) []string {
	words := Words(s)
	out := words[:0]
	for _, w := range words {
		if IsStopWord(w) {
			continue
		}
		out = append(out, Stem(w))
	}
	return out
}

// IsStopWord reports whether w (lowercase) is an English function word that
// carries no topic.
func IsStopWord(w string) bool {
	_, ok := stopWords[w]
	return ok
}

// stopWords is read-only after package initialisation.
var stopWords = func() map[string]struct{} {
	list := []string{
		"a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "arent", "as", "at",
		"be", "because", "been", "before", "being", "below", "between", "both", "but", "by",
		"can", "cant", "cannot", "could", "couldnt",
		"did", "didnt", "do", "does", "doesnt", "doing", "dont", "down", "during",
		"each", "few", "for", "from", "further",
		"had", "hadnt", "has", "hasnt", "have", "havent", "having", "he", "hed", "hes", "her", "here", "heres", "hers", "herself", "him", "himself", "his", "how", "hows",
		"i", "id", "ill", "im", "ive", "if", "in", "into", "is", "isnt", "it", "its", "itself",
		"lets", "me", "more", "most", "my", "myself",
		"no", "nor", "not", "of", "off", "on", "once", "only", "or", "other", "ought", "our", "ours", "ourselves", "out", "over", "own",
		"same", "she", "shes", "should", "shouldnt", "so", "some", "such",
		"than", "that", "thats", "the", "their", "theirs", "them", "themselves", "then", "there", "theres", "these", "they", "theyre", "this", "those", "through", "to", "too",
		"under", "until", "up", "very",
		"was", "wasnt", "we", "were", "werent", "what", "whats", "when", "where", "which", "while", "who", "whom", "why", "with", "wont", "would", "wouldnt",
		"you", "youd", "youll", "youre", "youve", "your", "yours", "yourself", "yourselves",
		"will", "just", "also", "s", "t",
	}
	m := make(map[string]struct{}, len(list))
	for _, w := range list {
		m[w] = struct{}{}
	}
	return m
}()
