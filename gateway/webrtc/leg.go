package webrtc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	pion "github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/parley-cc/parley/gateway/dialplan"
	"github.com/parley-cc/parley/gateway/rtp"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/dtmf"
	"github.com/parley-cc/parley/gateway/rtp/g711"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/gateway/rtp/wav"
)

// outQueue is how many frames Write may queue before it blocks: 60 ms,
// enough to ride out scheduling hiccups without adding audible delay.
const outQueue = 3

const frameDur = audio.FrameDurationMs * time.Millisecond

// maxCatchUp is how far a leg's clock may fall behind and still send every
// slot's frame (back to back); later than that, the slots are skipped.
const maxCatchUp = 10 * frameDur

// Leg is one browser's audio as a media.Call: a pion PeerConnection
// carrying G.711, decoded to 20 ms 8 kHz frames through the gateway's
// jitter buffer, with RFC 4733 and signalled key presses as Events.
type Leg struct {
	id     string
	party  string // "caller" or "agent": who the far end is, for hang-up records
	pc     *pion.PeerConnection
	track  *pion.TrackLocalStaticSample
	format audioFormat
	log    *slog.Logger

	frames chan audio.Frame
	events chan media.Event
	out    chan audio.Frame
	done   chan struct{}

	connected     chan struct{}
	connectedOnce sync.Once
	endOnce       sync.Once
	endedWhy      atomic.Value // string: the reason the leg ended with

	mu         sync.Mutex // guards the receive side below
	jb         *rtp.JitterBuffer
	rxStarted  bool
	evrx       dtmf.EventReceiver
	inband     *dtmf.Detector // nil on legs without the in-band fallback
	lastEvent  time.Time      // last RFC 4733 packet: in-band keys then are the same press
	lastSeq    uint16
	haveSeq    bool
	jitter     float64 // RFC 3550 interarrival jitter, samples
	prevTrans  int64
	haveTrans  bool
	lastRx     time.Time // last RTP, or when media connected: the media timeout's start
	timedOut   bool
	rec        *wav.Recorder
	muted      bool
	stats      LegStats
	started    time.Time
	mediaLimit time.Duration

	// signal sends a message to the far end over its signalling socket.
	signal func(Message) error
	// onKey and onEnd report to the gateway (call records); may be nil.
	onKey func(ev media.Event, source string)
	onEnd func(by, reason string)

	sentFrames atomic.Uint64
}

// LegStats counts a leg's media.
type LegStats struct {
	PacketsReceived, EventPackets, UnknownPayload uint64
	// Lost counts audio packets missing from the sequence numbers.
	Lost                           uint64
	FramesDelivered, FramesDropped uint64
	FramesSent                     uint64
	Jitter                         time.Duration
	Buffer                         rtp.JitterStats
}

func newLeg(id, party string, pc *pion.PeerConnection, f audioFormat, mediaTimeout time.Duration, log *slog.Logger) (*Leg, error) {
	track, err := pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: f.MimeType, ClockRate: 8000}, "audio", "parley-"+id)
	if err != nil {
		return nil, err
	}
	if _, err := pc.AddTrack(track); err != nil {
		return nil, err
	}
	l := &Leg{
		id: id, party: party, pc: pc, track: track, format: f, log: log,
		frames:     make(chan audio.Frame, 8),
		events:     make(chan media.Event, 16),
		out:        make(chan audio.Frame, outQueue),
		done:       make(chan struct{}),
		connected:  make(chan struct{}),
		jb:         rtp.NewJitterBuffer(rtp.JitterConfig{}),
		inband:     dtmf.NewDetector(dtmf.DetectorConfig{}),
		started:    time.Now(),
		mediaLimit: mediaTimeout,
	}
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		if tr.Kind() == pion.RTPCodecTypeAudio {
			go l.receive(tr)
		}
	})
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		switch s {
		case pion.PeerConnectionStateConnected:
			l.connectedOnce.Do(func() {
				l.mu.Lock()
				if l.lastRx.IsZero() {
					l.lastRx = time.Now() // a browser that never sends times out too
				}
				l.mu.Unlock()
				close(l.connected)
			})
		case pion.PeerConnectionStateFailed:
			go l.end(l.party, reasonMediaFailed)
		case pion.PeerConnectionStateClosed:
			go l.end(l.party, "media connection closed")
		}
	})
	go l.clock()
	return l, nil
}

// ID returns the call id.
func (l *Leg) ID() string { return l.id }

// Frames delivers the browser's audio every 20 ms once media flows.
func (l *Leg) Frames() <-chan audio.Frame { return l.frames }

// Events delivers key presses, media timeouts and the browser's hang-up.
func (l *Leg) Events() <-chan media.Event { return l.events }

// Done is closed when the leg has ended.
func (l *Leg) Done() <-chan struct{} { return l.done }

// Connected is closed once ICE and DTLS are up and audio can flow.
func (l *Leg) Connected() <-chan struct{} { return l.connected }

// Write queues one frame for the browser; it blocks while outQueue frames
// wait, so writers run at real time.
func (l *Leg) Write(ctx context.Context, f audio.Frame) error {
	select {
	case <-l.done:
		return media.ErrHungUp
	default:
	}
	select {
	case l.out <- f:
		return nil
	case <-l.done:
		return media.ErrHungUp
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Flush drops queued output (barge-in).
func (l *Leg) Flush() {
	for {
		select {
		case <-l.out:
		default:
			return
		}
	}
}

// Hangup ends the call from the gateway's side and tells the browser.
func (l *Leg) Hangup(ctx context.Context) error {
	return l.terminate("system", "hung up by the application")
}

// HangupBy ends the call recording by as who hung up (dialplan.PartyHangup:
// a bridge hangs up the caller with "agent" when the agent left).
func (l *Leg) HangupBy(_ context.Context, by, reason string) error {
	return l.terminate(by, reason)
}

// Reasons a leg ends with when the browser was lost rather than hung up.
const (
	reasonMediaFailed   = "media connection failed"
	reasonSoftphoneGone = "softphone disconnected"
)

// Lost tells that the leg ended because the browser was lost (no RTP for
// the media timeout, ICE/DTLS failed, the softphone's socket dropped), not
// because someone hung up (dialplan.LostLeg: routing requeues the caller
// of an agent whose softphone died).
func (l *Leg) Lost() bool {
	why, _ := l.endedWhy.Load().(string)
	return why == MediaTimeoutReason || why == reasonMediaFailed || why == reasonSoftphoneGone
}

var _ dialplan.LostLeg = (*Leg)(nil)

// SetMuted stops (or resumes) sending the browser's audio to the
// application; silence frames keep the timing.
func (l *Leg) SetMuted(m bool) {
	l.mu.Lock()
	l.muted = m
	l.mu.Unlock()
}

// Stats returns the leg's media counters.
func (l *Leg) Stats() LegStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.FramesSent = l.sentFrames.Load()
	s.Jitter = time.Duration(l.jitter * float64(time.Second) / audio.SampleRate)
	s.Buffer = l.jb.Stats()
	return s
}

// terminate sends the browser a hang-up and ends the leg.
func (l *Leg) terminate(by, reason string) error {
	var err error
	select {
	case <-l.done:
		return nil
	default:
	}
	if l.signal != nil {
		err = l.signal(Message{Type: TypeHangup, CallID: l.id, Reason: reason})
	}
	l.end(by, reason)
	return err
}

// end closes the leg once: a Hangup event for the application, the peer
// connection and the recording closed, the gateway told.
func (l *Leg) end(by, reason string) {
	l.endOnce.Do(func() {
		l.endedWhy.Store(reason)
		l.send(media.Event{Kind: media.Hangup})
		close(l.done)
		if err := l.pc.Close(); err != nil {
			l.log.Debug("webrtc close", "call", l.id, "err", err)
		}
		l.mu.Lock()
		rec := l.rec
		l.rec = nil
		l.mu.Unlock()
		if rec != nil {
			if err := rec.Close(); err != nil {
				l.log.Warn("webrtc recording not finalized", "call", l.id, "err", err)
			}
		}
		if l.onEnd != nil {
			l.onEnd(by, reason)
		}
	})
}

func (l *Leg) send(ev media.Event) {
	select {
	case l.events <- ev:
	default: // an application that ignores events must not stall media
	}
}

// Where a key press came from, for the call record.
const (
	keyRFC4733    = "rfc4733"    // telephone-event in the RTP stream
	keySignalling = "signalling" // a dtmf message on the WebSocket
	keyInband     = "inband"     // tones in the audio (Goertzel), for browsers that play them
)

// inbandQuiet is how long after an RFC 4733 packet in-band detections are
// ignored: a phone that sends both would otherwise press every key twice.
const inbandQuiet = 500 * time.Millisecond

// MediaTimeoutReason is the hang-up reason when no RTP arrived for Config.MediaTimeout.
const MediaTimeoutReason = "media_timeout"

// key reports a key press to the application and the gateway.
func (l *Leg) key(digit byte, source string) {
	ev := media.Event{Kind: media.KeyPress, Digit: digit, InBand: source == keyInband}
	l.send(ev)
	if l.onKey != nil {
		l.onKey(ev, source)
	}
}

// record starts a stereo recording (browser left, application right).
func (l *Leg) record(r *wav.Recorder) {
	l.mu.Lock()
	l.rec = r
	l.mu.Unlock()
}

// receive decodes the browser's RTP until the track ends.
func (l *Leg) receive(tr *pion.TrackRemote) {
	pcm := make([]int16, 0, 480)
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				select {
				case <-l.done:
				default:
					l.log.Debug("webrtc read", "call", l.id, "err", err)
				}
			}
			return
		}
		now := time.Now()
		l.mu.Lock()
		l.lastRx = now
		if l.timedOut {
			l.timedOut = false
		}
		switch {
		case l.format.EventPT >= 0 && int(pkt.PayloadType) == l.format.EventPT:
			l.stats.EventPackets++
			l.lastEvent = now
			kp, ok, err := l.evrx.Receive(pkt.Timestamp, pkt.Payload)
			l.mu.Unlock()
			if err == nil && ok {
				l.key(kp.Digit, keyRFC4733)
			}
			continue
		case pkt.PayloadType == l.format.PT:
			l.stats.PacketsReceived++
			if gap := pkt.SequenceNumber - l.lastSeq - 1; l.haveSeq && gap > 0 && gap < 1000 {
				l.stats.Lost += uint64(gap) // a late or repeated packet (gap "negative") is not a loss
			}
			l.lastSeq, l.haveSeq = pkt.SequenceNumber, true
			if l.format.MimeType == pion.MimeTypePCMA {
				pcm = g711.DecodeAlaw(pcm[:0], pkt.Payload)
			} else {
				pcm = g711.DecodeUlaw(pcm[:0], pkt.Payload)
			}
			// RFC 3550 interarrival jitter drives the jitter buffer's delay.
			arrival := now.Sub(l.started).Nanoseconds() * audio.SampleRate / int64(time.Second)
			transit := arrival - int64(pkt.Timestamp)
			if l.haveTrans {
				d := math.Abs(float64(transit - l.prevTrans))
				l.jitter += (d - l.jitter) / 16
			}
			l.prevTrans, l.haveTrans = transit, true
			l.jb.Adapt(l.jitter)
			l.jb.Push(pkt.Timestamp, pcm)
			l.rxStarted = true
		default:
			l.stats.UnknownPayload++
		}
		l.mu.Unlock()
	}
}

// clock runs the leg's 20 ms beat: one frame to the browser (silence when
// the application has nothing queued, so the browser's playout keeps its
// timing) and one frame from the jitter buffer to the application.
//
// The beat keeps to wall-clock slots, not to a Ticker, which drops ticks
// when the goroutine runs late (a loaded node): a late beat's frame to the
// browser is sent at once, so the browser gets 50 frames a second as its
// own audio clock expects; beyond maxCatchUp behind, the missed slots are
// given up.
func (l *Leg) clock() {
	t := time.NewTimer(frameDur)
	defer t.Stop()
	buf := make([]byte, audio.FrameSamples)
	var silence audio.Frame
	next := time.Now()
	for {
		next = next.Add(frameDur)
		catchingUp := false
		if wait := time.Until(next); wait > 0 {
			t.Reset(wait)
			select {
			case <-l.done:
				return
			case <-t.C:
			}
		} else {
			if -wait > maxCatchUp {
				next = time.Now() // too far behind: skip the slots
			}
			catchingUp = true
			select {
			case <-l.done:
				return
			default:
			}
		}
		// To the browser.
		f, fromApp := silence, false
		select {
		case f = <-l.out:
			fromApp = true
		default:
		}
		if l.format.MimeType == pion.MimeTypePCMA {
			buf = g711.EncodeAlaw(buf[:0], f[:])
		} else {
			buf = g711.EncodeUlaw(buf[:0], f[:])
		}
		if err := l.track.WriteSample(pionmedia.Sample{Data: buf, Duration: frameDur}); err == nil {
			l.sentFrames.Add(1)
		}
		// From the browser.
		l.mu.Lock()
		rec := l.rec
		var in audio.Frame
		st := rtp.Buffering
		if l.rxStarted && !catchingUp {
			// Made-up beats send only: what the browser sent during the
			// stall may not have been read yet, and popping now would
			// conceal it; the jitter buffer trims the excess instead.
			in, st = l.jb.Pop()
		}
		var kp dtmf.KeyPress
		var key bool
		if st != rtp.Buffering && l.inband != nil {
			kp, key = l.inband.Process(&in)
			key = key && time.Since(l.lastEvent) > inbandQuiet
		}
		if l.muted {
			in = silence
		}
		fire := l.mediaLimit > 0 && !l.lastRx.IsZero() && !l.timedOut && time.Since(l.lastRx) >= l.mediaLimit
		if fire {
			l.timedOut = true
		}
		l.mu.Unlock()
		if key {
			l.key(kp.Digit, keyInband)
		}
		if rec != nil {
			if fromApp {
				_ = rec.Write(wav.Agent, &f)
			}
			if st != rtp.Buffering {
				_ = rec.Write(wav.Caller, &in)
			}
		}
		if st != rtp.Buffering {
			select {
			case l.frames <- in:
				l.count(func(s *LegStats) { s.FramesDelivered++ })
			default:
				l.count(func(s *LegStats) { s.FramesDropped++ })
			}
		}
		if fire {
			// As SIP calls: the application is told, then the call is hung up.
			l.log.Warn("webrtc media timeout, hanging up", "call", l.id, "party", l.party, "idle", l.mediaLimit)
			l.send(media.Event{Kind: media.MediaTimeout})
			go l.terminate("system", MediaTimeoutReason)
		}
	}
}

func (l *Leg) count(f func(*LegStats)) {
	l.mu.Lock()
	f(&l.stats)
	l.mu.Unlock()
}
