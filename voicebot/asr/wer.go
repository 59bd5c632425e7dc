package asr

import (
	"strings"
	"unicode"
)

// Words normalises a transcript for scoring: lower case, punctuation
// dropped (apostrophes kept), split on spaces and hyphens.
func Words(s string) []string {
	s = strings.ToLower(s)
	return strings.FieldsFunc(s, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'')
	})
}

// WordErrors is the word-level edit distance between reference and
// hypothesis and the reference length: WER = errors / words.
func WordErrors(ref, hyp string) (errors, words int) {
	r, h := Words(ref), Words(hyp)
	prev := make([]int, len(h)+1)
	cur := make([]int, len(h)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(r); i++ {
		cur[0] = i
		for j := 1; j <= len(h); j++ {
			sub := prev[j-1]
			if r[i-1] != h[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(h)], len(r)
}
