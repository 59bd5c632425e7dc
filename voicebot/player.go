package voicebot

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
)

const frameDur = audio.FrameDurationMs * time.Millisecond

// segment is one synthesized sentence of a reply, filled by TTS while the
// player may already be playing its start.
type segment struct {
	text     string
	reply    *reply
	frames   []audio.Frame
	complete bool // synthesis finished (or failed): no more frames
	sent     int  // frames handed to the call (rewound on pause to the first unplayed)
}

// inflight is a frame handed to the call that the far end may not have
// heard yet: it plays at `at` (the call queues a few frames ahead).
type inflight struct {
	seg *segment
	idx int
	at  time.Time
}

// player writes segments to the call in real time and knows, at any
// moment, which frames the caller has actually heard: each frame's play-out
// time is max(when the call took it, previous frame's + 20 ms), so the
// estimate holds across TTS underruns.
type player struct {
	call media.Call
	now  func() time.Time

	mu       sync.Mutex
	cond     *sync.Cond
	segs     []*segment // not yet wholly heard; segs[cur] is being written
	cur      int
	paused   bool
	closed   bool
	inflight []inflight
	nextAt   time.Time // play-out time of the next frame written
	// wctx is what writes run under until a rewind cancels it (a write
	// blocked on a full queue must not land after the Flush); one context
	// per talk spurt, not per frame.
	wctx    context.Context
	cancelW context.CancelFunc
	idle    chan struct{} // signalled when the queue drains
	lastAt  time.Time     // play-out end of the last frame written
}

func newPlayer(call media.Call) *player {
	p := &player{call: call, now: time.Now, idle: make(chan struct{}, 1)}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// add queues a segment; TTS appends its frames with append/finish.
func (p *player) add(s *segment) {
	p.mu.Lock()
	p.segs = append(p.segs, s)
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *player) append(s *segment, f []audio.Frame) {
	p.mu.Lock()
	s.frames = append(s.frames, f...)
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *player) finish(s *segment) {
	p.mu.Lock()
	s.complete = true
	p.mu.Unlock()
	p.cond.Broadcast()
}

// busy reports whether anything is queued or still sounding at the far end.
func (p *player) busy() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur < len(p.segs) || p.now().Before(p.lastAt)
}

// writing reports whether frames are queued that the call has not taken yet.
func (p *player) writing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur < len(p.segs)
}

// drainedAt is when the last written frame finishes playing.
func (p *player) drainedAt() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastAt
}

// settle forgets in-flight frames heard by now and the segments wholly
// heard; caller holds mu.
func (p *player) settle(now time.Time) {
	i := 0
	for i < len(p.inflight) && !p.inflight[i].at.After(now) {
		i++
	}
	if i > 0 { // compact in place: the slice is reused frame after frame
		p.inflight = p.inflight[:copy(p.inflight, p.inflight[i:])]
	}
	for p.cur > 0 && (len(p.inflight) == 0 || p.inflight[0].seg != p.segs[0]) {
		p.segs = p.segs[1:]
		p.cur--
	}
}

// rewind stops the far end at once (Flush) and moves every segment back
// to its first unheard frame; caller holds mu.
func (p *player) rewind() {
	if p.cancelW != nil {
		p.cancelW()
		p.wctx, p.cancelW = nil, nil
	}
	p.call.Flush()
	now := p.now()
	p.settle(now)
	if len(p.inflight) > 0 {
		first := p.inflight[0]
		for i, sg := range p.segs {
			if sg == first.seg {
				p.cur = i
				sg.sent = first.idx
				for _, later := range p.segs[i+1:] {
					later.sent = 0
				}
				break
			}
		}
	}
	p.inflight = p.inflight[:0]
	p.nextAt = time.Time{}
	p.lastAt = now
}

// pause silences playback at once, keeping the unheard rest (a possible
// barge-in that may turn out to be a backchannel).
func (p *player) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		return
	}
	p.paused = true
	p.rewind()
}

// resume continues from the first unheard frame.
func (p *player) resume() {
	p.mu.Lock()
	p.paused = false
	p.mu.Unlock()
	p.cond.Broadcast()
}

// stop silences playback and drops the queue: the heard text of the
// reply playing (sentences before plus the heard words of the current one)
// is returned.
func (p *player) stop() (heard string, r *reply) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.rewind()
	}
	p.paused = false
	if p.cur < len(p.segs) {
		s := p.segs[p.cur]
		r = s.reply
		heard = heardPrefix(s.text, s.sent, len(s.frames), s.complete)
		r.heardUpTo(s, heard)
	}
	p.segs, p.cur = nil, 0
	p.cond.Broadcast()
	return heard, r
}

// heardPrefix is the words of text whose end was played after `played` of
// `total` frames (speech spreads roughly evenly over the sentence).
func heardPrefix(text string, played, total int, complete bool) string {
	if played <= 0 || total == 0 {
		return ""
	}
	if played >= total && complete {
		return text
	}
	cut := float64(played) / float64(total) * float64(len(text))
	end := 0
	for i := 0; i < len(text); i++ {
		if (text[i] == ' ') && float64(i) <= cut {
			end = i
		}
	}
	if float64(len(text)) <= cut {
		end = len(text)
	}
	return strings.TrimSpace(text[:end])
}

func (p *player) close() {
	p.mu.Lock()
	p.closed = true
	if p.cancelW != nil {
		p.cancelW()
	}
	p.mu.Unlock()
	p.cond.Broadcast()
}

// run writes frames until close.
func (p *player) run(ctx context.Context) {
	for {
		p.mu.Lock()
		var f audio.Frame
		var seg *segment
		for {
			if p.closed || ctx.Err() != nil {
				p.mu.Unlock()
				return
			}
			if !p.paused && p.cur < len(p.segs) {
				s := p.segs[p.cur]
				if s.sent < len(s.frames) {
					seg = s
					break
				}
				if s.complete {
					p.cur++
					if p.cur == len(p.segs) {
						select {
						case p.idle <- struct{}{}:
						default:
						}
					}
					continue
				}
			}
			p.cond.Wait()
		}
		idx := seg.sent
		f = seg.frames[idx]
		seg.sent++
		if p.wctx == nil {
			p.wctx, p.cancelW = context.WithCancel(ctx)
		}
		wctx := p.wctx
		p.mu.Unlock()

		err := p.call.Write(wctx, f)

		p.mu.Lock()
		if err != nil {
			if seg.sent == idx+1 {
				seg.sent = idx // not written: rewind handled the rest
			}
			closed := p.closed
			p.mu.Unlock()
			if closed || ctx.Err() != nil {
				return
			}
			select {
			case <-p.call.Done():
				return
			default:
			}
			continue
		}
		now := p.now()
		at := now
		if p.nextAt.After(at) {
			at = p.nextAt
		}
		p.nextAt = at.Add(frameDur)
		p.lastAt = p.nextAt
		p.settle(now)
		p.inflight = append(p.inflight, inflight{seg: seg, idx: idx, at: at})
		if idx == 0 {
			seg.reply.firstWritten(now)
		}
		p.mu.Unlock()
	}
}
