package rtp

import (
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
)

func numbered(n int) []int16 {
	f := make([]int16, audio.FrameSamples)
	for i := range f {
		f[i] = int16(n + 1)
	}
	return f
}

func TestJitterBufferReorderDuplicateLoss(t *testing.T) {
	jb := NewJitterBuffer(JitterConfig{MinDelay: 60 * time.Millisecond, Conceal: ConcealSilence})
	const base = uint32(4294967000) // wraps during the test
	ts := func(n int) uint32 { return base + uint32(n*audio.FrameSamples) }
	// Frames 0..9 arrive as 0,2,1,3,3(dup),5,4,7,8,9: frame 6 is lost.
	for _, n := range []int{0, 2, 1, 3, 3, 5, 4, 7, 8, 9} {
		jb.Push(ts(n), numbered(n))
	}
	var got []int16
	var statuses []PopStatus
	for i := 0; i < 10; i++ {
		f, st := jb.Pop()
		got = append(got, f[0])
		statuses = append(statuses, st)
	}
	want := []int16{1, 2, 3, 4, 5, 6, 0, 8, 9, 10}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("playout %v, want %v (statuses %v)", got, want, statuses)
		}
	}
	if statuses[6] != Concealed {
		t.Errorf("lost frame status %v, want Concealed", statuses[6])
	}
	// Frame 6 arriving now is late.
	if r := jb.Push(ts(6), numbered(6)); r != Late {
		t.Errorf("late push = %v, want Late", r)
	}
	s := jb.Stats()
	if s.Duplicate != 1 || s.Late != 1 || s.Played != 9 || s.Concealed != 1 {
		t.Errorf("stats %+v, want 1 duplicate, 1 late, 9 played, 1 concealed", s)
	}
}

func TestJitterBufferPrebufferAndUnderrun(t *testing.T) {
	jb := NewJitterBuffer(JitterConfig{MinDelay: 40 * time.Millisecond})
	jb.Push(1000, numbered(0))
	if _, st := jb.Pop(); st != Buffering {
		t.Fatalf("status %v before target delay, want Buffering", st)
	}
	jb.Push(1160, numbered(1))
	if f, st := jb.Pop(); st != Played || f[0] != 1 {
		t.Fatalf("first pop %v %d", st, f[0])
	}
	jb.Pop()
	// Empty: concealment repeats the last frame at half level, then re-buffers.
	f, st := jb.Pop()
	if st != Concealed || f[0] != 1 {
		t.Fatalf("underrun pop %v %d, want Concealed repeat at half level of 2", st, f[0])
	}
	if _, st := jb.Pop(); st != Buffering {
		t.Fatalf("after underrun %v, want Buffering", st)
	}
	// The delayed packets arrive: nothing was skipped, so none is late.
	if r := jb.Push(1320, numbered(2)); r != Accepted {
		t.Fatalf("delayed packet %v", r)
	}
	jb.Push(1480, numbered(3))
	if f, st := jb.Pop(); st != Played || f[0] != 3 {
		t.Fatalf("after re-buffer %v %d, want frame 2", st, f[0])
	}
}

func TestJitterBufferShrinksExcessDelayAndResyncs(t *testing.T) {
	jb := NewJitterBuffer(JitterConfig{MinDelay: 40 * time.Millisecond})
	// A burst of 20 frames (400 ms) then steady one-in-one-out.
	n := 0
	for ; n < 20; n++ {
		jb.Push(uint32(n*160), numbered(n))
	}
	for i := 0; i < 200; i++ {
		jb.Push(uint32(n*160), numbered(n))
		n++
		jb.Pop()
	}
	if s := jb.Stats(); s.LatencyDrops == 0 || s.BufferedAudio > 120*time.Millisecond {
		t.Errorf("after burst: %d latency drops, %v buffered; want drops and <= 120 ms", s.LatencyDrops, s.BufferedAudio)
	}
	if r := jb.Push(uint32(n*160+800000), numbered(0)); r != Resynced {
		t.Errorf("timestamp jump: %v, want Resynced", r)
	}
}

func TestJitterBufferAdaptTarget(t *testing.T) {
	jb := NewJitterBuffer(JitterConfig{MinDelay: 40 * time.Millisecond, MaxDelay: 200 * time.Millisecond})
	jb.Adapt(0)
	if d := jb.Stats().TargetDelay; d != 40*time.Millisecond {
		t.Errorf("no jitter: target %v", d)
	}
	jb.Adapt(400) // 50 ms of jitter
	if d := jb.Stats().TargetDelay; d != 180*time.Millisecond {
		t.Errorf("50 ms jitter: target %v, want 180 ms", d)
	}
	jb.Adapt(8000)
	if d := jb.Stats().TargetDelay; d != 200*time.Millisecond {
		t.Errorf("huge jitter: target %v, want the 200 ms cap", d)
	}
}

func BenchmarkJitterBufferPushPop(b *testing.B) {
	jb := NewJitterBuffer(JitterConfig{})
	pcm := numbered(1)
	n := 0
	for ; n < 3; n++ {
		jb.Push(uint32(n*160), pcm)
	}
	for b.Loop() {
		jb.Push(uint32(n*160), pcm)
		n++
		jb.Pop()
	}
}

func TestJitterBufferReorderBeforePlayoutStarts(t *testing.T) {
	jb := NewJitterBuffer(JitterConfig{MinDelay: 40 * time.Millisecond})
	jb.Push(160, numbered(1))
	if r := jb.Push(0, numbered(0)); r != Accepted {
		t.Fatalf("first packet arriving second: %v, want Accepted", r)
	}
	for want := int16(1); want <= 2; want++ {
		if f, st := jb.Pop(); st != Played || f[0] != want {
			t.Fatalf("pop %v %d, want frame %d", st, f[0], want)
		}
	}
}
