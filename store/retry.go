package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Backoff is a bounded exponential backoff with jitter for retrying writes.
// The zero value uses the defaults named on each field.
type Backoff struct {
	Initial    time.Duration // first wait; default 50 ms
	Max        time.Duration // longest wait; default 5 s
	Multiplier float64       // growth per attempt; default 2
	Attempts   int           // attempts in all for Retry; default 5 (WriteBehind retries without limit)
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = 50 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 5 * time.Second
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Multiplier < 1 {
		b.Multiplier = 2
	}
	if b.Attempts <= 0 {
		b.Attempts = 5
	}
	return b
}

// Delay returns the wait after the failed attempt numbered attempt (from 0):
// Initial*Multiplier^attempt capped at Max, of which a random half is
// dropped so that many writers failing together do not retry together.
func (b Backoff) Delay(attempt int) time.Duration {
	b = b.withDefaults()
	d := float64(b.Initial)
	for i := 0; i < attempt && d < float64(b.Max); i++ {
		d *= b.Multiplier
	}
	d = min(d, float64(b.Max))
	half := d / 2
	return time.Duration(half + rand.Float64()*half)
}

// Retry runs write until it succeeds, fails with a permanent error (see
// IsPermanent), has been tried b.Attempts times, or ctx ends.
func Retry(ctx context.Context, b Backoff, write func(context.Context) error) error {
	b = b.withDefaults()
	var err error
	for attempt := range b.Attempts {
		if err = write(ctx); err == nil || IsPermanent(err) {
			return err
		}
		if attempt == b.Attempts-1 {
			break
		}
		if werr := sleep(ctx, b.Delay(attempt)); werr != nil {
			return fmt.Errorf("retry stopped after %d attempts: %w; last error: %w", attempt+1, werr, err)
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", b.Attempts, err)
}

// Retrying returns write wrapped in Retry with b, for write-through calls
// such as func(ctx) error { return s.AppendTurn(ctx, t) }.
func Retrying(b Backoff, write func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error { return Retry(ctx, b, write) }
}

// sleep waits d or until ctx ends, returning ctx's error in that case.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
