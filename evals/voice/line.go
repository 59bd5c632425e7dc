package voice

import (
	"context"
	"strings"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/voicebot/vad"
)

// vadCfg is the bot-side detector: the defaults (40 ms onset, 160 ms
// hangover) against flite's speech on a clean line.
var vadCfg = vad.Config{}

const (
	onsetFrames    = 2 // vad defaults, to date speech start and end back
	hangoverFrames = 8
	prerollFrames  = 10 // audio before the onset the recognizer gets too
	// recheck is how often a pause that may end the bot's turn asks the
	// node's record again.
	recheck = 300 * time.Millisecond
)

// speech is one bot turn as the caller heard it: from the first voiced
// frame to the start of the silence that ended it. It is handed over at
// its onset (so waiting for the bot to start speaking is bounded apart
// from how long it speaks); ended is closed when the turn is over.
type speech struct {
	start  time.Time
	ended  chan struct{} // closed when end is set and frames closed
	end    time.Time
	frames chan audio.Frame // to the recognizer, closed at the end of the turn
	done   chan struct{}    // closed when text/err are set
	text   string
	err    error
	// recorded: the node's record showed the bot turn (false: the turn
	// ended on silence alone, MaxPause or the hang-up).
	recorded bool
}

// wait returns the transcription once the turn is over.
func (s *speech) wait(ctx context.Context) (string, error) {
	select {
	case <-s.done:
		return s.text, s.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// line is the caller's side of one call (a media.Application on the
// caller's SIP leg): it reads every frame the bot sends, cuts the bot's
// turns with a VAD and streams each turn into the recognizer as it plays.
//
// A bot turn ends when the bot has been silent for EndOfTurn and the
// node's call record holds a bot turn it had not shown before (the
// voicebot records a reply once it has played out), so a pause inside a
// reply (TTS falling behind on a loaded node) does not end the turn and
// the caller does not talk over the bot. A node whose record cannot be read
// is judged on silence alone; a pause of MaxPause ends the turn in any case.
type line struct {
	c     *Connector
	turns chan *speech
	gone  chan struct{} // closed when the listener stopped (hang-up)
	// started is when the call was placed: the greeting's first_audio
	// includes the call set-up.
	started time.Time
	// botTurns is how many bot turns of the record earlier turns accounted
	// for (loop goroutine only).
	botTurns int
}

func newLine(c *Connector) *line {
	return &line{c: c, turns: make(chan *speech, 32), gone: make(chan struct{}), started: time.Now()}
}

// recordCheck is the answer to "has the node recorded a new bot turn?".
type recordCheck struct {
	bots  int  // bot turns in the record
	known bool // false: the record could not be read
}

// Run listens until the call ends.
func (l *line) Run(ctx context.Context, call media.Call) error {
	defer close(l.gone)
	det := vad.New(vadCfg)
	var (
		cur      *speech
		preroll  []audio.Frame
		silentAt time.Time // when the current silence inside a turn began
		checking bool      // a record check is in flight
		nextAsk  time.Time // no record check before this
	)
	checks := make(chan recordCheck, 1)
	finish := func(end time.Time, recorded bool) {
		cur.end, cur.recorded = end, recorded
		close(cur.frames)
		close(cur.ended)
		cur = nil
	}
	frame := audio.FrameDurationMs * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			if cur != nil {
				finish(time.Now(), false)
			}
			return nil
		case <-call.Done():
			if cur != nil {
				end := silentAt
				if end.IsZero() {
					end = time.Now()
				}
				finish(end, false)
			}
			return nil
		case <-call.Events():
		case rc := <-checks:
			checking = false
			if cur == nil || det.Speaking() || silentAt.IsZero() {
				continue // the bot spoke again meanwhile: not the end
			}
			switch {
			case !rc.known:
				finish(silentAt, false)
			case rc.bots > l.botTurns:
				l.botTurns = rc.bots
				finish(silentAt, true)
			default:
				nextAsk = time.Now().Add(recheck) // a pause inside the reply
			}
		case f := <-call.Frames():
			now := time.Now()
			ev := det.Process(&f)
			if cur == nil {
				preroll = append(preroll, f)
				if len(preroll) > prerollFrames {
					preroll = preroll[1:]
				}
				if ev != vad.SpeechStart {
					continue
				}
				cur = l.begin(ctx, now.Add(-(onsetFrames-1)*frame), preroll)
				preroll, silentAt, nextAsk = nil, time.Time{}, time.Time{}
				select {
				case l.turns <- cur:
				default:
					l.c.cfg.Log.Warn("voice eval: bot turn dropped, nobody listening", "call", call.ID())
				}
				continue
			}
			select {
			case cur.frames <- f:
			default: // the recognizer is far behind; it loses a frame, the timing does not
			}
			switch ev {
			case vad.SpeechStart:
				silentAt = time.Time{}
			case vad.SpeechEnd:
				silentAt = now.Add(-hangoverFrames * frame)
			}
			quiet := !det.Speaking() && !silentAt.IsZero()
			switch {
			case quiet && now.Sub(silentAt) >= l.c.cfg.MaxPause:
				finish(silentAt, false)
			case quiet && now.Sub(silentAt) >= l.c.cfg.EndOfTurn && !checking && !now.Before(nextAsk):
				checking = true
				go func() { checks <- l.countBotTurns(ctx, call.ID()) }()
			case now.Sub(cur.start) >= l.c.cfg.MaxBotTurn:
				finish(now, false)
			}
		}
	}
}

// countBotTurns reads how many bot turns the node has recorded for the call.
func (l *line) countBotTurns(ctx context.Context, callID string) recordCheck {
	if l.c.cfg.SilenceOnly {
		return recordCheck{}
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rec, err := l.c.record(cctx, callID)
	if err != nil {
		return recordCheck{}
	}
	n := 0
	for _, t := range rec.Turns {
		if t.Speaker == store.SpeakerBot {
			n++
		}
	}
	return recordCheck{bots: n, known: true}
}

// begin starts a bot turn and its transcription.
func (l *line) begin(ctx context.Context, start time.Time, preroll []audio.Frame) *speech {
	s := &speech{start: start, ended: make(chan struct{}), frames: make(chan audio.Frame, 120*50), done: make(chan struct{})}
	for _, f := range preroll {
		s.frames <- f
	}
	l.c.asrWG.Add(1)
	go func() {
		defer l.c.asrWG.Done()
		defer close(s.done)
		text, err := l.c.transcribe(context.WithoutCancel(ctx), s.frames)
		s.text, s.err = strings.TrimSpace(text), err
	}()
	return s
}
