package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/parley-cc/parley/gateway/dialplan"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/gateway/sip"
	"github.com/parley-cc/parley/gateway/webrtc"
	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/routing/acd"
	"github.com/parley-cc/parley/voicebot"
	"github.com/parley-cc/parley/voicebot/asr"
	asrlocal "github.com/parley-cc/parley/voicebot/asr/local"
	asropenai "github.com/parley-cc/parley/voicebot/asr/openai"
	"github.com/parley-cc/parley/voicebot/dialog"
	"github.com/parley-cc/parley/voicebot/tts"
	ttslocal "github.com/parley-cc/parley/voicebot/tts/local"
	ttsopenai "github.com/parley-cc/parley/voicebot/tts/openai"
	"github.com/parley-cc/parley/voicebot/turn"
)

// ExtBot is the extension the voicebot answers.
const ExtBot = "bot"

func init() {
	registerComponent(component{name: "voicebot", order: orderVoicebot, start: startVoicebot})
}

// startVoicebot builds the speech providers from the configuration, drives
// the dialog engine published as Services["dialog"] (an echo conversation,
// with a warning, when none is), and registers the bot as extension "bot"
// in Services["media.apps"] (*dialplan.Registry, created here when absent).
// A transfer goes to Services["voicebot.actions"] (voicebot.ActionHandler)
// when the routing component publishes one.
func startVoicebot(ctx context.Context, n *nodeEnv) (*running, error) {
	engine, _ := n.Services["dialog"].(dialog.Engine)
	if engine == nil {
		n.Log.Warn("voicebot: no dialog engine published; callers get an echo conversation")
		engine = echoEngine{}
	}
	dep, _ := n.Services["dialog.deployment"].(*dialog.Deployment)
	rec, err := buildASR(n, dep)
	if err != nil {
		return nil, err
	}
	synth, fallback, err := buildTTS(n.Cfg)
	if err != nil {
		return nil, err
	}
	actions, _ := n.Services["voicebot.actions"].(voicebot.ActionHandler)
	cfg := voicebot.Config{
		Engine: engine, ASR: rec, TTS: synth, FallbackTTS: fallback, Actions: actions,
		Metrics: voicebot.NewMetrics(n.Reg), Log: n.Log,
		Turn: turn.Config{Silence: n.Cfg.EndOfTurnSilence},
	}
	lang := "en"
	if dep != nil && dep.Language != "" {
		lang = dep.Language
	}
	cfg.CallInfo = func(call media.Call) dialog.CallInfo { return callInfo(call, lang) }
	if n.Node != nil {
		cfg.Turns = n.Node.Calls()
	}
	if dep != nil && dep.Handoff.Queue != "" {
		cfg.HandOffQueue = dep.Handoff.Queue
	}
	bot, err := voicebot.New(cfg)
	if err != nil {
		return nil, err
	}
	apps, _ := n.Services["media.apps"].(*dialplan.Registry)
	if apps == nil {
		apps = dialplan.NewRegistry()
		n.Services["media.apps"] = apps
	}
	if err := apps.Register(ExtBot, bot); err != nil {
		return nil, fmt.Errorf("voicebot: register extension %q: %w", ExtBot, err)
	}
	n.Services["voicebot"] = bot
	n.Log.Info("voicebot ready", "extension", ExtBot, "asr", n.Cfg.ASR, "asr_mode", n.Cfg.ASRMode, "tts", n.Cfg.TTS,
		"hand_off", actions != nil)
	return &running{
		Drain: func() { apps.Unregister(ExtBot) },
		Stop: func(context.Context) error {
			if l, ok := rec.(interface{ Close() }); ok {
				defer l.Close()
			}
			return nil
		},
	}, nil
}

func buildASR(n *nodeEnv, dep *dialog.Deployment) (asr.Recognizer, error) {
	if n.Cfg.ASR == "openai" {
		lang := "en"
		if dep != nil && dep.Language != "" {
			lang = dep.Language
		}
		return asropenai.New(asropenai.Config{BaseURL: n.Cfg.OpenAIBaseURL, APIKey: n.Cfg.OpenAIAPIKey, Model: n.Cfg.ASRModel, Language: lang}), nil
	}
	return localBotRecognizer(dep, n.Cfg.ASRMode, 0, n.Log)
}

// localBotRecognizer is the offline recognizer of a deployment's bot (what
// serve runs, and what `parley bench voicebot` measures): in mode
// "grammar" the deployment's grammar cross-checked by a trigram model of
// its words, each pool holding up to maxDecoders (0: the default); in mode
// "lm" the open model.
func localBotRecognizer(dep *dialog.Deployment, mode string, maxDecoders int, log *slog.Logger) (asr.Recognizer, error) {
	lc := asrlocal.Config{Mode: mode, MaxDecoders: maxDecoders}
	if mode == "grammar" {
		g, err := deploymentGrammar(dep, log)
		if err != nil {
			return nil, err
		}
		if g == "" {
			log.Warn("voicebot: no deployment phrases for the ASR grammar; using the open language model")
			lc.Mode = "lm"
		}
		lc.Grammar = g
	}
	primary, err := asrlocal.New(lc)
	if err != nil || lc.Mode != "grammar" {
		return primary, err
	}
	// Every utterance is also decoded with a trigram model of the
	// deployment's words, which hears callers the grammar does not hold.
	domain, err := asrlocal.New(asrlocal.Config{Mode: "lm", Corpus: deploymentCorpus(dep), MaxDecoders: maxDecoders})
	if err != nil {
		primary.Close()
		return nil, err
	}
	return crossCheckRecognizer{grammar: primary, domain: domain}, nil
}

// deploymentGrammar is the pocketsphinx JSGF grammar of what callers of dep
// are expected to say ("" when dep has no phrases): the phrases of
// deploymentPhrases, digits and yes/no.
func deploymentGrammar(dep *dialog.Deployment, log *slog.Logger) (string, error) {
	phrases := deploymentPhrases(dep)
	if len(phrases) == 0 {
		return "", nil
	}
	dict, err := asrlocal.LoadDictionary("")
	if err != nil {
		return "", err
	}
	g, skipped, err := asrlocal.BuildGrammar(asrlocal.GrammarSpec{Phrases: phrases, Digits: true, YesNo: true}, dict)
	if err != nil {
		return "", err
	}
	for _, s := range skipped {
		log.Warn("voicebot: phrase left out of the ASR grammar", "phrase", s)
	}
	return withNumberCarriers(g), nil
}

// numberCarriers announce a number a caller reads out.
var numberCarriers = []string{"my account number is", "the account number is", "my number is", "my phone number is",
	"my mobile number is", "my card number is", "the card number is"}

// withNumberCarriers adds "carrier digits" ("my account number is 2 4 6
// ...") to a grammar made by asrlocal.BuildGrammar (with <digit> and a
// public <utterance>); a grammar of another shape is returned as it is.
func withNumberCarriers(g string) string {
	const pub = "public <utterance> = "
	i := strings.Index(g, pub)
	if i < 0 || !strings.Contains(g, "<digit> = ") {
		return g
	}
	end := strings.Index(g[i:], ";")
	if end < 0 {
		return g
	}
	return g[:i] + "<carrier> = " + strings.Join(numberCarriers, " | ") + ";\n" +
		pub + g[i+len(pub):i+end] + " | <carrier> <digit>+" + g[i+end:]
}

// deploymentPhrases are what callers of dep are expected to say: intent
// examples and menu option words at any menu depth, the titles and
// questions of its knowledge articles (callers ask what the help pages
// answer), and the answers its flows' questions expect: dates for a date,
// times of day for a free-text slot (a callback window), "this number" for
// a number that may be the caller's own.
func deploymentPhrases(dep *dialog.Deployment) []string {
	if dep == nil {
		return nil
	}
	var out []string
	for _, in := range dep.Intents {
		out = append(out, in.Examples...)
	}
	for _, a := range dep.Articles {
		out = append(out, a.Title)
		for _, l := range strings.Split(a.Body, "\n") {
			if l = strings.TrimSpace(strings.TrimLeft(l, "#*- ")); strings.HasSuffix(l, "?") && len(strings.Fields(l)) <= 16 {
				out = append(out, l)
			}
		}
	}
	types := map[string]bool{}
	caller := false
	var steps func(st *dialog.Step, depth int)
	steps = func(st *dialog.Step, depth int) {
		if st == nil || depth > 8 {
			return
		}
		if c := st.Collect; c != nil {
			types[c.Type] = true
			caller = caller || c.UseCaller
		}
		if m := st.Menu; m != nil {
			for _, o := range m.Options {
				out = append(out, o.Words...)
				steps(&o.Do, depth+1)
			}
		}
	}
	for _, f := range dep.Flows {
		for _, st := range f.Steps {
			steps(st, 0)
		}
	}
	if caller {
		out = append(out, callerNumberAnswers...)
	}
	if types[dialog.SlotDate] {
		out = append(out, dateAnswers()...)
	}
	if types[dialog.SlotText] {
		out = append(out, timeAnswers()...)
	}
	if types[dialog.SlotYesNo] || types[dialog.SlotDate] || types[dialog.SlotDigits] {
		out = append(out, confirmAnswers...)
	}
	return out
}

// callerNumberAnswers choose the number the caller is calling from.
var callerNumberAnswers = []string{"this number", "this one", "my number", "the number I'm calling from", "the one I'm calling from",
	"use this number", "on this number", "the same number", "you can use this number", "call me on this number"}

// confirmAnswers confirm or correct what the bot read back.
var confirmAnswers = []string{"yes that's right", "yes that's correct", "that's right", "no that's wrong", "no that's not right", "yes go ahead", "yes book it", "yes please do"}

var (
	weekdays = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
	months   = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
	ordinals = []string{"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth",
		"thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth", "twenty first",
		"twenty second", "twenty third", "twenty fourth", "twenty fifth", "twenty sixth", "twenty seventh", "twenty eighth", "twenty ninth",
		"thirtieth", "thirty first"}
	hours     = []string{"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"}
	dayPeriod = []string{"morning", "afternoon", "evening"}
)

// dateAnswers are dates as callers say them: days, weekdays, ordinals.
func dateAnswers() []string {
	out := []string{"today", "tomorrow", "next week", "the end of the month", "the day after tomorrow"}
	for _, d := range weekdays {
		out = append(out, d, "next "+d, "this "+d, "on "+d)
	}
	for _, o := range ordinals {
		out = append(out, "the "+o, "on the "+o)
		for _, m := range months {
			out = append(out, "the "+o+" of "+m)
		}
	}
	return out
}

// timeAnswers are times of day for a callback window.
func timeAnswers() []string {
	out := []string{"now", "any time", "as soon as possible", "later today", "later", "in an hour", "in half an hour"}
	for _, p := range dayPeriod {
		out = append(out, "this "+p, "tomorrow "+p, "in the "+p, "tomorrow in the "+p)
		for _, d := range weekdays {
			out = append(out, d+" "+p)
		}
	}
	for _, h := range hours {
		out = append(out, "after "+h, "before "+h, "at "+h, "around "+h, "after "+h+" o'clock", "at "+h+" o'clock", "at "+h+" pm", "at "+h+" am",
			"in "+h+" hours", "tomorrow at "+h, "tomorrow after "+h)
	}
	for _, d := range weekdays {
		out = append(out, d, "on "+d)
	}
	return out
}

// buildTTS returns the configured synthesizer and, for a hosted one, the
// local voice as fallback for when the endpoint fails mid-call.
func buildTTS(cfg Config) (tts.Synthesizer, tts.Synthesizer, error) {
	if cfg.TTS == "openai" {
		local, err := ttslocal.New(ttslocal.Config{})
		if err != nil {
			return nil, nil, err
		}
		return ttsopenai.New(ttsopenai.Config{BaseURL: cfg.OpenAIBaseURL, APIKey: cfg.OpenAIAPIKey, Model: cfg.TTSModel, Voice: cfg.TTSVoice}), local, nil
	}
	s, err := ttslocal.New(ttslocal.Config{Voice: cfg.TTSVoice})
	if err != nil {
		return nil, nil, &ConfigError{Field: "tts-voice", Reason: err.Error()}
	}
	return s, nil, nil
}

// echoEngine keeps the line useful when no dialog engine runs: it says what
// it heard.
type echoEngine struct{}

func (echoEngine) NewConversation(context.Context, dialog.CallInfo) (dialog.Conversation, error) {
	return echoConversation{}, nil
}

type echoConversation struct{}

func (echoConversation) Greet(_ context.Context, emit func(string)) (dialog.Result, error) {
	const t = "Hello, this is the Parley voicebot. The assistant is not configured, so I will repeat what you say."
	emit(t)
	return dialog.Result{Text: t}, nil
}

func (echoConversation) Respond(_ context.Context, in dialog.Input, emit func(string)) (dialog.Result, error) {
	t := "You said: " + strings.TrimSpace(in.Text) + "."
	if in.DTMF != "" {
		t = "You pressed " + in.DTMF + "."
	}
	emit(t)
	return dialog.Result{Text: t}, nil
}

func (echoConversation) Interrupted(string) {}

// deploymentCorpus is what the deployment's domain language model is
// trained on (asrlocal.Config.Corpus): deploymentPhrases, every sentence of
// its knowledge articles (callers describe problems in the help pages'
// words), digit strings in which every digit follows every other (numbers
// are read out in any order), the number carriers followed by digits,
// yes/no and the small talk of any phone call.
func deploymentCorpus(dep *dialog.Deployment) []string {
	out := deploymentPhrases(dep)
	if len(out) == 0 {
		return nil
	}
	for _, a := range dep.Articles {
		for _, l := range strings.Split(a.Body, "\n") {
			out = append(out, knowledge.SplitSentences(strings.TrimLeft(strings.TrimSpace(l), "#*->| "))...)
		}
	}
	digits := digitRun()
	for i := 0; i+8 <= len(digits); i += 7 { // runs of 8 overlapping by one
		run := strings.Join(digits[i:i+8], " ")
		out = append(out, run)
		out = append(out, numberCarriers[(i/7)%len(numberCarriers)]+" "+run)
	}
	for i := 0; i+16 <= len(digits); i += 15 {
		run := strings.Join(digits[i:i+16], " ")
		out = append(out, run, "my card number is "+run, "the card number is "+run)
	}
	out = append(out, confirmAnswers...)
	return append(out, phoneTalk...)
}

// phoneTalk is what callers of any deployment say around their request.
var phoneTalk = []string{"yes", "no", "yeah", "yep", "nope", "yes please", "no thanks", "no thank you", "correct", "that's right",
	"hello", "hi", "hello there", "hi there", "thank you", "thanks", "thanks very much", "thank you very much", "goodbye", "bye", "bye bye",
	"okay", "ok", "sorry", "sorry what was that", "can you repeat that", "say that again", "pardon", "hold on", "one moment",
	"just a second", "i don't know", "i'm not sure", "that's all", "that's all thanks", "nothing else", "no that's all"}

// digitRun is a sequence of digit words in which each digit is followed
// once by every digit: a de Bruijn sequence over the ten digits and "oh".
func digitRun() []string {
	words := []string{"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	// The Lyndon words of length 1 and 2 in order ("0", "0 1", "0 2", ...
	// "1", "1 2", ...), concatenated, then the first digit again.
	var seq []int
	for a := range words {
		seq = append(seq, a)
		for b := a + 1; b < len(words); b++ {
			seq = append(seq, a, b)
		}
	}
	seq = append(seq, 0)
	out := make([]string, len(seq))
	for i, x := range seq {
		out[i] = words[x]
	}
	return out
}

// crossCheckRecognizer decodes every utterance with the deployment's
// grammar and with its domain language model (a trigram model of the
// same words, in any order) and keeps the grammar's words unless fewer
// than half of them are among the language model's: the grammar is exact
// on what it holds but forces a caller outside it onto its nearest phrase
// ("my broadband is really slow in the evenings" -> "my bill went up"),
// which the language model's decode then contradicts. Twice the decoding
// CPU of the grammar alone.
type crossCheckRecognizer struct {
	grammar, domain asr.Recognizer
}

func (r crossCheckRecognizer) NewStream(ctx context.Context) (asr.Stream, error) {
	g, err := r.grammar.NewStream(ctx)
	if err != nil {
		return nil, err
	}
	d, err := r.domain.NewStream(ctx)
	if err != nil {
		g.Close()
		return nil, err
	}
	return &crossCheckStream{g: g, d: d}, nil
}

type crossCheckStream struct{ g, d asr.Stream }

func (s *crossCheckStream) Write(f audio.Frame) error {
	if err := s.g.Write(f); err != nil {
		return err
	}
	return s.d.Write(f)
}

func (s *crossCheckStream) Partial() string { return s.g.Partial() }

func (s *crossCheckStream) Final(ctx context.Context) (asr.Result, error) {
	// Both decoders finish their utterance at once (the language model's
	// end-of-utterance passes are the longer).
	var d asr.Result
	var derr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		d, derr = s.d.Final(ctx)
	}()
	g, err := s.g.Final(ctx)
	<-done
	if err != nil {
		return g, err
	}
	if derr != nil || d.Text == "" {
		return g, nil
	}
	if keepGrammar(g.Text, d.Text) {
		return g, nil
	}
	return d, nil
}

// keepGrammar tells whether the grammar's words stand against the
// language model's: at least half of them were also heard. Otherwise the
// grammar forced the caller onto its nearest phrase and the model's decode
// contradicts it ("my bill went up" for "my broadband is really slow in
// the evenings").
func keepGrammar(grammar, lm string) bool {
	gw, lw := strings.Fields(grammar), strings.Fields(lm)
	shared := 0
	for _, w := range gw {
		if slices.Contains(lw, w) {
			shared++
		}
	}
	return len(gw) > 0 && 2*shared >= len(gw)
}

func (s *crossCheckStream) Close() error {
	s.g.Close()
	return s.d.Close()
}

// Close frees both recognizers' decoders.
func (r crossCheckRecognizer) Close() {
	for _, x := range []asr.Recognizer{r.grammar, r.domain} {
		if c, ok := x.(interface{ Close() }); ok {
			c.Close()
		}
	}
}

// callInfo tells the dialog who is calling: a SIP caller's number (so "call
// me back on this number" and the caller's own number in flows work), the
// number dialled, and the channel.
func callInfo(call media.Call, lang string) dialog.CallInfo {
	info := dialog.CallInfo{CallID: call.ID(), Channel: "sip", Language: lang}
	switch c := call.(type) {
	case *sip.Call:
		if c.Inbound() {
			info.From, info.To = acd.CallerNumber(c.From()), c.Destination()
		} else { // a campaign's call: the customer is the far end
			info.From, info.To = acd.CallerNumber(c.To()), acd.CallerNumber(c.From())
		}
	case *webrtc.Leg:
		info.Channel = "webrtc"
	}
	return info
}
