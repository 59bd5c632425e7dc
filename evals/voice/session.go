package voice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/parley-cc/parley/evals"
	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/gateway/sip"
	"github.com/parley-cc/parley/store"
)

// session is one scenario's call.
type session struct {
	c        *Connector
	l        *line
	call     *sip.Call
	id       string // the call's id on both sides (sip.CallRef of the Call-ID)
	answered time.Time
	step     int    // caller turns sent
	desk     *desk  // the agent staffed for this scenario, if any
	release  func() // lets the next staffed (or other) scenario call
	botTurns int    // bot turns returned so far
	pending  []pendingHeard
}

// pendingHeard is a bot turn whose transcription was not ready when the
// turn ended.
type pendingHeard struct {
	botTurn int // its index among the session's bot turns
	sp      *speech
}

// unstaff logs the scenario's agent out and lets other scenarios call.
func (s *session) unstaff() {
	if s.desk != nil {
		s.desk.close()
		s.desk = nil
	}
	if s.release != nil {
		s.release()
		s.release = nil
	}
}

// keyGap separates RFC 4733 key presses (each event lasts 100 ms).
const keyGap = 200 * time.Millisecond

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Greet waits for the bot's greeting.
func (s *session) Greet(ctx context.Context) (evals.Turn, error) {
	// Any speech counts: the listener started before Dial returned.
	t, err := s.botTurn(ctx, time.Time{}, s.l.started)
	if err != nil {
		return t, fmt.Errorf("greeting: %w", err)
	}
	return t, nil
}

// Send speaks (or keys) the caller's turn, then waits for the bot's reply
// to end. first_audio is measured from the end of the caller's audio on
// the wire to the bot's first voiced frame back.
func (s *session) Send(ctx context.Context, in evals.Input) (evals.Turn, evals.Turn, error) {
	caller := evals.Turn{Speaker: "caller", Text: in.Text, DTMF: in.DTMF}
	select {
	case <-s.call.Done():
		return caller, evals.Turn{}, errors.New("the call had already ended")
	default:
	}
	began := time.Now()
	if strings.TrimSpace(in.Text) != "" {
		frames, err := s.c.say(ctx, in.Text)
		if err != nil {
			return caller, evals.Turn{}, err
		}
		if err := media.Play(ctx, s.call, frames); err != nil {
			return caller, evals.Turn{}, fmt.Errorf("speak %q: %w", in.Text, err)
		}
		// The leg queues a few frames: once this much silence has been
		// taken, the last frame of speech is on the wire.
		if err := media.Play(ctx, s.call, make([]audio.Frame, 10)); err != nil {
			return caller, evals.Turn{}, fmt.Errorf("speak %q: %w", in.Text, err)
		}
	}
	for i := 0; i < len(in.DTMF); i++ {
		if i > 0 || in.Text != "" {
			if err := sleep(ctx, keyGap); err != nil {
				return caller, evals.Turn{}, err
			}
		}
		if err := s.call.SendDigit(in.DTMF[i]); err != nil {
			return caller, evals.Turn{}, fmt.Errorf("send key %q: %w", in.DTMF[i], err)
		}
	}
	if in.DTMF != "" {
		if err := sleep(ctx, 140*time.Millisecond); err != nil { // the event's 100 ms and its end packets
			return caller, evals.Turn{}, err
		}
	}
	sent := time.Now()
	s.step++
	bot, err := s.botTurn(ctx, began, sent)
	return caller, bot, err
}

// botTurn waits for the bot's next turn that started after after, and
// returns it transcribed; first_audio is measured from since. The bot must
// start speaking within FirstAudioTimeout; how long it then speaks is
// bounded by the line (MaxBotTurn, MaxPause).
func (s *session) botTurn(ctx context.Context, after, since time.Time) (evals.Turn, error) {
	defer func() { s.botTurns++ }()
	t := evals.Turn{Speaker: "bot"}
	timer := time.NewTimer(s.c.cfg.FirstAudioTimeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-timer.C:
			if s.handedOff(ctx) {
				t.Action = &evals.Action{Kind: "transfer"}
				return t, nil
			}
			return t, fmt.Errorf("the bot said nothing for %s%s", s.c.cfg.FirstAudioTimeout, s.lastRecorded(ctx))
		case sp := <-s.l.turns:
			if sp.start.Before(after) {
				continue // the tail of an earlier turn
			}
			select {
			case <-sp.ended:
			case <-ctx.Done():
				return t, ctx.Err()
			}
			// A caller answers when the bot stops, not when a loaded
			// recognizer is done: after TranscriptWait the turn goes on and
			// Finish fills in what was heard.
			wait := time.NewTimer(s.c.cfg.TranscriptWait)
			select {
			case <-sp.done:
				if sp.err != nil {
					wait.Stop()
					return t, fmt.Errorf("transcribe the bot: %w", sp.err)
				}
				t.Text, t.Heard = sp.text, sp.text
			case <-wait.C:
				s.pending = append(s.pending, pendingHeard{botTurn: s.botTurns, sp: sp})
			case <-ctx.Done():
				return t, ctx.Err()
			}
			wait.Stop()
			t.Latency = map[string]float64{"first_audio": ms(max(0, sp.start.Sub(since))), "bot_speech": ms(sp.end.Sub(sp.start))}
			// What the turn made the call do, so the run stops at a hang-up
			// or hand-off; Finish rebuilds every action from the record.
			select {
			case <-s.l.gone:
				t.Action = &evals.Action{Kind: "end"}
			default:
				if s.handedOff(ctx) {
					t.Action = &evals.Action{Kind: "transfer"}
				}
			}
			return t, nil
		case <-s.l.gone:
			// Hung up without another word; drain a turn the hang-up finished.
			select {
			case sp := <-s.l.turns:
				if !sp.start.Before(after) {
					<-sp.ended
					text, _ := sp.wait(ctx)
					t.Text, t.Heard = text, text
					t.Latency = map[string]float64{"first_audio": ms(max(0, sp.start.Sub(since)))}
				}
			default:
			}
			t.Action = &evals.Action{Kind: "end"}
			return t, nil
		}
	}
}

// lastRecorded says what the node's record holds at the end of the call,
// for an error about a silent bot: did it hear the caller, did it answer
// (and the caller's side missed it), or did it do nothing?
func (s *session) lastRecorded(ctx context.Context) string {
	rec, err := s.c.record(ctx, s.id)
	if err != nil {
		return ""
	}
	var parts []string
	from := max(0, len(rec.Turns)-3)
	for _, t := range rec.Turns[from:] {
		parts = append(parts, fmt.Sprintf("%s %q", t.Speaker, t.Text))
	}
	if len(parts) == 0 {
		return " (the record holds no turn)"
	}
	return " (last turns in the node's record: " + strings.Join(parts, ", ") + ")"
}

// handedOff reports whether the record shows a hand-off already.
func (s *session) handedOff(ctx context.Context) bool {
	rec, err := s.c.record(ctx, s.id)
	if err != nil {
		return false
	}
	for _, e := range rec.Events {
		if e.Type == "handoff" || e.Type == "transfer" || e.Type == "queued" {
			return true
		}
	}
	return false
}

// Close hangs up (a no-op when the bot already did).
func (s *session) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.call.Hangup(ctx)
	<-s.l.gone
	s.unstaff()
}

// Finish completes the transcript from the call record: the caller turns
// get the intent, confidence and sentiment the bot recognised (Heard: the
// words its recognizer made of the caller's audio), the bot turns the
// words the record says were spoken (Heard keeps what the caller's
// recognizer heard), citations, slots, actions and pipeline timings.
func (s *session) Finish(ctx context.Context, tr *evals.Transcript) error {
	if err := s.fillHeard(ctx, tr); err != nil {
		return err
	}
	rec, err := s.c.endedRecord(ctx, s.id)
	if err != nil {
		return err
	}
	Merge(tr, rec)
	return nil
}

// fillHeard waits for the transcriptions still running and puts them on
// their bot turns.
func (s *session) fillHeard(ctx context.Context, tr *evals.Transcript) error {
	if len(s.pending) == 0 {
		return nil
	}
	want := map[int]*speech{}
	for _, p := range s.pending {
		want[p.botTurn] = p.sp
	}
	k := 0
	for i := range tr.Turns {
		if tr.Turns[i].Speaker != store.SpeakerBot {
			continue
		}
		if sp := want[k]; sp != nil {
			text, err := sp.wait(ctx)
			if err != nil {
				return fmt.Errorf("transcribe the bot: %w", err)
			}
			tr.Turns[i].Text, tr.Turns[i].Heard = text, text
		}
		k++
	}
	return nil
}

// Merge folds a call record into a voice-mode transcript. Caller turns are
// matched in order; a bot turn takes the record's bot turns of its step.
func Merge(tr *evals.Transcript, rec *httpapi.CallTranscript) {
	recs := make([]evals.Record, 0, len(rec.Turns)+len(rec.Events))
	for _, t := range rec.Turns {
		recs = append(recs, evals.Record{Turn: t})
	}
	for i := range rec.Events {
		recs = append(recs, evals.Record{Event: &rec.Events[i]})
	}
	stored := evals.BuildTranscript(rec.Call.ID, recs)
	tr.CallID = rec.Call.ID

	var storedCallers []evals.Turn
	botsByStep := map[int][]evals.Turn{}
	for _, t := range stored.Turns {
		if t.Speaker == store.SpeakerCaller {
			storedCallers = append(storedCallers, t)
		} else if t.Speaker == store.SpeakerBot {
			botsByStep[t.Step] = append(botsByStep[t.Step], t)
		}
	}
	k := 0
	for i := range tr.Turns {
		t := &tr.Turns[i]
		switch t.Speaker {
		case store.SpeakerCaller:
			if k < len(storedCallers) {
				sc := storedCallers[k]
				t.Intent, t.Confidence, t.Sentiment = sc.Intent, sc.Confidence, sc.Sentiment
				t.Heard = sc.Text
				if sc.DTMF != "" {
					t.Heard = "(pressed " + sc.DTMF + ")"
				}
			}
			k++
		case store.SpeakerBot:
			bots := botsByStep[t.Step]
			var said []string
			t.Action = nil
			for _, b := range bots {
				if b.Text != "" {
					said = append(said, b.Text)
				}
				t.Citations = append(t.Citations, b.Citations...)
				for name, v := range b.Slots {
					if t.Slots == nil {
						t.Slots = map[string]string{}
					}
					t.Slots[name] = v
				}
				if b.Action != nil {
					a := *b.Action
					t.Action = &a
				}
				for stage, v := range b.Latency {
					if t.Latency == nil {
						t.Latency = map[string]float64{}
					}
					t.Latency[stage] = v
				}
			}
			if len(said) > 0 {
				t.Text = strings.Join(said, " ")
			}
		}
	}
	tr.Ended = stored.Ended
}

// record reads the call's record.
func (c *Connector) record(ctx context.Context, callID string) (*httpapi.CallTranscript, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.API+"/api/v1/calls/"+url.PathEscape(callID), nil)
	if err != nil {
		return nil, err
	}
	res, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("call record %s: %w", callID, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return nil, fmt.Errorf("call record %s: GET %s: %s: %s", callID, req.URL, res.Status, strings.TrimSpace(string(b)))
	}
	var out httpapi.CallTranscript
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("call record %s: %w", callID, err)
	}
	return &out, nil
}

// endedRecord waits for the record to show the call ended (the node
// writes behind the call), then returns it.
func (c *Connector) endedRecord(ctx context.Context, callID string) (*httpapi.CallTranscript, error) {
	deadline := time.Now().Add(c.cfg.RecordTimeout)
	for {
		rec, err := c.record(ctx, callID)
		if err == nil && (rec.Call.State == store.CallEnded || rec.Call.State == store.CallAbandon) {
			return rec, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("call record %s: still %q %s after the hang-up", callID, rec.Call.State, c.cfg.RecordTimeout)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
