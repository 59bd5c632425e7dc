package knowledge

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ChunkOptions bound chunk sizes.
type ChunkOptions struct {
	MaxChars     int // largest chunk in characters (runes); default 1200
	OverlapChars int // trailing sentences up to this many runes are repeated at the start of the next chunk; default 150
}

func (o ChunkOptions) withDefaults() ChunkOptions {
	if o.MaxChars <= 0 {
		o.MaxChars = 1200
	}
	if o.OverlapChars < 0 {
		o.OverlapChars = 0
	} else if o.OverlapChars == 0 {
		o.OverlapChars = 150
	}
	if o.OverlapChars > o.MaxChars/2 {
		o.OverlapChars = o.MaxChars / 2
	}
	return o
}

// Passage is one chunk of a section, before it is tied to a document.
type Passage struct {
	Headings []string
	Text     string
}

// ChunkSections splits sections into passages that never cross a heading,
// break between sentences when they can, stay within MaxChars, and repeat
// up to OverlapChars of trailing sentences from the previous passage.
func ChunkSections(sections []Section, o ChunkOptions) []Passage {
	o = o.withDefaults()
	var out []Passage
	for _, s := range sections {
		var units []string
		for _, para := range strings.Split(s.Text, "\n\n") {
			for _, sent := range SplitSentences(para) {
				units = append(units, splitLong(sent, o.MaxChars)...)
			}
		}
		for _, text := range pack(units, o) {
			out = append(out, Passage{Headings: s.Headings, Text: text})
		}
	}
	return out
}

func pack(units []string, o ChunkOptions) []string {
	var chunks []string
	var cur []string
	curLen := 0
	added := false // whether cur holds a unit not yet emitted
	for _, u := range units {
		ul := utf8.RuneCountInString(u)
		if len(cur) > 0 && curLen+1+ul > o.MaxChars {
			chunks = append(chunks, strings.Join(cur, " "))
			// carry trailing sentences as overlap
			var keep []string
			kl := 0
			for i := len(cur) - 1; i >= 0; i-- {
				l := utf8.RuneCountInString(cur[i])
				if kl+l+1 > o.OverlapChars || kl+l+1+ul > o.MaxChars {
					break
				}
				keep = append([]string{cur[i]}, keep...)
				kl += l + 1
			}
			cur, curLen = keep, kl
			added = false
		}
		if len(cur) > 0 {
			curLen++
		}
		cur = append(cur, u)
		curLen += ul
		added = true
	}
	if added {
		chunks = append(chunks, strings.Join(cur, " "))
	}
	return chunks
}

// splitLong cuts a sentence longer than max runes at word boundaries.
func splitLong(s string, max int) []string {
	if utf8.RuneCountInString(s) <= max {
		return []string{s}
	}
	var out []string
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(s) {
		wl := utf8.RuneCountInString(w)
		for wl > max { // a single giant token: hard cut
			if n > 0 {
				out = append(out, b.String())
				b.Reset()
				n = 0
			}
			r := []rune(w)
			out = append(out, string(r[:max]))
			w = string(r[max:])
			wl = len(r) - max
		}
		if n > 0 && n+1+wl > max {
			out = append(out, b.String())
			b.Reset()
			n = 0
		}
		if n > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += wl
	}
	if n > 0 {
		out = append(out, b.String())
	}
	return out
}

// SplitSentences splits a paragraph after '.', '!' or '?' (and their CJK
// forms) followed by space and an upper-case letter, digit or quote, so
// abbreviations such as "e.g. this" and decimals stay whole.
func SplitSentences(p string) []string {
	var out []string
	rs := []rune(strings.TrimSpace(p))
	start := 0
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch r {
		case '。', '！', '？':
			out = appendSentence(out, rs[start:i+1])
			start = i + 1
			continue
		case '.', '!', '?':
		default:
			continue
		}
		j := i + 1
		for j < len(rs) && strings.ContainsRune(`"')]”’`, rs[j]) {
			j++
		}
		if j >= len(rs) || !unicode.IsSpace(rs[j]) {
			continue
		}
		k := j
		for k < len(rs) && unicode.IsSpace(rs[k]) {
			k++
		}
		if k < len(rs) && !(unicode.IsUpper(rs[k]) || unicode.IsDigit(rs[k]) || strings.ContainsRune(`"'(“‘[`, rs[k])) {
			continue
		}
		out = appendSentence(out, rs[start:j])
		start = k
		i = k - 1
	}
	return appendSentence(out, rs[start:])
}

func appendSentence(out []string, rs []rune) []string {
	if s := strings.TrimSpace(string(rs)); s != "" {
		out = append(out, s)
	}
	return out
}
