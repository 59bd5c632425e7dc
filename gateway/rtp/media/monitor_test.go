package media

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/wav"
)

// TestMonitorRecordsAndObservesUnreadAudio checks that the monitor records the
// far end's audio and passes every event to the observer although the
// application reads neither, and records what the application writes.
func TestMonitorRecordsAndObservesUnreadAudio(t *testing.T) {
	call := newFakeCall("call-7")
	rec, err := wav.NewRecorder(t.TempDir(), "call-7")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []Event
	m := Monitor(call, rec, func(ev Event) { mu.Lock(); seen = append(seen, ev); mu.Unlock() })
	for i := 0; i < 10; i++ {
		call.in <- level(300)
	}
	call.events <- Event{Kind: KeyPress, Digit: '5'}
	for i := 0; i < 10; i++ {
		if err := m.Write(context.Background(), level(-700)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	call.events <- Event{Kind: Hangup}
	call.Hangup(context.Background())
	select {
	case <-m.Stopped():
	case <-time.After(5 * time.Second):
		t.Fatal("monitor did not stop after hang-up")
	}
	mu.Lock()
	if len(seen) != 2 || seen[0].Digit != '5' || seen[1].Kind != Hangup {
		t.Fatalf("observer saw %+v, want the key press and the hang-up", seen)
	}
	mu.Unlock()
	if ev := <-m.Events(); ev.Digit != '5' {
		t.Fatalf("application got %+v first, want the key press", ev)
	}
	if len(call.out) != 10 {
		t.Fatalf("%d frames reached the far end, want 10", len(call.out))
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(rec.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := wav.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	left, right := 0, 0
	for i := 0; i+1 < len(a.Samples); i += 2 {
		if a.Samples[i] == 300 {
			left++
		}
		if a.Samples[i+1] == -700 {
			right++
		}
	}
	if left != 10*160 || right != 10*160 {
		t.Fatalf("recording holds %d caller and %d agent samples, want 1600 each", left, right)
	}
}
