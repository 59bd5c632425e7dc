package rtp

import (
	"context"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConcurrentCalls runs 100 calls on loopback for one second per op:
// both ends of each call are Sessions in this process (200 sessions, each
// sending and receiving 50 packets/s with playout). It reports process CPU
// time per session-second; a node terminates one Session per call leg (the
// other end is the phone), so 1000 calls fit in 2 cores while it stays
// below 2 ms.
func BenchmarkConcurrentCalls(b *testing.B) {
	const calls = 100
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sessions []*Session
	for i := 0; i < calls; i++ {
		a := newTestSession(b, Config{LearnRemote: true, MediaTimeout: -1})
		c := newTestSession(b, Config{Remote: a.LocalAddr(), MediaTimeout: -1})
		a.SetRemote(c.LocalAddr())
		sessions = append(sessions, a, c)
	}
	for _, s := range sessions {
		go func(s *Session) { // the application reading every frame
			for {
				select {
				case <-s.Frames():
				case <-ctx.Done():
					return
				}
			}
		}(s)
	}
	time.Sleep(200 * time.Millisecond) // let every call latch and start playout
	b.ResetTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	var rx0 uint64
	for _, s := range sessions {
		rx0 += s.Stats().PacketsReceived
	}
	for i := 0; i < b.N; i++ {
		time.Sleep(time.Second)
	}
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	b.StopTimer()
	var rx uint64
	var lost int64
	for _, s := range sessions {
		st := s.Stats()
		rx += st.PacketsReceived
		lost += st.Lost
	}
	sessionSeconds := float64(len(sessions)) * wall.Seconds()
	b.ReportMetric(float64(cpu.Microseconds())/1000/sessionSeconds, "cpu-ms/session-s")
	b.ReportMetric(float64(rx-rx0)/wall.Seconds(), "pkts/s")
	b.ReportMetric(float64(lost), "lost")
}
