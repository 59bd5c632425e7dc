package media

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"time"
)

// Recorder writes a call as a 16-bit 8 kHz stereo WAV: left is what was received, right what was sent.
// Both channels are laid on the call's wall clock, so silence fills gaps and they stay aligned.
type Recorder struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	w        *bufio.Writer
	start    time.Time
	rx, tx   []int16
	rxAt     int64 // sample index the next received sample belongs to
	txAt     int64
	written  int64 // stereo frames written
	closed   bool
	writeErr error
}

// NewRecorder creates path and writes a WAV header whose sizes Close fixes.
func NewRecorder(path string, start time.Time) (*Recorder, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create recording: %w", err)
	}
	r := &Recorder{path: path, f: f, w: bufio.NewWriterSize(f, 32*1024), start: start}
	if _, err := r.w.Write(wavHeader(0)); err != nil {
		f.Close()
		return nil, fmt.Errorf("write recording header: %w", err)
	}
	return r, nil
}

// Path is the recording file.
func (r *Recorder) Path() string { return r.path }

func (r *Recorder) now() int64 { return int64(time.Since(r.start) / (time.Second / 8000)) }

// Received adds audio from the peer.
func (r *Recorder) Received(pcm []int16) { r.add(pcm, true) }

// Sent adds audio sent to the peer.
func (r *Recorder) Sent(pcm []int16) { r.add(pcm, false) }

func (r *Recorder) add(pcm []int16, rx bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	buf, at := &r.tx, &r.txAt
	if rx {
		buf, at = &r.rx, &r.rxAt
	}
	// A block goes right after the previous one of its channel, unless that is more than
	// 100 ms in the past (a gap, e.g. hold): then it starts where the wall clock is.
	pos := max(*at, r.written+int64(len(*buf)))
	if now := r.now() - int64(len(pcm)); pos < now-800 {
		pos = now
	}
	if end := r.written + int64(len(*buf)); pos > end {
		*buf = append(*buf, make([]int16, pos-end)...)
	}
	*buf = append(*buf, pcm...)
	*at = pos + int64(len(pcm))
	r.flush(r.now() - 1600) // keep 200 ms so both channels can catch up
}

// flush writes stereo frames up to sample index upTo, padding a lagging channel with silence.
func (r *Recorder) flush(upTo int64) {
	n := upTo - r.written
	if n <= 0 {
		return
	}
	var b [4]byte
	for i := int64(0); i < n; i++ {
		var l, rr int16
		if i < int64(len(r.rx)) {
			l = r.rx[i]
		}
		if i < int64(len(r.tx)) {
			rr = r.tx[i]
		}
		binary.LittleEndian.PutUint16(b[0:], uint16(l))
		binary.LittleEndian.PutUint16(b[2:], uint16(rr))
		if _, err := r.w.Write(b[:]); err != nil && r.writeErr == nil {
			r.writeErr = err
		}
	}
	r.rx = r.rx[min(n, int64(len(r.rx))):]
	r.tx = r.tx[min(n, int64(len(r.tx))):]
	r.written += n
}

// Close writes what is buffered, fixes the WAV sizes and closes the file.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.flush(max(r.now(), r.written+int64(max(len(r.rx), len(r.tx)))))
	err := r.writeErr
	if ferr := r.w.Flush(); err == nil {
		err = ferr
	}
	if _, werr := r.f.WriteAt(wavHeader(uint32(r.written*4)), 0); err == nil {
		err = werr
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("finish recording %s: %w", r.path, err)
	}
	return nil
}

// wavHeader is a 44-byte PCM WAV header for 8 kHz 16-bit stereo with dataLen bytes of samples.
func wavHeader(dataLen uint32) []byte {
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+dataLen)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], 2) // channels
	binary.LittleEndian.PutUint32(h[24:], 8000)
	binary.LittleEndian.PutUint32(h[28:], 8000*4)
	binary.LittleEndian.PutUint16(h[32:], 4)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], dataLen)
	return h
}
