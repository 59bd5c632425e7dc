package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/knowledge/assist"

	"github.com/parley-cc/parley/knowledge"
	"github.com/parley-cc/parley/knowledge/catalog"
	"github.com/parley-cc/parley/knowledge/embed"
	"github.com/parley-cc/parley/knowledge/embed/local"
	kbopenai "github.com/parley-cc/parley/knowledge/embed/openai"
	"github.com/parley-cc/parley/knowledge/feedback"
	"github.com/parley-cc/parley/knowledge/index"
	"github.com/parley-cc/parley/knowledge/index/embedded"
	"github.com/parley-cc/parley/knowledge/index/qdrant"
	"github.com/parley-cc/parley/store"
)

// kbStack is a node's knowledge base: the embedder, the vector index, the
// persisted feedback, the base and the editors' catalog over the store.
// `parley serve` and `parley kb` open it the same way.
type kbStack struct {
	emb      embed.Embedder
	embPath  string // where a local embedder's training is saved
	idx      *index.WriteQueue
	fb       *feedback.Persistent
	kb       *knowledge.Base
	cat      *catalog.Catalog
	describe string
}

// openKB opens the knowledge base configured in cfg over st.
func openKB(ctx context.Context, cfg Config, log *slog.Logger, st store.Store) (*kbStack, error) {
	s := &kbStack{embPath: filepath.Join(cfg.DataDir, "kb", "embedder.bin")}
	switch cfg.Embedder {
	case "openai":
		base := cfg.OpenAIBaseURL
		if base == "" {
			base = "https://api.openai.com/v1"
		}
		e, err := kbopenai.New(kbopenai.Options{BaseURL: base, APIKey: cfg.OpenAIAPIKey, Model: cfg.KBEmbedModel, Dimension: cfg.KBEmbedDimension})
		if err != nil {
			return nil, err
		}
		s.emb = e
	default:
		e := local.New(local.Options{})
		if err := e.LoadFile(s.embPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			// A stale or damaged file only costs a retrain.
			log.Warn("knowledge: local embedder training not loaded; it will be retrained", "err", err)
		}
		s.emb = e
	}
	var inner index.Index
	if cfg.VectorStore == "embedded" {
		x, err := embedded.Open(embedded.Options{Dir: filepath.Join(cfg.DataDir, "kb"), Dimension: s.emb.Dimension(), Logger: log})
		if err != nil {
			return nil, err
		}
		inner = x
		s.describe = "embedded index in " + filepath.Join(cfg.DataDir, "kb")
	} else {
		raw := cfg.VectorStore
		if !strings.Contains(raw, "://") {
			raw = "http://" + raw
		}
		host, port, tls, err := qdrant.ParseURL(raw)
		if err != nil {
			return nil, err
		}
		x, err := qdrant.Open(qdrant.Options{Host: host, Port: port, UseTLS: tls, APIKey: cfg.KBQdrantAPIKey,
			Collection: cfg.KBQdrantCollection, Dimension: s.emb.Dimension(), Logger: log})
		if err != nil {
			return nil, err
		}
		inner = x
		s.describe = fmt.Sprintf("qdrant %s:%d collection %s", host, port, cfg.KBQdrantCollection)
	}
	s.idx = index.NewWriteQueue(inner, index.QueueOptions{Logger: log})
	fb, err := feedback.OpenPersistent(ctx, st, feedback.PersistentOptions{Logger: log})
	if err != nil {
		s.idx.Close()
		return nil, err
	}
	s.fb = fb
	limits := knowledge.Limits{MaxBodyBytes: cfg.KBMaxDocumentBytes}
	s.kb = knowledge.New(knowledge.Config{Limits: limits, Booster: fb, Observer: fb, Logger: log}, s.emb, s.idx)
	s.cat = catalog.New(st, s.kb, catalog.Options{Limits: limits, Logger: log, AfterReindex: s.saveEmbedder})
	return s, nil
}

// saveEmbedder keeps a local embedder's training so a restart re-embeds
// nothing.
func (s *kbStack) saveEmbedder(context.Context) error {
	if e, ok := s.emb.(*local.Embedder); ok && e.Trained() > 0 {
		return e.SaveFile(s.embPath)
	}
	return nil
}

// load indexes the stored articles (only changed chunks are embedded) and,
// with the local embedder, retrains it when the corpus has drifted by more
// than a fifth since it was trained (or it never was).
func (s *kbStack) load(ctx context.Context, log *slog.Logger, progress func(done, total int)) (catalog.ReindexResult, error) {
	start := time.Now()
	r, err := s.cat.Reindex(ctx, catalog.ReindexOptions{Progress: progress})
	if err != nil {
		return r, err
	}
	if e, ok := s.emb.(*local.Embedder); ok {
		_, chunks := s.kb.Stats()
		trained := e.Trained()
		if chunks > 0 && (trained == 0 || abs(chunks-trained)*5 > trained) {
			n, err := s.kb.Retrain(ctx)
			r.Retrained = n
			if err != nil {
				return r, err
			}
			if err := s.saveEmbedder(ctx); err != nil {
				return r, err
			}
		}
	}
	docs, chunks := s.kb.Stats()
	log.Info("knowledge base loaded", "articles", docs, "chunks", chunks, "embedded", r.Upserted, "unchanged", r.Unchanged,
		"retrained", r.Retrained, "failed", len(r.Failed), "took", time.Since(start).Round(time.Millisecond))
	for _, f := range r.Failed {
		log.Warn("knowledge article not indexed", "article", f)
	}
	return r, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// close flushes feedback and pending index writes.
func (s *kbStack) close(ctx context.Context) error {
	return errors.Join(s.fb.Close(ctx), s.saveEmbedder(ctx), s.idx.Close())
}

func init() {
	registerComponent(component{name: "knowledge", order: orderKnowledge, start: startKnowledge})
}

// startKnowledge opens the knowledge base, loads the stored articles in the
// background (readiness waits for it) and publishes nodeEnv.Services["kb"]
// (*knowledge.Base), ["kb.catalog"] (*catalog.Catalog) and ["kb.assist"]
// (*assist.Service).
func startKnowledge(ctx context.Context, n *nodeEnv) (*running, error) {
	s, err := openKB(ctx, n.Cfg, n.Log, n.Store)
	if err != nil {
		return nil, fmt.Errorf("knowledge base (%s embedder): %w", n.Cfg.Embedder, err)
	}
	as := assist.New(s.kb, assist.Options{})
	n.Services["kb"] = s.kb
	n.Services["kb.catalog"] = s.cat
	n.Services["kb.assist"] = as
	n.Log.Info("knowledge base open", "embedder", s.emb.Model(), "vectors", s.describe)

	loadCtx, cancelLoad := context.WithCancel(context.Background())
	var loadErr atomic.Pointer[error]
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		if _, err := s.load(loadCtx, n.Log, nil); err != nil {
			n.Log.Error("knowledge base not loaded", "err", err)
			loadErr.Store(&err)
		}
	}()
	check := httpapi.ReadinessCheck{Name: "knowledge", Check: func(context.Context) error {
		select {
		case <-loaded:
			if p := loadErr.Load(); p != nil {
				return fmt.Errorf("knowledge base not loaded: %w", *p)
			}
			if q := s.idx.Pending(); q > 0 {
				n.Log.Debug("knowledge index writes queued", "pending", q)
			}
			return nil
		default:
			return errors.New("knowledge base still loading")
		}
	}}
	h := &kbHandlers{s: s, as: as, log: n.Log}
	return &running{
		Routes: h.routes(),
		Checks: []httpapi.ReadinessCheck{check},
		Stop: func(ctx context.Context) error {
			cancelLoad()
			<-loaded
			return s.close(ctx)
		},
	}, nil
}

// kbHandlers serves /api/v1/kb/...
type kbHandlers struct {
	s   *kbStack
	as  *assist.Service
	log *slog.Logger
}

// ArticleInput is the body of create and update.
type ArticleInput struct {
	ID          string     `json:"id,omitempty" description:"Article id (create only; the path gives it on update)."`
	Title       string     `json:"title"`
	Body        string     `json:"body" description:"Markdown, HTML or plain text as named by format."`
	Format      string     `json:"format,omitempty" description:"markdown (default), html or text."`
	Category    []string   `json:"category,omitempty" description:"Category path: product, problem type, solution."`
	Language    string     `json:"language,omitempty"`
	Tags        []string   `json:"tags,omitempty"`
	ValidFrom   *time.Time `json:"valid_from,omitempty"`
	ValidUntil  *time.Time `json:"valid_until,omitempty"`
	Status      string     `json:"status,omitempty" description:"draft (default) or published."`
	ChangeNote  string     `json:"change_note,omitempty"`
	BaseVersion int        `json:"base_version,omitempty" description:"Update only: the version the edit started from; 409 if a newer one exists."`
}

// PublishInput is the body of publish.
type PublishInput struct {
	Version    int    `json:"version,omitempty" description:"Version to publish; 0 or absent: the latest."`
	ChangeNote string `json:"change_note,omitempty"`
}

// AnswerInput asks for a grounded answer or a search.
type AnswerInput struct {
	Query         string   `json:"query"`
	K             int      `json:"k,omitempty"`
	Category      []string `json:"category,omitempty"`
	Language      string   `json:"language,omitempty"`
	Tags          []string `json:"tags,omitempty"`
	IncludeDrafts bool     `json:"include_drafts,omitempty"`
}

// SearchResult is the body of a search.
type SearchResult struct {
	Query string          `json:"query"`
	Hits  []knowledge.Hit `json:"hits"`
	// Degraded hybrid searches ranked by the lexical retrievers alone
	// because the vector index was unreachable.
	Degraded bool   `json:"degraded,omitempty" description:"true when the vector index was unreachable and only lexical retrieval ranked the hits"`
	Warning  string `json:"warning,omitempty"`
}

// FeedbackInput records whether a suggestion or answer helped.
type FeedbackInput struct {
	Query      string `json:"query"`
	DocumentID string `json:"document_id"`
	Version    int    `json:"version,omitempty"`
	Helpful    bool   `json:"helpful"`
	Source     string `json:"source" description:"agent or bot."`
	CallID     string `json:"call_id,omitempty"`
}

// ReindexInput asks for a full reindex.
type ReindexInput struct {
	Retrain bool `json:"retrain,omitempty" description:"Re-teach the local embedder the corpus and re-embed every chunk."`
}

// AssistResult reports what an utterance produced.
type AssistResult struct {
	Published  bool               `json:"published"`
	Reason     string             `json:"reason,omitempty" description:"Why nothing was pushed: interim, too short, nothing relevant, duplicate, over the time bound."`
	Suggestion *assist.Suggestion `json:"suggestion,omitempty"`
}

func (h *kbHandlers) routes() []httpapi.Route {
	idQuery := []httpapi.Param{
		{Name: "category", Description: "category path prefix, e.g. billing/refunds", Schema: map[string]any{"type": "string"}},
		{Name: "language", Schema: map[string]any{"type": "string"}},
		{Name: "tag", Schema: map[string]any{"type": "string"}},
		{Name: "status", Description: "draft or published", Schema: map[string]any{"type": "string"}},
	}
	const tag = "knowledge"
	return []httpapi.Route{
		{Method: "GET", Path: "/api/v1/kb/documents", OperationID: "listKBDocuments", Tag: tag, Summary: "List articles (latest version of each)",
			Query: idQuery, Status: 200, Response: []catalog.Version{}, Errors: []int{400, 503}, Handler: h.list},
		{Method: "POST", Path: "/api/v1/kb/documents", OperationID: "createKBDocument", Tag: tag, Summary: "Create an article (version 1)",
			Description: "The body is validated (size limit, format, UTF-8, category) before anything is stored; indexed=false with index_error means stored but not yet searchable (a reindex retries).",
			Request:     ArticleInput{}, Status: 201, Response: catalog.Saved{}, Errors: []int{400, 409, 413, 422, 503}, Handler: h.create},
		{Method: "GET", Path: "/api/v1/kb/documents/{id}", OperationID: "getKBDocument", Tag: tag, Summary: "Latest version of an article",
			Status: 200, Response: catalog.Version{}, Errors: []int{404, 503}, Handler: h.get},
		{Method: "PUT", Path: "/api/v1/kb/documents/{id}", OperationID: "updateKBDocument", Tag: tag, Summary: "Store a new version of an article",
			Description: "A draft on top of a published version leaves the published one live until it is published.",
			Request:     ArticleInput{}, Status: 200, Response: catalog.Saved{}, Errors: []int{400, 404, 409, 413, 422, 503}, Handler: h.update},
		{Method: "DELETE", Path: "/api/v1/kb/documents/{id}", OperationID: "deleteKBDocument", Tag: tag, Summary: "Delete an article and all its versions",
			Status: 204, Errors: []int{404, 503}, Handler: h.delete},
		{Method: "GET", Path: "/api/v1/kb/documents/{id}/versions", OperationID: "listKBDocumentVersions", Tag: tag, Summary: "Every version of an article, oldest first",
			Status: 200, Response: []catalog.Version{}, Errors: []int{404, 503}, Handler: h.versions},
		{Method: "GET", Path: "/api/v1/kb/documents/{id}/versions/{version}", OperationID: "getKBDocumentVersion", Tag: tag, Summary: "One version of an article",
			Status: 200, Response: catalog.Version{}, Errors: []int{400, 404, 503}, Handler: h.version},
		{Method: "POST", Path: "/api/v1/kb/documents/{id}/publish", OperationID: "publishKBDocument", Tag: tag, Summary: "Publish a version (stored as a new, published version)",
			Request: PublishInput{}, Status: 200, Response: catalog.Saved{}, Errors: []int{400, 404, 409, 503}, Handler: h.publish},
		{Method: "GET", Path: "/api/v1/kb/categories", OperationID: "listKBCategories", Tag: tag, Summary: "The category tree with article counts",
			Status: 200, Response: []catalog.Category{}, Errors: []int{503}, Handler: h.categories},
		{Method: "GET", Path: "/api/v1/kb/search", OperationID: "searchKB", Tag: tag, Summary: "Hybrid search with citations",
			Query: append([]httpapi.Param{
				{Name: "q", Description: "the query (required)", Schema: map[string]any{"type": "string"}},
				{Name: "limit", Description: "hits, 1-50 (default 5)", Schema: map[string]any{"type": "integer"}},
				{Name: "mode", Description: "hybrid (default), lexical or vector", Schema: map[string]any{"type": "string"}},
				{Name: "include_drafts", Schema: map[string]any{"type": "boolean"}},
			}, idQuery[:3]...),
			Status: 200, Response: SearchResult{}, Errors: []int{400, 503}, Handler: h.search},
		{Method: "POST", Path: "/api/v1/kb/answer", OperationID: "answerKB", Tag: tag, Summary: "Grounded self-service answer",
			Description: "Sentences quoted from the best passage with citations, or found=false and a 'nothing found, offer a person' text when no passage is relevant enough.",
			Request:     AnswerInput{}, Status: 200, Response: knowledge.Answer{}, Errors: []int{400, 503}, Handler: h.answer},
		{Method: "POST", Path: "/api/v1/kb/feedback", OperationID: "recordKBFeedback", Tag: tag, Summary: "Record whether an answer or suggestion helped",
			Request: FeedbackInput{}, Status: 201, Errors: []int{400, 422, 503}, Handler: h.feedback},
		{Method: "GET", Path: "/api/v1/kb/analytics", OperationID: "getKBAnalytics", Tag: tag, Summary: "Top queries, queries with no good result, articles never used, articles marked unhelpful",
			Query:  []httpapi.Param{{Name: "limit", Description: "rows per list (default 20)", Schema: map[string]any{"type": "integer"}}},
			Status: 200, Response: feedback.Analytics{}, Errors: []int{400, 503}, Handler: h.analytics},
		{Method: "POST", Path: "/api/v1/kb/reindex", OperationID: "reindexKB", Tag: tag, Summary: "Re-index every stored article (only changed chunks are embedded)",
			Request: ReindexInput{}, Status: 200, Response: catalog.ReindexResult{}, Errors: []int{400, 503}, Handler: h.reindex},
		{Method: "POST", Path: "/api/v1/kb/assist/utterances", OperationID: "assistUtterance", Tag: tag, Summary: "Agent assist: a live-call utterance in, a suggestion pushed to the call's subscribers",
			Request: assist.Utterance{}, Status: 200, Response: AssistResult{}, Errors: []int{400, 503}, Handler: h.utterance},
		{Method: "GET", Path: "/api/v1/kb/assist/{call}/events", OperationID: "assistEvents", Tag: tag, Summary: "Agent assist suggestions of a call as server-sent events",
			Status: 200, ResponseType: "text/event-stream", Handler: h.events},
	}
}

// kbError maps catalog and knowledge errors to API errors.
func kbError(err error, what string) error {
	switch {
	case errors.Is(err, knowledge.ErrDocumentTooLarge):
		// The request was read whole (it fits the API's body limit, else
		// 413): it is the article that breaks the knowledge-base limit.
		return httpapi.Error(http.StatusUnprocessableEntity, "body", "%v", err)
	case errors.Is(err, knowledge.ErrEmptyDocument), errors.Is(err, knowledge.ErrInvalidUTF8):
		return httpapi.Error(http.StatusUnprocessableEntity, "body", "%v", err)
	case errors.Is(err, knowledge.ErrUnsupportedFormat):
		return httpapi.Error(http.StatusUnprocessableEntity, "format", "%v", err)
	case errors.Is(err, knowledge.ErrInvalidDocument), errors.Is(err, store.ErrInvalid):
		return httpapi.Error(http.StatusUnprocessableEntity, "", "%v", err)
	case errors.Is(err, store.ErrNotFound):
		return httpapi.Error(http.StatusNotFound, "", "%s not found", what)
	case errors.Is(err, store.ErrConflict):
		return httpapi.Error(http.StatusConflict, "", "%v", err)
	case errors.Is(err, knowledge.ErrEmptyQuery):
		return httpapi.Error(http.StatusBadRequest, "query", "the query is empty")
	}
	return httpapi.Unavailable(5, "the knowledge base", err)
}

// decodeKB is httpapi.DecodeJSON that first rejects a body that is not
// UTF-8: encoding/json would silently turn the bad bytes into U+FFFD and
// store an article nobody wrote.
func decodeKB(r *http.Request, dst any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return httpapi.Error(http.StatusRequestEntityTooLarge, "", "request body is larger than %d bytes", tooBig.Limit)
		}
		return httpapi.Error(http.StatusBadRequest, "", "cannot read the request body: %v", err)
	}
	if !utf8.Valid(body) {
		off := 0
		for off < len(body) {
			c, n := utf8.DecodeRune(body[off:])
			if c == utf8.RuneError && n == 1 {
				break
			}
			off += n
		}
		return httpapi.Error(http.StatusBadRequest, fieldAt(body, off), "invalid UTF-8 at byte offset %d of the request body", off)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return httpapi.DecodeJSON(r, dst)
}

// fieldAt names the JSON object key whose value holds byte off, when the
// body up to there is a flat object (the article inputs are); "" otherwise.
func fieldAt(body []byte, off int) string {
	dec := json.NewDecoder(bytes.NewReader(body[:off]))
	var stack []json.Delim
	key, expectKey := "", false
	for {
		tok, err := dec.Token()
		if err != nil {
			return key // the truncated value is the bad one
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				stack = append(stack, d)
				expectKey = d == '{'
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		} else if len(stack) == 1 && stack[0] == '{' && expectKey {
			key, _ = tok.(string)
			expectKey = false
			continue
		}
		// A value ended: inside an object a key comes next.
		expectKey = len(stack) > 0 && stack[len(stack)-1] == '{'
	}
}

func (in *ArticleInput) article(id, author string) catalog.Article {
	return catalog.Article{ID: id, Title: in.Title, Body: in.Body, Format: knowledge.Format(in.Format), Category: in.Category,
		Language: in.Language, Tags: in.Tags, ValidFrom: in.ValidFrom, ValidUntil: in.ValidUntil,
		Status: knowledge.Status(in.Status), Author: author, ChangeNote: in.ChangeNote}
}

func author(r *http.Request) string {
	if a := r.Header.Get("X-Parley-Actor"); a != "" {
		return a
	}
	return "api"
}

func (h *kbHandlers) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := catalog.Filter{Language: q.Get("language"), Tag: q.Get("tag"), Status: knowledge.Status(q.Get("status"))}
	if c := strings.Trim(q.Get("category"), "/"); c != "" {
		f.CategoryPrefix = strings.Split(c, "/")
	}
	vs, err := h.s.cat.List(r.Context(), f)
	if err != nil {
		httpapi.WriteError(w, r, kbError(err, "articles"))
		return
	}
	httpapi.WriteJSON(w, 200, vs)
}

func (h *kbHandlers) create(w http.ResponseWriter, r *http.Request) {
	var in ArticleInput
	if err := decodeKB(r, &in); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if strings.TrimSpace(in.ID) == "" {
		httpapi.WriteError(w, r, httpapi.Error(http.StatusBadRequest, "id", "id is required"))
		return
	}
	s, err := h.s.cat.Create(r.Context(), in.article(in.ID, author(r)))
	if err != nil {
		httpapi.WriteError(w, r, kbError(err, "article "+in.ID))
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, s)
}

func (h *kbHandlers) update(w http.ResponseWriter, r *http.Request) {
	var in ArticleInput
	if err := decodeKB(r, &in); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	id := r.PathValue("id")
	if in.ID != "" && in.ID != id {
		httpapi.WriteError(w, r, httpapi.Error(http.StatusBadRequest, "id", "id %q differs from the path's %q", in.ID, id))
		return
	}
	s, err := h.s.cat.Update(r.Context(), in.article(id, author(r)), in.BaseVersion)
	if err != nil {
		httpapi.WriteError(w, r, kbError(err, "article "+id))
		return
	}
	httpapi.WriteJSON(w, 200, s)
}

func (h *kbHandlers) get(w http.ResponseWriter, r *http.Request) {
	v, err := h.s.cat.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, r, kbError(err, "article "+r.PathValue("id")))
		return
	}
	httpapi.WriteJSON(w, 200, v)
}

func (h *kbHandlers) delete(w http.ResponseWriter, r *http.Request) {
	if err := h.s.cat.Delete(r.Context(), r.PathValue("id")); err != nil {
		httpapi.WriteError(w, r, kbError(err, "article "+r.PathValue("id")))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *kbHandlers) versions(w http.ResponseWriter, r *http.Request) {
	vs, err := h.s.cat.Versions(r.Context(), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, r, kbError(err, "article "+r.PathValue("id")))
		return
	}
	httpapi.WriteJSON(w, 200, vs)
}

func (h *kbHandlers) version(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || n < 1 {
		httpapi.WriteError(w, r, httpapi.Error(http.StatusBadRequest, "version", "%q is not a version number (1, 2, ...)", r.PathValue("version")))
		return
	}
	v, err := h.s.cat.GetVersion(r.Context(), r.PathValue("id"), n)
	if err != nil {
		httpapi.WriteError(w, r, kbError(err, fmt.Sprintf("article %s version %d", r.PathValue("id"), n)))
		return
	}
	httpapi.WriteJSON(w, 200, v)
}

func (h *kbHandlers) publish(w http.ResponseWriter, r *http.Request) {
	var in PublishInput
	if r.ContentLength != 0 {
		if err := decodeKB(r, &in); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
	}
	s, err := h.s.cat.Publish(r.Context(), r.PathValue("id"), in.Version, author(r), in.ChangeNote)
	if err != nil {
		httpapi.WriteError(w, r, kbError(err, "article "+r.PathValue("id")))
		return
	}
	httpapi.WriteJSON(w, 200, s)
}

func (h *kbHandlers) categories(w http.ResponseWriter, r *http.Request) {
	cs, err := h.s.cat.Categories(r.Context())
	if err != nil {
		httpapi.WriteError(w, r, kbError(err, "categories"))
		return
	}
	httpapi.WriteJSON(w, 200, cs)
}

func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, httpapi.Error(http.StatusBadRequest, name, "%q: want a whole number from %d to %d", raw, lo, hi)
	}
	return n, nil
}

func (h *kbHandlers) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	text := q.Get("q")
	if strings.TrimSpace(text) == "" {
		httpapi.WriteError(w, r, httpapi.Error(http.StatusBadRequest, "q", "the query is empty"))
		return
	}
	k, err := intParam(r, "limit", 5, 1, 50)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	kq := knowledge.Query{Text: text, K: k, IncludeDrafts: q.Get("include_drafts") == "true",
		Filter: index.Filter{Language: q.Get("language")}}
	if c := strings.Trim(q.Get("category"), "/"); c != "" {
		kq.Filter.CategoryPrefix = strings.Split(c, "/")
	}
	if t := q.Get("tag"); t != "" {
		kq.Filter.Tags = []string{t}
	}
	switch q.Get("mode") {
	case "", "hybrid":
	case "lexical":
		kq.Mode = knowledge.LexicalOnly
	case "vector":
		kq.Mode = knowledge.VectorOnly
	default:
		httpapi.WriteError(w, r, httpapi.Error(http.StatusBadRequest, "mode", "%q: want hybrid, lexical or vector", q.Get("mode")))
		return
	}
	res, err := h.s.kb.SearchResult(r.Context(), kq)
	if err != nil {
		httpapi.WriteError(w, r, kbError(err, "search"))
		return
	}
	if res.Hits == nil {
		res.Hits = []knowledge.Hit{}
	}
	httpapi.WriteJSON(w, 200, SearchResult{Query: text, Hits: res.Hits, Degraded: res.Degraded, Warning: res.Warning})
}

func (h *kbHandlers) answer(w http.ResponseWriter, r *http.Request) {
	var in AnswerInput
	if err := decodeKB(r, &in); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if in.K < 0 || in.K > 20 {
		httpapi.WriteError(w, r, httpapi.Error(http.StatusBadRequest, "k", "%d: want 0 (default 3) to 20", in.K))
		return
	}
	a, err := h.s.kb.Answer(r.Context(), knowledge.Query{Text: in.Query, K: in.K, IncludeDrafts: in.IncludeDrafts,
		Filter: index.Filter{CategoryPrefix: in.Category, Language: in.Language, Tags: in.Tags}})
	if err != nil {
		httpapi.WriteError(w, r, kbError(err, "answer"))
		return
	}
	httpapi.WriteJSON(w, 200, a)
}

func (h *kbHandlers) feedback(w http.ResponseWriter, r *http.Request) {
	var in FeedbackInput
	if err := decodeKB(r, &in); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if strings.TrimSpace(in.DocumentID) == "" {
		httpapi.WriteError(w, r, httpapi.Error(http.StatusBadRequest, "document_id", "document_id is required"))
		return
	}
	if in.Source != "agent" && in.Source != "bot" {
		httpapi.WriteError(w, r, httpapi.Error(http.StatusBadRequest, "source", "%q: want agent or bot", in.Source))
		return
	}
	err := h.s.fb.Record(r.Context(), feedback.Vote{Query: in.Query, DocumentID: in.DocumentID, Version: in.Version, Helpful: in.Helpful,
		Source: feedback.Source(in.Source), CallID: in.CallID, Actor: author(r), At: time.Now()})
	if err != nil {
		httpapi.WriteError(w, r, kbError(err, "feedback"))
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (h *kbHandlers) analytics(w http.ResponseWriter, r *http.Request) {
	n, err := intParam(r, "limit", 20, 1, 1000)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	// Searches logged on this node in the last seconds count too.
	if err := h.s.fb.Flush(r.Context()); err != nil {
		h.log.Warn("knowledge analytics: search log not flushed", "err", err)
	}
	vs, err := h.s.cat.List(r.Context(), catalog.Filter{Status: knowledge.StatusPublished})
	if err != nil {
		httpapi.WriteError(w, r, kbError(err, "articles"))
		return
	}
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.ID
	}
	httpapi.WriteJSON(w, 200, feedback.Report(h.s.fb, ids, n))
}

func (h *kbHandlers) reindex(w http.ResponseWriter, r *http.Request) {
	var in ReindexInput
	if r.ContentLength != 0 {
		if err := decodeKB(r, &in); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
	}
	res, err := h.s.cat.Reindex(r.Context(), catalog.ReindexOptions{Retrain: in.Retrain})
	if err != nil {
		httpapi.WriteError(w, r, kbError(err, "reindex"))
		return
	}
	httpapi.WriteJSON(w, 200, res)
}

func (h *kbHandlers) utterance(w http.ResponseWriter, r *http.Request) {
	var in assist.Utterance
	if err := decodeKB(r, &in); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	sg, err := h.as.Utterance(r.Context(), in)
	switch {
	case err == nil:
		httpapi.WriteJSON(w, 200, AssistResult{Published: true, Suggestion: &sg})
	case errors.Is(err, assist.ErrInvalidTurn):
		httpapi.WriteError(w, r, httpapi.Error(http.StatusBadRequest, "call_id", "%v", err))
	case errors.Is(err, assist.ErrNotFinal), errors.Is(err, assist.ErrTooShort), errors.Is(err, assist.ErrNothing),
		errors.Is(err, assist.ErrDuplicate), errors.Is(err, assist.ErrLate):
		httpapi.WriteJSON(w, 200, AssistResult{Reason: err.Error()})
	default:
		httpapi.WriteError(w, r, kbError(err, "assist"))
	}
}

// events streams a call's suggestions as server-sent events until the
// client goes away or the call ends. The API's middleware wraps the
// writer, so flushing goes through http.ResponseController; the server's
// write timeout is lifted for the stream and a comment every 15 s keeps
// idle proxies from closing it.
func (h *kbHandlers) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	ch, cancel := h.as.Subscribe(r.PathValue("call"))
	defer cancel()
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	fmt.Fprint(w, ": subscribed\n\n")
	if err := rc.Flush(); err != nil {
		h.log.Warn("knowledge assist events: streaming unsupported", "err", err)
		return
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case sg, ok := <-ch:
			if !ok {
				fmt.Fprint(w, "event: end\ndata: {}\n\n")
				_ = rc.Flush()
				return
			}
			data, _ := json.Marshal(sg)
			fmt.Fprintf(w, "event: suggestion\nid: %d\ndata: %s\n\n", sg.Seq, data)
		}
		if err := rc.Flush(); err != nil {
			return // the agent went away
		}
	}
}
