// Package voice is the eval runner's voice mode: each scenario is a real
// SIP call to `parley serve`. The simulated caller's lines are synthesized
// with flite (a voice other than the bot's) and sent as RTP, keys as RFC
// 4733 events; the bot's audio is cut into turns by voice activity (a turn
// ends after EndOfTurn of silence) and transcribed with pocketsphinx. What
// the bot said is judged on that transcription; what it decided (intents,
// hand-off and queue, slots, callbacks, the end of the call) comes from the
// call record the node stored, read back over its HTTP API.
package voice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-cc/parley/evals"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/sip"
	"github.com/parley-cc/parley/voicebot/asr"
	asrlocal "github.com/parley-cc/parley/voicebot/asr/local"
	"github.com/parley-cc/parley/voicebot/dialog"
	"github.com/parley-cc/parley/voicebot/tts"
	ttslocal "github.com/parley-cc/parley/voicebot/tts/local"
)

// Config says where the bot is and how the caller behaves; zero fields take
// the defaults in brackets.
type Config struct {
	// Target is the bot's SIP URI, e.g. sip:bot@127.0.0.1:5060 (required).
	Target string
	// API is the node's HTTP base URL, e.g. http://127.0.0.1:8080, where
	// GET /api/v1/calls/{id} returns the call record (required).
	API string
	// Voice is the caller's flite voice [kal16; the bot speaks slt].
	Voice string
	// TTS synthesizes the caller's lines [flite Voice].
	TTS tts.Synthesizer
	// ASR transcribes the bot [pocketsphinx: a grammar of what the bot can
	// say when Deployment is set (see BotGrammar), else the open language model].
	ASR asr.Recognizer
	// FallbackASR transcribes a bot turn the ASR made nothing of [the open
	// language model, when ASR is the default grammar recognizer].
	FallbackASR asr.Recognizer
	// Deployment is the bot's deployment: its prompts, flows and articles
	// make the caller-side grammar (nil: open language model only).
	Deployment *dialog.Deployment
	// Decoders bounds the pocketsphinx decoders of each default recognizer [8].
	Decoders int
	// WarmDecoders of the default grammar recognizer (one of the fallback)
	// are made and warmed up at New: a fresh decoder loads the model and
	// decodes its first utterance twice, and on a long greeting that kept
	// the caller silent until the bot asked again. Set it to the calls run
	// at once [2, at most Decoders].
	WarmDecoders int
	// EndOfTurn is the silence after the bot's speech after which the
	// node's record is asked whether the reply is over [700 ms].
	EndOfTurn time.Duration
	// MaxPause ends a bot turn whatever the record says [5 s].
	MaxPause time.Duration
	// TranscriptWait is how long the caller waits at the end of a bot turn
	// for its transcription before answering; a later one is filled in by
	// Finish (a simulated caller then sees an empty bot turn) [1 s].
	TranscriptWait time.Duration
	// SilenceOnly ends bot turns on EndOfTurn of silence, without asking
	// the node's record (a node that does not record turns).
	SilenceOnly bool
	// FirstAudioTimeout bounds the wait for the bot to start speaking [15 s].
	FirstAudioTimeout time.Duration
	// MaxBotTurn cuts a bot turn that never pauses [60 s].
	MaxBotTurn time.Duration
	// RecordTimeout bounds the wait for the call record to show the ended call [10 s].
	RecordTimeout time.Duration
	// LocalAddr is the caller's SIP address [127.0.0.1:0]; RTPPortMin and
	// RTPPortMax its media ports [40000-49999].
	LocalAddr              string
	RTPPortMin, RTPPortMax int
	// MaxCalls bounds calls in flight [256].
	MaxCalls int
	// Staffed says which scenarios (by id) expect a contact center with an
	// agent available: before their call, Agent logs in on the node's agent
	// desktop WebSocket, goes available and then accepts every offer; after
	// it, the agent logs out. Such scenarios run alone (the others wait), so
	// a scenario that expects nobody staffed never sees the agent [none].
	Staffed func(scenarioID string) bool
	// Agent is the agent staffed [alice, of the demo contact center];
	// AgentToken their desktop token (--routing-agent-tokens) if any.
	Agent, AgentToken string
	// HTTP reads call records [a client with a 10 s timeout].
	HTTP *http.Client
	Log  *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if !strings.HasPrefix(c.Target, "sip:") || !strings.Contains(c.Target, "@") {
		return c, fmt.Errorf("voice mode: target %q: want the bot's SIP URI, e.g. sip:bot@127.0.0.1:5060", c.Target)
	}
	if !strings.HasPrefix(c.API, "http://") && !strings.HasPrefix(c.API, "https://") {
		return c, fmt.Errorf("voice mode: API %q: want the node's HTTP base URL, e.g. http://127.0.0.1:8080 (the call records are read there)", c.API)
	}
	c.API = strings.TrimRight(c.API, "/")
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.EndOfTurn, 700*time.Millisecond)
	def(&c.MaxPause, 5*time.Second)
	def(&c.TranscriptWait, time.Second)
	def(&c.FirstAudioTimeout, 15*time.Second)
	def(&c.MaxBotTurn, 60*time.Second)
	def(&c.RecordTimeout, 10*time.Second)
	if c.Voice == "" {
		c.Voice = "kal16"
	}
	if c.Decoders <= 0 {
		c.Decoders = 8
	}
	if c.WarmDecoders <= 0 {
		c.WarmDecoders = 2
	}
	c.WarmDecoders = min(c.WarmDecoders, c.Decoders)
	if c.LocalAddr == "" {
		c.LocalAddr = "127.0.0.1:0"
	}
	if c.RTPPortMin == 0 && c.RTPPortMax == 0 {
		c.RTPPortMin, c.RTPPortMax = 40000, 49999
	}
	if c.MaxCalls <= 0 {
		c.MaxCalls = 256
	}
	if c.Agent == "" {
		c.Agent = "alice"
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c, nil
}

// Connector places the scenarios' calls from a SIP user agent of its own.
type Connector struct {
	cfg     Config
	uac     *sip.Server
	ownASR  []*asrlocal.Recognizer
	cancel  context.CancelFunc
	served  chan struct{}
	asrWG   sync.WaitGroup // transcriptions in flight: the recognizer outlives them
	speechM sync.Mutex
	speech  map[string][]audio.Frame // caller line -> synthesized audio
	// staffing: a staffed scenario's call holds it exclusively, every other
	// call shared.
	staffing sync.RWMutex
}

// New starts the caller's SIP stack (and its speech providers).
func New(ctx context.Context, cfg Config) (*Connector, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Connector{cfg: cfg, speech: map[string][]audio.Frame{}, served: make(chan struct{})}
	if c.cfg.TTS == nil {
		s, err := ttslocal.New(ttslocal.Config{Voice: cfg.Voice})
		if err != nil {
			return nil, fmt.Errorf("voice mode: caller voice: %w", err)
		}
		c.cfg.TTS = s
	}
	if c.cfg.ASR == nil {
		if err := c.defaultASR(); err != nil {
			c.closeASR()
			return nil, err
		}
	}
	uac, err := sip.New(sip.Config{Addr: cfg.LocalAddr, MaxCalls: cfg.MaxCalls, MediaTimeout: -1,
		RTPPortMin: cfg.RTPPortMin, RTPPortMax: cfg.RTPPortMax, UserAgent: "parley-eval"},
		sip.Deps{Dialplan: sip.Extensions{}, Logger: cfg.Log})
	if err != nil {
		c.closeASR()
		return nil, fmt.Errorf("voice mode: caller SIP stack: %w", err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.uac, c.cancel = uac, cancel
	go func() { defer close(c.served); _ = uac.ListenAndServe(sctx) }()
	select {
	case <-uac.Ready():
	case <-c.served:
		cancel()
		c.closeASR()
		return nil, fmt.Errorf("voice mode: caller SIP stack did not start on %s", cfg.LocalAddr)
	case <-time.After(5 * time.Second):
		c.Close()
		return nil, errors.New("voice mode: caller SIP stack did not start within 5 s")
	}
	return c, nil
}

// Mode is "voice".
func (c *Connector) Mode() string { return "voice" }

// Close hangs up what is left and stops the SIP stack.
func (c *Connector) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.uac.Shutdown(ctx)
	c.cancel()
	<-c.served
	c.asrWG.Wait()
	c.closeASR()
}

func (c *Connector) closeASR() {
	for _, r := range c.ownASR {
		r.Close()
	}
	c.ownASR = nil
}

// defaultASR builds the caller's recognizers: a grammar of what the bot
// can say (when the deployment is known) with the open language model as
// fallback, or the open language model alone.
func (c *Connector) defaultASR() error {
	lm, err := asrlocal.New(asrlocal.Config{Mode: "lm", MaxDecoders: c.cfg.Decoders})
	if err != nil {
		return fmt.Errorf("voice mode: recognizer of the bot's speech: %w", err)
	}
	c.ownASR = append(c.ownASR, lm)
	if c.cfg.Deployment == nil {
		c.cfg.ASR = lm
		return nil
	}
	dict, err := asrlocal.LoadDictionary("")
	if err != nil {
		return fmt.Errorf("voice mode: recognizer of the bot's speech: %w", err)
	}
	g, err := BotGrammar(c.cfg.Deployment, dict)
	if err != nil {
		return fmt.Errorf("voice mode: grammar of the bot's speech: %w", err)
	}
	gr, err := asrlocal.New(asrlocal.Config{Mode: "grammar", Grammar: g, MaxDecoders: c.cfg.Decoders})
	if err != nil {
		return fmt.Errorf("voice mode: grammar recognizer of the bot's speech: %w", err)
	}
	c.ownASR = append(c.ownASR, gr)
	c.cfg.ASR, c.cfg.FallbackASR = gr, lm
	return c.warm()
}

// warm makes WarmDecoders decoders of the recognizer (one of the
// fallback) and decodes the bot's kind of speech once on each.
func (c *Connector) warm() error {
	bot, err := ttslocal.New(ttslocal.Config{Voice: "slt"})
	if err != nil {
		return fmt.Errorf("voice mode: warm-up voice: %w", err)
	}
	frames, err := tts.Collect(context.Background(), bot, "Thanks for calling. How can I help you today? Is there anything else I can help with?")
	if err != nil {
		return fmt.Errorf("voice mode: warm-up speech: %w", err)
	}
	for _, r := range c.ownASR {
		n := c.cfg.WarmDecoders
		if r != c.cfg.ASR {
			n = 1 // the fallback decodes only what the grammar missed
		}
		var streams []asr.Stream
		for range n {
			st, err := r.NewStream(context.Background())
			if err != nil {
				return err
			}
			defer st.Close()
			for _, f := range frames { // holds a decoder until Final: the next stream makes another
				if err := st.Write(f); err != nil {
					return fmt.Errorf("voice mode: warm-up: %w", err)
				}
			}
			streams = append(streams, st)
		}
		for _, st := range streams {
			if _, err := st.Final(context.Background()); err != nil {
				return fmt.Errorf("voice mode: warm-up: %w", err)
			}
		}
	}
	return nil
}

// transcribe streams one bot turn into the ASR as it plays; a turn it
// makes nothing of is decoded again by the fallback recognizer.
func (c *Connector) transcribe(ctx context.Context, frames <-chan audio.Frame) (string, error) {
	var kept []audio.Frame
	st, err := c.cfg.ASR.NewStream(ctx)
	if err != nil {
		for range frames {
		}
		return "", err
	}
	defer st.Close()
	var werr error
	for f := range frames {
		if c.cfg.FallbackASR != nil {
			kept = append(kept, f)
		}
		if werr == nil {
			werr = st.Write(f)
		}
	}
	if werr != nil && !errors.Is(werr, asr.ErrTooLong) {
		return "", werr
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := st.Final(fctx)
	if err != nil || strings.TrimSpace(res.Text) != "" || c.cfg.FallbackASR == nil || len(kept) == 0 {
		return res.Text, err
	}
	fb, err := c.cfg.FallbackASR.NewStream(ctx)
	if err != nil {
		return "", err
	}
	defer fb.Close()
	for _, f := range kept {
		if err := fb.Write(f); err != nil {
			if errors.Is(err, asr.ErrTooLong) {
				break
			}
			return "", err
		}
	}
	res, err = fb.Final(fctx)
	return res.Text, err
}

// Connect calls the bot; the session starts listening at once, so the
// greeting is heard from its first frame.
func (c *Connector) Connect(ctx context.Context, info dialog.CallInfo) (evals.Session, error) {
	s := &session{c: c}
	if c.cfg.Staffed != nil && c.cfg.Staffed(ScenarioID(info.CallID)) {
		c.staffing.Lock()
		s.release = c.staffing.Unlock
		d, err := staff(ctx, c.cfg.API, c.cfg.Agent, c.cfg.AgentToken)
		if err != nil {
			s.release()
			return nil, fmt.Errorf("staff the contact center: %w", err)
		}
		s.desk = d
	} else {
		c.staffing.RLock()
		s.release = c.staffing.RUnlock
	}
	s.l = newLine(c)
	callerID := strings.TrimSpace(info.From)
	if callerID == "" {
		callerID = "eval"
	}
	call, err := c.uac.Dial(ctx, c.cfg.Target, sip.DialOptions{App: s.l, NoRecording: true, CallerID: callerID, DisplayName: "parley eval"})
	if err != nil {
		s.unstaff()
		return nil, fmt.Errorf("call %s: %w", c.cfg.Target, err)
	}
	s.call, s.id, s.answered = call, call.ID(), time.Now()
	return s, nil
}

// ScenarioID is the scenario of an eval call id (evals.Runner names its
// calls "eval-<scenario>-<seed>").
func ScenarioID(callID string) string {
	id := strings.TrimPrefix(callID, "eval-")
	if i := strings.LastIndexByte(id, '-'); i > 0 {
		if _, err := strconv.Atoi(id[i+1:]); err == nil {
			return id[:i]
		}
	}
	return id
}

// say returns the caller's line as audio: flite speech after 200 ms of
// silence, cached (every run of a suite says the same lines).
func (c *Connector) say(ctx context.Context, text string) ([]audio.Frame, error) {
	c.speechM.Lock()
	f, ok := c.speech[text]
	c.speechM.Unlock()
	if ok {
		return f, nil
	}
	frames, err := tts.Collect(ctx, c.cfg.TTS, text)
	if err != nil {
		return nil, fmt.Errorf("synthesize caller line %q: %w", text, err)
	}
	if len(frames) == 0 {
		return nil, fmt.Errorf("synthesize caller line %q: no audio", text)
	}
	frames = append(make([]audio.Frame, 10), frames...)
	c.speechM.Lock()
	c.speech[text] = frames
	c.speechM.Unlock()
	return frames, nil
}
