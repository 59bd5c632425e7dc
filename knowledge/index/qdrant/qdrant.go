// Package qdrant stores knowledge-base chunks in a Qdrant collection over
// gRPC, with payload filters equivalent to the embedded index.
package qdrant

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"sync"
	"time"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/parley-cc/parley/knowledge/index"
)

// Options configure the adapter; zero values take the defaults noted.
type Options struct {
	Host       string // default "localhost"
	Port       int    // gRPC port; default 6334
	APIKey     string
	UseTLS     bool
	Collection string // default "parley_kb"
	Dimension  int    // vector length; required
	BatchSize  int    // points per upsert request; default 256
	Timeout    time.Duration
	// SkipCompatibilityCheck skips the client/server version probe (needed
	// against in-process test servers).
	SkipCompatibilityCheck bool
	// MaxReconnectDelay caps gRPC's reconnect backoff (default 5s; gRPC's
	// own is 2 minutes), so queued writes land soon after an outage ends.
	MaxReconnectDelay time.Duration
	Logger            *slog.Logger
}

// ParseURL reads a QDRANT_URL such as "http://localhost:6334" or
// "https://host:6334" into host, port and TLS flag.
func ParseURL(raw string) (host string, port int, useTLS bool, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", 0, false, fmt.Errorf("parse qdrant url %q: %w", raw, err)
	}
	if u.Hostname() == "" {
		return "", 0, false, fmt.Errorf("parse qdrant url %q: no host", raw)
	}
	port = 6334
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return "", 0, false, fmt.Errorf("parse qdrant url %q: port: %w", raw, err)
		}
	}
	return u.Hostname(), port, u.Scheme == "https", nil
}

// Index is the Qdrant adapter; safe for concurrent use.
type Index struct {
	o      Options
	client *qc.Client

	mu      sync.Mutex
	ensured bool
}

// Open connects lazily: the collection is created on first use if missing,
// so a Qdrant that is down at start-up does not stop the node.
func Open(o Options) (*Index, error) {
	if o.Dimension <= 0 {
		return nil, fmt.Errorf("open qdrant index: dimension must be positive, got %d", o.Dimension)
	}
	if o.Collection == "" {
		o.Collection = "parley_kb"
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxReconnectDelay <= 0 {
		o.MaxReconnectDelay = 5 * time.Second
	}
	bo := backoff.DefaultConfig
	bo.BaseDelay = min(bo.BaseDelay, o.MaxReconnectDelay)
	bo.MaxDelay = o.MaxReconnectDelay
	c, err := qc.NewClient(&qc.Config{
		Host: o.Host, Port: o.Port, APIKey: o.APIKey, UseTLS: o.UseTLS,
		SkipCompatibilityCheck: o.SkipCompatibilityCheck, PoolSize: 1,
		GrpcOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: 2 * time.Second})},
	})
	if err != nil {
		return nil, fmt.Errorf("open qdrant index %s:%d: %w", o.Host, o.Port, err)
	}
	return &Index{o: o, client: c}, nil
}

// classify marks transport failures as index.ErrUnavailable.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.ResourceExhausted, codes.Canceled:
			return fmt.Errorf("qdrant %s: %w: %w", op, index.ErrUnavailable, err)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("qdrant %s: %w: %w", op, index.ErrUnavailable, err)
	}
	return fmt.Errorf("qdrant %s: %w", op, err)
}

func (x *Index) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, x.o.Timeout)
}

// ensure creates the collection (dot product distance) and payload indexes
// once.
func (x *Index) ensure(ctx context.Context) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ensured {
		return nil
	}
	cctx, cancel := x.ctx(ctx)
	defer cancel()
	ok, err := x.client.CollectionExists(cctx, x.o.Collection)
	if err != nil {
		return classify("check collection "+x.o.Collection, err)
	}
	if !ok {
		err := x.client.CreateCollection(cctx, &qc.CreateCollection{
			CollectionName: x.o.Collection,
			VectorsConfig:  qc.NewVectorsConfig(&qc.VectorParams{Size: uint64(x.o.Dimension), Distance: qc.Distance_Dot}),
		})
		if err != nil && status.Code(errors.Unwrap(err)) != codes.AlreadyExists {
			return classify("create collection "+x.o.Collection, err)
		}
		for _, f := range []struct {
			name string
			typ  qc.FieldType
		}{{"doc_id", qc.FieldType_FieldTypeKeyword}, {"category_keys", qc.FieldType_FieldTypeKeyword},
			{"language", qc.FieldType_FieldTypeKeyword}, {"tags", qc.FieldType_FieldTypeKeyword},
			{"published", qc.FieldType_FieldTypeBool}, {"valid_from", qc.FieldType_FieldTypeInteger},
			{"valid_until", qc.FieldType_FieldTypeInteger}} {
			typ := f.typ
			if _, err := x.client.CreateFieldIndex(cctx, &qc.CreateFieldIndexCollection{
				CollectionName: x.o.Collection, FieldName: f.name, FieldType: &typ, Wait: qc.PtrOf(true),
			}); err != nil {
				// Payload indexes only speed filters up; filtering works without them.
				x.o.Logger.Warn("qdrant payload index not created", "field", f.name, "err", err)
			}
		}
	}
	x.ensured = true
	return nil
}

// pointID derives a stable UUID from a chunk id (Qdrant ids are UUIDs or
// integers).
func pointID(chunkID string) *qc.PointId {
	h := sha1.Sum([]byte("parley-kb:" + chunkID))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return qc.NewIDUUID(fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16]))
}

func strList(ss []string) *qc.Value {
	vs := make([]*qc.Value, len(ss))
	for i, s := range ss {
		vs[i] = qc.NewValueString(s)
	}
	return qc.NewValueFromList(vs...)
}

func payload(p *index.Point) map[string]*qc.Value {
	until := p.ValidUntil
	if until == 0 {
		until = math.MaxInt64 // "forever" must pass valid_until > now
	}
	return map[string]*qc.Value{
		"chunk_id":      qc.NewValueString(p.ID),
		"doc_id":        qc.NewValueString(p.DocumentID),
		"version":       qc.NewValueInt(int64(p.Version)),
		"chunk":         qc.NewValueInt(int64(p.Chunk)),
		"hash":          qc.NewValueString(p.Hash),
		"category":      strList(p.Category),
		"category_keys": strList(index.CategoryKeys(p.Category)),
		"language":      qc.NewValueString(p.Language),
		"tags":          strList(p.Tags),
		"valid_from":    qc.NewValueInt(p.ValidFrom),
		"valid_until":   qc.NewValueInt(until),
		"published":     qc.NewValueBool(p.Published),
	}
}

func fromPayload(m map[string]*qc.Value) index.Point {
	list := func(k string) []string {
		var out []string
		for _, v := range m[k].GetListValue().GetValues() {
			out = append(out, v.GetStringValue())
		}
		return out
	}
	until := m["valid_until"].GetIntegerValue()
	if until == math.MaxInt64 {
		until = 0
	}
	return index.Point{
		ID: m["chunk_id"].GetStringValue(), DocumentID: m["doc_id"].GetStringValue(),
		Version: int(m["version"].GetIntegerValue()), Chunk: int(m["chunk"].GetIntegerValue()),
		Hash: m["hash"].GetStringValue(), Category: list("category"), Language: m["language"].GetStringValue(),
		Tags: list("tags"), ValidFrom: m["valid_from"].GetIntegerValue(), ValidUntil: until,
		Published: m["published"].GetBoolValue(),
	}
}

// Upsert writes points in batches of BatchSize, waiting for each to apply.
func (x *Index) Upsert(ctx context.Context, points []index.Point) error {
	for i := range points {
		if len(points[i].Vector) != x.o.Dimension {
			return fmt.Errorf("upsert point %q: %w: got %d, index has %d", points[i].ID, index.ErrDimension, len(points[i].Vector), x.o.Dimension)
		}
	}
	if err := x.ensure(ctx); err != nil {
		return err
	}
	for start := 0; start < len(points); start += x.o.BatchSize {
		batch := points[start:min(start+x.o.BatchSize, len(points))]
		ps := make([]*qc.PointStruct, len(batch))
		for i := range batch {
			ps[i] = &qc.PointStruct{Id: pointID(batch[i].ID), Vectors: qc.NewVectorsDense(batch[i].Vector), Payload: payload(&batch[i])}
		}
		cctx, cancel := x.ctx(ctx)
		_, err := x.client.Upsert(cctx, &qc.UpsertPoints{CollectionName: x.o.Collection, Wait: qc.PtrOf(true), Points: ps})
		cancel()
		if err != nil {
			return classify(fmt.Sprintf("upsert %d points", len(ps)), err)
		}
	}
	return nil
}

// Delete removes points by chunk id.
func (x *Index) Delete(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := x.ensure(ctx); err != nil {
		return err
	}
	pids := make([]*qc.PointId, len(ids))
	for i, id := range ids {
		pids[i] = pointID(id)
	}
	cctx, cancel := x.ctx(ctx)
	defer cancel()
	_, err := x.client.Delete(cctx, &qc.DeletePoints{CollectionName: x.o.Collection, Wait: qc.PtrOf(true), Points: qc.NewPointsSelectorIDs(pids)})
	return classify(fmt.Sprintf("delete %d points", len(ids)), err)
}

// DeleteDocument removes every point whose doc_id matches.
func (x *Index) DeleteDocument(ctx context.Context, documentID string) error {
	if err := x.ensure(ctx); err != nil {
		return err
	}
	cctx, cancel := x.ctx(ctx)
	defer cancel()
	_, err := x.client.Delete(cctx, &qc.DeletePoints{
		CollectionName: x.o.Collection, Wait: qc.PtrOf(true),
		Points: qc.NewPointsSelectorFilter(&qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword("doc_id", documentID)}}),
	})
	return classify("delete document "+documentID, err)
}

// Chunks scrolls the points of a document.
func (x *Index) Chunks(ctx context.Context, documentID string) ([]index.ChunkRef, error) {
	if err := x.ensure(ctx); err != nil {
		return nil, err
	}
	var out []index.ChunkRef
	var offset *qc.PointId
	for {
		cctx, cancel := x.ctx(ctx)
		pts, next, err := x.client.ScrollAndOffset(cctx, &qc.ScrollPoints{
			CollectionName: x.o.Collection,
			Filter:         &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword("doc_id", documentID)}},
			Offset:         offset, Limit: qc.PtrOf(uint32(512)),
			WithPayload: qc.NewWithPayloadInclude("chunk_id", "hash"),
		})
		cancel()
		if err != nil {
			return nil, classify("list chunks of "+documentID, err)
		}
		for _, p := range pts {
			out = append(out, index.ChunkRef{ID: p.GetPayload()["chunk_id"].GetStringValue(), Hash: p.GetPayload()["hash"].GetStringValue()})
		}
		if next == nil || len(pts) == 0 {
			return out, nil
		}
		offset = next
	}
}

// Filter converts an index filter to Qdrant conditions.
func Filter(f index.Filter) *qc.Filter {
	var must []*qc.Condition
	if len(f.CategoryPrefix) > 0 {
		keys := index.CategoryKeys(f.CategoryPrefix)
		must = append(must, qc.NewMatchKeyword("category_keys", keys[len(keys)-1]))
	}
	if f.Language != "" {
		must = append(must, qc.NewMatchKeyword("language", f.Language))
	}
	for _, t := range f.Tags {
		must = append(must, qc.NewMatchKeyword("tags", t))
	}
	if !f.At.IsZero() {
		at := float64(f.At.Unix())
		must = append(must,
			qc.NewRange("valid_from", &qc.Range{Lte: &at}),
			qc.NewRange("valid_until", &qc.Range{Gt: &at}))
	}
	if f.PublishedOnly {
		must = append(must, qc.NewMatchBool("published", true))
	}
	if len(must) == 0 {
		return nil
	}
	return &qc.Filter{Must: must}
}

// Search queries the nearest points passing f.
func (x *Index) Search(ctx context.Context, vector []float32, k int, f index.Filter) ([]index.Hit, error) {
	if len(vector) != x.o.Dimension {
		return nil, fmt.Errorf("search: %w: got %d, index has %d", index.ErrDimension, len(vector), x.o.Dimension)
	}
	if k <= 0 {
		return nil, nil
	}
	if err := x.ensure(ctx); err != nil {
		return nil, err
	}
	cctx, cancel := x.ctx(ctx)
	defer cancel()
	res, err := x.client.Query(cctx, &qc.QueryPoints{
		CollectionName: x.o.Collection, Query: qc.NewQueryDense(vector), Filter: Filter(f),
		Limit: qc.PtrOf(uint64(k)), WithPayload: qc.NewWithPayload(true),
	})
	if err != nil {
		return nil, classify("search", err)
	}
	out := make([]index.Hit, len(res))
	for i, r := range res {
		out[i] = index.Hit{Point: fromPayload(r.GetPayload()), Score: r.GetScore()}
	}
	return out, nil
}

// Close closes the connection.
func (x *Index) Close() error {
	if err := x.client.Close(); err != nil {
		return fmt.Errorf("close qdrant client: %w", err)
	}
	return nil
}

var _ index.Index = (*Index)(nil)
