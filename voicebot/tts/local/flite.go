// Package local is the offline Synthesizer: flite (Debian flite1-dev)
// through cgo, streamed chunk by chunk through flite's audio streaming
// callback and resampled to 8 kHz telephony frames.
package local

/*
#cgo LDFLAGS: -lflite_cmu_us_slt -lflite_cmu_us_kal16 -lflite_cmu_us_rms -lflite_cmu_us_awb -lflite_cmu_us_kal -lflite_usenglish -lflite_cmulex -lflite -lm
#include <stdint.h>
#include <stdlib.h>
#include <flite/flite.h>

cst_voice *register_cmu_us_slt(const char *voxdir);
cst_voice *register_cmu_us_kal16(const char *voxdir);
cst_voice *register_cmu_us_kal(const char *voxdir);
cst_voice *register_cmu_us_rms(const char *voxdir);
cst_voice *register_cmu_us_awb(const char *voxdir);

extern int fliteChunk(uintptr_t h, short *samples, int n, int rate, int last);

static int parley_asc(const cst_wave *w, int start, int size, int last, cst_audio_streaming_info *asi) {
	return fliteChunk((uintptr_t)asi->userdata, w->samples + start, size, w->sample_rate, last);
}

static cst_voice *parley_voice(const char *name) {
	if (strcmp(name, "slt") == 0) return register_cmu_us_slt(NULL);
	if (strcmp(name, "kal16") == 0) return register_cmu_us_kal16(NULL);
	if (strcmp(name, "kal") == 0) return register_cmu_us_kal(NULL);
	if (strcmp(name, "rms") == 0) return register_cmu_us_rms(NULL);
	if (strcmp(name, "awb") == 0) return register_cmu_us_awb(NULL);
	return NULL;
}

// parley_say synthesizes text on v, streaming through fliteChunk(h, ...);
// returns 0, or -1 when flite produced no wave.
static int parley_say(cst_voice *v, const char *text, uintptr_t h, float rate_stretch) {
	cst_audio_streaming_info *asi = new_audio_streaming_info();
	asi->asc = parley_asc;
	asi->userdata = (void *)h;
	asi->min_buffsize = 1600;
	feat_set(v->features, "streaming_info", audio_streaming_info_val(asi));
	if (rate_stretch > 0) feat_set_float(v->features, "duration_stretch", rate_stretch);
	cst_wave *w = flite_text_to_wave(text, v);
	feat_remove(v->features, "streaming_info");
	if (w == NULL) return -1;
	delete_wave(w);
	return 0;
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/voicebot/tts"
)

// Voices are the flite voices linked in; slt is the clearest on the phone
// and the best understood by ASR.
var Voices = []string{"slt", "kal16", "kal", "rms", "awb"}

var initOnce sync.Once

// Config chooses the voice.
type Config struct {
	Voice string  // one of Voices; default slt
	Speed float64 // speaking rate: 1 normal, 1.2 faster; default 1
}

// Synthesizer speaks with flite. Safe for concurrent use.
type Synthesizer struct {
	cfg   Config
	voice *C.cst_voice
}

// fliteLock serialises every synthesis in the process: flite keeps global
// state (lexicon and unit caches) that crashes under concurrent voices,
// even separate instances. One core synthesizes ~100x real time, so the
// lock holds one sentence for tens of milliseconds.
var fliteLock = &turnLock{}

// New loads the voice.
func New(cfg Config) (*Synthesizer, error) {
	if cfg.Voice == "" {
		cfg.Voice = "slt"
	}
	if cfg.Speed == 0 {
		cfg.Speed = 1
	}
	if cfg.Speed < 0.5 || cfg.Speed > 2 {
		return nil, fmt.Errorf("tts local: speed %.2f out of range 0.5-2", cfg.Speed)
	}
	known := false
	for _, v := range Voices {
		known = known || v == cfg.Voice
	}
	if !known {
		return nil, fmt.Errorf("tts local: unknown flite voice %q (have %s)", cfg.Voice, strings.Join(Voices, ", "))
	}
	initOnce.Do(func() { C.flite_init() })
	name := C.CString(cfg.Voice)
	defer C.free(unsafe.Pointer(name))
	_ = fliteLock.acquire(context.Background(), true)
	v := C.parley_voice(name)
	fliteLock.release()
	if v == nil {
		return nil, fmt.Errorf("tts local: flite could not load voice %q", cfg.Voice)
	}
	return &Synthesizer{cfg: cfg, voice: v}, nil
}

// synthesis is the state one flite call streams into. The callback runs
// under fliteLock, so it only queues frames; a goroutine hands them to the
// caller's out, which may block (playback pacing) without holding flite.
type synthesis struct {
	ctx    context.Context
	chunks chan []audio.Frame
	stop   atomic.Bool // out failed: abandon the rest
	down   *audio.Downsampler
	buf    []audio.Frame
	err    error
}

//export fliteChunk
func fliteChunk(h C.uintptr_t, samples *C.short, n C.int, rate C.int, last C.int) C.int {
	s := cgo.Handle(h).Value().(*synthesis)
	if s.err != nil || s.stop.Load() {
		return C.CST_AUDIO_STREAM_STOP
	}
	if s.err = s.ctx.Err(); s.err != nil {
		return C.CST_AUDIO_STREAM_STOP
	}
	if s.down == nil {
		if s.down, s.err = audio.NewDownsampler(int(rate)); s.err != nil {
			return C.CST_AUDIO_STREAM_STOP
		}
	}
	s.buf = s.buf[:0]
	if n > 0 {
		s.buf = s.down.Write(s.buf, unsafe.Slice((*int16)(unsafe.Pointer(samples)), int(n)))
	}
	if last != 0 {
		s.buf = s.down.Flush(s.buf)
	}
	if len(s.buf) > 0 {
		select {
		case s.chunks <- append([]audio.Frame(nil), s.buf...):
		default:
			s.err = errors.New("consumer too slow: more than 1024 chunks queued")
			return C.CST_AUDIO_STREAM_STOP
		}
	}
	return C.CST_AUDIO_STREAM_CONT
}

// Synthesize speaks text, streaming frames through out as flite produces them.
func (s *Synthesizer) Synthesize(ctx context.Context, text string, out func([]audio.Frame) error) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("tts local: %w", err)
	}
	st := &synthesis{ctx: ctx, chunks: make(chan []audio.Frame, 1024)}
	outErr := make(chan error, 1)
	go func() {
		var err error
		for f := range st.chunks {
			if err == nil {
				if err = out(f); err != nil {
					st.stop.Store(true)
				}
			}
		}
		outErr <- err
	}()
	h := cgo.NewHandle(st)
	defer h.Delete()
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	stretch := C.float(0)
	if s.cfg.Speed != 1 {
		stretch = C.float(1 / s.cfg.Speed)
	}
	if err := fliteLock.acquire(ctx, tts.IsUrgent(ctx)); err != nil {
		close(st.chunks)
		<-outErr
		return fmt.Errorf("tts local: waiting for the synthesizer: %w", err)
	}
	rc := C.parley_say(s.voice, ctext, C.uintptr_t(h), stretch)
	fliteLock.release()
	close(st.chunks)
	if err := <-outErr; err != nil {
		return fmt.Errorf("tts local: %w", err)
	}
	if st.err != nil {
		return fmt.Errorf("tts local: %w", st.err)
	}
	if rc != 0 {
		return errors.New("tts local: flite produced no audio")
	}
	if st.down == nil {
		return fmt.Errorf("tts local: flite produced no audio for %q", text)
	}
	return nil
}
