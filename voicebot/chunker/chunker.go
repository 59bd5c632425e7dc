// Package chunker cuts a stream of reply text (LLM tokens or whole
// sentences) into sentences for speech synthesis, so the first sentence can
// be spoken while the rest of the reply is still being generated.
package chunker

import (
	"strings"
	"unicode"
)

// Chunker accumulates streamed text and returns each sentence once it is
// complete. The zero value is ready to use; it is not safe for concurrent use.
type Chunker struct {
	// MaxChars forces a cut at the last comma, semicolon or space once a
	// sentence grows this long without an end, so a run-on reply still
	// starts playing early. 0 means 200.
	MaxChars int
	buf      strings.Builder
}

// abbreviations end with a period without ending a sentence.
var abbreviations = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "dr": true, "st": true, "jr": true, "sr": true,
	"vs": true, "etc": true, "e.g": true, "i.e": true, "no": true, "approx": true,
	"inc": true, "ltd": true, "co": true, "a.m": true, "p.m": true, "u.s": true,
}

// Write adds streamed text and returns the sentences it completed, trimmed.
func (c *Chunker) Write(text string) []string {
	c.buf.WriteString(text)
	var out []string
	for {
		s := c.buf.String()
		cut := sentenceEnd(s)
		if cut < 0 {
			cut = c.forcedCut(s)
		}
		if cut < 0 {
			return out
		}
		if sent := strings.TrimSpace(s[:cut]); sent != "" {
			out = append(out, sent)
		}
		rest := s[cut:]
		c.buf.Reset()
		c.buf.WriteString(rest)
	}
}

// Flush returns what is left (the reply ended without punctuation), or "".
func (c *Chunker) Flush() string {
	s := strings.TrimSpace(c.buf.String())
	c.buf.Reset()
	return s
}

// sentenceEnd returns the index just after the first sentence end in s that
// is followed by whitespace (so "3.5" and a period still being streamed are
// not cut), or -1.
func sentenceEnd(s string) int {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch != '.' && ch != '!' && ch != '?' && ch != '\n' {
			continue
		}
		if ch == '\n' {
			if strings.TrimSpace(s[:i]) != "" {
				return i + 1
			}
			continue
		}
		// Swallow runs like "?!" or "..." and closing quotes/brackets.
		j := i + 1
		for j < len(s) && strings.IndexByte(".!?\"')]", s[j]) >= 0 {
			j++
		}
		if j >= len(s) || !unicode.IsSpace(rune(s[j])) {
			i = j - 1
			continue // end of buffer: wait for more text to decide
		}
		if ch == '.' && j == i+1 && isAbbreviation(s[:i]) {
			continue
		}
		return j
	}
	return -1
}

func isAbbreviation(before string) bool {
	k := strings.LastIndexFunc(before, func(r rune) bool { return unicode.IsSpace(r) || r == '(' })
	w := strings.ToLower(before[k+1:])
	if len(w) == 1 && unicode.IsUpper(rune(before[len(before)-1])) {
		return true // an initial: "J. Smith"
	}
	return abbreviations[w]
}

func (c *Chunker) forcedCut(s string) int {
	max := c.MaxChars
	if max <= 0 {
		max = 200
	}
	if len(s) < max {
		return -1
	}
	if k := strings.LastIndexAny(s[:max], ",;:"); k > max/3 {
		return k + 1
	}
	if k := strings.LastIndexByte(s[:max], ' '); k > 0 {
		return k + 1
	}
	return max
}
