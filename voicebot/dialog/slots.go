package dialog

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Slot answers come from ASR text ("four five six, oh one") or from keys
// ("456012#"); these functions turn either into a validated value.

var spokenDigit = map[string]string{
	"zero": "0", "oh": "0", "o": "0", "nought": "0", "one": "1", "two": "2", "to": "2", "too": "2", "three": "3",
	"four": "4", "for": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}

var spokenTeens = map[string]int{
	"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
	"seventeen": 17, "eighteen": 18, "nineteen": 19,
}

var spokenTens = map[string]int{
	"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}

// ExtractDigits reads the digits a caller said or keyed: numerals, spoken
// digits, "double"/"triple", teens and tens ("twenty three"). Other words
// are ignored; "#" ends DTMF entry.
func ExtractDigits(text string) string {
	text = strings.ToLower(text)
	if i := strings.IndexByte(text, '#'); i >= 0 {
		text = text[:i]
	}
	var b strings.Builder
	repeat := 1
	words := strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "double":
			repeat = 2
			continue
		case w == "triple":
			repeat = 3
			continue
		case isAllDigits(w):
			b.WriteString(strings.Repeat(w[:1], repeat-1) + w)
		case spokenDigit[w] != "" && (w != "to" && w != "too" && w != "for" && w != "o" || digitContext(words, i)):
			b.WriteString(strings.Repeat(spokenDigit[w], repeat))
		case spokenTeens[w] != 0:
			b.WriteString(strconv.Itoa(spokenTeens[w]))
		case spokenTens[w] != 0:
			n := spokenTens[w]
			if i+1 < len(words) && spokenDigit[words[i+1]] != "" && words[i+1] != "oh" && words[i+1] != "zero" {
				d, _ := strconv.Atoi(spokenDigit[words[i+1]])
				n += d
				i++
			}
			b.WriteString(strconv.Itoa(n))
		case w == "hundred" && b.Len() > 0:
			b.WriteString("00")
		}
		repeat = 1
	}
	return b.String()
}

// digitContext: homophones ("to", "for") count as digits only between other
// digits.
func digitContext(words []string, i int) bool {
	isD := func(j int) bool {
		if j < 0 || j >= len(words) {
			return false
		}
		w := words[j]
		return isAllDigits(w) || spokenDigit[w] != "" && w != "to" && w != "too" && w != "for" && w != "o"
	}
	return isD(i-1) && isD(i+1)
}

func isAllDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

var (
	yesWords = []string{"yes", "yeah", "yep", "yup", "sure", "correct", "right", "affirmative", "absolutely", "ok", "okay",
		"please do", "go ahead", "that's right", "that is right", "it is", "definitely", "of course", "please"}
	noWords = []string{"no", "nope", "nah", "wrong", "incorrect", "not right", "negative", "don't", "do not", "not really", "no thanks"}
)

// YesNo reads a yes or no answer: "yes"/"no", or "" when unclear. Keys: 1
// is yes, 2 is no.
func YesNo(text string) string {
	t := strings.TrimSpace(strings.ToLower(text))
	switch t {
	case "1":
		return "yes"
	case "2":
		return "no"
	}
	words := " " + strings.Join(strings.FieldsFunc(t, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' }), " ") + " "
	has := func(list []string) bool {
		for _, w := range list {
			if strings.Contains(words, " "+w+" ") {
				return true
			}
		}
		return false
	}
	no, yes := has(noWords), has(yesWords)
	switch {
	case no && !yes:
		return "no"
	case yes && !no:
		return "yes"
	case yes && no:
		// "no, that's right" is rare; "yes, no problem" is common: the first word decides.
		f := strings.Fields(words)
		for _, w := range noWords {
			if f[0] == w {
				return "no"
			}
		}
		return "yes"
	}
	return ""
}

var months = map[string]time.Month{
	"january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
	"june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9,
	"october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}

var weekdays = map[string]time.Weekday{
	"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6,
}

var ordinals = map[string]int{
	"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
	"tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15, "sixteenth": 16,
	"seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}

var (
	isoDate   = regexp.MustCompile(`\b(\d{4})-(\d{1,2})-(\d{1,2})\b`)
	slashDate = regexp.MustCompile(`\b(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2,4}))?\b`)
	dayNum    = regexp.MustCompile(`^(\d{1,2})(st|nd|rd|th)?$`)
)

// ParseDate reads a date relative to now: "today", "tomorrow", "friday",
// "next monday", "the 15th", "15 march", "march 15th", "2026-03-15",
// "15/03" (day first). ok is false when no date is found.
func ParseDate(text string, now time.Time) (time.Time, bool) {
	t := strings.ToLower(text)
	day := func(y int, m time.Month, d int) (time.Time, bool) {
		r := time.Date(y, m, d, 0, 0, 0, 0, now.Location())
		if r.Day() != d || r.Month() != m {
			return time.Time{}, false // 31 February
		}
		return r, true
	}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	if m := isoDate.FindStringSubmatch(t); m != nil {
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		return day(y, time.Month(mo), d)
	}
	if m := slashDate.FindStringSubmatch(t); m != nil {
		d, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		y := now.Year()
		if m[3] != "" {
			y, _ = strconv.Atoi(m[3])
			if y < 100 {
				y += 2000
			}
		}
		if mo >= 1 && mo <= 12 {
			r, ok := day(y, time.Month(mo), d)
			if ok && m[3] == "" && r.Before(today) {
				r = r.AddDate(1, 0, 0)
			}
			return r, ok
		}
	}
	words := strings.FieldsFunc(t, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	var month time.Month
	dom, year := 0, 0
	weekday := -1
	for i, w := range words {
		switch {
		case w == "today" || w == "now":
			return today, true
		case w == "tomorrow":
			return today.AddDate(0, 0, 1), true
		case w == "yesterday":
			return today.AddDate(0, 0, -1), true
		case weekdays[w] != 0 || w == "sunday":
			weekday = int(weekdays[w])
		case len(w) == 4 && isAllDigits(w) && w >= "1900" && w <= "2100":
			year, _ = strconv.Atoi(w)
		case months[w] != 0:
			month = months[w]
		case ordinals[w] != 0:
			dom = ordinals[w]
			if i > 0 && spokenTens[words[i-1]] == 20 || i > 0 && spokenTens[words[i-1]] == 30 {
				dom += spokenTens[words[i-1]]
			}
		default:
			if m := dayNum.FindStringSubmatch(w); m != nil {
				dom, _ = strconv.Atoi(m[1])
			}
		}
	}
	if dom >= 1 && dom <= 31 && year > 0 && month != 0 {
		return day(year, month, dom)
	}
	if dom >= 1 && dom <= 31 {
		if month == 0 {
			// "the 15th": this month, or next month once it has passed.
			r, ok := day(now.Year(), now.Month(), dom)
			if ok && r.Before(today) {
				n := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, now.Location())
				r, ok = day(n.Year(), n.Month(), dom)
			}
			return r, ok
		}
		r, ok := day(now.Year(), month, dom)
		if ok && r.Before(today) {
			r, ok = day(now.Year()+1, month, dom)
		}
		return r, ok
	}
	if weekday >= 0 {
		ahead := (weekday - int(today.Weekday()) + 7) % 7
		if ahead == 0 {
			ahead = 7 // "friday" said on a Friday means next week's
		}
		return today.AddDate(0, 0, ahead), true
	}
	return time.Time{}, false
}

// ParseWindow reads when a caller wants to be called back: "now", "this
// afternoon", "tomorrow morning", "after 5", "in two hours", a weekday or a
// date. Without anything recognisable the window starts now. The window
// never starts before now and lasts def unless a part of day bounds it.
func ParseWindow(text string, now time.Time, def time.Duration) (from, to time.Time) {
	t := " " + strings.ToLower(text) + " "
	base := now
	if d, ok := ParseDate(text, now); ok && !strings.Contains(t, " now ") {
		if d.After(now) {
			base = time.Date(d.Year(), d.Month(), d.Day(), 9, 0, 0, 0, now.Location())
		}
	}
	at := func(h int) time.Time {
		return time.Date(base.Year(), base.Month(), base.Day(), h, 0, 0, 0, now.Location())
	}
	from, to = base, base.Add(def)
	switch {
	case strings.Contains(t, "morning"):
		from, to = at(9), at(12)
	case strings.Contains(t, "lunch"):
		from, to = at(12), at(14)
	case strings.Contains(t, "afternoon"):
		from, to = at(13), at(17)
	case strings.Contains(t, "evening") || strings.Contains(t, "tonight"):
		from, to = at(17), at(20)
	}
	if m := regexp.MustCompile(`\bin (\w+) (hour|hours|minute|minutes)\b`).FindStringSubmatch(t); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			n, _ = strconv.Atoi(ExtractDigits(m[1]))
			if m[1] == "an" || m[1] == "a" {
				n = 1
			}
		}
		unit := time.Hour
		if strings.HasPrefix(m[2], "minute") {
			unit = time.Minute
		}
		from = now.Add(time.Duration(n) * unit)
		to = from.Add(def)
	} else if m := regexp.MustCompile(`\bafter (\d{1,2})(?:\s*(am|pm|o'clock))?\b`).FindStringSubmatch(t); m != nil {
		h, _ := strconv.Atoi(m[1])
		if h < 8 || m[2] == "pm" {
			h = (h % 12) + 12
		}
		from = at(h)
		to = from.Add(def)
	}
	if from.Before(now) {
		from = now
	}
	if !to.After(from) {
		to = from.Add(def)
	}
	return from, to
}

// validateSlot checks an answer for a collect step; value is normalised
// (digits only, ISO date, yes/no, trimmed text).
func validateSlot(c *CollectStep, text string, now time.Time) (value string, err error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return "", fmt.Errorf("empty answer")
	}
	switch c.Type {
	case SlotDigits:
		d := ExtractDigits(text)
		switch {
		case d == "":
			return "", fmt.Errorf("no digits")
		case c.Length > 0 && len(d) != c.Length:
			return "", fmt.Errorf("%d digits, want %d", len(d), c.Length)
		case c.MinLength > 0 && len(d) < c.MinLength:
			return "", fmt.Errorf("%d digits, want at least %d", len(d), c.MinLength)
		case c.MaxLength > 0 && len(d) > c.MaxLength:
			return "", fmt.Errorf("%d digits, want at most %d", len(d), c.MaxLength)
		}
		return d, nil
	case SlotDate:
		d, ok := ParseDate(text, now)
		if !ok {
			return "", fmt.Errorf("no date")
		}
		if c.Future && d.Before(time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())) {
			return "", fmt.Errorf("date %s is in the past", d.Format("2006-01-02"))
		}
		return d.Format("2006-01-02"), nil
	case SlotYesNo:
		if v := YesNo(text); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("neither yes nor no")
	case SlotRegex:
		v := spelled(text)
		if c.Upper {
			v = strings.ToUpper(v)
		}
		v = strings.Trim(v, " .,!?")
		if c.re.MatchString(v) {
			return v, nil
		}
		// Spoken with spaces between characters ("S W one A one A A")?
		compact := strings.NewReplacer(" ", "", ",", "", "-", "").Replace(v)
		if c.re.MatchString(compact) {
			return compact, nil
		}
		return "", fmt.Errorf("%q does not match %s", v, c.Pattern)
	default: // text
		return text, nil
	}
}

// speakValue formats a slot value for reading back: digits one by one, dates
// in words.
func speakValue(typ, v string) string {
	switch typ {
	case SlotDigits:
		return strings.Join(strings.Split(v, ""), " ")
	case SlotDate:
		if d, err := time.Parse("2006-01-02", v); err == nil {
			return d.Format("Monday 2 January")
		}
	}
	return v
}

// spelled turns spoken digits in spelled-out codes ("s w one a") into
// numerals, leaving other words alone.
func spelled(text string) string {
	words := strings.Fields(text)
	for i, w := range words {
		lw := strings.ToLower(strings.Trim(w, ",.;"))
		if d := spokenDigit[lw]; d != "" && lw != "to" && lw != "too" && lw != "for" && lw != "o" {
			words[i] = d
		}
	}
	return strings.Join(words, " ")
}
