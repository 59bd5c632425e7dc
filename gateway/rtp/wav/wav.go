// Package wav reads and writes RIFF WAVE files of 16-bit linear PCM, and
// records two-party calls as time-aligned stereo WAV files.
package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Format describes the PCM layout of a WAV file.
type Format struct {
	SampleRate int // samples per second per channel
	Channels   int // 1 (mono) or 2 (stereo)
}

const (
	formatPCM        = 1
	formatExtensible = 0xFFFE
	bitsPerSample    = 16
	// maxSampleRate bounds the declared rate: anything higher is a corrupt header.
	maxSampleRate = 768000
	// unknownSize is what streaming writers put in a size field they never patched.
	unknownSize = 0xFFFFFFFF
)

// ErrMalformed is wrapped by every error about a file that is not a valid 16-bit PCM WAV.
var ErrMalformed = errors.New("malformed WAV")

func malformed(offset int64, format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrMalformed, offset, fmt.Sprintf(format, args...))
}

// Reader streams interleaved samples from a WAV file's data chunk.
type Reader struct {
	r         io.Reader
	format    Format
	remaining int64 // bytes left in the data chunk; -1 means until EOF
	dataBytes int64 // declared size of the data chunk, -1 if unknown
	buf       []byte
}

// NewReader parses the RIFF header up to the data chunk and returns a Reader
// positioned at the first sample; malformed headers give an error wrapping ErrMalformed.
func NewReader(r io.Reader) (*Reader, error) {
	var off int64
	var hdr [12]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, malformed(int64(n), "file too short for a RIFF header (%d of 12 bytes)", n)
	}
	if string(hdr[0:4]) != "RIFF" {
		return nil, malformed(0, "missing RIFF signature (found %q)", hdr[0:4])
	}
	if string(hdr[8:12]) != "WAVE" {
		return nil, malformed(8, "RIFF form type is %q, not WAVE", hdr[8:12])
	}
	off = 12
	var haveFmt bool
	var format Format
	for {
		var ch [8]byte
		if n, err := io.ReadFull(r, ch[:]); err != nil {
			if !haveFmt {
				return nil, malformed(off+int64(n), "no fmt chunk before end of file")
			}
			return nil, malformed(off+int64(n), "no data chunk before end of file")
		}
		id := string(ch[0:4])
		size := int64(binary.LittleEndian.Uint32(ch[4:8]))
		chunkOff := off
		off += 8
		switch id {
		case "fmt ":
			if haveFmt {
				return nil, malformed(chunkOff, "second fmt chunk")
			}
			if size < 16 || size > 1024 {
				return nil, malformed(chunkOff, "fmt chunk size %d is not between 16 and 1024", size)
			}
			body := make([]byte, size+size%2)
			if n, err := io.ReadFull(r, body); err != nil {
				return nil, malformed(off+int64(n), "fmt chunk truncated (%d of %d bytes)", n, len(body))
			}
			f, err := parseFmt(body[:size], off)
			if err != nil {
				return nil, err
			}
			format, haveFmt = f, true
			off += int64(len(body))
		case "data":
			if !haveFmt {
				return nil, malformed(chunkOff, "data chunk before fmt chunk")
			}
			rd := &Reader{r: r, format: format, remaining: size, dataBytes: size}
			if size == unknownSize || size == 0 {
				// A writer that was stopped before patching its sizes: read to EOF.
				rd.remaining, rd.dataBytes = -1, -1
			} else if size%int64(2*format.Channels) != 0 {
				return nil, malformed(chunkOff, "data chunk size %d is not a whole number of %d-channel 16-bit frames", size, format.Channels)
			}
			return rd, nil
		default:
			if size == unknownSize {
				return nil, malformed(chunkOff, "chunk %q has unknown size", id)
			}
			skip := size + size%2
			if n, err := io.CopyN(io.Discard, r, skip); err != nil {
				return nil, malformed(off+n, "chunk %q truncated (%d of %d bytes)", id, n, skip)
			}
			off += skip
		}
	}
}

func parseFmt(b []byte, off int64) (Format, error) {
	tag := binary.LittleEndian.Uint16(b[0:2])
	channels := int(binary.LittleEndian.Uint16(b[2:4]))
	rate := int(binary.LittleEndian.Uint32(b[4:8]))
	byteRate := int(binary.LittleEndian.Uint32(b[8:12]))
	align := int(binary.LittleEndian.Uint16(b[12:14]))
	bits := int(binary.LittleEndian.Uint16(b[14:16]))
	if tag == formatExtensible {
		if len(b) < 40 {
			return Format{}, malformed(off, "WAVE_FORMAT_EXTENSIBLE fmt chunk is %d bytes, needs 40", len(b))
		}
		tag = binary.LittleEndian.Uint16(b[24:26]) // first two bytes of the sub-format GUID
	}
	if tag != formatPCM {
		return Format{}, malformed(off, "audio format %#04x is not PCM (1); only 16-bit linear PCM is supported", tag)
	}
	if bits != bitsPerSample {
		return Format{}, malformed(off+14, "%d bits per sample; only 16 is supported", bits)
	}
	if channels != 1 && channels != 2 {
		return Format{}, malformed(off+2, "%d channels; only mono and stereo are supported", channels)
	}
	if rate <= 0 || rate > maxSampleRate {
		return Format{}, malformed(off+4, "sample rate %d Hz is out of range 1..%d", rate, maxSampleRate)
	}
	if align != 2*channels {
		return Format{}, malformed(off+12, "block align %d, want %d for %d channels of 16 bits", align, 2*channels, channels)
	}
	if byteRate != rate*align {
		return Format{}, malformed(off+8, "byte rate %d, want %d (rate %d x block align %d)", byteRate, rate*align, rate, align)
	}
	return Format{SampleRate: rate, Channels: channels}, nil
}

// Format returns the file's PCM format.
func (r *Reader) Format() Format { return r.format }

// Frames returns the number of sample frames (one sample per channel) the
// data chunk declares, or -1 when the header leaves it unknown.
func (r *Reader) Frames() int64 {
	if r.dataBytes < 0 {
		return -1
	}
	return r.dataBytes / int64(2*r.format.Channels)
}

// Read fills dst with interleaved samples and returns how many it read; it
// returns io.EOF at the end of the data, and an error wrapping ErrMalformed
// if the file ends before the declared data size.
func (r *Reader) Read(dst []int16) (int, error) {
	if r.remaining == 0 {
		return 0, io.EOF
	}
	want := int64(len(dst)) * 2
	if r.remaining > 0 && want > r.remaining {
		want = r.remaining
	}
	if cap(r.buf) < int(want) {
		r.buf = make([]byte, want)
	}
	buf := r.buf[:want]
	n, err := io.ReadFull(r.r, buf)
	n -= n % 2
	for i := 0; i < n/2; i++ {
		dst[i] = int16(binary.LittleEndian.Uint16(buf[2*i:]))
	}
	if r.remaining > 0 {
		r.remaining -= int64(n)
	}
	if err != nil {
		if r.remaining < 0 {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				r.remaining = 0
				if n == 0 {
					return 0, io.EOF
				}
				return n / 2, nil
			}
			return n / 2, fmt.Errorf("read WAV data: %w", err)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return n / 2, fmt.Errorf("%w: data chunk truncated, %d bytes missing", ErrMalformed, r.remaining)
		}
		return n / 2, fmt.Errorf("read WAV data: %w", err)
	}
	return n / 2, nil
}

// Audio is a whole decoded WAV file.
type Audio struct {
	Format
	Samples []int16 // interleaved when stereo
}

// maxDecodeSamples bounds Decode's memory use: one hour of 48 kHz stereo.
const maxDecodeSamples = 48000 * 2 * 3600

// Decode reads a whole WAV file into memory (prompts and test fixtures; use Reader for long files).
func Decode(r io.Reader) (*Audio, error) {
	rd, err := NewReader(r)
	if err != nil {
		return nil, err
	}
	a := &Audio{Format: rd.Format()}
	if n := rd.Frames(); n > 0 {
		if n*int64(rd.format.Channels) > maxDecodeSamples {
			return nil, fmt.Errorf("%w: data chunk declares %d samples, more than the %d Decode accepts", ErrMalformed, n*int64(rd.format.Channels), maxDecodeSamples)
		}
		// Preallocate at most a minute: the header's size is not trusted.
		a.Samples = make([]int16, 0, min(n*int64(rd.format.Channels), 48000*2*60))
	}
	buf := make([]int16, 4096)
	for {
		n, err := rd.Read(buf)
		a.Samples = append(a.Samples, buf[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(a.Samples) > maxDecodeSamples {
			return nil, fmt.Errorf("%w: more than %d samples", ErrMalformed, maxDecodeSamples)
		}
	}
	if len(a.Samples)%a.Channels != 0 {
		return nil, fmt.Errorf("%w: %d samples are not a whole number of %d-channel frames", ErrMalformed, len(a.Samples), a.Channels)
	}
	return a, nil
}

// Mono returns the samples as one channel, averaging stereo channels.
func (a *Audio) Mono() []int16 {
	if a.Channels == 1 {
		return a.Samples
	}
	out := make([]int16, len(a.Samples)/2)
	for i := range out {
		out[i] = int16((int32(a.Samples[2*i]) + int32(a.Samples[2*i+1])) / 2)
	}
	return out
}

// Writer writes a 16-bit PCM WAV file, streaming samples to w and patching the
// RIFF and data sizes on Close (and on Sync) so the file is valid at hang-up.
type Writer struct {
	w      io.WriteSeeker
	format Format
	data   int64 // bytes of sample data written
	buf    []byte
	err    error
}

const headerSize = 44

// NewWriter writes a WAV header for format to w and returns a Writer.
func NewWriter(w io.WriteSeeker, format Format) (*Writer, error) {
	if format.Channels != 1 && format.Channels != 2 {
		return nil, fmt.Errorf("wav writer: %d channels; only mono and stereo are supported", format.Channels)
	}
	if format.SampleRate <= 0 || format.SampleRate > maxSampleRate {
		return nil, fmt.Errorf("wav writer: sample rate %d Hz is out of range", format.SampleRate)
	}
	wr := &Writer{w: w, format: format}
	if _, err := w.Write(wr.header()); err != nil {
		return nil, fmt.Errorf("wav writer: write header: %w", err)
	}
	return wr, nil
}

func (w *Writer) header() []byte {
	h := make([]byte, headerSize)
	align := 2 * w.format.Channels
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+w.data))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], formatPCM)
	binary.LittleEndian.PutUint16(h[22:], uint16(w.format.Channels))
	binary.LittleEndian.PutUint32(h[24:], uint32(w.format.SampleRate))
	binary.LittleEndian.PutUint32(h[28:], uint32(w.format.SampleRate*align))
	binary.LittleEndian.PutUint16(h[32:], uint16(align))
	binary.LittleEndian.PutUint16(h[34:], bitsPerSample)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(w.data))
	return h
}

// maxDataBytes keeps the RIFF size field (data + 36) within 32 bits.
const maxDataBytes = 0xFFFFFFFF - 36

// Write appends interleaved samples; the count must be a multiple of the channel count.
func (w *Writer) Write(samples []int16) error {
	if w.err != nil {
		return w.err
	}
	if len(samples)%w.format.Channels != 0 {
		return fmt.Errorf("wav writer: %d samples are not a whole number of %d-channel frames", len(samples), w.format.Channels)
	}
	if w.data+int64(2*len(samples)) > maxDataBytes {
		return fmt.Errorf("wav writer: file would exceed the 4 GiB RIFF limit")
	}
	if cap(w.buf) < 2*len(samples) {
		w.buf = make([]byte, 2*len(samples))
	}
	b := w.buf[:2*len(samples)]
	for i, s := range samples {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("wav writer: write samples: %w", err)
		return w.err
	}
	w.data += int64(len(b))
	return nil
}

// Frames returns how many sample frames have been written.
func (w *Writer) Frames() int64 { return w.data / int64(2*w.format.Channels) }

// Sync patches the header sizes to cover everything written so far, leaving
// the position at the end of the data, so a crash leaves a readable file.
func (w *Writer) Sync() error {
	if w.err != nil {
		return w.err
	}
	if _, err := w.w.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("wav writer: seek to header: %w", err)
	}
	if _, err := w.w.Write(w.header()); err != nil {
		return fmt.Errorf("wav writer: patch header: %w", err)
	}
	if _, err := w.w.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("wav writer: seek to end: %w", err)
	}
	return nil
}

// Close patches the header sizes; it does not close the underlying writer.
func (w *Writer) Close() error { return w.Sync() }
