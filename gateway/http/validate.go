package httpapi

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/parley-cc/parley/store"
)

// Limits on request values.
const (
	maxNameLen     = 200
	maxTextLen     = 10000
	maxSkills      = 50
	maxLanguages   = 20
	maxCapacity    = 20
	maxServiceSecs = 3600
	maxListLimit   = 1000
	defaultLimit   = 100
)

var (
	idPattern        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)
	skillPattern     = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	languagePattern  = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	extensionPattern = regexp.MustCompile(`^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,64}$`)
)

// idRule describes valid ids for error messages and the OpenAPI document.
const idRule = "1-64 characters: letters, digits, '_', '.', ':' or '-', starting with a letter or digit"

// strategies are the queue routing strategies the routing engine knows.
var strategies = []string{"longest_idle", "least_occupied", "most_skilled", "round_robin", "weighted_random"}

// callStates are the states a call can be in, for the calls list filter.
var callStates = []string{store.CallRinging, store.CallBot, store.CallQueued, store.CallAgent, store.CallEnded, store.CallHandoff, store.CallAbandon}

// speakers are who can say a transcript turn.
var speakers = []string{store.SpeakerCaller, store.SpeakerBot, store.SpeakerAgent}

// SkillInput is a skill with its proficiency from 1 (novice) to 5 (expert).
type SkillInput struct {
	Name        string `json:"name" pattern:"^[a-z0-9][a-z0-9_.-]{0,63}$" description:"Skill name, lower case, e.g. billing."`
	Proficiency int    `json:"proficiency" minimum:"1" maximum:"5" description:"1 (novice) to 5 (expert); for a queue, the minimum required."`
}

// AgentInput is the body of an agent create or replace.
type AgentInput struct {
	ID        string       `json:"id,omitempty" pattern:"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$" description:"Agent id; generated on create when absent; must match the path on replace."`
	Name      string       `json:"name" required:"true" description:"Display name, 1-200 characters."`
	Email     string       `json:"email,omitempty" description:"E-mail address."`
	Extension string       `json:"extension,omitempty" description:"SIP user of the agent's phone."`
	Skills    []SkillInput `json:"skills,omitempty" description:"Skills, each named once."`
	Languages []string     `json:"languages,omitempty" description:"Languages as BCP 47 tags, e.g. en or es-MX."`
	Capacity  *int         `json:"capacity,omitempty" minimum:"1" maximum:"20" description:"Concurrent voice contacts; 1 when absent."`
}

// QueueInput is the body of a queue create or replace.
type QueueInput struct {
	ID               string       `json:"id,omitempty" pattern:"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$" description:"Queue id; generated on create when absent; must match the path on replace."`
	Name             string       `json:"name" required:"true" description:"Display name, 1-200 characters."`
	RequiredSkills   []SkillInput `json:"required_skills,omitempty" description:"Minimum proficiency per skill an agent needs to serve the queue."`
	Language         string       `json:"language,omitempty" description:"Language of the queue as a BCP 47 tag."`
	Strategy         string       `json:"strategy,omitempty" enum:"longest_idle,least_occupied,most_skilled,round_robin,weighted_random" description:"How an agent is chosen; longest_idle when absent."`
	ServiceLevelSecs *int         `json:"service_level_secs,omitempty" minimum:"1" maximum:"3600" description:"Target answer time in seconds; 20 when absent."`
	OverflowQueueID  string       `json:"overflow_queue_id,omitempty" description:"Queue that takes contacts waiting longer than overflow_after_secs."`
	OverflowAfterSec int          `json:"overflow_after_secs,omitempty" minimum:"0" maximum:"3600" description:"Seconds before overflow; required with overflow_queue_id."`
}

// TurnInput is the body of a transcript turn to record.
type TurnInput struct {
	Speaker    string        `json:"speaker" required:"true" enum:"caller,bot,agent" description:"Who spoke."`
	Text       string        `json:"text" required:"true" description:"What was said, 1-10000 characters."`
	Intent     string        `json:"intent,omitempty" description:"Recognised intent."`
	Confidence float64       `json:"confidence,omitempty" minimum:"0" maximum:"1" description:"Intent confidence, 0 to 1."`
	Sentiment  float64       `json:"sentiment,omitempty" minimum:"-1" maximum:"1" description:"Sentiment, -1 (negative) to 1 (positive)."`
	Timings    store.Timings `json:"timings,omitempty" description:"Voice-loop latencies in milliseconds."`
}

// checkID validates an id taken from a path or a body field.
func checkID(field, id string) error {
	if !idPattern.MatchString(id) {
		return errorf(http.StatusBadRequest, field, "invalid id %q: want %s", truncate(id, 80), idRule)
	}
	return nil
}

// checkName validates a required display name.
func checkName(field, name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errorf(http.StatusUnprocessableEntity, field, "must not be empty")
	case utf8.RuneCountInString(name) > maxNameLen:
		return errorf(http.StatusUnprocessableEntity, field, "longer than %d characters", maxNameLen)
	case !utf8.ValidString(name) || strings.ContainsFunc(name, isControl):
		return errorf(http.StatusUnprocessableEntity, field, "contains control characters or invalid UTF-8")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// checkSkills validates a skill list and returns it in store form.
func checkSkills(field string, in []SkillInput) ([]store.Skill, error) {
	if len(in) > maxSkills {
		return nil, errorf(http.StatusUnprocessableEntity, field, "more than %d skills", maxSkills)
	}
	out := make([]store.Skill, 0, len(in))
	seen := map[string]bool{}
	for i, s := range in {
		at := fmt.Sprintf("%s[%d]", field, i)
		if !skillPattern.MatchString(s.Name) {
			return nil, errorf(http.StatusUnprocessableEntity, at+".name", "invalid skill name %q: want 1-64 lower-case letters, digits, '_', '.' or '-'", truncate(s.Name, 80))
		}
		if seen[s.Name] {
			return nil, errorf(http.StatusUnprocessableEntity, at+".name", "skill %q is listed twice", s.Name)
		}
		seen[s.Name] = true
		if s.Proficiency < 1 || s.Proficiency > 5 {
			return nil, errorf(http.StatusUnprocessableEntity, at+".proficiency", "proficiency %d is outside 1-5", s.Proficiency)
		}
		out = append(out, store.Skill{Name: s.Name, Proficiency: s.Proficiency})
	}
	return out, nil
}

func checkLanguage(field, tag string) error {
	if !languagePattern.MatchString(tag) {
		return errorf(http.StatusUnprocessableEntity, field, "invalid language tag %q: want a BCP 47 tag such as en or es-MX", truncate(tag, 80))
	}
	return nil
}

// agent validates in and returns the agent it describes with the given id.
func (in *AgentInput) agent(id string) (*store.Agent, error) {
	if err := checkName("name", in.Name); err != nil {
		return nil, err
	}
	if in.Email != "" {
		at := strings.IndexByte(in.Email, '@')
		if at < 1 || at == len(in.Email)-1 || len(in.Email) > 254 || strings.ContainsAny(in.Email, " \t\r\n<>") {
			return nil, errorf(http.StatusUnprocessableEntity, "email", "invalid e-mail address %q", truncate(in.Email, 80))
		}
	}
	if in.Extension != "" && !extensionPattern.MatchString(in.Extension) {
		return nil, errorf(http.StatusUnprocessableEntity, "extension", "invalid SIP user %q: want 1-64 characters without spaces, '@' or ':'", truncate(in.Extension, 80))
	}
	skills, err := checkSkills("skills", in.Skills)
	if err != nil {
		return nil, err
	}
	if len(in.Languages) > maxLanguages {
		return nil, errorf(http.StatusUnprocessableEntity, "languages", "more than %d languages", maxLanguages)
	}
	langs := make([]string, 0, len(in.Languages))
	seen := map[string]bool{}
	for i, l := range in.Languages {
		field := fmt.Sprintf("languages[%d]", i)
		if err := checkLanguage(field, l); err != nil {
			return nil, err
		}
		if seen[l] {
			return nil, errorf(http.StatusUnprocessableEntity, field, "language %q is listed twice", l)
		}
		seen[l] = true
		langs = append(langs, l)
	}
	capacity := 1
	if in.Capacity != nil {
		capacity = *in.Capacity
		if capacity < 1 || capacity > maxCapacity {
			return nil, errorf(http.StatusUnprocessableEntity, "capacity", "capacity %d is outside 1-%d", capacity, maxCapacity)
		}
	}
	return &store.Agent{
		ID: id, Name: strings.TrimSpace(in.Name), Email: in.Email, Extension: in.Extension,
		Skills: skills, Languages: langs, Capacity: capacity,
	}, nil
}

// queue validates in, except that the overflow queue exists, and returns the
// queue it describes with the given id.
func (in *QueueInput) queue(id string) (*store.Queue, error) {
	if err := checkName("name", in.Name); err != nil {
		return nil, err
	}
	skills, err := checkSkills("required_skills", in.RequiredSkills)
	if err != nil {
		return nil, err
	}
	if in.Language != "" {
		if err := checkLanguage("language", in.Language); err != nil {
			return nil, err
		}
	}
	strategy := in.Strategy
	if strategy == "" {
		strategy = strategies[0]
	}
	if !contains(strategies, strategy) {
		return nil, errorf(http.StatusUnprocessableEntity, "strategy", "unknown strategy %q: want one of %s", truncate(strategy, 80), strings.Join(strategies, ", "))
	}
	sl := 20
	if in.ServiceLevelSecs != nil {
		sl = *in.ServiceLevelSecs
		if sl < 1 || sl > maxServiceSecs {
			return nil, errorf(http.StatusUnprocessableEntity, "service_level_secs", "service level %d s is outside 1-%d", sl, maxServiceSecs)
		}
	}
	if in.OverflowAfterSec < 0 || in.OverflowAfterSec > maxServiceSecs {
		return nil, errorf(http.StatusUnprocessableEntity, "overflow_after_secs", "overflow delay %d s is outside 0-%d", in.OverflowAfterSec, maxServiceSecs)
	}
	if in.OverflowQueueID != "" {
		if !idPattern.MatchString(in.OverflowQueueID) {
			return nil, errorf(http.StatusUnprocessableEntity, "overflow_queue_id", "invalid id %q: want %s", truncate(in.OverflowQueueID, 80), idRule)
		}
		if in.OverflowQueueID == id {
			return nil, errorf(http.StatusUnprocessableEntity, "overflow_queue_id", "a queue cannot overflow into itself")
		}
		if in.OverflowAfterSec == 0 {
			return nil, errorf(http.StatusUnprocessableEntity, "overflow_after_secs", "required (1-%d) when overflow_queue_id is set", maxServiceSecs)
		}
	} else if in.OverflowAfterSec != 0 {
		return nil, errorf(http.StatusUnprocessableEntity, "overflow_queue_id", "required when overflow_after_secs is set")
	}
	return &store.Queue{
		ID: id, Name: strings.TrimSpace(in.Name), RequiredSkills: skills, Language: in.Language,
		Strategy: strategy, ServiceLevelSecs: sl, OverflowQueueID: in.OverflowQueueID, OverflowAfterSec: in.OverflowAfterSec,
	}, nil
}

// turn validates in and returns the turn it describes.
func (in *TurnInput) turn(callID string) (store.Turn, error) {
	if !contains(speakers, in.Speaker) {
		return store.Turn{}, errorf(http.StatusUnprocessableEntity, "speaker", "unknown speaker %q: want one of %s", truncate(in.Speaker, 80), strings.Join(speakers, ", "))
	}
	switch {
	case strings.TrimSpace(in.Text) == "":
		return store.Turn{}, errorf(http.StatusUnprocessableEntity, "text", "must not be empty")
	case utf8.RuneCountInString(in.Text) > maxTextLen:
		return store.Turn{}, errorf(http.StatusUnprocessableEntity, "text", "longer than %d characters", maxTextLen)
	case !utf8.ValidString(in.Text):
		return store.Turn{}, errorf(http.StatusUnprocessableEntity, "text", "not valid UTF-8")
	}
	if len(in.Intent) > maxNameLen {
		return store.Turn{}, errorf(http.StatusUnprocessableEntity, "intent", "longer than %d characters", maxNameLen)
	}
	if in.Confidence < 0 || in.Confidence > 1 {
		return store.Turn{}, errorf(http.StatusUnprocessableEntity, "confidence", "confidence %g is outside 0-1", in.Confidence)
	}
	if in.Sentiment < -1 || in.Sentiment > 1 {
		return store.Turn{}, errorf(http.StatusUnprocessableEntity, "sentiment", "sentiment %g is outside -1..1", in.Sentiment)
	}
	for _, t := range []struct {
		name string
		v    float64
	}{
		{"timings.asr_final_ms", in.Timings.ASRFinalMs},
		{"timings.llm_first_token_ms", in.Timings.LLMFirstTokenMs},
		{"timings.tts_first_audio_ms", in.Timings.TTSFirstAudioMs},
		{"timings.first_rtp_out_ms", in.Timings.FirstRTPOutMs},
	} {
		if t.v < 0 {
			return store.Turn{}, errorf(http.StatusUnprocessableEntity, t.name, "must not be negative, got %g", t.v)
		}
	}
	return store.Turn{
		CallID: callID, Speaker: in.Speaker, Text: in.Text, Intent: in.Intent,
		Confidence: in.Confidence, Sentiment: in.Sentiment, Timings: in.Timings,
	}, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// truncate shortens s for echoing back in an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
