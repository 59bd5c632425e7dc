package dialog

import (
	"math"
	"strings"
	"unicode"
)

// Sentiment scores a caller's words in [-1, 1] from a valence lexicon, in
// the manner of VADER: negators ("not", "never", "n't") flip and damp the
// next three words, intensifiers ("very", "so") strengthen the next word,
// words after "but" weigh more, and exclamation marks add emphasis. The sum
// is squashed with x/sqrt(x²+15). It is crude next to a model but needs no
// download and is fast and deterministic.
func Sentiment(text string) float64 {
	words := sentimentWords(text)
	var sum float64
	negate := 0
	boost := 1.0
	afterBut := false
	for i, w := range words {
		switch {
		case negators[w]:
			negate = 3
			continue
		case intensifiers[w] != 0:
			boost = intensifiers[w]
			continue
		case w == "but" || w == "however" || w == "although":
			afterBut = true
			sum *= 0.5 // what comes before "but" matters less
			continue
		}
		v, ok := lexicon[w]
		// Two-word phrases ("thank you", "fed up") take precedence.
		if i+1 < len(words) {
			if pv, pok := lexicon[w+" "+words[i+1]]; pok {
				v, ok = pv, true
			}
		}
		if ok {
			v *= boost
			if negate > 0 {
				v *= -0.74
			}
			if afterBut {
				v *= 1.5
			}
			sum += v
		}
		boost = 1
		if negate > 0 {
			negate--
		}
	}
	if n := strings.Count(text, "!"); n > 0 && sum != 0 {
		sum += math.Copysign(0.3*float64(min(n, 3)), sum)
	}
	if isShouting(text) && sum < 0 {
		sum -= 0.8
	}
	return sum / math.Sqrt(sum*sum+15)
}

// sentimentWords lower-cases and splits text, turning "n't" into "not".
func sentimentWords(text string) []string {
	text = strings.ToLower(strings.ReplaceAll(text, "’", "'"))
	text = strings.NewReplacer("can't", "can not", "won't", "will not", "n't", " not").Replace(text)
	return strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' })
}

func isShouting(text string) bool {
	letters, upper := 0, 0
	for _, r := range text {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	return letters >= 8 && upper*10 >= letters*8
}

var negators = map[string]bool{
	"not": true, "no": true, "never": true, "nothing": true, "nobody": true, "none": true, "neither": true,
	"nor": true, "without": true, "hardly": true, "barely": true, "cannot": true,
}

var intensifiers = map[string]float64{
	"very": 1.5, "really": 1.5, "so": 1.4, "extremely": 1.8, "absolutely": 1.6, "totally": 1.5, "completely": 1.5,
	"incredibly": 1.7, "too": 1.3, "super": 1.5, "utterly": 1.8, "quite": 1.2, "bit": 0.6, "slightly": 0.6, "somewhat": 0.7,
}

// lexicon holds valences on VADER's scale (about -4 .. 4), for words a
// contact-center caller uses.
var lexicon = map[string]float64{
	// positive
	"good": 1.9, "great": 3.1, "excellent": 3.2, "perfect": 2.7, "fantastic": 3.3, "amazing": 2.8, "wonderful": 2.7,
	"awesome": 3.1, "brilliant": 2.8, "lovely": 2.8, "nice": 1.8, "happy": 2.7, "glad": 2.0, "pleased": 1.9,
	"thanks": 1.9, "thank": 1.5, "thank you": 2.0, "appreciate": 2.1, "appreciated": 2.1, "helpful": 1.9, "love": 3.2,
	"like": 1.0, "fine": 0.8, "ok": 0.6, "okay": 0.6, "sure": 0.8, "works": 1.0, "working": 0.6, "fixed": 1.6,
	"resolved": 1.6, "solved": 1.6, "easy": 1.9, "fast": 1.1, "quick": 1.1, "cheap": 0.8, "best": 3.2, "better": 1.9,
	"well": 1.1, "cool": 1.3, "kind": 1.8, "satisfied": 1.8, "reliable": 1.8, "sorted": 1.2, "yay": 2.4, "cheers": 1.9,
	// negative
	"bad": -2.5, "terrible": -3.1, "awful": -3.1, "horrible": -3.1, "worst": -3.1, "worse": -2.1, "poor": -2.1,
	"useless": -2.6, "rubbish": -2.2, "ridiculous": -2.3, "unacceptable": -2.8, "disgusting": -3.0, "pathetic": -2.8,
	"angry": -2.7, "furious": -3.3, "annoyed": -2.0, "annoying": -2.1, "frustrated": -2.4, "frustrating": -2.4,
	"upset": -2.0, "disappointed": -2.2, "disappointing": -2.2, "unhappy": -2.1, "sad": -2.1, "hate": -2.7,
	"fed up": -2.5, "sick of": -2.4, "tired of": -2.0, "fed": -0.5, "slow": -1.3, "broken": -2.0, "broke": -1.6,
	"problem": -1.5, "problems": -1.5, "issue": -0.8, "issues": -0.8, "wrong": -2.1, "fault": -1.7, "failed": -2.3,
	"fail": -2.1, "failing": -2.1, "error": -1.4, "down": -0.6, "outage": -1.4, "dead": -2.0, "stupid": -2.4,
	"idiot": -2.8, "idiots": -2.8, "incompetent": -2.8, "joke": -1.0, "scam": -2.9, "rip": -1.6, "ripped": -2.0,
	"overcharged": -2.3, "charged twice": -2.3, "waste": -2.0, "wasted": -2.2, "waiting": -0.8, "ages": -1.0,
	"never works": -2.6, "complaint": -1.9, "complain": -1.8, "cancel": -0.9, "leave": -0.4, "lawyer": -1.8,
	"shocking": -2.4, "nightmare": -2.8, "mess": -1.9, "confused": -1.2, "confusing": -1.5, "worried": -1.6,
	"damn": -1.8, "hell": -1.9, "crap": -2.5, "bloody": -1.5, "sucks": -2.6, "shit": -2.8, "unbelievable": -1.5,
	"sorry": -0.3, "nobody": -0.5, "unfair": -2.1, "expensive": -1.5, "lost": -1.3, "late": -0.9, "missing": -1.2,
}

// SentimentTrend is the rolling mean of the last Window caller turns'
// sentiment.
type SentimentTrend struct {
	Window int
	scores []float64
}

// Add records a turn's score and returns the trend.
func (t *SentimentTrend) Add(s float64) float64 {
	t.scores = append(t.scores, s)
	return t.Value()
}

// Value is the current trend (0 before any turn).
func (t *SentimentTrend) Value() float64 {
	w := max(t.Window, 1)
	recent := t.scores[max(0, len(t.scores)-w):]
	if len(recent) == 0 {
		return 0
	}
	var sum float64
	for _, s := range recent {
		sum += s
	}
	return sum / float64(len(recent))
}

// Turns is how many scores were added.
func (t *SentimentTrend) Turns() int { return len(t.scores) }
