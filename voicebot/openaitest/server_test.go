package openaitest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	goopenai "github.com/sashabaranov/go-openai"
)

func client(s *Server) *goopenai.Client {
	cfg := goopenai.DefaultConfig("sk-test")
	cfg.BaseURL = s.URL
	return goopenai.NewClientWithConfig(cfg)
}

func chatReq(stream bool) goopenai.ChatCompletionRequest {
	return goopenai.ChatCompletionRequest{Model: "gpt-4o-mini", Stream: stream,
		Messages: []goopenai.ChatCompletionMessage{{Role: "user", Content: "hello there"}}}
}

func TestChatNonStreamingWithToolCall(t *testing.T) {
	s := New()
	defer s.Close()
	s.Script(Reply{Text: "Let me check.", ToolCalls: []ToolCall{{ID: "call_a", Name: "kb_search", Arguments: `{"query":"fees"}`}}})
	resp, err := client(s).CreateChatCompletion(context.Background(), chatReq(false))
	if err != nil {
		t.Fatal(err)
	}
	m := resp.Choices[0].Message
	if m.Content != "Let me check." || len(m.ToolCalls) != 1 || m.ToolCalls[0].ID != "call_a" ||
		m.ToolCalls[0].Function.Name != "kb_search" || m.ToolCalls[0].Function.Arguments != `{"query":"fees"}` {
		t.Fatalf("message = %+v", m)
	}
	if resp.Choices[0].FinishReason != goopenai.FinishReasonToolCalls || resp.Usage.TotalTokens == 0 {
		t.Fatalf("finish %q usage %+v", resp.Choices[0].FinishReason, resp.Usage)
	}
	got := s.ChatRequests()
	if len(got) != 1 || got[0].LastUser() != "hello there" || got[0].Header.Get("Authorization") != "Bearer sk-test" {
		t.Fatalf("recorded %+v", got)
	}
}

// TestChatStreamReassemblesToolCalls drives the real client's stream reader:
// content deltas in order, then tool calls whose arguments arrive in pieces.
func TestChatStreamReassemblesToolCalls(t *testing.T) {
	s := New()
	defer s.Close()
	args := `{"reason":"caller asked for a person","queue":"support"}`
	s.Script(Reply{Text: "One moment please.", ToolCalls: []ToolCall{
		{Name: "kb_search", Arguments: `{"query":"router reset"}`},
		{Name: "transfer_to_human", Arguments: args},
	}, ArgChunk: 5})
	req := chatReq(true)
	req.StreamOptions = &goopenai.StreamOptions{IncludeUsage: true}
	st, err := client(s).CreateChatCompletionStream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var text strings.Builder
	type acc struct{ id, name, args string }
	calls := map[int]*acc{}
	var finish goopenai.FinishReason
	var usage *goopenai.Usage
	chunks := 0
	for {
		r, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks++
		if r.Usage != nil {
			usage = r.Usage
		}
		for _, c := range r.Choices {
			text.WriteString(c.Delta.Content)
			for _, tc := range c.Delta.ToolCalls {
				if tc.Index == nil {
					t.Fatal("tool call delta without index")
				}
				a := calls[*tc.Index]
				if a == nil {
					a = &acc{}
					calls[*tc.Index] = a
				}
				if tc.ID != "" {
					a.id = tc.ID
				}
				a.name += tc.Function.Name
				a.args += tc.Function.Arguments
			}
			if c.FinishReason != "" {
				finish = c.FinishReason
			}
		}
	}
	if text.String() != "One moment please." {
		t.Errorf("text %q", text.String())
	}
	if len(calls) != 2 || calls[0].name != "kb_search" || calls[1].name != "transfer_to_human" || calls[1].args != args || calls[0].id == "" {
		t.Errorf("calls %+v %+v", calls[0], calls[1])
	}
	if finish != goopenai.FinishReasonToolCalls || usage == nil || usage.TotalTokens == 0 {
		t.Errorf("finish %q usage %v", finish, usage)
	}
	if chunks < 10 {
		t.Errorf("only %d chunks: arguments were not split", chunks)
	}
}

func TestChatErrorsCarryStatusAndType(t *testing.T) {
	s := New()
	defer s.Close()
	s.Script(Reply{Error: ErrRateLimited}, Reply{Error: ErrServer})
	_, err := client(s).CreateChatCompletionStream(context.Background(), chatReq(true))
	var apiErr *goopenai.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != 429 || apiErr.Code != "rate_limit_exceeded" {
		t.Fatalf("stream err = %#v", err)
	}
	_, err = client(s).CreateChatCompletion(context.Background(), chatReq(false))
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != 500 || apiErr.Type != "server_error" {
		t.Fatalf("err = %#v", err)
	}
	// The script is exhausted: a third call is an error, not a silent default.
	if _, err = client(s).CreateChatCompletion(context.Background(), chatReq(false)); err == nil || !strings.Contains(err.Error(), "exhausted") {
		t.Fatalf("third call: %v", err)
	}
}

func TestChatStreamErrorEventMidStream(t *testing.T) {
	s := New()
	defer s.Close()
	s.Script(Reply{Text: "one two three four", StreamError: ErrOverloaded, ErrorAfter: 2})
	st, err := client(s).CreateChatCompletionStream(context.Background(), chatReq(true))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var text string
	for {
		r, err := st.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "overloaded") {
				t.Fatalf("want overloaded error, got %v", err)
			}
			break
		}
		for _, c := range r.Choices {
			text += c.Delta.Content
		}
	}
	if text != "one two " {
		t.Fatalf("text before error %q", text)
	}
}

func TestChatStallEndsWithClientTimeout(t *testing.T) {
	s := New()
	defer s.Close()
	s.Script(Reply{Text: "slow answer here", Stall: time.Minute, StallAt: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	st, err := client(s).CreateChatCompletionStream(ctx, chatReq(true))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var text string
	for {
		r, err := st.Recv()
		if err != nil {
			break
		}
		for _, c := range r.Choices {
			text += c.Delta.Content
		}
	}
	if text != "slow " {
		t.Fatalf("text %q", text)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("stream did not end at the client's deadline: %s", el)
	}
}

func TestChatCutConnection(t *testing.T) {
	s := New()
	defer s.Close()
	s.Script(Reply{Text: "a b c", Cut: true, CutAfter: 1})
	st, err := client(s).CreateChatCompletionStream(context.Background(), chatReq(true))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for {
		_, err := st.Recv()
		if err != nil {
			// a cut is io.EOF or unexpected EOF without [DONE]; both end the stream.
			return
		}
	}
}

func TestAudioEmbeddingsModelsAndKey(t *testing.T) {
	s := New()
	defer s.Close()
	s.OnTranscribe(func(r *TranscriptionRequest) TranscriptionReply {
		if !bytes.Equal(r.Audio, []byte("RIFFfake")) || r.Model != "whisper-1" {
			return TranscriptionReply{Error: &Error{Status: 400, Message: "bad upload"}}
		}
		return TranscriptionReply{Text: "check my balance", Duration: 1.5}
	})
	c := client(s)
	ctx := context.Background()
	for _, f := range []goopenai.AudioResponseFormat{"", goopenai.AudioResponseFormatVerboseJSON, goopenai.AudioResponseFormatText} {
		tr, err := c.CreateTranscription(ctx, goopenai.AudioRequest{Model: "whisper-1", FilePath: "a.wav", Reader: strings.NewReader("RIFFfake"), Format: f})
		if err != nil || strings.TrimSpace(tr.Text) != "check my balance" {
			t.Fatalf("format %q: %q %v", f, tr.Text, err)
		}
	}
	sp, err := c.CreateSpeech(ctx, goopenai.CreateSpeechRequest{Model: "tts-1", Input: "hello world", Voice: "alloy", ResponseFormat: "pcm"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(sp)
	sp.Close()
	if len(b) != 2*2*SpeechSampleRate/20 {
		t.Fatalf("pcm bytes %d", len(b))
	}
	if _, err := c.CreateSpeech(ctx, goopenai.CreateSpeechRequest{Model: "tts-1", Input: "", Voice: "alloy"}); err == nil {
		t.Fatal("empty speech input accepted")
	}
	for _, enc := range []goopenai.EmbeddingEncodingFormat{goopenai.EmbeddingEncodingFormatFloat, goopenai.EmbeddingEncodingFormatBase64} {
		er, err := c.CreateEmbeddings(ctx, goopenai.EmbeddingRequest{Model: "text-embedding-3-small", Input: []string{"router reset", "reset router"}, EncodingFormat: enc, Dimensions: 32})
		if err != nil {
			t.Fatal(err)
		}
		if len(er.Data) != 2 || len(er.Data[0].Embedding) != 32 {
			t.Fatalf("%s: %+v", enc, er)
		}
		if dot, _ := er.Data[0].DotProduct(&er.Data[1]); dot < 0.99 {
			t.Fatalf("%s: same words should embed alike, dot %f", enc, dot)
		}
	}
	ml, err := c.ListModels(ctx)
	if err != nil || len(ml.Models) != 1 || ml.Models[0].ID != "gpt-4o-mini" {
		t.Fatalf("models %+v %v", ml, err)
	}
	s.RequireKey("other")
	_, err = c.ListModels(ctx)
	var apiErr *goopenai.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong key: %v", err)
	}
	if n := len(s.Requests()); n != 9 {
		t.Fatalf("recorded %d requests, want 9", n)
	}
}

func TestSpeechStreamsInChunks(t *testing.T) {
	s := New()
	defer s.Close()
	s.OnSpeech(func(r *SpeechRequest) SpeechReply {
		return SpeechReply{Audio: Tone(200 * time.Millisecond), ChunkSize: 960, ChunkDelay: 5 * time.Millisecond}
	})
	sp, err := client(s).CreateSpeech(context.Background(), goopenai.CreateSpeechRequest{Model: "tts-1", Input: "hi", Voice: "alloy", ResponseFormat: "wav"})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	first := make([]byte, 4)
	if _, err := io.ReadFull(sp, first); err != nil || string(first) != "RIFF" {
		t.Fatalf("wav header %q %v", first, err)
	}
	rest, _ := io.ReadAll(sp)
	if len(rest)+4 != 44+2*SpeechSampleRate/5 {
		t.Fatalf("wav bytes %d", len(rest)+4)
	}
}
