package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-cc/parley/store"
)

// BenchmarkAppendTurn measures AppendTurn on s: "serial" appends the turns
// of one call one after another, "parallel" appends from GOMAXPROCS*4
// goroutines, each on its own call, as concurrent Call grains do.
func BenchmarkAppendTurn(b *testing.B, s store.Store) {
	ctx := context.Background()
	var calls atomic.Int64
	newCall := func() (string, error) {
		id := fmt.Sprintf("bench-%d", calls.Add(1))
		c := store.Call{ID: id, State: store.CallBot}
		return id, s.SaveCall(ctx, &c)
	}
	turn := func(id string, seq int) store.Turn {
		return store.Turn{CallID: id, Seq: seq, Speaker: store.SpeakerCaller, Text: "I would like to check my last invoice, please.",
			Intent: "billing.invoice", Confidence: 0.91, Sentiment: 0.1,
			Timings: store.Timings{ASRFinalMs: 180, LLMFirstTokenMs: 320, TTSFirstAudioMs: 410, FirstRTPOutMs: 430}, At: time.Now()}
	}
	b.Run("serial", func(b *testing.B) {
		id, err := newCall()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if err := s.AppendTurn(ctx, turn(id, i+1)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(4)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			id, err := newCall()
			if err != nil {
				b.Error(err)
				return
			}
			for seq := 1; pb.Next(); seq++ {
				if err := s.AppendTurn(ctx, turn(id, seq)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
