package rtp

import (
	"context"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
)

// BenchmarkSessionPacket measures one 20 ms packet end to end over loopback:
// G.711 encode, marshal, send, receive, unmarshal, decode, jitter-buffer push.
// Each op is one packet; a call needs 50 per second each way.
func BenchmarkSessionPacket(b *testing.B) {
	rx := newTestSession(b, Config{LearnRemote: true, MediaTimeout: -1})
	// The sender is driven by the benchmark loop instead of its 20 ms clock.
	tx, err := newSession(Config{Remote: rx.LocalAddr(), MediaTimeout: -1, Logger: quiet, Ports: PortRange{30000, 39999}})
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Close()
	f := toneFrame(1)
	// Warm up so the receiver latches.
	tx.sendFrame(tx.cfg.PayloadType, &f)
	waitForB(b, func() bool { return rx.Stats().PacketsReceived >= 1 })
	start := rx.Stats().PacketsReceived
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tx.sendFrame(tx.cfg.PayloadType, &f)
		tx.ts += audio.FrameSamples
		if i%64 == 63 { // let the receiver keep up instead of overflowing the socket buffer
			want := start + uint64(i)
			waitForB(b, func() bool { return rx.Stats().PacketsReceived >= want-32 })
		}
	}
	waitForB(b, func() bool { return rx.Stats().PacketsReceived+uint64(b.N)/100 >= start+uint64(b.N) })
	b.StopTimer()
	st := rx.Stats()
	b.ReportMetric(float64(st.PacketsReceived-start)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkSessionPlayout measures the 20 ms clock's receive-side work for one call: jitter-buffer pop and frame delivery.
func BenchmarkSessionPlayout(b *testing.B) {
	s := newTestSession(b, Config{MediaTimeout: -1})
	pcm := make([]int16, audio.FrameSamples)
	now := time.Now()
	for i := 0; i < 4; i++ {
		s.jb.Push(uint32(i*160), pcm)
	}
	ts := uint32(4 * 160)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			select {
			case <-s.Frames():
			case <-ctx.Done():
				return
			}
		}
	}()
	for b.Loop() {
		s.mu.Lock()
		s.jb.Push(ts, pcm)
		s.mu.Unlock()
		ts += 160
		s.playout(now)
	}
}

func waitForB(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("receiver did not keep up within 10 s")
		}
		time.Sleep(50 * time.Microsecond)
	}
}
