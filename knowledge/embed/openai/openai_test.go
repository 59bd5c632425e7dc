package openai

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeVector is the server's deterministic "model".
func fakeVector(text string, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		h := fnv.New32a()
		fmt.Fprintf(h, "%d:%s", i, text)
		v[i] = float32(h.Sum32()%1000)/500 - 1
	}
	return v
}

type server struct {
	*httptest.Server
	requests atomic.Int32
	fail     atomic.Int32 // respond 500 to this many requests first
	delay    time.Duration
	dim      int
}

// newServer speaks the OpenAI embeddings wire format: POST /embeddings
// with {"input":[...],"model":...,"encoding_format":"base64"|"float"}.
func newServer(t *testing.T, dim int) *server {
	s := &server{dim: dim}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.URL.Path != "/v1/embeddings" || r.Method != http.MethodPost {
			http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
			return
		}
		if got := r.Header.Get("Authorization"); got != "Bearer sk-test" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"message":"bad key","type":"invalid_request_error"}}`)
			return
		}
		if s.fail.Load() > 0 {
			s.fail.Add(-1)
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error":{"message":"overloaded","type":"server_error"}}`)
			return
		}
		if s.delay > 0 {
			select {
			case <-time.After(s.delay):
			case <-r.Context().Done():
				return
			}
		}
		var req struct {
			Input          []string `json:"input"`
			Model          string   `json:"model"`
			EncodingFormat string   `json:"encoding_format"`
			Dimensions     int      `json:"dimensions"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"message":%q,"type":"invalid_request_error"}}`, err.Error())
			return
		}
		type item struct {
			Object    string `json:"object"`
			Index     int    `json:"index"`
			Embedding any    `json:"embedding"`
		}
		data := make([]item, len(req.Input))
		for i, text := range req.Input {
			v := fakeVector(text, s.dim)
			var emb any = v
			if req.EncodingFormat == "base64" {
				buf := make([]byte, 4*len(v))
				for j, f := range v {
					binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(f))
				}
				emb = base64.StdEncoding.EncodeToString(buf)
			}
			// reversed order: clients must place vectors by index
			data[len(data)-1-i] = item{"embedding", i, emb}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"object": "list", "data": data, "model": req.Model,
			"usage": map[string]int{"prompt_tokens": len(req.Input), "total_tokens": len(req.Input)},
		})
	}))
	t.Cleanup(s.Close)
	return s
}

func cosine(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}

func TestEmbedBatchesBothEncodings(t *testing.T) {
	for _, float := range []bool{false, true} {
		srv := newServer(t, 24)
		e, err := New(Options{BaseURL: srv.URL + "/v1", APIKey: "sk-test", Dimension: 24, BatchSize: 4, Float: float})
		if err != nil {
			t.Fatal(err)
		}
		texts := make([]string, 10)
		for i := range texts {
			texts[i] = fmt.Sprintf("text number %d", i)
		}
		vecs, err := e.Embed(context.Background(), texts)
		if err != nil {
			t.Fatalf("float=%v: %v", float, err)
		}
		if n := srv.requests.Load(); n != 3 {
			t.Fatalf("float=%v: %d requests for 10 texts in batches of 4, want 3", float, n)
		}
		for i, v := range vecs {
			if c := cosine(v, fakeVector(texts[i], 24)); c < 0.9999 {
				t.Fatalf("float=%v: vector %d is not the server's (cosine %v)", float, i, c)
			}
			var n float64
			for _, f := range v {
				n += float64(f) * float64(f)
			}
			if math.Abs(n-1) > 1e-5 {
				t.Fatalf("vector %d not normalised: |v|^2 = %v", i, n)
			}
		}
	}
}

func TestRetriesTransientErrors(t *testing.T) {
	srv := newServer(t, 8)
	srv.fail.Store(2)
	e, _ := New(Options{BaseURL: srv.URL + "/v1", APIKey: "sk-test", Dimension: 8, Retries: 2})
	if _, err := e.Embed(context.Background(), []string{"a"}); err != nil {
		t.Fatalf("two 500s then success should succeed with 2 retries: %v", err)
	}
	srv.fail.Store(5)
	if _, err := e.Embed(context.Background(), []string{"a"}); err == nil || !strings.Contains(err.Error(), "overloaded") {
		t.Fatalf("persistent 500 should fail naming the server error, got %v", err)
	}
}

func TestErrors(t *testing.T) {
	srv := newServer(t, 8)
	ctx := context.Background()
	bad, _ := New(Options{BaseURL: srv.URL + "/v1", APIKey: "wrong", Dimension: 8})
	before := srv.requests.Load()
	if _, err := bad.Embed(ctx, []string{"a"}); err == nil || !strings.Contains(err.Error(), "bad key") {
		t.Fatalf("bad key: %v", err)
	}
	if n := srv.requests.Load() - before; n != 1 {
		t.Fatalf("a 401 was retried: %d requests", n)
	}
	wrongDim, _ := New(Options{BaseURL: srv.URL + "/v1", APIKey: "sk-test", Dimension: 16})
	if _, err := wrongDim.Embed(ctx, []string{"a"}); err == nil || !strings.Contains(err.Error(), "8 dimensions, want 16") {
		t.Fatalf("dimension mismatch: %v", err)
	}
	srv.delay = 2 * time.Second
	slow, _ := New(Options{BaseURL: srv.URL + "/v1", APIKey: "sk-test", Dimension: 8, Timeout: 50 * time.Millisecond, Retries: -1})
	start := time.Now()
	if _, err := slow.Embed(ctx, []string{"a"}); err == nil {
		t.Fatal("slow server: want a timeout error")
	}
	if time.Since(start) > time.Second {
		t.Fatal("request timeout not applied")
	}
	if _, err := New(Options{Dimension: 8}); err == nil {
		t.Fatal("empty base URL accepted")
	}
}
