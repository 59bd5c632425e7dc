package voicebot

import (
	"sync"

	"github.com/parley-cc/parley/gateway/rtp/audio"
)

// maxBacklog is how far (10 s) an utterance's ASR worker may fall behind
// the caller before frames are dropped; the turn then ends on its own bound.
const maxBacklog = 500

// frameQueue hands one utterance's frames from the call loop to its ASR
// worker. The loop never blocks, and memory follows the actual backlog
// (usually a frame or two) instead of a channel sized for the worst case.
type frameQueue struct {
	mu     sync.Mutex
	buf    []audio.Frame
	spare  []audio.Frame // the worker's batch, kept with the queue for reuse
	closed bool
	ready  chan struct{} // holds a token while something waits to be taken
}

func newFrameQueue() *frameQueue { return &frameQueue{ready: make(chan struct{}, 1)} }

// push queues f; false when the worker is maxBacklog frames behind.
func (q *frameQueue) push(f *audio.Frame) bool {
	q.mu.Lock()
	if len(q.buf) >= maxBacklog || q.closed {
		q.mu.Unlock()
		return false
	}
	q.buf = append(q.buf, *f)
	q.mu.Unlock()
	q.signal()
	return true
}

// close ends the utterance: take returns what is left, then ok false.
func (q *frameQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *frameQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take waits for frames and returns them all; the caller hands back the
// previous batch (done with) so the two buffers alternate without copying.
// ok is false once the queue is closed and drained.
func (q *frameQueue) take(done []audio.Frame) (frames []audio.Frame, ok bool) {
	for {
		q.mu.Lock()
		if len(q.buf) > 0 {
			frames = q.buf
			q.buf = done[:0]
			q.mu.Unlock()
			return frames, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return done[:0], false
		}
		<-q.ready
	}
}

// reset makes a drained queue ready for the next utterance, keeping its
// buffers; batch is the worker's last batch.
func (q *frameQueue) reset(batch []audio.Frame) *frameQueue {
	q.mu.Lock()
	q.buf, q.spare, q.closed = q.buf[:0], batch[:0], false
	q.mu.Unlock()
	select {
	case <-q.ready:
	default:
	}
	return q
}
