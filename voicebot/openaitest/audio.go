package openaitest

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// TranscriptionRequest is a decoded /audio/transcriptions upload.
type TranscriptionRequest struct {
	Model, Language, Prompt, ResponseFormat string
	Temperature                             string
	Filename                                string
	Audio                                   []byte
}

// TranscriptionReply scripts one transcription.
type TranscriptionReply struct {
	Text     string
	Language string  // default the request's language or "en"
	Duration float64 // seconds, reported in verbose_json
	Error    *Error
	Delay    time.Duration
}

func (s *Server) handleTranscription(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(64 << 20); err != nil {
		writeError(w, &Error{Status: 400, Type: "invalid_request_error", Message: "expected multipart/form-data: " + err.Error()})
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		writeError(w, &Error{Status: 400, Type: "invalid_request_error", Param: "file", Message: "you must provide a file"})
		return
	}
	audio, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		writeError(w, &Error{Status: 400, Type: "invalid_request_error", Param: "file", Message: err.Error()})
		return
	}
	req := &TranscriptionRequest{
		Model: r.FormValue("model"), Language: r.FormValue("language"), Prompt: r.FormValue("prompt"),
		ResponseFormat: r.FormValue("response_format"), Temperature: r.FormValue("temperature"),
		Filename: hdr.Filename, Audio: audio,
	}
	if req.Model == "" {
		writeError(w, &Error{Status: 400, Type: "invalid_request_error", Param: "model", Message: "you must provide a model parameter"})
		return
	}
	s.mu.Lock()
	h := s.transcribe
	s.mu.Unlock()
	rep := h(req)
	if !wait(r, rep.Delay) {
		return
	}
	if rep.Error != nil {
		writeError(w, rep.Error)
		return
	}
	lang := rep.Language
	if lang == "" {
		lang = req.Language
	}
	if lang == "" {
		lang = "en"
	}
	switch req.ResponseFormat {
	case "", "json":
		writeJSON(w, map[string]any{"text": rep.Text})
	case "verbose_json":
		writeJSON(w, map[string]any{
			"task": "transcribe", "language": lang, "duration": rep.Duration, "text": rep.Text,
			"segments": []map[string]any{{"id": 0, "seek": 0, "start": 0.0, "end": rep.Duration, "text": rep.Text,
				"tokens": []int{}, "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.0, "no_speech_prob": 0.01}},
		})
	case "text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, rep.Text)
	case "srt":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "1\n00:00:00,000 --> %s\n%s\n\n", stamp(rep.Duration, ","), rep.Text)
	case "vtt":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "WEBVTT\n\n00:00:00.000 --> %s\n%s\n\n", stamp(rep.Duration, "."), rep.Text)
	default:
		writeError(w, &Error{Status: 400, Type: "invalid_request_error", Param: "response_format", Message: fmt.Sprintf("Invalid response_format %q", req.ResponseFormat)})
	}
}

func stamp(sec float64, sep string) string {
	ms := int(math.Round(sec * 1000))
	return fmt.Sprintf("%02d:%02d:%02d%s%03d", ms/3600000, ms/60000%60, ms/1000%60, sep, ms%1000)
}

// SpeechRequest is a decoded /audio/speech request.
type SpeechRequest struct {
	Model          string  `json:"model"`
	Input          string  `json:"input"`
	Voice          string  `json:"voice"`
	Instructions   string  `json:"instructions,omitempty"`
	ResponseFormat string  `json:"response_format,omitempty"`
	Speed          float64 `json:"speed,omitempty"`
}

// SpeechReply scripts one synthesis.
type SpeechReply struct {
	Audio       []byte
	ContentType string // default by response format (audio/pcm for pcm)
	// The body is written in ChunkSize pieces (default all at once) with
	// ChunkDelay between them, like a streaming TTS.
	ChunkSize  int
	ChunkDelay time.Duration
	Error      *Error
	Delay      time.Duration
}

// SpeechSampleRate is the rate of the PCM that Silence and Tone produce,
// the rate OpenAI's "pcm" format uses.
const SpeechSampleRate = 24000

// Silence returns 16-bit little-endian mono PCM at SpeechSampleRate lasting
// 50 ms per word of text (at least 50 ms).
func Silence(text string) []byte {
	n := max(len(strings.Fields(text)), 1) * SpeechSampleRate / 20
	return make([]byte, 2*n)
}

// Tone returns d of a 440 Hz tone as PCM at SpeechSampleRate, for tests that
// must tell bot audio from silence.
func Tone(d time.Duration) []byte {
	n := int(d.Seconds() * SpeechSampleRate)
	out := make([]byte, 2*n)
	for i := 0; i < n; i++ {
		v := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/SpeechSampleRate))
		binary.LittleEndian.PutUint16(out[2*i:], uint16(v))
	}
	return out
}

var speechTypes = map[string]string{
	"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm",
}

func (s *Server) handleSpeech(w http.ResponseWriter, r *http.Request) {
	var req SpeechRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.Input == "" {
		writeError(w, &Error{Status: 400, Type: "invalid_request_error", Param: "input", Message: "input must not be empty"})
		return
	}
	if req.ResponseFormat == "" {
		req.ResponseFormat = "mp3"
	}
	ct, ok := speechTypes[req.ResponseFormat]
	if !ok {
		writeError(w, &Error{Status: 400, Type: "invalid_request_error", Param: "response_format", Message: fmt.Sprintf("Invalid response_format %q", req.ResponseFormat)})
		return
	}
	s.mu.Lock()
	h := s.speech
	s.mu.Unlock()
	rep := h(&req)
	if !wait(r, rep.Delay) {
		return
	}
	if rep.Error != nil {
		writeError(w, rep.Error)
		return
	}
	if rep.ContentType != "" {
		ct = rep.ContentType
	}
	w.Header().Set("Content-Type", ct)
	audio := rep.Audio
	if req.ResponseFormat == "wav" && rep.ContentType == "" {
		audio = wav(audio)
	}
	size := rep.ChunkSize
	if size <= 0 {
		size = len(audio)
	}
	fl, _ := w.(http.Flusher)
	for len(audio) > 0 {
		n := min(size, len(audio))
		if _, err := w.Write(audio[:n]); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
		audio = audio[n:]
		if len(audio) > 0 && !wait(r, rep.ChunkDelay) {
			return
		}
	}
}

// wav wraps 16-bit mono PCM at SpeechSampleRate in a RIFF header.
func wav(pcm []byte) []byte {
	h := make([]byte, 44, 44+len(pcm))
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+len(pcm)))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], SpeechSampleRate)
	binary.LittleEndian.PutUint32(h[28:], SpeechSampleRate*2)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(len(pcm)))
	return append(h, pcm...)
}

// EmbeddingRequest is a decoded /embeddings request; Input is always a
// list of strings (token-array inputs are rejected).
type EmbeddingRequest struct {
	Model          string
	Input          []string
	EncodingFormat string
	Dimensions     int
}

// EmbeddingReply scripts one embeddings answer; nil Vectors means the
// default hashed bag-of-words vectors.
type EmbeddingReply struct {
	Vectors [][]float32
	Error   *Error
	Delay   time.Duration
}

// DefaultDimension is the vector length of the default embeddings when
// the request does not ask for one.
const DefaultDimension = 64

// HashEmbed is the default embedding: lower-cased words hashed into dim
// buckets, L2-normalised, so texts sharing words are close.
func HashEmbed(text string, dim int) []float32 {
	v := make([]float32, dim)
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		h := fnv.New32a()
		h.Write([]byte(w))
		v[h.Sum32()%uint32(dim)]++
	}
	var n float64
	for _, x := range v {
		n += float64(x * x)
	}
	if n > 0 {
		for i := range v {
			v[i] /= float32(math.Sqrt(n))
		}
	}
	return v
}

func (s *Server) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	var raw struct {
		Model          string `json:"model"`
		Input          any    `json:"input"`
		EncodingFormat string `json:"encoding_format"`
		Dimensions     int    `json:"dimensions"`
	}
	if !decodeJSON(w, r, &raw) {
		return
	}
	req := &EmbeddingRequest{Model: raw.Model, EncodingFormat: raw.EncodingFormat, Dimensions: raw.Dimensions}
	switch in := raw.Input.(type) {
	case string:
		req.Input = []string{in}
	case []any:
		for _, x := range in {
			str, ok := x.(string)
			if !ok {
				writeError(w, &Error{Status: 400, Type: "invalid_request_error", Param: "input", Message: "openaitest: only string inputs are supported"})
				return
			}
			req.Input = append(req.Input, str)
		}
	}
	if req.Model == "" || len(req.Input) == 0 {
		writeError(w, &Error{Status: 400, Type: "invalid_request_error", Param: "input", Message: "model and a non-empty input are required"})
		return
	}
	s.mu.Lock()
	h := s.embed
	s.mu.Unlock()
	rep := h(req)
	if !wait(r, rep.Delay) {
		return
	}
	if rep.Error != nil {
		writeError(w, rep.Error)
		return
	}
	vecs := rep.Vectors
	if vecs == nil {
		dim := req.Dimensions
		if dim <= 0 {
			dim = DefaultDimension
		}
		for _, t := range req.Input {
			vecs = append(vecs, HashEmbed(t, dim))
		}
	}
	data := make([]map[string]any, len(vecs))
	tokens := 0
	for i, v := range vecs {
		var emb any = v
		if req.EncodingFormat == "base64" {
			b := make([]byte, 4*len(v))
			for j, x := range v {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(x))
			}
			emb = base64.StdEncoding.EncodeToString(b)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": emb}
		if i < len(req.Input) {
			tokens += len(strings.Fields(req.Input[i]))
		}
	}
	writeJSON(w, map[string]any{"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens}})
}
