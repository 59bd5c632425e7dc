// Package local is the offline Recognizer: CMU pocketsphinx (Debian
// libpocketsphinx-dev 5prealpha with the pocketsphinx-en-us 16 kHz model)
// through cgo. Caller audio is upsampled from 8 to 16 kHz and decoded as it
// arrives, so partial hypotheses feed end-of-turn detection.
//
// Two modes: "grammar" decodes against a JSGF grammar built from the
// deployment's phrases, menu options, digits and yes/no (exact on telephone
// audio when the caller stays in the grammar); "lm" uses the open US-English
// language model (any words, much less accurate on the phone).
package local

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <stdlib.h>
#include <pocketsphinx.h>

// The model's -cmninit is the cepstral mean of 16 kHz wideband speech.
// Telephone audio upsampled from 8 kHz has no energy above 4 kHz and sits
// far from it, and live CMN only moves after hundreds of frames, so short
// utterances decode against a wrong mean (empty or wrong hypotheses). This
// prior is the mean pocketsphinx measured on the 8 kHz Harvard-sentences
// telephone recording (shared/data/asr/osr-harvard-8k).
#define TELEPHONE_CMN "43.88,34.04,-32.69,37.26,-12.52,1.48,21.54,-15.52,16.54,-6.95,-1.75,6.15,-10.89"

// cmd_ln_init is variadic, which cgo cannot call.
static cmd_ln_t *parley_config(const char *hmm, const char *dict, const char *lm) {
	if (lm != NULL) {
		return cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-dict", dict, "-lm", lm,
			"-samprate", "16000", "-cmn", "live", "-cmninit", TELEPHONE_CMN, "-remove_silence", "no", "-logfn", "/dev/null", NULL);
	}
	return cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-dict", dict,
		"-samprate", "16000", "-cmn", "live", "-cmninit", TELEPHONE_CMN, "-remove_silence", "no", "-logfn", "/dev/null", NULL);
}

static double parley_prob(ps_decoder_t *ps) {
	return logmath_exp(ps_get_logmath(ps), ps_get_prob(ps));
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/voicebot/asr"
)

// DefaultModelDir is where Debian's pocketsphinx-en-us installs the model.
const DefaultModelDir = "/usr/share/pocketsphinx/model/en-us"

// Config chooses the model and mode.
type Config struct {
	// Mode is "grammar" (default when Grammar is set) or "lm".
	Mode string
	// Grammar is the JSGF text for grammar mode (see BuildGrammar).
	Grammar string
	// Corpus, in lm mode, replaces the open model en-us.lm.bin with a
	// trigram model trained on these utterances (the deployment's phrases:
	// see BuildLanguageModel): any sequence of their words is possible,
	// unlike the grammar's whole phrases.
	Corpus []string
	// arpa is the language model built from Corpus, written to a
	// temporary file for each decoder ps_init loads.
	arpa string
	// ModelDir holds en-us/, cmudict-en-us.dict and en-us.lm.bin; default DefaultModelDir.
	ModelDir string
	// MaxDecoders bounds the decoders kept (each holds the acoustic model,
	// tens of MB); an utterance that finds none free is buffered and decoded
	// when one frees. Default 8.
	MaxDecoders int
	// MaxUtterance bounds one utterance's audio; default 30 s.
	MaxUtteranceFrames int
}

// Recognizer decodes with a pool of pocketsphinx decoders.
type Recognizer struct {
	cfg   Config
	pool  chan *decoder
	slots chan struct{} // capacity MaxDecoders: a token per decoder that may still be created
	mu    sync.Mutex
	all   []*decoder
}

type decoder struct {
	ps     *C.ps_decoder_t
	config *C.cmd_ln_t
	// warm: the decoder has finished an utterance. A fresh decoder gets
	// its first utterance wrong (empty or another phrase; its front end
	// primes on the first speech it sees), so that utterance is decoded
	// a second time.
	warm bool
}

// New checks the model files and builds the first decoder (so a broken
// grammar or missing model fails at start-up, not on the first call).
func New(cfg Config) (*Recognizer, error) {
	if cfg.ModelDir == "" {
		cfg.ModelDir = DefaultModelDir
	}
	if cfg.Mode == "" {
		cfg.Mode = "lm"
		if cfg.Grammar != "" {
			cfg.Mode = "grammar"
		}
	}
	if cfg.Mode != "grammar" && cfg.Mode != "lm" {
		return nil, fmt.Errorf("asr local: mode %q is not grammar or lm", cfg.Mode)
	}
	if cfg.Mode == "grammar" && strings.TrimSpace(cfg.Grammar) == "" {
		return nil, errors.New("asr local: grammar mode needs a grammar")
	}
	if cfg.MaxDecoders <= 0 {
		cfg.MaxDecoders = 8
	}
	if cfg.MaxUtteranceFrames <= 0 {
		cfg.MaxUtteranceFrames = 30 * 50
	}
	if cfg.Mode == "lm" && len(cfg.Corpus) > 0 {
		dict, err := LoadDictionary(cfg.ModelDir)
		if err != nil {
			return nil, err
		}
		if cfg.arpa, err = BuildLanguageModel(cfg.Corpus, dict, 3); err != nil {
			return nil, err
		}
	}
	for _, f := range []string{"en-us/mdef", "cmudict-en-us.dict"} {
		if _, err := os.Stat(filepath.Join(cfg.ModelDir, f)); err != nil {
			return nil, fmt.Errorf("asr local: model file missing (install pocketsphinx-en-us): %w", err)
		}
	}
	r := &Recognizer{cfg: cfg, pool: make(chan *decoder, cfg.MaxDecoders), slots: make(chan struct{}, cfg.MaxDecoders)}
	for i := 0; i < cfg.MaxDecoders; i++ {
		r.slots <- struct{}{}
	}
	<-r.slots
	d, err := r.newDecoder()
	if err != nil {
		return nil, err
	}
	r.pool <- d
	return r, nil
}

func (r *Recognizer) newDecoder() (*decoder, error) {
	hmm := C.CString(filepath.Join(r.cfg.ModelDir, "en-us"))
	dict := C.CString(filepath.Join(r.cfg.ModelDir, "cmudict-en-us.dict"))
	defer C.free(unsafe.Pointer(hmm))
	defer C.free(unsafe.Pointer(dict))
	var lm *C.char
	if r.cfg.Mode == "lm" {
		path := filepath.Join(r.cfg.ModelDir, "en-us.lm.bin")
		if r.cfg.arpa != "" {
			// ps_init reads the model from a file and keeps no handle on it.
			f, err := os.CreateTemp("", "parley-lm-*.arpa")
			if err != nil {
				return nil, fmt.Errorf("asr local: language model file: %w", err)
			}
			defer os.Remove(f.Name())
			_, err = f.WriteString(r.cfg.arpa)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, fmt.Errorf("asr local: language model file: %w", err)
			}
			path = f.Name()
		}
		lm = C.CString(path)
		defer C.free(unsafe.Pointer(lm))
	}
	config := C.parley_config(hmm, dict, lm)
	if config == nil {
		return nil, errors.New("asr local: pocketsphinx rejected its configuration")
	}
	ps := C.ps_init(config)
	if ps == nil {
		C.cmd_ln_free_r(config)
		return nil, fmt.Errorf("asr local: pocketsphinx could not load the model in %s", r.cfg.ModelDir)
	}
	d := &decoder{ps: ps, config: config}
	if r.cfg.Mode == "grammar" {
		name := C.CString("grammar")
		g := C.CString(r.cfg.Grammar)
		defer C.free(unsafe.Pointer(name))
		defer C.free(unsafe.Pointer(g))
		if C.ps_set_jsgf_string(ps, name, g) != 0 {
			d.free()
			return nil, errors.New("asr local: pocketsphinx rejected the JSGF grammar (syntax, or a word missing from the dictionary)")
		}
		if C.ps_set_search(ps, name) != 0 {
			d.free()
			return nil, errors.New("asr local: cannot select the grammar search")
		}
	}
	r.mu.Lock()
	r.all = append(r.all, d)
	r.mu.Unlock()
	return d, nil
}

func (d *decoder) free() {
	C.ps_free(d.ps)
	C.cmd_ln_free_r(d.config)
}

// acquire returns a free decoder, creating one while under MaxDecoders;
// with wait false it returns nil instead of waiting.
func (r *Recognizer) acquire(ctx context.Context, wait bool) (*decoder, error) {
	select {
	case d := <-r.pool:
		return d, nil
	default:
	}
	select {
	case <-r.slots:
		d, err := r.newDecoder()
		if err != nil {
			r.slots <- struct{}{}
		}
		return d, err
	default:
	}
	if !wait {
		return nil, nil
	}
	select {
	case d := <-r.pool:
		return d, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("asr local: no free decoder: %w", ctx.Err())
	}
}

// HasWord reports whether the pronunciation dictionary knows word.
func (r *Recognizer) HasWord(word string) bool {
	d, err := r.acquire(context.Background(), true)
	if err != nil {
		return false
	}
	defer func() { r.pool <- d }()
	return lookup(d, word)
}

func lookup(d *decoder, word string) bool {
	w := C.CString(word)
	defer C.free(unsafe.Pointer(w))
	p := C.ps_lookup_word(d.ps, w)
	if p == nil {
		return false
	}
	C.free(unsafe.Pointer(p))
	return true
}

// Close frees the decoders; streams must be finished.
func (r *Recognizer) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.all {
		d.free()
	}
	r.all = nil
}

// NewStream starts an utterance.
func (r *Recognizer) NewStream(ctx context.Context) (asr.Stream, error) {
	return &stream{r: r, up: audio.NewUpsampler()}, nil
}

type stream struct {
	r       *Recognizer
	d       *decoder
	up      *audio.Upsampler
	pending []int16 // 16 kHz audio waiting for a decoder
	all     []int16 // the utterance at 16 kHz, kept while the decoder is cold
	pcm     []int16
	frames  int
	partial string
	done    bool
}

func (s *stream) start(d *decoder) error {
	s.d = d
	if C.ps_start_utt(d.ps) < 0 {
		return errors.New("asr local: pocketsphinx could not start an utterance")
	}
	if len(s.pending) > 0 {
		err := s.process(s.pending)
		s.pending = nil
		return err
	}
	return nil
}

func (s *stream) process(pcm []int16) error {
	if C.ps_process_raw(s.d.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(len(pcm)), 0, 0) < 0 {
		return errors.New("asr local: pocketsphinx failed on the audio")
	}
	return nil
}

// Write decodes the frame at once when the stream holds a decoder.
func (s *stream) Write(f audio.Frame) error {
	if s.done {
		return errors.New("asr local: write after Final")
	}
	s.frames++
	if s.frames > s.r.cfg.MaxUtteranceFrames {
		return asr.ErrTooLong
	}
	s.pcm = s.up.Upsample(s.pcm[:0], &f)
	if s.d == nil || !s.d.warm {
		s.all = append(s.all, s.pcm...)
	}
	if s.d == nil {
		d, err := s.r.acquire(context.Background(), false)
		if err != nil {
			return err
		}
		if d == nil {
			s.pending = append(s.pending, s.pcm...)
			return nil
		}
		if err := s.start(d); err != nil {
			return err
		}
	}
	if len(s.pcm) == 0 {
		return nil
	}
	if err := s.process(s.pcm); err != nil {
		return err
	}
	// A hypothesis every 100 ms is enough for endpointing and cheap.
	if s.frames%5 == 0 {
		if h := C.ps_get_hyp(s.d.ps, nil); h != nil {
			s.partial = dropHesitations(C.GoString(h))
		}
	}
	return nil
}

func (s *stream) Partial() string { return s.partial }

// Final ends the utterance and returns the best hypothesis.
func (s *stream) Final(ctx context.Context) (asr.Result, error) {
	if s.done {
		return asr.Result{}, errors.New("asr local: Final called twice")
	}
	s.done = true
	if s.d == nil {
		d, err := s.r.acquire(ctx, true)
		if err != nil {
			return asr.Result{}, err
		}
		if err := s.start(d); err != nil {
			s.release()
			return asr.Result{}, err
		}
	}
	defer s.release()
	if C.ps_end_utt(s.d.ps) < 0 {
		return asr.Result{}, errors.New("asr local: pocketsphinx could not end the utterance")
	}
	if !s.d.warm && len(s.all) > 0 {
		s.d.warm = true
		if C.ps_start_utt(s.d.ps) < 0 || s.process(s.all) != nil || C.ps_end_utt(s.d.ps) < 0 {
			return asr.Result{}, errors.New("asr local: pocketsphinx failed re-decoding the first utterance")
		}
	}
	s.all = nil
	h := C.ps_get_hyp(s.d.ps, nil)
	if h == nil {
		return asr.Result{}, nil
	}
	text := dropHesitations(C.GoString(h))
	if text == "" {
		return asr.Result{}, nil
	}
	conf := float64(C.parley_prob(s.d.ps))
	if conf <= 0 || conf > 1 {
		conf = 1 // the FSG search gives no posterior
	}
	return asr.Result{Text: text, Confidence: conf}, nil
}

func (s *stream) release() {
	if s.d != nil {
		s.r.pool <- s.d
		s.d = nil
	}
}

// Close abandons the utterance and returns the decoder.
func (s *stream) Close() error {
	if s.d != nil {
		C.ps_end_utt(s.d.ps)
		s.release()
	}
	s.done = true
	return nil
}

// dropHesitations removes "uh" and "um": the grammar lets callers hesitate,
// the dialog has no use for it.
func dropHesitations(s string) string {
	var keep []string
	for _, w := range strings.Fields(s) {
		if w != "uh" && w != "um" {
			keep = append(keep, w)
		}
	}
	return strings.Join(keep, " ")
}
