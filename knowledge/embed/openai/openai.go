// Package openai embeds text with any OpenAI-compatible /embeddings
// endpoint (OpenAI, Azure-style gateways, vLLM, Ollama, LiteLLM ...),
// in batches with a timeout per request and retries on transient errors.
package openai

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	goopenai "github.com/sashabaranov/go-openai"
)

// Options configure the embedder; zero values take the defaults noted.
type Options struct {
	BaseURL   string // e.g. "https://api.openai.com/v1" or "http://localhost:11434/v1"; required
	APIKey    string
	Model     string // default "text-embedding-3-small"
	Dimension int    // vector length the model returns; required
	// RequestDimensions asks the server for Dimension outputs (text-embedding-3
	// models can shorten their vectors); otherwise the model's size must equal Dimension.
	RequestDimensions bool
	BatchSize         int           // texts per request; default 64
	Timeout           time.Duration // per request; default 30s
	Retries           int           // extra attempts on 429, 5xx and timeouts; default 2
	Float             bool          // ask for JSON float arrays instead of base64
	HTTPClient        *http.Client
}

// Embedder calls the embeddings endpoint; safe for concurrent use.
type Embedder struct {
	o      Options
	client *goopenai.Client
}

// New validates o and returns an embedder.
func New(o Options) (*Embedder, error) {
	if o.BaseURL == "" {
		return nil, errors.New("openai embedder: base URL is empty")
	}
	if o.Dimension <= 0 {
		return nil, fmt.Errorf("openai embedder: dimension must be positive, got %d", o.Dimension)
	}
	if o.Model == "" {
		o.Model = "text-embedding-3-small"
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 64
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Retries < 0 {
		o.Retries = 0
	} else if o.Retries == 0 {
		o.Retries = 2
	}
	cfg := goopenai.DefaultConfig(o.APIKey)
	cfg.BaseURL = o.BaseURL
	if o.HTTPClient != nil {
		cfg.HTTPClient = o.HTTPClient
	}
	return &Embedder{o: o, client: goopenai.NewClientWithConfig(cfg)}, nil
}

// Dimension returns the vector size.
func (e *Embedder) Dimension() int { return e.o.Dimension }

// Model names the remote model and size.
func (e *Embedder) Model() string { return fmt.Sprintf("openai:%s:%d", e.o.Model, e.o.Dimension) }

// Embed returns one L2-normalised vector per text, in order.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += e.o.BatchSize {
		batch := texts[start:min(start+e.o.BatchSize, len(texts))]
		vecs, err := e.embedBatch(ctx, batch)
		if err != nil {
			return nil, fmt.Errorf("embed texts %d-%d of %d with %s: %w", start, start+len(batch)-1, len(texts), e.o.Model, err)
		}
		out = append(out, vecs...)
	}
	return out, nil
}

func (e *Embedder) embedBatch(ctx context.Context, batch []string) ([][]float32, error) {
	req := goopenai.EmbeddingRequestStrings{Input: batch, Model: goopenai.EmbeddingModel(e.o.Model), EncodingFormat: goopenai.EmbeddingEncodingFormatBase64}
	if e.o.Float {
		req.EncodingFormat = goopenai.EmbeddingEncodingFormatFloat
	}
	if e.o.RequestDimensions {
		req.Dimensions = e.o.Dimension
	}
	var lastErr error
	for attempt := 0; attempt <= e.o.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 200 * time.Millisecond):
			}
		}
		rctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
		res, err := e.client.CreateEmbeddings(rctx, req)
		cancel()
		if err == nil {
			return e.collect(res, len(batch))
		}
		lastErr = err
		if ctx.Err() != nil || !transient(err) {
			break
		}
	}
	return nil, lastErr
}

func (e *Embedder) collect(res goopenai.EmbeddingResponse, n int) ([][]float32, error) {
	if len(res.Data) != n {
		return nil, fmt.Errorf("server returned %d embeddings for %d inputs", len(res.Data), n)
	}
	out := make([][]float32, n)
	for _, d := range res.Data {
		if d.Index < 0 || d.Index >= n || out[d.Index] != nil {
			return nil, fmt.Errorf("server returned a bad or repeated embedding index %d", d.Index)
		}
		if len(d.Embedding) != e.o.Dimension {
			return nil, fmt.Errorf("embedding %d has %d dimensions, want %d", d.Index, len(d.Embedding), e.o.Dimension)
		}
		out[d.Index] = normalize(d.Embedding)
	}
	return out, nil
}

func transient(err error) bool {
	var api *goopenai.APIError
	if errors.As(err, &api) {
		return api.HTTPStatusCode == http.StatusTooManyRequests || api.HTTPStatusCode >= 500
	}
	var req *goopenai.RequestError
	if errors.As(err, &req) {
		return req.HTTPStatusCode == http.StatusTooManyRequests || req.HTTPStatusCode >= 500
	}
	// network failures and per-request timeouts
	return true
}

func normalize(v []float32) []float32 {
	var n float64
	for _, f := range v {
		n += float64(f) * float64(f)
	}
	if n == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(n))
	out := make([]float32, len(v))
	for i, f := range v {
		out[i] = f * inv
	}
	return out
}
