package sip

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"
)

// Echo returns an application that sends the caller's audio straight back.
func Echo() Application {
	return ApplicationFunc(func(ctx context.Context, c *Call) error {
		for {
			pcm, err := c.ReadAudio(ctx)
			if err != nil {
				return ignoreEnd(ctx, err)
			}
			if err := c.WriteAudio(ctx, pcm); err != nil {
				return ignoreEnd(ctx, err)
			}
		}
	})
}

// Playback returns an application that plays a prompt (8 kHz 16-bit PCM WAV) and then hangs up.
// The file is read when the call is answered, so a bad file fails that call with a clear error.
func Playback(path string) Application {
	return ApplicationFunc(func(ctx context.Context, c *Call) error {
		pcm, err := ReadWAV(path)
		if err != nil {
			return err
		}
		return Play(ctx, c, pcm)
	})
}

// Play sends pcm to the call in 20 ms packets, followed by 200 ms of silence so the tail is not cut.
func Play(ctx context.Context, c *Call, pcm []int16) error {
	pcm = append(pcm, make([]int16, 1600)...)
	for off := 0; off < len(pcm); off += 160 {
		frame := make([]int16, 160)
		copy(frame, pcm[off:])
		if err := c.WriteAudio(ctx, frame); err != nil {
			return ignoreEnd(ctx, err)
		}
	}
	return nil
}

// Record returns an application that keeps the call up, receiving audio, until the caller
// hangs up or max elapses; the recording itself is written when Config.DataDir is set.
func Record(max time.Duration) Application {
	return ApplicationFunc(func(ctx context.Context, c *Call) error {
		ctx, cancel := context.WithTimeout(ctx, max)
		defer cancel()
		for {
			if _, err := c.ReadAudio(ctx); err != nil {
				return ignoreEnd(ctx, err)
			}
		}
	})
}

func ignoreEnd(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, ErrNoMedia) {
		return nil
	}
	return err
}

// ReadWAV loads a PCM WAV file of 16-bit samples at 8 kHz, mixing stereo down to mono.
func ReadWAV(path string) ([]int16, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read prompt: %w", err)
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("prompt %s: not a RIFF/WAVE file", path)
	}
	var channels, bits uint16
	var rate uint32
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		body := b[off+8:]
		if size > len(body) {
			size = len(body) // tolerate a truncated last chunk
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, fmt.Errorf("prompt %s: fmt chunk of %d bytes", path, size)
			}
			if format := binary.LittleEndian.Uint16(body[0:]); format != 1 && format != 0xfffe {
				return nil, fmt.Errorf("prompt %s: format %d is not PCM", path, format)
			}
			channels, rate, bits = binary.LittleEndian.Uint16(body[2:]), binary.LittleEndian.Uint32(body[4:]), binary.LittleEndian.Uint16(body[14:])
		case "data":
			if bits != 16 || rate != 8000 || channels < 1 || channels > 2 {
				return nil, fmt.Errorf("prompt %s: %d Hz, %d bit, %d channels; want 8000 Hz 16-bit mono or stereo", path, rate, bits, channels)
			}
			frame := int(channels) * 2
			pcm := make([]int16, size/frame)
			for i := range pcm {
				sum := 0
				for ch := 0; ch < int(channels); ch++ {
					sum += int(int16(binary.LittleEndian.Uint16(body[i*frame+ch*2:])))
				}
				pcm[i] = int16(sum / int(channels))
			}
			return pcm, nil
		}
		off += 8 + size + size%2
	}
	return nil, fmt.Errorf("prompt %s: no data chunk", path)
}
