package local

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// GrammarSpec is what a deployment's callers are expected to say.
type GrammarSpec struct {
	// Phrases are whole utterances: intent examples, menu options, names.
	Phrases []string
	// Digits adds digit strings ("four one two", "oh"), for account numbers and menus.
	Digits bool
	// YesNo adds confirmations and denials.
	YesNo bool
}

var (
	digitWords  = []string{"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	yesNoWords  = []string{"yes", "yeah", "yep", "no", "nope", "correct", "that's right", "that's correct", "right", "sure", "no thanks", "no thank you", "yes please"}
	backchannel = []string{"okay", "ok", "mhm", "uh-huh", "mm", "hmm", "right", "yeah", "i see", "got it", "sure"}
	fillers     = []string{"um", "uh", "so", "well"}
	numberWords = map[rune]string{'0': "zero", '1': "one", '2': "two", '3': "three", '4': "four", '5': "five", '6': "six", '7': "seven", '8': "eight", '9': "nine"}
)

// Dictionary is the set of words the pronunciation dictionary knows.
type Dictionary map[string]bool

// LoadDictionary reads the words of modelDir's cmudict-en-us.dict
// (alternate pronunciations "word(2)" count once).
func LoadDictionary(modelDir string) (Dictionary, error) {
	if modelDir == "" {
		modelDir = DefaultModelDir
	}
	path := filepath.Join(modelDir, "cmudict-en-us.dict")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("asr local: dictionary: %w", err)
	}
	defer f.Close()
	d := Dictionary{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, " \t("); i > 0 {
			d[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("asr local: dictionary %s: %w", path, err)
	}
	return d, nil
}

// normalize turns a phrase into dictionary words: lower case, digits
// spelled out one by one, punctuation dropped, "&" as "and". Hyphenated
// words stay whole when the dictionary has them ("uh-huh") and split otherwise.
func (d Dictionary) normalize(phrase string) (words []string, unknown string) {
	phrase = strings.ToLower(strings.ReplaceAll(phrase, "&", " and "))
	var b strings.Builder
	for _, r := range phrase {
		switch {
		case r >= '0' && r <= '9':
			b.WriteString(" " + numberWords[r] + " ")
		case unicode.IsLetter(r) || r == '\'' || r == '-':
			b.WriteRune(r)
		default:
			b.WriteRune(' ')
		}
	}
	for _, w := range strings.Fields(b.String()) {
		w = strings.Trim(w, "'-")
		if w == "" {
			continue
		}
		if d[w] {
			words = append(words, w)
			continue
		}
		for _, part := range strings.Split(w, "-") {
			if part == "" {
				continue
			}
			if !d[part] {
				return nil, part
			}
			words = append(words, part)
		}
	}
	return words, ""
}

// BuildGrammar writes the JSGF grammar for spec. Phrases with a word the
// dictionary lacks are left out and returned in skipped (with the word), so
// the deployment can be told; a grammar with no alternatives is an error.
func BuildGrammar(spec GrammarSpec, dict Dictionary) (jsgf string, skipped []string, err error) {
	seen := map[string]bool{}
	var phrases []string
	add := func(list []string, track bool) {
		for _, p := range list {
			words, bad := dict.normalize(p)
			if bad != "" {
				if track {
					skipped = append(skipped, fmt.Sprintf("%q (unknown word %q)", p, bad))
				}
				continue
			}
			if len(words) == 0 {
				continue
			}
			k := strings.Join(words, " ")
			if !seen[k] {
				seen[k] = true
				phrases = append(phrases, k)
			}
		}
	}
	add(spec.Phrases, true)
	if spec.YesNo {
		add(yesNoWords, false)
	}
	add(backchannel, false)
	sort.Strings(phrases)
	if len(phrases) == 0 && !spec.Digits {
		return "", skipped, fmt.Errorf("asr local: no usable phrase for the grammar (%d skipped)", len(skipped))
	}
	var b strings.Builder
	b.WriteString("#JSGF V1.0;\ngrammar parley;\n")
	alts := []string{}
	if len(phrases) > 0 {
		alts = append(alts, "[ <filler> ] <phrase> [ please ]")
		var fl []string
		for _, f := range fillers {
			if dict[f] {
				fl = append(fl, f)
			}
		}
		fmt.Fprintf(&b, "<filler> = %s;\n", strings.Join(fl, " | "))
		b.WriteString("<phrase> = ")
		for i, p := range phrases {
			if i > 0 {
				b.WriteString("\n\t| ")
			}
			b.WriteString(p)
		}
		b.WriteString(";\n")
	}
	if spec.Digits {
		alts = append(alts, "<digit>+")
		fmt.Fprintf(&b, "<digit> = %s;\n", strings.Join(digitWords, " | "))
	}
	fmt.Fprintf(&b, "public <utterance> = %s;\n", strings.Join(alts, " | "))
	return b.String(), skipped, nil
}
