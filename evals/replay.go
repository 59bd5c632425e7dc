package evals

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/voicebot/dialog"
)

// ReplaySource supplies a recorded conversation for a scenario (by its
// call_id).
type ReplaySource interface {
	Transcript(ctx context.Context, sc *Scenario) (*Transcript, error)
}

// StoreReplay reads calls Parley recorded: their turns and events.
type StoreReplay struct{ Calls store.CallStore }

// Transcript loads the scenario's call from the store.
func (s StoreReplay) Transcript(ctx context.Context, sc *Scenario) (*Transcript, error) {
	if sc.CallID == "" {
		return nil, fmt.Errorf("scenario %s has no call_id to replay", sc.ID)
	}
	turns, err := s.Calls.ListTurns(ctx, sc.CallID)
	if err != nil {
		return nil, fmt.Errorf("call %s: turns: %w", sc.CallID, err)
	}
	events, err := s.Calls.ListCallEvents(ctx, sc.CallID)
	if err != nil {
		return nil, fmt.Errorf("call %s: events: %w", sc.CallID, err)
	}
	if len(turns) == 0 {
		if _, err := s.Calls.GetCall(ctx, sc.CallID); err != nil {
			return nil, fmt.Errorf("call %s: %w", sc.CallID, err)
		}
		return nil, fmt.Errorf("call %s has no transcript turns", sc.CallID)
	}
	recs := make([]Record, 0, len(turns)+len(events))
	for _, t := range turns {
		recs = append(recs, Record{Turn: t})
	}
	for _, e := range events {
		ev := e
		recs = append(recs, Record{Event: &ev})
	}
	return BuildTranscript(sc.CallID, recs), nil
}

// Record is one line of a JSONL transcript file: a turn (the store.Turn
// fields, plus citations, slots and action that the judges use) or, when
// "type" is set, a call event (store.CallEvent).
type Record struct {
	store.Turn
	Citations []dialog.Citation `json:"citations,omitempty"`
	Slots     map[string]string `json:"slots,omitempty"`
	Action    *Action           `json:"action,omitempty"`
	Event     *store.CallEvent  `json:"-"`
}

// BuildTranscript orders a call's turns and events and folds the events
// into the transcript: handoff/transfer events become transfer actions on
// the bot turn before them, callback events callbacks, a hangup by the bot
// an end, dtmf events caller key turns.
func BuildTranscript(callID string, recs []Record) *Transcript {
	recs = orderRecords(recs)
	tr := &Transcript{CallID: callID}
	step := -1
	// The voicebot records a key press as a caller turn "(pressed 1)"; the
	// gateway's dtmf events then say the same again.
	keyTurns := false
	var callerTimings map[string]float64
	for _, r := range recs {
		if r.Event == nil && r.Speaker == store.SpeakerCaller && pressedRE.MatchString(r.Text) {
			keyTurns = true
		}
	}
	lastBot := func() *Turn {
		for i := len(tr.Turns) - 1; i >= 0; i-- {
			if tr.Turns[i].Speaker == "bot" {
				return &tr.Turns[i]
			}
		}
		tr.Turns = append(tr.Turns, Turn{Speaker: "bot", Step: step})
		return &tr.Turns[len(tr.Turns)-1]
	}
	for _, r := range recs {
		if e := r.Event; e != nil {
			switch e.Type {
			case "handoff", "transfer", "queued":
				if tr.handoff() == nil {
					lastBot().Action = &Action{Kind: "transfer", Queue: firstNonEmpty(e.Data["queue"], e.Data["queue_id"]), Reason: e.Data["reason"]}
					tr.Ended = true
				}
			case "callback":
				b := lastBot()
				if b.Action == nil {
					b.Action = &Action{Kind: "callback", CallbackID: firstNonEmpty(e.Data["callback_id"], e.Data["id"])}
				}
			case "hangup":
				if e.By == "bot" || e.By == "system" {
					if b := lastBot(); b.Action == nil {
						b.Action = &Action{Kind: "end"}
					}
					tr.Ended = true
				}
			case "cited":
				b := lastBot()
				for _, d := range strings.Split(e.Data["documents"], ",") {
					if d = strings.TrimSpace(d); d != "" {
						b.Citations = append(b.Citations, dialog.Citation{DocumentID: d, Passage: e.Data["passage:"+d]})
					}
				}
			case "slots":
				b := lastBot()
				if b.Slots == nil {
					b.Slots = map[string]string{}
				}
				for k, v := range e.Data {
					b.Slots[k] = v
				}
			case "dtmf":
				digits := firstNonEmpty(e.Data["digits"], e.Data["digit"])
				if digits != "" && !keyTurns {
					step++
					tr.Turns = append(tr.Turns, Turn{Speaker: "caller", DTMF: digits, Step: step})
				}
			}
			continue
		}
		t := r.Turn
		speaker := t.Speaker
		if speaker == "caller" {
			step++
		}
		turn := Turn{Speaker: speaker, Text: t.Text, Intent: t.Intent, Confidence: t.Confidence, Sentiment: t.Sentiment,
			Citations: r.Citations, Slots: r.Slots, Action: r.Action, Step: step}
		if m := pressedRE.FindStringSubmatch(t.Text); m != nil && speaker == store.SpeakerCaller {
			turn.Text, turn.DTMF = "", m[1]
		}
		if speaker == "bot" {
			turn.Intent, turn.Confidence, turn.Sentiment = "", 0, 0
			turn.Latency = timings(t.Timings)
			if turn.Latency == nil {
				// The voicebot stores a turn's pipeline timings on the caller's
				// turn (each is measured from the caller's end of speech).
				turn.Latency, callerTimings = callerTimings, nil
			}
		} else if speaker == store.SpeakerCaller {
			callerTimings = timings(t.Timings)
		}
		tr.Turns = append(tr.Turns, turn)
		if endsCall(r.Action) {
			tr.Ended = true
		}
	}
	return tr
}

// orderRecords puts turns in the order they were stored (Seq, when set:
// the voicebot stores a reply cut by a key press with the time its playback
// stopped, after the key's turn time) and each event after the last turn
// at or before its time (a turn before its consequence).
func orderRecords(recs []Record) []Record {
	var turns, events []Record
	for _, r := range recs {
		if r.Event != nil {
			events = append(events, r)
		} else {
			turns = append(turns, r)
		}
	}
	sort.SliceStable(turns, func(i, j int) bool {
		if turns[i].Seq > 0 && turns[j].Seq > 0 {
			return turns[i].Seq < turns[j].Seq
		}
		return turns[i].At.Before(turns[j].At)
	})
	sort.SliceStable(events, func(i, j int) bool { return events[i].Event.At.Before(events[j].Event.At) })
	out := make([]Record, 0, len(recs))
	var reached time.Time // the latest turn time so far
	e := 0
	for _, t := range turns {
		at := t.At
		if at.Before(reached) {
			at = reached
		}
		for e < len(events) && events[e].Event.At.Before(at) {
			out = append(out, events[e])
			e++
		}
		out = append(out, t)
		reached = at
	}
	return append(out, events[e:]...)
}

// pressedRE is the text the voicebot records for a key-press turn.
var pressedRE = regexp.MustCompile(`^\(pressed ([0-9*#A-D]+)\)$`)

func (r Record) at() time.Time {
	if r.Event != nil {
		return r.Event.At
	}
	return r.Turn.At
}

func timings(t store.Timings) map[string]float64 {
	out := map[string]float64{}
	for k, v := range map[string]float64{"asr_final": t.ASRFinalMs, "llm_first_token": t.LLMFirstTokenMs,
		"tts_first_audio": t.TTSFirstAudioMs, "first_rtp_out": t.FirstRTPOutMs} {
		if v > 0 {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// JSONLReplay holds calls imported from a JSONL transcript file.
type JSONLReplay struct {
	Calls map[string]*Transcript
	Order []string // call ids in first-seen order
}

// LoadJSONL reads a transcript file: one JSON object per line, a turn or an
// event (with "type"), each with its call_id. Errors name file:line.
func LoadJSONL(path string) (*JSONLReplay, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read transcripts: %w", err)
	}
	defer f.Close()
	return ReadJSONL(path, f)
}

// ReadJSONL reads transcripts from r; name is used in errors.
func ReadJSONL(name string, r io.Reader) (*JSONLReplay, error) {
	byCall := map[string][]Record{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var probe struct {
			Type   string `json:"type"`
			CallID string `json:"call_id"`
		}
		if err := json.Unmarshal(b, &probe); err != nil {
			return nil, &LoadError{File: name, Line: line, Msg: "invalid JSON: " + err.Error()}
		}
		if probe.CallID == "" {
			return nil, &LoadError{File: name, Line: line, Field: "call_id", Msg: "missing"}
		}
		var rec Record
		if probe.Type != "" {
			var e store.CallEvent
			if err := json.Unmarshal(b, &e); err != nil {
				return nil, &LoadError{File: name, Line: line, Msg: "invalid event: " + err.Error()}
			}
			rec.Event = &e
		} else {
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&rec); err != nil {
				return nil, &LoadError{File: name, Line: line, Msg: "invalid turn: " + err.Error()}
			}
			switch rec.Speaker {
			case store.SpeakerCaller, store.SpeakerBot, store.SpeakerAgent:
			default:
				return nil, &LoadError{File: name, Line: line, Field: "speaker", Msg: fmt.Sprintf("%q: want caller, bot or agent", rec.Speaker)}
			}
		}
		if _, seen := byCall[probe.CallID]; !seen {
			order = append(order, probe.CallID)
		}
		byCall[probe.CallID] = append(byCall[probe.CallID], rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(order) == 0 {
		return nil, &LoadError{File: name, Msg: "empty transcript file: no turns"}
	}
	out := &JSONLReplay{Calls: map[string]*Transcript{}, Order: order}
	for _, id := range order {
		out.Calls[id] = BuildTranscript(id, byCall[id])
	}
	return out, nil
}

// Transcript returns the scenario's call.
func (j *JSONLReplay) Transcript(_ context.Context, sc *Scenario) (*Transcript, error) {
	t, ok := j.Calls[sc.CallID]
	if !ok {
		return nil, fmt.Errorf("call %s is not in the transcript file", sc.CallID)
	}
	cp := *t
	return &cp, nil
}

// ReplaySuite scores recorded calls that no suite describes: one scenario
// per call with no expectations beyond the suite's compliance rules, the
// groundedness judge and the metrics.
func ReplaySuite(name string, callIDs []string, c Compliance) (*Suite, error) {
	if len(callIDs) == 0 {
		return nil, errors.New("no calls to replay")
	}
	s := &Suite{Name: name, Compliance: c}
	for _, id := range callIDs {
		s.Scenarios = append(s.Scenarios, Scenario{ID: sanitizeID(id), CallID: id})
	}
	return s, nil
}

func sanitizeID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (r == '_' || r == '.' || r == ':' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" || !idRE.MatchString(out) {
		out = "call-" + out
	}
	if len(out) > 128 {
		out = out[:128]
	}
	return out
}
