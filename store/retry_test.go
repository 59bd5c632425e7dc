package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

var errDown = errors.New("connection refused")

func fast() Backoff {
	return Backoff{Initial: time.Millisecond, Max: 4 * time.Millisecond, Attempts: 4}
}

func TestRetry(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		fails     []error // returned by successive attempts, then nil
		wantCalls int
		wantIs    error
		wantOK    bool
	}{
		{"succeeds at once", nil, 1, nil, true},
		{"succeeds after transient failures", []error{errDown, errDown, errDown}, 4, nil, true},
		{"gives up after Attempts", []error{errDown, errDown, errDown, errDown, errDown}, 4, errDown, false},
		{"not found is permanent", []error{fmt.Errorf("get call: %w", ErrNotFound)}, 1, ErrNotFound, false},
		{"conflict is permanent", []error{errDown, ErrConflict}, 2, ErrConflict, false},
		{"invalid is permanent", []error{Invalidf("id is empty")}, 1, ErrInvalid, false},
		{"marked permanent", []error{Permanent(errDown)}, 1, errDown, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := Retry(ctx, fast(), func(context.Context) error {
				calls++
				if calls <= len(tc.fails) {
					return tc.fails[calls-1]
				}
				return nil
			})
			if calls != tc.wantCalls {
				t.Fatalf("%d attempts, want %d", calls, tc.wantCalls)
			}
			if tc.wantOK != (err == nil) || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
				t.Fatalf("err = %v, want ok=%v is=%v", err, tc.wantOK, tc.wantIs)
			}
		})
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Retry(ctx, Backoff{Initial: time.Hour, Attempts: 10}, func(context.Context) error {
		calls++
		cancel()
		return errDown
	})
	if calls != 1 || !errors.Is(err, context.Canceled) || !errors.Is(err, errDown) {
		t.Fatalf("calls=%d err=%v: want one attempt and an error wrapping both the cancel and the last failure", calls, err)
	}
}

func TestRetrying(t *testing.T) {
	calls := 0
	write := Retrying(fast(), func(context.Context) error {
		calls++
		if calls < 3 {
			return errDown
		}
		return nil
	})
	if err := write(context.Background()); err != nil || calls != 3 {
		t.Fatalf("err=%v calls=%d, want success on the third attempt", err, calls)
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2}
	for _, tc := range []struct {
		attempt int
		full    time.Duration
	}{{0, 100 * time.Millisecond}, {1, 200 * time.Millisecond}, {3, 800 * time.Millisecond}, {4, time.Second}, {60, time.Second}} {
		for range 50 {
			d := b.Delay(tc.attempt)
			if d < tc.full/2 || d > tc.full {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", tc.attempt, d, tc.full/2, tc.full)
			}
		}
	}
	if d := (Backoff{}).Delay(0); d < 25*time.Millisecond || d > 50*time.Millisecond {
		t.Fatalf("default first delay %v, want 25..50ms", d)
	}
}

func TestIsPermanent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{errDown, false},
		{context.DeadlineExceeded, false},
		{fmt.Errorf("x: %w", context.Canceled), true},
		{fmt.Errorf("x: %w", ErrNotFound), true},
		{fmt.Errorf("x: %w: %w", ErrConflict, errDown), true},
		{Invalidf("bad"), true},
		{Permanent(errDown), true},
	} {
		if got := IsPermanent(tc.err); got != tc.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
}
