package local

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/voicebot/tts"
)

func TestSynthesizeStreamsAudibleSpeech(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	var chunks int
	var frames []audio.Frame
	long := "Thank you for calling. Your account balance is two hundred and fifty dollars, and your next statement will be ready on the first of the month."
	err = s.Synthesize(context.Background(), long, func(f []audio.Frame) error {
		chunks++
		frames = append(frames, f...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	secs := float64(len(frames)) * 0.02
	if secs < 4 || secs > 15 {
		t.Fatalf("speech lasts %.2fs, want 4-15s", secs)
	}
	if chunks < 3 {
		t.Fatalf("audio arrived in %d chunks; flite streaming callback not used", chunks)
	}
	var loud int
	for i := range frames {
		if frames[i].Level() > -35 {
			loud++
		}
	}
	if loud < len(frames)/2 {
		t.Fatalf("only %d of %d frames audible", loud, len(frames))
	}
}

func TestConcurrentVoicesMatchSerial(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"Press one for billing.", "Your payment was received yesterday.", "Please hold while I transfer you."}
	want := make([][]audio.Frame, len(texts))
	for i, tx := range texts {
		if want[i], err = tts.Collect(context.Background(), s, tx); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for r := 0; r < 10; r++ {
		for i, tx := range texts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := tts.Collect(context.Background(), s, tx)
				if err != nil {
					errs <- err
					return
				}
				// flite's mixed excitation is random, so compare the length
				// and the loudness envelope, not the samples.
				if len(got) != len(want[i]) {
					errs <- errors.New("concurrent synthesis of " + tx + " has another length than serial")
					return
				}
				var dev float64
				for k := range got {
					dev += math.Abs(math.Max(got[k].Level(), -90) - math.Max(want[i][k].Level(), -90))
				}
				if dev /= float64(len(got)); dev > 3 {
					errs <- fmt.Errorf("concurrent synthesis of %q: envelope deviates %.1f dB per frame", tx, dev)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestCancelStopsSynthesis(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop := errors.New("caller barged in")
	n := 0
	err = s.Synthesize(ctx, "One two three four five six seven eight nine ten eleven twelve thirteen fourteen.", func(f []audio.Frame) error {
		n++
		if n == 1 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err %v after %d chunks, want the out error after 1", err, n)
	}
	cancel()
	if err := s.Synthesize(ctx, "Hello.", func([]audio.Frame) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled synthesis: %v", err)
	}
	// The voice went back to the pool: a fresh call works.
	if f, err := tts.Collect(context.Background(), s, "Hello again."); err != nil || len(f) == 0 {
		t.Fatalf("after cancel: %d frames, %v", len(f), err)
	}
	if _, err := New(Config{Voice: "hal9000"}); err == nil {
		t.Fatal("unknown voice accepted")
	}
}

func BenchmarkSynthesizeSentence(b *testing.B) {
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	var audioSec float64
	for i := 0; i < b.N; i++ {
		f, err := tts.Collect(context.Background(), s, "Your account balance is two hundred and fifty dollars.")
		if err != nil {
			b.Fatal(err)
		}
		audioSec += float64(len(f)) * 0.02
	}
	b.ReportMetric(audioSec/b.Elapsed().Seconds(), "x-realtime")
}
