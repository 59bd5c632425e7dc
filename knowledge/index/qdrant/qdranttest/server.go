// Package qdranttest is an in-process Qdrant for tests: a gRPC server on
// loopback implementing the Collections and Points calls the adapter uses,
// with real filter and scoring semantics, that can be stopped and restarted
// on the same address with its data kept (like a Qdrant restart).
package qdranttest

import (
	"context"
	"fmt"
	"math"
	"net"
	"sort"
	"sync"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Server is the fake Qdrant.
type Server struct {
	mu          sync.Mutex
	addr        string
	grpc        *grpc.Server
	collections map[string]*collection
}

type collection struct {
	dim      int
	distance qc.Distance
	points   map[string]*point // key: point id string
}

type point struct {
	id      *qc.PointId
	vector  []float32
	payload map[string]*qc.Value
}

// Start returns a running server on 127.0.0.1 with a free port.
func Start() (*Server, error) {
	s := &Server{addr: "127.0.0.1:0", collections: map[string]*collection{}}
	if err := s.Restart(); err != nil {
		return nil, err
	}
	return s, nil
}

// Addr returns host:port.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Port returns the listening port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr())
	var n int
	fmt.Sscan(p, &n)
	return n
}

// Stop closes the listener and every connection; data is kept.
func (s *Server) Stop() {
	s.mu.Lock()
	g := s.grpc
	s.grpc = nil
	s.mu.Unlock()
	if g != nil {
		g.Stop()
	}
}

// Restart listens again on the same address.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.grpc != nil {
		return nil
	}
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("fake qdrant listen on %s: %w", s.addr, err)
	}
	s.addr = lis.Addr().String()
	g := grpc.NewServer()
	qc.RegisterCollectionsServer(g, &collectionsService{s: s})
	qc.RegisterPointsServer(g, &pointsService{s: s})
	s.grpc = g
	go g.Serve(lis)
	return nil
}

// Count returns the number of points in a collection.
func (s *Server) Count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.collections[name]; c != nil {
		return len(c.points)
	}
	return 0
}

func (s *Server) collection(name string) (*collection, error) {
	c := s.collections[name]
	if c == nil {
		return nil, status.Errorf(codes.NotFound, "Collection `%s` doesn't exist!", name)
	}
	return c, nil
}

// collectionsService implements the Collections gRPC service.
type collectionsService struct {
	qc.UnimplementedCollectionsServer
	s *Server
}

func (cs *collectionsService) CollectionExists(_ context.Context, r *qc.CollectionExistsRequest) (*qc.CollectionExistsResponse, error) {
	cs.s.mu.Lock()
	defer cs.s.mu.Unlock()
	_, ok := cs.s.collections[r.GetCollectionName()]
	return &qc.CollectionExistsResponse{Result: &qc.CollectionExists{Exists: ok}}, nil
}

func (cs *collectionsService) Create(_ context.Context, r *qc.CreateCollection) (*qc.CollectionOperationResponse, error) {
	cs.s.mu.Lock()
	defer cs.s.mu.Unlock()
	if _, ok := cs.s.collections[r.GetCollectionName()]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Collection `%s` already exists!", r.GetCollectionName())
	}
	p := r.GetVectorsConfig().GetParams()
	if p == nil || p.GetSize() == 0 {
		return nil, status.Error(codes.InvalidArgument, "only a single unnamed dense vector is supported")
	}
	cs.s.collections[r.GetCollectionName()] = &collection{dim: int(p.GetSize()), distance: p.GetDistance(), points: map[string]*point{}}
	return &qc.CollectionOperationResponse{Result: true}, nil
}

func (cs *collectionsService) Delete(_ context.Context, r *qc.DeleteCollection) (*qc.CollectionOperationResponse, error) {
	cs.s.mu.Lock()
	defer cs.s.mu.Unlock()
	_, ok := cs.s.collections[r.GetCollectionName()]
	delete(cs.s.collections, r.GetCollectionName())
	return &qc.CollectionOperationResponse{Result: ok}, nil
}

func (cs *collectionsService) List(context.Context, *qc.ListCollectionsRequest) (*qc.ListCollectionsResponse, error) {
	cs.s.mu.Lock()
	defer cs.s.mu.Unlock()
	var out []*qc.CollectionDescription
	for name := range cs.s.collections {
		out = append(out, &qc.CollectionDescription{Name: name})
	}
	return &qc.ListCollectionsResponse{Collections: out}, nil
}

// pointsService implements the Points gRPC service.
type pointsService struct {
	qc.UnimplementedPointsServer
	s *Server
}

func idKey(id *qc.PointId) string {
	if u := id.GetUuid(); u != "" {
		return "u:" + u
	}
	return fmt.Sprintf("n:%020d", id.GetNum())
}

func completed() *qc.PointsOperationResponse {
	return &qc.PointsOperationResponse{Result: &qc.UpdateResult{Status: qc.UpdateStatus_Completed}}
}

func denseOf(v *qc.Vectors) []float32 {
	vec := v.GetVector()
	if d := vec.GetDense(); d != nil {
		return d.GetData()
	}
	return vec.GetData() // deprecated field older clients fill
}

func (ps *pointsService) CreateFieldIndex(_ context.Context, r *qc.CreateFieldIndexCollection) (*qc.PointsOperationResponse, error) {
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	if _, err := ps.s.collection(r.GetCollectionName()); err != nil {
		return nil, err
	}
	return completed(), nil
}

func (ps *pointsService) Upsert(_ context.Context, r *qc.UpsertPoints) (*qc.PointsOperationResponse, error) {
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	for _, p := range r.GetPoints() {
		v := denseOf(p.GetVectors())
		if len(v) != c.dim {
			return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: %d, got %d", c.dim, len(v))
		}
	}
	for _, p := range r.GetPoints() {
		c.points[idKey(p.GetId())] = &point{id: p.GetId(), vector: append([]float32(nil), denseOf(p.GetVectors())...), payload: p.GetPayload()}
	}
	return completed(), nil
}

func (ps *pointsService) Delete(_ context.Context, r *qc.DeletePoints) (*qc.PointsOperationResponse, error) {
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	sel := r.GetPoints()
	if ids := sel.GetPoints(); ids != nil {
		for _, id := range ids.GetIds() {
			delete(c.points, idKey(id))
		}
	}
	if f := sel.GetFilter(); f != nil {
		for k, p := range c.points {
			if matchFilter(f, p) {
				delete(c.points, k)
			}
		}
	}
	return completed(), nil
}

func (ps *pointsService) Count(_ context.Context, r *qc.CountPoints) (*qc.CountResponse, error) {
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	n := 0
	for _, p := range c.points {
		if r.GetFilter() == nil || matchFilter(r.GetFilter(), p) {
			n++
		}
	}
	return &qc.CountResponse{Result: &qc.CountResult{Count: uint64(n)}}, nil
}

func (ps *pointsService) Scroll(_ context.Context, r *qc.ScrollPoints) (*qc.ScrollResponse, error) {
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(c.points))
	for k, p := range c.points {
		if r.GetFilter() == nil || matchFilter(r.GetFilter(), p) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	start := 0
	if r.Offset != nil {
		start = sort.SearchStrings(keys, idKey(r.GetOffset()))
	}
	limit := 10
	if r.Limit != nil {
		limit = int(r.GetLimit())
	}
	resp := &qc.ScrollResponse{}
	for i := start; i < len(keys); i++ {
		if len(resp.Result) == limit {
			resp.NextPageOffset = c.points[keys[i]].id
			break
		}
		p := c.points[keys[i]]
		resp.Result = append(resp.Result, &qc.RetrievedPoint{Id: p.id, Payload: selectPayload(r.GetWithPayload(), p.payload)})
	}
	return resp, nil
}

func (ps *pointsService) Query(_ context.Context, r *qc.QueryPoints) (*qc.QueryResponse, error) {
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	q := r.GetQuery().GetNearest().GetDense().GetData()
	if len(q) != c.dim {
		return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: %d, got %d", c.dim, len(q))
	}
	var res []*qc.ScoredPoint
	for _, p := range c.points {
		if r.GetFilter() != nil && !matchFilter(r.GetFilter(), p) {
			continue
		}
		res = append(res, &qc.ScoredPoint{Id: p.id, Score: score(c.distance, q, p.vector), Payload: selectPayload(r.GetWithPayload(), p.payload)})
	}
	sort.Slice(res, func(i, j int) bool {
		if res[i].Score != res[j].Score {
			return res[i].Score > res[j].Score
		}
		return idKey(res[i].Id) < idKey(res[j].Id)
	})
	limit := 10
	if r.Limit != nil {
		limit = int(r.GetLimit())
	}
	if len(res) > limit {
		res = res[:limit]
	}
	return &qc.QueryResponse{Result: res}, nil
}

func score(d qc.Distance, a, b []float32) float32 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if d == qc.Distance_Cosine && na > 0 && nb > 0 {
		return float32(dot / math.Sqrt(na*nb))
	}
	return float32(dot)
}

func selectPayload(sel *qc.WithPayloadSelector, p map[string]*qc.Value) map[string]*qc.Value {
	if sel == nil || (sel.GetInclude() == nil && sel.GetExclude() == nil && !sel.GetEnable()) {
		return nil
	}
	if inc := sel.GetInclude(); inc != nil {
		out := map[string]*qc.Value{}
		for _, f := range inc.GetFields() {
			if v, ok := p[f]; ok {
				out[f] = v
			}
		}
		return out
	}
	if exc := sel.GetExclude(); exc != nil {
		out := map[string]*qc.Value{}
		for k, v := range p {
			out[k] = v
		}
		for _, f := range exc.GetFields() {
			delete(out, f)
		}
		return out
	}
	return p
}

// matchFilter applies Qdrant semantics: every Must, no MustNot, and at
// least one Should when any are given.
func matchFilter(f *qc.Filter, p *point) bool {
	for _, c := range f.GetMust() {
		if !matchCondition(c, p) {
			return false
		}
	}
	for _, c := range f.GetMustNot() {
		if matchCondition(c, p) {
			return false
		}
	}
	if len(f.GetShould()) > 0 {
		any := false
		for _, c := range f.GetShould() {
			if matchCondition(c, p) {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	return true
}

func matchCondition(c *qc.Condition, p *point) bool {
	switch {
	case c.GetFilter() != nil:
		return matchFilter(c.GetFilter(), p)
	case c.GetHasId() != nil:
		for _, id := range c.GetHasId().GetHasId() {
			if idKey(id) == idKey(p.id) {
				return true
			}
		}
		return false
	case c.GetField() != nil:
		return matchField(c.GetField(), p.payload)
	}
	return false
}

// values flattens a payload field: arrays match when any element matches.
func values(v *qc.Value) []*qc.Value {
	if v == nil {
		return nil
	}
	if l := v.GetListValue(); l != nil {
		return l.GetValues()
	}
	return []*qc.Value{v}
}

func matchField(fc *qc.FieldCondition, payload map[string]*qc.Value) bool {
	vals := values(payload[fc.GetKey()])
	if m := fc.GetMatch(); m != nil {
		ok := false
		for _, v := range vals {
			switch mv := m.GetMatchValue().(type) {
			case *qc.Match_Keyword:
				ok = ok || isString(v) && v.GetStringValue() == mv.Keyword
			case *qc.Match_Boolean:
				_, isBool := v.GetKind().(*qc.Value_BoolValue)
				ok = ok || isBool && v.GetBoolValue() == mv.Boolean
			case *qc.Match_Integer:
				ok = ok || isInt(v) && v.GetIntegerValue() == mv.Integer
			case *qc.Match_Keywords:
				for _, s := range mv.Keywords.GetStrings() {
					ok = ok || isString(v) && v.GetStringValue() == s
				}
			}
		}
		if !ok {
			return false
		}
	}
	if r := fc.GetRange(); r != nil {
		ok := false
		for _, v := range vals {
			var x float64
			switch k := v.GetKind().(type) {
			case *qc.Value_IntegerValue:
				x = float64(k.IntegerValue)
			case *qc.Value_DoubleValue:
				x = k.DoubleValue
			default:
				continue
			}
			if (r.Lt == nil || x < r.GetLt()) && (r.Lte == nil || x <= r.GetLte()) &&
				(r.Gt == nil || x > r.GetGt()) && (r.Gte == nil || x >= r.GetGte()) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func isString(v *qc.Value) bool { _, ok := v.GetKind().(*qc.Value_StringValue); return ok }
func isInt(v *qc.Value) bool    { _, ok := v.GetKind().(*qc.Value_IntegerValue); return ok }
