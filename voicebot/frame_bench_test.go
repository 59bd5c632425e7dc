package voicebot

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/voicebot/asr"
	"github.com/parley-cc/parley/voicebot/calltest"
)

// nullASR hears "yes" in every utterance at once.
type nullASR struct{}

func (nullASR) NewStream(context.Context) (asr.Stream, error) { return nullStream{}, nil }

type nullStream struct{}

func (nullStream) Write(audio.Frame) error { return nil }
func (nullStream) Partial() string         { return "yes" }
func (nullStream) Close() error            { return nil }
func (nullStream) Final(context.Context) (asr.Result, error) {
	return asr.Result{Text: "yes", Confidence: 1}, nil
}

// BenchmarkCallFrame is the per-frame cost of a call's loop: VAD, end of
// turn, pre-roll and the hand-off to the ASR worker, over a cycle of 0.5 s
// of silence, 1 s of speech and 1 s of silence (an utterance every cycle; the benchmark
// waits for each utterance's worker, as real-time pacing would).
//
//	go test -run '^$' -bench CallFrame -benchmem ./voicebot/
func BenchmarkCallFrame(b *testing.B) {
	pcm := make([]int16, audio.SampleRate) // 1 s of a 200 Hz tone at -16 dBFS
	for i := range pcm {
		pcm[i] = int16(5000 * math.Sin(2*math.Pi*200*float64(i)/audio.SampleRate))
	}
	frames := append(append(make([]audio.Frame, 25), audio.Frames(pcm)...), make([]audio.Frame, 50)...)
	conv := newScripted("", nil)
	_, s, _ := localProviders(b)
	bot, err := New(Config{Engine: conv, ASR: nullASR{}, TTS: s})
	if err != nil {
		b.Fatal(err)
	}
	leg, peer := calltest.Pair("bench")
	defer peer.Hangup(context.Background())
	c := newCallCtl(context.Background(), bot, leg)
	defer c.cancel()
	seen := make(chan struct{}, 1)
	go func() { // what the call loop does with finished utterances
		for {
			select {
			case <-c.asrDone:
				seen <- struct{}{}
			case <-c.ctx.Done():
				return
			}
		}
	}()
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(frameDur)
		c.onFrame(frames[i%len(frames)], now)
		if i%len(frames) == len(frames)-1 {
			<-seen // in real time the worker keeps up with the caller
		}
	}
}
