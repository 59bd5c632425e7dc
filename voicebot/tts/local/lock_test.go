package local

import (
	"context"
	"testing"
	"time"
)

// TestTurnLockOrderAndCancel: urgent waiters go first, then the others in
// arrival order; a waiter whose context ends leaves the queue at once.
func TestTurnLockOrderAndCancel(t *testing.T) {
	l := &turnLock{}
	if err := l.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 4)
	wait := func(name string, ctx context.Context, urgent bool) chan error {
		done := make(chan error, 1)
		go func() {
			err := l.acquire(ctx, urgent)
			if err == nil {
				order <- name
				l.release()
			}
			done <- err
		}()
		time.Sleep(20 * time.Millisecond) // queue in this order
		return done
	}
	n1 := wait("normal-1", context.Background(), false)
	ctx, cancel := context.WithCancel(context.Background())
	gone := wait("cancelled", ctx, false)
	n2 := wait("normal-2", context.Background(), false)
	u := wait("urgent", context.Background(), true)
	cancel()
	select {
	case err := <-gone:
		if err == nil {
			t.Fatal("a cancelled waiter got the lock")
		}
	case <-time.After(time.Second):
		t.Fatal("a cancelled waiter kept waiting")
	}
	l.release()
	for _, d := range []chan error{n1, n2, u} {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
	close(order)
	var got []string
	for s := range order {
		got = append(got, s)
	}
	if len(got) != 3 || got[0] != "urgent" || got[1] != "normal-1" || got[2] != "normal-2" {
		t.Fatalf("lock order %v", got)
	}
	// Free again: the next acquire does not wait.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if err := l.acquire(ctx2, false); err != nil {
		t.Fatalf("lock not released: %v", err)
	}
}
