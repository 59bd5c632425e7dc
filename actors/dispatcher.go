package actors

import (
	"sync"
	"time"
)

// workerDispatcher runs grain mailboxes on a pool of long-lived goroutines.
// protoactor's default dispatcher starts a goroutine per mailbox run, and the
// generated grain Receive has a large frame, so each fresh goroutine grows
// its stack (copystack was a quarter of the CPU of a local grain request).
// Pooled goroutines keep their grown stacks. When no worker is idle the run
// gets its own goroutine, so a grain blocked on the store never delays others.
type workerDispatcher struct {
	work       chan func()
	throughput int
	stop       chan struct{}
	stopOnce   sync.Once
}

func newWorkerDispatcher(workers, throughput int) *workerDispatcher {
	d := &workerDispatcher{work: make(chan func()), throughput: throughput, stop: make(chan struct{})}
	for range workers {
		go d.run()
	}
	return d
}

func (d *workerDispatcher) run() {
	// An idle worker exits after a while so a burst does not pin goroutines.
	idle := time.NewTimer(time.Minute)
	defer idle.Stop()
	for {
		select {
		case fn := <-d.work:
			fn()
			idle.Reset(time.Minute)
		case <-d.stop:
			return
		case <-idle.C:
			idle.Reset(time.Minute)
		}
	}
}

// Schedule hands fn to an idle worker, or to a new goroutine if none is idle.
func (d *workerDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
	default:
		go fn()
	}
}

// Throughput is how many messages a mailbox processes before yielding.
func (d *workerDispatcher) Throughput() int { return d.throughput }

func (d *workerDispatcher) close() { d.stopOnce.Do(func() { close(d.stop) }) }
