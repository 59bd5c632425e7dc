package dtmf

import (
	"testing"
	"time"
)

func TestDedupPairsSourcesInOrder(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	rfc := func(d byte) KeyPress { return KeyPress{Digit: d} }
	tone := func(d byte) KeyPress { return KeyPress{Digit: d, InBand: true} }
	type step struct {
		kp   KeyPress
		ms   int
		want bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"in-band only: every press, repeats too", []step{{tone('1'), 0, true}, {tone('1'), 200, true}, {tone('2'), 400, true}}},
		{"rfc only", []step{{rfc('1'), 0, true}, {rfc('1'), 200, true}}},
		{"both ways: the second report of each press is dropped", []step{
			{rfc('1'), 0, true}, {tone('1'), 120, false}, {rfc('2'), 300, true}, {tone('2'), 420, false}}},
		{"fast repeat of one key sent both ways counts twice", []step{
			{rfc('5'), 0, true}, {rfc('5'), 150, true}, {tone('5'), 200, false}, {tone('5'), 350, false}, {tone('5'), 500, true}}},
		{"tone first, event late", []step{{tone('7'), 0, true}, {rfc('7'), 90, false}}},
		{"a press the detector missed leaves later ones paired", []step{
			{rfc('1'), 0, true}, {rfc('2'), 150, true}, {tone('2'), 300, false}, {tone('1'), 600, true}}},
		{"outside the window it is a new press", []step{{rfc('3'), 0, true}, {tone('3'), 1500, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Dedup
			for i, s := range tc.steps {
				if got := d.Accept(s.kp, at(s.ms)); got != s.want {
					t.Fatalf("step %d (%q in-band=%v at %d ms): Accept = %v, want %v", i, s.kp.Digit, s.kp.InBand, s.ms, got, s.want)
				}
			}
		})
	}
}

func TestDedupBoundedMemory(t *testing.T) {
	var d Dedup
	t0 := time.Unix(0, 0)
	for i := range 1000 {
		d.Accept(KeyPress{Digit: '1'}, t0.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(d.unmatched[0]); n > maxUnmatched {
		t.Fatalf("%d unmatched presses kept, want at most %d", n, maxUnmatched)
	}
}
