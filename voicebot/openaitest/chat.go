package openaitest

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Reply scripts one chat completion.
type Reply struct {
	// Text is the assistant's content. Streamed, it is sent in Chunks if
	// given, else word by word (each chunk a word with its leading space).
	Text   string
	Chunks []string
	// ToolCalls the assistant makes. Streamed, each call's id and name come
	// in its first delta and the arguments follow in pieces of ArgChunk
	// bytes (default 8), as the real API does.
	ToolCalls []ToolCall
	ArgChunk  int
	// FinishReason defaults to "tool_calls" with tool calls, else "stop".
	FinishReason string
	// Error answers the request with this API error instead.
	Error *Error
	// StreamError, when set on a streamed reply, is sent as an error event
	// after ErrorAfter chunks (the body then ends without [DONE]).
	StreamError *Error
	ErrorAfter  int
	// Delay is waited before the response headers (time to first byte).
	Delay time.Duration
	// TokenDelay is waited before each streamed chunk.
	TokenDelay time.Duration
	// Stall is waited once, before streamed chunk StallAt (0 = before the
	// first content chunk, after the headers and the role chunk). A stall
	// longer than the client's patience tests its timeout; the server stops
	// as soon as the client goes away.
	Stall   time.Duration
	StallAt int
	// Cut closes the connection after CutAfter chunks without [DONE].
	Cut      bool
	CutAfter int
	// Usage token counts reported; computed roughly when zero.
	PromptTokens, CompletionTokens int
}

// ToolCall is one function call the assistant makes.
type ToolCall struct {
	ID        string // default call_<n>
	Name      string
	Arguments string // JSON text, sent verbatim (it may be invalid on purpose)
}

var callSeq atomic.Int64

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	req := &ChatRequest{Header: r.Header.Clone()}
	if !decodeJSON(w, r, &req.ChatCompletionRequest) {
		return
	}
	if req.Model == "" {
		writeError(w, &Error{Status: 400, Type: "invalid_request_error", Param: "model", Message: "you must provide a model parameter"})
		return
	}
	if len(req.Messages) == 0 {
		writeError(w, &Error{Status: 400, Type: "invalid_request_error", Param: "messages", Message: "[] is too short - 'messages'"})
		return
	}
	s.mu.Lock()
	req.Seq = len(s.chatReqs) + 1
	s.chatReqs = append(s.chatReqs, req)
	h := s.chat
	s.mu.Unlock()
	rep := h(req)
	for i := range rep.ToolCalls {
		if rep.ToolCalls[i].ID == "" {
			rep.ToolCalls[i].ID = fmt.Sprintf("call_%d", callSeq.Add(1))
		}
	}
	if !wait(r, rep.Delay) {
		return
	}
	if rep.Error != nil {
		writeError(w, rep.Error)
		return
	}
	finish := rep.FinishReason
	if finish == "" {
		finish = "stop"
		if len(rep.ToolCalls) > 0 {
			finish = "tool_calls"
		}
	}
	usage := map[string]int{"prompt_tokens": rep.PromptTokens, "completion_tokens": rep.CompletionTokens}
	if usage["prompt_tokens"] == 0 {
		for _, m := range req.Messages {
			usage["prompt_tokens"] += len(strings.Fields(m.Content)) + 4
		}
	}
	if usage["completion_tokens"] == 0 {
		usage["completion_tokens"] = len(strings.Fields(rep.Text)) + 10*len(rep.ToolCalls)
	}
	usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
	id := fmt.Sprintf("chatcmpl-test%d", req.Seq)
	created := time.Now().Unix()
	if !req.Stream {
		msg := map[string]any{"role": "assistant", "content": nil}
		if rep.Text != "" || len(rep.ToolCalls) == 0 {
			msg["content"] = rep.Text
		}
		if len(rep.ToolCalls) > 0 {
			calls := make([]map[string]any, len(rep.ToolCalls))
			for i, c := range rep.ToolCalls {
				calls[i] = map[string]any{"id": c.ID, "type": "function", "function": map[string]any{"name": c.Name, "arguments": c.Arguments}}
			}
			msg["tool_calls"] = calls
		}
		writeJSON(w, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": req.Model,
			"choices": []map[string]any{{"index": 0, "message": msg, "finish_reason": finish, "logprobs": nil}},
			"usage":   usage, "system_fingerprint": "fp_openaitest",
		})
		return
	}
	s.stream(w, r, req, rep, id, created, finish, usage)
}

// stream writes rep as server-sent events in the format of the real API.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, req *ChatRequest, rep Reply, id string, created int64, finish string, usage map[string]int) {
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	chunk := func(delta map[string]any, finishReason any) map[string]any {
		return map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model, "system_fingerprint": "fp_openaitest",
			"choices": []map[string]any{{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finishReason}},
		}
	}
	send := func(v any) bool {
		if _, err := fmt.Fprintf(w, "data: %s\n\n", mustJSON(v)); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	// The role comes alone first, as the real API sends it.
	if !send(chunk(map[string]any{"role": "assistant", "content": ""}, nil)) {
		return
	}
	var deltas []map[string]any
	pieces := rep.Chunks
	if pieces == nil && rep.Text != "" {
		for _, word := range strings.SplitAfter(rep.Text, " ") {
			if word != "" {
				pieces = append(pieces, word)
			}
		}
	}
	for _, p := range pieces {
		deltas = append(deltas, map[string]any{"content": p})
	}
	argChunk := rep.ArgChunk
	if argChunk <= 0 {
		argChunk = 8
	}
	for i, c := range rep.ToolCalls {
		deltas = append(deltas, map[string]any{"tool_calls": []map[string]any{{
			"index": i, "id": c.ID, "type": "function", "function": map[string]any{"name": c.Name, "arguments": ""},
		}}})
		for a := c.Arguments; a != ""; {
			n := min(argChunk, len(a))
			deltas = append(deltas, map[string]any{"tool_calls": []map[string]any{{
				"index": i, "function": map[string]any{"arguments": a[:n]},
			}}})
			a = a[n:]
		}
	}
	stalled := false
	for i, d := range deltas {
		if rep.StreamError != nil && i == rep.ErrorAfter {
			send(map[string]any{"error": map[string]any{"message": rep.StreamError.Message, "type": rep.StreamError.Type, "param": nil, "code": nilIfEmpty(rep.StreamError.Code)}})
			return
		}
		if rep.Cut && i == rep.CutAfter {
			cut(w)
			return
		}
		if rep.Stall > 0 && !stalled && i == rep.StallAt {
			stalled = true
			if !wait(r, rep.Stall) {
				return
			}
		}
		if !wait(r, rep.TokenDelay) || !send(chunk(d, nil)) {
			return
		}
	}
	n := len(deltas)
	if rep.StreamError != nil && rep.ErrorAfter >= n {
		send(map[string]any{"error": map[string]any{"message": rep.StreamError.Message, "type": rep.StreamError.Type, "param": nil, "code": nilIfEmpty(rep.StreamError.Code)}})
		return
	}
	if rep.Cut {
		cut(w)
		return
	}
	if rep.Stall > 0 && !stalled && !wait(r, rep.Stall) {
		return
	}
	if !send(chunk(map[string]any{}, finish)) {
		return
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		send(map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model, "choices": []any{}, "usage": usage})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	if fl != nil {
		fl.Flush()
	}
}

// cut drops the connection mid-stream, as a crashed upstream would.
func cut(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
