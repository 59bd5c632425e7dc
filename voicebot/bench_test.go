package voicebot

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/parley-cc/parley/voicebot/calltest"
	"github.com/parley-cc/parley/voicebot/dialog"
)

// BenchmarkTurnLocalStack measures one caller turn with the offline stack
// (VAD, end of turn, pocketsphinx grammar, flite), against a conversation
// that answers at once: voice to voice is the end of the caller's audio on
// the wire to the bot's first reply frame on the wire; the stage figures
// are the stored turn timings (from the bot's end-of-speech estimate).
//
//	go test -run '^$' -bench TurnLocalStack -benchtime 10x ./voicebot/
func BenchmarkTurnLocalStack(b *testing.B) {
	conv := newScripted("Hi.", func(n int, in dialog.Input) (string, dialog.Result, error, bool) {
		return "Your balance is fifty dollars.", dialog.Result{Intent: "check_balance"}, nil, false
	})
	a, s, _ := localProviders(b)
	turns := &memTurns{}
	bot, err := New(Config{Engine: conv, ASR: a, TTS: s, Turns: turns})
	if err != nil {
		b.Fatal(err)
	}
	utter := say(b, "I want to check my account balance")
	// Trim the synthesized trailing silence: the caller's audio ends at its last loud frame.
	end := len(utter)
	for end > 0 && utter[end-1].Level() < -50 {
		end--
	}
	utter = utter[:end]
	h := &harness{conv: conv, turns: turns}
	botLeg, callerLeg := calltest.Pair("bench")
	go func() {
		for r := range callerLeg.Wire() {
			h.mu.Lock()
			h.heard = append(h.heard, r)
			h.mu.Unlock()
		}
	}()
	go bot.Run(context.Background(), botLeg)
	time.Sleep(2 * time.Second) // greeting
	var v2v []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := callerLeg.Speak(context.Background(), utter); err != nil {
			b.Fatal(err)
		}
		// Our last frame reaches the bot within one tick.
		spokeEnd := time.Now().Add(20 * time.Millisecond)
		<-conv.events
		deadline := time.Now().Add(5 * time.Second)
		var first time.Time
		for first.IsZero() && time.Now().Before(deadline) {
			if a := h.botAudio(spokeEnd); len(a) > 0 {
				first = a[0]
			}
			time.Sleep(5 * time.Millisecond)
		}
		if first.IsZero() {
			b.Fatal("no reply")
		}
		v2v = append(v2v, first.Sub(spokeEnd))
		time.Sleep(2500 * time.Millisecond) // let the reply finish
		for len(callerLeg.Frames()) > 0 {
			<-callerLeg.Frames()
		}
	}
	b.StopTimer()
	callerLeg.Hangup(context.Background())
	sort.Slice(v2v, func(i, j int) bool { return v2v[i] < v2v[j] })
	b.ReportMetric(float64(v2v[len(v2v)/2].Milliseconds()), "v2v-p50-ms")
	b.ReportMetric(float64(v2v[len(v2v)-1].Milliseconds()), "v2v-max-ms")
	var asrMs, rtpMs []float64
	for _, tr := range turns.all() {
		if tr.Speaker == "caller" {
			asrMs = append(asrMs, tr.Timings.ASRFinalMs)
			rtpMs = append(rtpMs, tr.Timings.FirstRTPOutMs)
		}
	}
	sort.Float64s(asrMs)
	sort.Float64s(rtpMs)
	if len(asrMs) > 0 {
		b.ReportMetric(asrMs[len(asrMs)/2], "eos-to-asr-final-p50-ms")
		b.ReportMetric(rtpMs[len(rtpMs)/2], "eos-to-first-rtp-p50-ms")
	}
}
