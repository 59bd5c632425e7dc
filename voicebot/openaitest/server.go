// Package openaitest is an OpenAI-compatible HTTP server for tests: the
// unchanged go-openai client (or any other OpenAI client) talks to it over
// loopback. Replies are scripted per request by handler funcs; errors use
// OpenAI's error JSON and status codes; streams can be slowed or stalled; and
// every request is recorded.
//
//	srv := openaitest.New()
//	defer srv.Close()
//	srv.Script(openaitest.Reply{ToolCalls: []openaitest.ToolCall{{Name: "kb_search", Arguments: `{"query":"fees"}`}}},
//		openaitest.Reply{Text: "Our fee is five pounds."})
//	cfg := openai.DefaultConfig("test-key"); cfg.BaseURL = srv.URL // ends in /v1
package openaitest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	goopenai "github.com/sashabaranov/go-openai"
)

// Server is a running fake endpoint. Its handler funcs may be replaced at
// any time; they are called from the HTTP server's goroutines.
type Server struct {
	// URL is the base URL clients use, ending in /v1.
	URL string

	srv *httptest.Server

	mu         sync.Mutex
	apiKey     string
	chat       func(*ChatRequest) Reply
	transcribe func(*TranscriptionRequest) TranscriptionReply
	speech     func(*SpeechRequest) SpeechReply
	embed      func(*EmbeddingRequest) EmbeddingReply
	models     []string
	recorded   []Recorded
	chatReqs   []*ChatRequest
}

// Recorded is one request as the server received it.
type Recorded struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	At     time.Time
}

// Error is an API error answered with OpenAI's error JSON
// {"error":{"message","type","param","code"}} and HTTP status Status.
type Error struct {
	Status  int    // HTTP status; default 500
	Type    string // e.g. "server_error", "rate_limit_exceeded", "invalid_request_error"
	Code    string // optional
	Param   string // optional
	Message string
}

// Common errors as the real API sends them.
var (
	ErrRateLimited = &Error{Status: 429, Type: "requests", Code: "rate_limit_exceeded", Message: "Rate limit reached for requests"}
	ErrServer      = &Error{Status: 500, Type: "server_error", Message: "The server had an error while processing your request."}
	ErrOverloaded  = &Error{Status: 503, Type: "server_error", Message: "The engine is currently overloaded, please try again later."}
	ErrBadKey      = &Error{Status: 401, Type: "invalid_request_error", Code: "invalid_api_key", Message: "Incorrect API key provided."}
)

// New starts a server on a loopback port. By default chat completions
// answer "OK.", transcriptions return "", speech returns 50 ms of 24 kHz
// 16-bit PCM silence per word, embeddings are deterministic hashed
// bag-of-words vectors, and /v1/models lists "gpt-4o-mini".
func New() *Server {
	s := &Server{models: []string{"gpt-4o-mini"}}
	s.chat = func(*ChatRequest) Reply { return Reply{Text: "OK."} }
	s.transcribe = func(*TranscriptionRequest) TranscriptionReply { return TranscriptionReply{} }
	s.speech = func(r *SpeechRequest) SpeechReply { return SpeechReply{Audio: Silence(r.Input)} }
	s.embed = func(r *EmbeddingRequest) EmbeddingReply { return EmbeddingReply{} }
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	mux.HandleFunc("POST /v1/audio/transcriptions", s.handleTranscription)
	mux.HandleFunc("POST /v1/audio/speech", s.handleSpeech)
	mux.HandleFunc("POST /v1/embeddings", s.handleEmbeddings)
	mux.HandleFunc("GET /v1/models", s.handleModels)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &Error{Status: 404, Type: "invalid_request_error", Message: "Unknown request URL: " + r.Method + " " + r.URL.Path})
	})
	s.srv = httptest.NewServer(s.record(mux))
	s.URL = s.srv.URL + "/v1"
	return s
}

// Close stops the server. Streams still open are cut.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// RequireKey makes every request without "Authorization: Bearer key"
// fail with 401 invalid_api_key ("" accepts any).
func (s *Server) RequireKey(key string) { s.mu.Lock(); s.apiKey = key; s.mu.Unlock() }

// OnChat sets the chat-completions handler.
func (s *Server) OnChat(h func(*ChatRequest) Reply) { s.mu.Lock(); s.chat = h; s.mu.Unlock() }

// Script answers the next chat requests with replies, in order; a request
// after the last one gets a 500 error saying the script is exhausted, so a
// test notices an unexpected extra call.
func (s *Server) Script(replies ...Reply) {
	var mu sync.Mutex
	next := 0
	s.OnChat(func(r *ChatRequest) Reply {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(replies) {
			return Reply{Error: &Error{Status: 500, Type: "server_error", Message: fmt.Sprintf("openaitest: script exhausted after %d replies", len(replies))}}
		}
		next++
		return replies[next-1]
	})
}

// OnTranscribe sets the /audio/transcriptions handler.
func (s *Server) OnTranscribe(h func(*TranscriptionRequest) TranscriptionReply) {
	s.mu.Lock()
	s.transcribe = h
	s.mu.Unlock()
}

// OnSpeech sets the /audio/speech handler.
func (s *Server) OnSpeech(h func(*SpeechRequest) SpeechReply) {
	s.mu.Lock()
	s.speech = h
	s.mu.Unlock()
}

// OnEmbed sets the /embeddings handler.
func (s *Server) OnEmbed(h func(*EmbeddingRequest) EmbeddingReply) {
	s.mu.Lock()
	s.embed = h
	s.mu.Unlock()
}

// SetModels sets what /v1/models lists.
func (s *Server) SetModels(ids ...string) { s.mu.Lock(); s.models = ids; s.mu.Unlock() }

// Requests returns every request received so far, in arrival order.
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Recorded(nil), s.recorded...)
}

// ChatRequests returns the decoded chat-completion requests so far.
func (s *Server) ChatRequests() []*ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*ChatRequest(nil), s.chatReqs...)
}

// record keeps a copy of each request and checks the API key.
func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, &Error{Status: 400, Type: "invalid_request_error", Message: "reading body: " + err.Error()})
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		s.mu.Lock()
		s.recorded = append(s.recorded, Recorded{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, At: time.Now()})
		key := s.apiKey
		s.mu.Unlock()
		if key != "" && r.Header.Get("Authorization") != "Bearer "+key {
			writeError(w, ErrBadKey)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeError answers with OpenAI's error JSON.
func writeError(w http.ResponseWriter, e *Error) {
	status := e.Status
	if status == 0 {
		status = 500
	}
	body := map[string]any{"message": e.Message, "type": e.Type, "param": nil, "code": nil}
	if e.Param != "" {
		body["param"] = e.Param
	}
	if e.Code != "" {
		body["code"] = e.Code
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// wait sleeps for d or until the client goes away; it reports whether the
// client is still there.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ids := append([]string(nil), s.models...)
	s.mu.Unlock()
	data := make([]map[string]any, len(ids))
	for i, id := range ids {
		data[i] = map[string]any{"id": id, "object": "model", "created": 1700000000, "owned_by": "openaitest"}
	}
	writeJSON(w, map[string]any{"object": "list", "data": data})
}

// decodeJSON reads a JSON request body into v, answering 400 on failure.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, &Error{Status: 400, Type: "invalid_request_error", Message: "We could not parse the JSON body of your request: " + err.Error()})
		return false
	}
	return true
}

// ChatRequest is a decoded chat-completion request.
type ChatRequest struct {
	goopenai.ChatCompletionRequest
	// Seq numbers chat requests from 1 in arrival order.
	Seq    int
	Header http.Header
}

// LastUser returns the content of the last user message ("" if none).
func (r *ChatRequest) LastUser() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == goopenai.ChatMessageRoleUser {
			return r.Messages[i].Content
		}
	}
	return ""
}

// ToolResults returns the tool messages after the last user message, by
// tool call ID.
func (r *ChatRequest) ToolResults() map[string]string {
	out := map[string]string{}
	for i := len(r.Messages) - 1; i >= 0; i-- {
		m := r.Messages[i]
		if m.Role == goopenai.ChatMessageRoleUser {
			break
		}
		if m.Role == goopenai.ChatMessageRoleTool {
			out[m.ToolCallID] = m.Content
		}
	}
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("openaitest: marshal: %v", err))
	}
	return b
}
