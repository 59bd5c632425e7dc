package voicebot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/voicebot/asr"
	"github.com/parley-cc/parley/voicebot/chunker"
	"github.com/parley-cc/parley/voicebot/dialog"
	"github.com/parley-cc/parley/voicebot/tts"
	"github.com/parley-cc/parley/voicebot/turn"
	"github.com/parley-cc/parley/voicebot/vad"
)

var (
	errBargeIn = errors.New("caller barged in")
	errStall   = errors.New("dialog stalled")
	errHungUp  = errors.New("call ended")
)

// turnTimes are the moments of one turn's voice loop.
type turnTimes struct {
	eos           time.Time // caller's end of speech (or key press)
	finalCalled   time.Time // end of turn decided: ASR asked for the transcript
	asrFinal      time.Time
	respondStart  time.Time
	firstToken    time.Time
	firstSentence time.Time
	ttsStart      time.Time // first sentence handed to TTS
	firstAudio    time.Time
	firstRTP      time.Time
}

func ms(from, to time.Time) float64 {
	if from.IsZero() || to.IsZero() {
		return 0
	}
	return float64(to.Sub(from)) / float64(time.Millisecond)
}

func (t turnTimes) store() store.Timings {
	return store.Timings{
		ASRFinalMs: ms(t.eos, t.asrFinal), LLMFirstTokenMs: ms(t.eos, t.firstToken),
		TTSFirstAudioMs: ms(t.eos, t.firstAudio), FirstRTPOutMs: ms(t.eos, t.firstRTP),
	}
}

// overhead is end of speech to first RTP out minus the endpointing wait and
// the time inside the ASR, dialog (to its first sentence) and TTS (to its
// first audio): what the platform itself adds.
func (t turnTimes) overhead() (time.Duration, bool) {
	if t.eos.IsZero() || t.firstRTP.IsZero() || t.firstSentence.IsZero() || t.firstAudio.IsZero() {
		return 0, false
	}
	total := t.firstRTP.Sub(t.eos)
	if !t.finalCalled.IsZero() {
		total -= t.finalCalled.Sub(t.eos) + t.asrFinal.Sub(t.finalCalled)
	}
	total -= t.firstSentence.Sub(t.respondStart) + t.firstAudio.Sub(t.ttsStart)
	return total, true
}

// reply is one bot turn: the dialog generating it, its sentences being
// synthesized and played.
type reply struct {
	in     *dialog.Input // nil for the greeting and bot-only prompts
	prompt string        // a bot-only prompt (apology, not heard): no dialog

	mu          sync.Mutex
	times       turnTimes
	segs        []*segment
	interrupted bool
	told        bool // the conversation was told what was heard
	heard       string
	result      dialog.Result
	err         error
	cancel      context.CancelCauseFunc
	done        chan struct{} // responder finished
	finished    atomic.Bool
}

func (r *reply) mark(field *time.Time, at time.Time) {
	r.mu.Lock()
	if field.IsZero() {
		*field = at
	}
	r.mu.Unlock()
}

// firstWritten is called by the player (under its lock) for each segment's first frame.
func (r *reply) firstWritten(at time.Time) { r.mark(&r.times.firstRTP, at) }

// heardUpTo records that the caller heard the reply up to heard within s.
func (r *reply) heardUpTo(s *segment, heard string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	for _, sg := range r.segs {
		if sg == s {
			break
		}
		parts = append(parts, sg.text)
	}
	if heard != "" {
		parts = append(parts, heard)
	}
	r.heard = strings.Join(parts, " ")
	r.interrupted = true
}

// spoken is the text queued for playback so far.
func (r *reply) spoken() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	parts := make([]string, 0, len(r.segs))
	for _, s := range r.segs {
		parts = append(parts, s.text)
	}
	return strings.Join(parts, " ")
}

// utterance is the caller speaking, streamed to the ASR by a worker.
type utterance struct {
	frames      *frameQueue
	partial     atomic.Pointer[string]
	lastVoiced  time.Time
	duringBot   bool // started while the bot was talking: playback paused
	committed   bool // judged a real barge-in
	speech      time.Duration
	finalCalled time.Time
	asrFinal    time.Time
	res         asr.Result
	err         error
}

func (u *utterance) partialText() string {
	if p := u.partial.Load(); p != nil {
		return *p
	}
	return ""
}

// callCtl runs one call. Everything but the player, the responder and the
// ASR and recorder workers runs on the loop goroutine.
type callCtl struct {
	b      *Bot
	cfg    *Config
	call   media.Call
	ctx    context.Context
	cancel context.CancelFunc
	log    interface {
		Warn(string, ...any)
		Info(string, ...any)
	}

	conv       dialog.Conversation
	player     *player
	vad        *vad.Detector
	turn       *turn.Detector
	preroll    []audio.Frame // a ring of the last PrerollFrames frames
	preHead    int           // next slot to write
	preN       int           // frames held
	utt        *utterance
	active     *reply
	queued     []*reply
	action     *dialog.Action
	actRes     dialog.Result
	actTimer   *time.Timer
	asrFails   int
	quietSince time.Time // the line has been idle (nobody speaking, nothing pending) since
	noInputs   int       // no-input turns in a row
	unrecorded []*reply  // finished replies whose playback has not ended

	asrDone   chan *utterance
	freeQ     chan *frameQueue // drained utterance queues, reused
	replyDone chan *reply
	records   chan record
	cached    sync.Map // prompt text -> []audio.Frame
	wg        sync.WaitGroup
}

func newCallCtl(ctx context.Context, b *Bot, call media.Call) *callCtl {
	ctx, cancel := context.WithCancel(ctx)
	c := &callCtl{
		b: b, cfg: &b.cfg, call: call, ctx: ctx, cancel: cancel, log: b.cfg.Log.With("call", call.ID()),
		player: newPlayer(call), vad: vad.New(b.cfg.VAD), turn: turn.New(b.cfg.Turn),
		asrDone: make(chan *utterance, 4), freeQ: make(chan *frameQueue, 2), replyDone: make(chan *reply, 4), records: make(chan record, 64),
	}
	return c
}

func (c *callCtl) run() error {
	defer c.shutdown()
	c.wg.Add(2)
	go func() { defer c.wg.Done(); c.player.run(c.ctx) }()
	go func() { defer c.wg.Done(); c.recordTurns() }()

	conv, err := c.cfg.Engine.NewConversation(c.ctx, c.cfg.CallInfo(c.call))
	if err != nil {
		c.log.Warn("voicebot: dialog unavailable, handing to a human", "err", err)
		c.cfg.Metrics.providerError("dialog", "error")
		r := c.handOffReply("dialog_unavailable")
		c.start(r)
	} else {
		c.conv = conv
		c.start(&reply{})
	}
	for {
		var actC <-chan time.Time
		if c.actTimer != nil {
			actC = c.actTimer.C
		}
		select {
		case <-c.ctx.Done():
			return c.ctx.Err()
		case <-c.call.Done():
			return nil
		case f := <-c.call.Frames():
			c.onFrame(f, time.Now())
		case ev := <-c.call.Events():
			switch ev.Kind {
			case media.Hangup:
				return nil
			case media.KeyPress:
				c.onKey(ev.Digit)
			}
		case u := <-c.asrDone:
			c.onTranscript(u)
		case r := <-c.replyDone:
			c.onReplyDone(r)
		case <-c.player.idle:
			c.recordPlayed(false)
			c.scheduleAction()
		case <-actC:
			c.actTimer = nil
			if done, err := c.runAction(); done {
				return err
			}
		}
	}
}

func (c *callCtl) shutdown() {
	c.recordPlayed(true)
	c.cancel()
	c.player.close()
	if c.utt != nil {
		c.utt.frames.close()
	}
	if c.actTimer != nil {
		c.actTimer.Stop()
	}
	close(c.records)
	c.wg.Wait()
}

// ---- caller audio ----

func (c *callCtl) onFrame(f audio.Frame, now time.Time) {
	voiced, ev := c.vad.Classify(&f)
	if c.utt == nil {
		if c.preroll == nil {
			c.preroll = make([]audio.Frame, c.cfg.PrerollFrames)
		}
		c.preroll[c.preHead] = f
		c.preHead = (c.preHead + 1) % len(c.preroll)
		c.preN = min(c.preN+1, len(c.preroll))
		if ev != vad.SpeechStart {
			c.checkNoInput(now)
			return
		}
		c.startUtterance(now)
		return
	}
	u := c.utt
	u.frames.push(&f) // false: the ASR fell 10 s behind; the turn ends on its own bound
	if voiced {
		u.lastVoiced = now
	}
	d := c.turn.Observe(voiced, frameDur, u.partialText())
	u.speech = c.turn.Speech()
	if u.duringBot && !u.committed && u.speech > c.cfg.BackchannelMax {
		c.bargeIn(u) // too long for a backchannel
	}
	switch d {
	case turn.EndOfTurn:
		c.utt = nil
		u.finalCalled = now
		u.frames.close()
	case turn.Discard:
		c.utt = nil
		u.err = errDiscarded
		u.frames.close()
	}
}

var errDiscarded = errors.New("too short to be speech")

// checkNoInput runs on every frame while nobody speaks: once the line has
// been idle for NoInputTimeout the dialog gets an empty turn (it asks
// again), and after NoInputMax of them the bot says goodbye and hangs up,
// so a dead or silent line never holds a call forever.
func (c *callCtl) checkNoInput(now time.Time) {
	if c.action != nil || c.actTimer != nil || len(c.queued) > 0 || (c.active != nil && !c.active.finished.Load()) || c.player.busy() {
		c.quietSince = time.Time{}
		return
	}
	if c.quietSince.IsZero() {
		c.quietSince = now
		return
	}
	if now.Sub(c.quietSince) < c.cfg.NoInputTimeout {
		return
	}
	c.quietSince = time.Time{}
	c.noInputs++
	switch {
	case c.noInputs >= c.cfg.NoInputMax:
		bye := c.cfg.NoInputGoodbye
		c.start(&reply{prompt: bye, result: dialog.Result{Text: bye, Action: &dialog.Action{Kind: dialog.ActionEnd, Reason: "no_input"}}})
	case c.conv == nil:
		c.start(&reply{prompt: c.cfg.NotHeard})
	default:
		c.start(&reply{in: &dialog.Input{At: now}, times: turnTimes{eos: now}})
	}
}

func (c *callCtl) startUtterance(now time.Time) {
	var q *frameQueue
	select {
	case q = <-c.freeQ:
	default:
		q = newFrameQueue()
	}
	u := &utterance{frames: q, lastVoiced: now}
	c.turn.Reset()
	if c.player.busy() {
		// Silence the bot at once; whether this is a barge-in or a
		// backchannel is decided when more is known.
		u.duringBot = true
		c.player.pause()
	} else if c.active != nil && !c.active.finished.Load() {
		// The caller speaks while the bot is still thinking: a new turn.
		u.duringBot = true
	}
	for i := range c.preN {
		u.frames.push(&c.preroll[(c.preHead-c.preN+i+len(c.preroll))%len(c.preroll)])
	}
	c.preN = 0
	c.utt = u
	c.wg.Add(1)
	go c.recognize(u)
}

// recognize streams an utterance to the ASR (its own goroutine: a slow
// provider never delays barge-in detection).
func (c *callCtl) recognize(u *utterance) {
	defer c.wg.Done()
	defer func() {
		select {
		case c.asrDone <- u:
		case <-c.ctx.Done():
		}
	}()
	s, err := c.cfg.ASR.NewStream(c.ctx)
	batch := u.frames.spare
	defer func() {
		select { // the frames are all taken: the next utterance may reuse the queue
		case c.freeQ <- u.frames.reset(batch):
		default:
		}
	}()
	if err != nil {
		for ok := true; ok; batch, ok = u.frames.take(batch) {
		}
		u.err = fmt.Errorf("asr: %w", err)
		return
	}
	defer s.Close()
	var werr error
	var last string
	for ok := true; ok; {
		batch, ok = u.frames.take(batch)
		for i := range batch {
			if werr != nil {
				break
			}
			if werr = s.Write(batch[i]); werr == nil {
				// The loop reads the partial every frame: publish changes only.
				if p := s.Partial(); p != "" && p != last {
					last = p
					u.partial.Store(&p)
				}
			}
		}
	}
	if u.err != nil { // discarded
		return
	}
	if werr != nil && !errors.Is(werr, asr.ErrTooLong) {
		u.err = fmt.Errorf("asr: %w", werr)
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.ASRTimeout)
	defer cancel()
	u.res, u.err = s.Final(ctx)
	u.asrFinal = time.Now()
}

func (c *callCtl) onTranscript(u *utterance) {
	if errors.Is(u.err, errDiscarded) {
		if u.duringBot && !u.committed {
			c.player.resume()
		}
		return
	}
	if u.err != nil {
		kind := "error"
		if errors.Is(u.err, context.DeadlineExceeded) {
			kind = "timeout"
		}
		c.cfg.Metrics.providerError("asr", kind)
		c.log.Warn("voicebot: recognition failed", "err", u.err)
		if u.duringBot && !u.committed {
			c.player.resume()
			return
		}
		c.asrFails++
		if c.asrFails >= 2 {
			c.asrFails = 0
			c.start(c.handOffReply("asr_error"))
			return
		}
		c.start(&reply{prompt: c.cfg.NotHeard})
		return
	}
	c.asrFails = 0
	text := strings.TrimSpace(u.res.Text)
	if text != "" {
		c.noInputs = 0
	}
	if u.duringBot && !u.committed {
		if c.b.isBackchannel(text) {
			c.cfg.Metrics.backchannel()
			c.player.resume()
			return
		}
		c.bargeIn(u)
	}
	if text == "" {
		if u.speech >= 400*time.Millisecond {
			c.start(&reply{prompt: c.cfg.NotHeard})
		}
		return
	}
	eos := u.lastVoiced.Add(frameDur)
	c.start(&reply{
		in:    &dialog.Input{Text: text, Confidence: u.res.Confidence, At: eos},
		times: turnTimes{eos: eos, finalCalled: u.finalCalled, asrFinal: u.asrFinal},
	})
}

func (c *callCtl) onKey(d byte) {
	now := time.Now()
	c.noInputs = 0
	if c.player.busy() || (c.active != nil && !c.active.finished.Load()) {
		c.bargeIn(nil)
	}
	c.start(&reply{in: &dialog.Input{DTMF: string(d), Confidence: 1, At: now}, times: turnTimes{eos: now}})
}

// bargeIn commits an interruption: playback stops for good, the reply
// being generated is cancelled, and the conversation learns what was heard.
func (c *callCtl) bargeIn(u *utterance) {
	if u != nil {
		u.committed = true
	}
	r := c.active
	heard, seg := c.player.stop()
	if r == nil {
		return
	}
	if seg == nil && !r.finished.Load() {
		// Nothing of this reply was sounding: whatever was written was heard.
		r.mu.Lock()
		r.interrupted, r.heard = true, ""
		parts := make([]string, 0, len(r.segs))
		for _, s := range r.segs {
			if s.sent > 0 {
				parts = append(parts, heardPrefix(s.text, s.sent, len(s.frames), s.complete))
			}
		}
		r.heard = strings.TrimSpace(strings.Join(parts, " "))
		r.mu.Unlock()
	} else if seg == nil {
		return // the reply had already played out
	}
	_ = heard
	c.cfg.Metrics.bargeIn()
	if c.action != nil && c.action.Kind == dialog.ActionEnd {
		c.action = nil // the caller still has something to say
	}
	if r.cancel != nil {
		r.cancel(errBargeIn)
	}
	if r.finished.Load() {
		c.interrupted(r)
	}
	c.recordPlayed(false)
}

// interrupted tells the conversation what the caller heard of r (only
// when no responder runs: conversation methods are never concurrent).
func (c *callCtl) interrupted(r *reply) {
	r.mu.Lock()
	heard, was, told := r.heard, r.interrupted, r.told
	r.told = r.told || was
	r.mu.Unlock()
	if was && !told && c.conv != nil && r.prompt == "" {
		c.conv.Interrupted(heard)
	}
}

// ---- bot replies ----

// start runs r now, or after the reply in progress finishes.
func (c *callCtl) start(r *reply) {
	if c.active != nil && !c.active.finished.Load() {
		c.queued = append(c.queued, r)
		return
	}
	c.active = r
	r.done = make(chan struct{})
	ctx, cancel := context.WithCancelCause(c.ctx)
	r.cancel = cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel(nil)
		c.respond(ctx, r)
		r.finished.Store(true)
		close(r.done)
		select {
		case c.replyDone <- r:
		case <-c.ctx.Done():
		}
	}()
}

func (c *callCtl) handOffReply(reason string) *reply {
	return &reply{prompt: c.cfg.HandOff, result: dialog.Result{
		Text:   c.cfg.HandOff,
		Action: &dialog.Action{Kind: dialog.ActionTransfer, Queue: c.cfg.HandOffQueue, Reason: reason},
	}}
}

// respond produces r: a fixed prompt, or the dialog's reply streamed
// through the chunker into TTS; a failing dialog gets one retry after an
// apology, then the call goes to a human.
func (c *callCtl) respond(ctx context.Context, r *reply) {
	if r.prompt != "" {
		c.speakCached(ctx, r, r.prompt)
		return
	}
	for attempt := 1; ; attempt++ {
		res, err := c.generate(ctx, r)
		if err == nil {
			r.result = res
			return
		}
		if ctx.Err() != nil && !errors.Is(context.Cause(ctx), errStall) {
			r.err = context.Cause(ctx)
			return // barge-in or hang-up: not a provider failure
		}
		kind := "error"
		if errors.Is(err, errStall) || errors.Is(context.Cause(ctx), errStall) {
			kind = "stall"
		}
		c.cfg.Metrics.providerError("dialog", kind)
		c.log.Warn("voicebot: dialog failed", "attempt", attempt, "err", err)
		if attempt >= 2 {
			h := c.handOffReply("provider_error")
			r.result = h.result
			c.speakCached(ctx, r, c.cfg.HandOff)
			return
		}
		c.speakCached(ctx, r, c.cfg.Apology)
		if ctx.Err() != nil {
			return
		}
	}
}

// generate runs one Greet or Respond with stall detection, streaming
// sentences to TTS as they complete.
func (c *callCtl) generate(parent context.Context, r *reply) (dialog.Result, error) {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	sentences := make(chan string, 64)
	ttsDone := make(chan error, 1)
	go func() { ttsDone <- c.synthesize(ctx, r, sentences) }()

	watchdog := time.AfterFunc(c.cfg.FirstTokenTimeout, func() { cancel(errStall) })
	var ch chunker.Chunker
	var emitMu sync.Mutex
	streamed := 0
	emit := func(text string) {
		emitMu.Lock()
		defer emitMu.Unlock()
		if ctx.Err() != nil || text == "" {
			return
		}
		now := time.Now()
		r.mark(&r.times.firstToken, now)
		watchdog.Reset(c.cfg.StallTimeout)
		for _, s := range ch.Write(text) {
			streamed++
			r.mark(&r.times.firstSentence, time.Now())
			select {
			case sentences <- s:
			case <-ctx.Done():
				return
			}
		}
	}
	r.mark(&r.times.respondStart, time.Now())
	var res dialog.Result
	var err error
	if r.in == nil {
		res, err = c.conv.Greet(ctx, emit)
	} else {
		res, err = c.conv.Respond(ctx, *r.in, emit)
	}
	watchdog.Stop()
	emitMu.Lock()
	if err == nil && ctx.Err() == nil {
		if rest := ch.Flush(); rest != "" {
			r.mark(&r.times.firstSentence, time.Now())
			sentences <- rest
		} else if streamed == 0 && strings.TrimSpace(res.Text) != "" {
			// An engine that returned its text without streaming it.
			r.mark(&r.times.firstSentence, time.Now())
			for _, s := range (&chunker.Chunker{}).Write(res.Text + " ") {
				sentences <- s
			}
		}
	}
	close(sentences)
	emitMu.Unlock()
	ttsErr := <-ttsDone
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		if errors.Is(context.Cause(ctx), errStall) {
			return res, fmt.Errorf("%w: no text for %s", errStall, c.cfg.StallTimeout)
		}
		return res, err
	}
	if ttsErr != nil {
		c.log.Warn("voicebot: reply partly unspoken", "err", ttsErr)
	}
	return res, nil
}

// synthesize speaks sentences in order, each one queued for playback as
// soon as its first audio exists; a failing TTS falls back to FallbackTTS.
func (c *callCtl) synthesize(ctx context.Context, r *reply, sentences <-chan string) error {
	var firstErr error
	for s := range sentences {
		if ctx.Err() != nil {
			continue
		}
		if err := c.speak(ctx, r, s, nil); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// speak synthesizes one sentence into a new segment (frames given: a
// cached prompt).
func (c *callCtl) speak(ctx context.Context, r *reply, text string, frames []audio.Frame) error {
	seg := &segment{text: text, reply: r}
	r.mu.Lock()
	r.segs = append(r.segs, seg)
	first := len(r.segs) == 1
	r.mu.Unlock()
	c.player.add(seg)
	defer c.player.finish(seg)
	if frames != nil {
		r.mark(&r.times.ttsStart, time.Now())
		r.mark(&r.times.firstAudio, time.Now())
		c.player.append(seg, frames)
		return nil
	}
	try := func(s tts.Synthesizer) error {
		tctx, cancel := context.WithTimeout(ctx, c.cfg.TTSTimeout)
		defer cancel()
		if first { // the caller waits in silence for this one
			tctx = tts.Urgent(tctx)
		}
		r.mark(&r.times.ttsStart, time.Now())
		return s.Synthesize(tctx, text, func(f []audio.Frame) error {
			r.mark(&r.times.firstAudio, time.Now())
			c.player.append(seg, f)
			return nil
		})
	}
	err := try(c.cfg.TTS)
	if err == nil || ctx.Err() != nil {
		return err
	}
	c.cfg.Metrics.providerError("tts", "error")
	if c.cfg.FallbackTTS == nil || len(seg.frames) > 0 {
		return fmt.Errorf("tts %q: %w", text, err)
	}
	c.log.Warn("voicebot: TTS failed, using the fallback voice", "err", err)
	if ferr := try(c.cfg.FallbackTTS); ferr != nil {
		return fmt.Errorf("tts %q: %w (fallback: %v)", text, err, ferr)
	}
	return nil
}

// speakCached speaks a fixed prompt, synthesized once per call.
func (c *callCtl) speakCached(ctx context.Context, r *reply, text string) {
	if v, ok := c.cached.Load(text); ok {
		_ = c.speak(ctx, r, text, v.([]audio.Frame))
		return
	}
	var frames []audio.Frame
	var err error
	for _, s := range []tts.Synthesizer{c.cfg.FallbackTTS, c.cfg.TTS} {
		if s == nil {
			continue
		}
		tctx, cancel := context.WithTimeout(tts.Urgent(ctx), c.cfg.TTSTimeout)
		frames, err = tts.Collect(tctx, s, text)
		cancel()
		if err == nil && len(frames) > 0 {
			break
		}
	}
	if err != nil || len(frames) == 0 {
		c.log.Warn("voicebot: cannot speak a prompt", "prompt", text, "err", err)
		return
	}
	c.cached.Store(text, frames)
	_ = c.speak(ctx, r, text, frames)
}

func (c *callCtl) onReplyDone(r *reply) {
	c.interrupted(r)
	c.unrecorded = append(c.unrecorded, r)
	c.recordPlayed(false)
	if a := r.result.Action; a != nil && r.err == nil {
		r.mu.Lock()
		cut := r.interrupted
		r.mu.Unlock()
		if !(cut && a.Kind == dialog.ActionEnd) {
			c.action, c.actRes = a, r.result
			c.scheduleAction()
		}
	}
	if len(c.queued) > 0 {
		next := c.queued[0]
		c.queued = c.queued[1:]
		c.start(next)
	}
}

// scheduleAction runs a pending action once its reply has played out.
func (c *callCtl) scheduleAction() {
	if c.action == nil || c.actTimer != nil || (c.active != nil && !c.active.finished.Load()) || len(c.queued) > 0 {
		return
	}
	if c.player.writing() {
		return // still writing: the idle signal comes back here
	}
	wait := time.Until(c.player.drainedAt())
	c.actTimer = time.NewTimer(max(wait, 0))
}

// runAction carries out the pending action; done means Run returns err.
func (c *callCtl) runAction() (done bool, err error) {
	a, res := c.action, c.actRes
	c.action = nil
	if a == nil {
		return false, nil
	}
	switch a.Kind {
	case dialog.ActionTransfer:
		if c.cfg.Actions == nil {
			c.log.Warn("voicebot: transfer requested but no hand-off is configured; hanging up", "queue", a.Queue)
			return true, c.call.Hangup(c.ctx)
		}
		return true, c.cfg.Actions.Act(c.ctx, c.call, *a, res)
	case dialog.ActionEnd:
		if c.cfg.Actions != nil {
			if err := c.cfg.Actions.Act(c.ctx, c.call, *a, res); err != nil {
				c.log.Warn("voicebot: end action", "err", err)
			}
		}
		return true, c.call.Hangup(c.ctx)
	default:
		if c.cfg.Actions != nil {
			if err := c.cfg.Actions.Act(c.ctx, c.call, *a, res); err != nil {
				c.log.Warn("voicebot: action failed", "kind", a.Kind, "err", err)
			}
		}
		return false, nil
	}
}

// ---- turn records ----

// recordPlayed records finished replies once their playback is over (or
// was cut short), so a bot turn holds what the caller heard.
func (c *callCtl) recordPlayed(force bool) {
	for len(c.unrecorded) > 0 {
		r := c.unrecorded[0]
		r.mu.Lock()
		cut := r.interrupted
		r.mu.Unlock()
		if !force && !cut && c.player.writing() {
			return
		}
		c.unrecorded = c.unrecorded[1:]
		c.record(r)
	}
}

func (c *callCtl) record(r *reply) {
	r.mu.Lock()
	times, res, interrupted, heard := r.times, r.result, r.interrupted, r.heard
	r.mu.Unlock()
	if r.in != nil {
		c.cfg.Metrics.observeTurn(times)
		text := r.in.Text
		switch {
		case text == "" && r.in.DTMF == "":
			text = "(no input)"
		case text == "":
			text = "(pressed " + r.in.DTMF + ")"
		}
		c.enqueue(record{turn: store.Turn{Speaker: store.SpeakerCaller, Text: text, Intent: res.Intent, Confidence: res.Confidence,
			Sentiment: res.Sentiment, Timings: times.store(), At: r.in.At}})
	}
	said := r.spoken()
	if interrupted {
		said = heard
	}
	at := time.Now()
	if said != "" {
		c.enqueue(record{turn: store.Turn{Speaker: store.SpeakerBot, Text: said, At: at}})
	}
	for _, e := range resultEvents(res, at) {
		c.enqueue(record{event: &e})
	}
}

// EventRecorder is a TurnRecorder that also stores call events (node.Calls()
// is one). The bot then records what a reply did that its words do not
// show: the articles cited ("cited", data documents), the flow's slots
// ("slots", data slot -> value) and a booked callback ("callback", data
// callback_id, number, window_from, window_to, queue), so recorded calls
// can be scored (parley eval replay and voice mode).
type EventRecorder interface {
	RecordEvent(ctx context.Context, callID string, e store.CallEvent) (int, error)
}

// record is one write to the call record: a turn, or an event after it.
type record struct {
	turn  store.Turn
	event *store.CallEvent
}

// resultEvents are the call events a reply's result calls for, at the
// bot turn's time so they sort right after it.
func resultEvents(res dialog.Result, at time.Time) []store.CallEvent {
	var out []store.CallEvent
	if len(res.Citations) > 0 {
		var docs []string
		d := map[string]string{}
		for _, ci := range res.Citations {
			if !slices.Contains(docs, ci.DocumentID) {
				docs = append(docs, ci.DocumentID)
				d["passage:"+ci.DocumentID] = ci.Passage // the groundedness judge checks the reply against it
			}
		}
		d["documents"] = strings.Join(docs, ",")
		out = append(out, store.CallEvent{Type: "cited", By: store.SpeakerBot, At: at, Data: d})
	}
	if len(res.Slots) > 0 {
		out = append(out, store.CallEvent{Type: "slots", By: store.SpeakerBot, At: at, Data: maps.Clone(res.Slots)})
	}
	if a := res.Action; a != nil && a.Kind == dialog.ActionCallback {
		d := map[string]string{"callback_id": a.CallbackID, "number": a.Number, "queue": a.Queue}
		if !a.WindowFrom.IsZero() {
			d["window_from"], d["window_to"] = a.WindowFrom.Format(time.RFC3339), a.WindowTo.Format(time.RFC3339)
		}
		out = append(out, store.CallEvent{Type: "callback", By: store.SpeakerBot, At: at, Data: d})
	}
	return out
}

func (c *callCtl) enqueue(r record) {
	if c.cfg.Turns == nil {
		return
	}
	if _, ok := c.cfg.Turns.(EventRecorder); r.event != nil && !ok {
		return
	}
	select {
	case c.records <- r:
	default:
		c.log.Warn("voicebot: turn not recorded, recorder backlog full", "speaker", r.turn.Speaker)
	}
}

// recordTurns stores turns (and the events that follow them) in order, off
// the audio path.
func (c *callCtl) recordTurns() {
	for r := range c.records {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RecordTimeout)
		if r.event != nil {
			if _, err := c.cfg.Turns.(EventRecorder).RecordEvent(ctx, c.call.ID(), *r.event); err != nil {
				c.log.Warn("voicebot: recording an event failed", "type", r.event.Type, "err", err)
			}
		} else {
			// A card number read out never reaches the stored transcript.
			r.turn.Text = dialog.RedactCards(r.turn.Text)
			if _, err := c.cfg.Turns.RecordTurn(ctx, c.call.ID(), r.turn); err != nil {
				c.log.Warn("voicebot: recording a turn failed", "speaker", r.turn.Speaker, "err", err)
			}
		}
		cancel()
	}
}
