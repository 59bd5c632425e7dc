package actors

import (
	"context"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/extensions"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-cc/parley/routing"
	"github.com/parley-cc/parley/store"
)

// Store is the part of store.Store the grains use: calls with their turns and
// events, and grain snapshots. store.Store satisfies it.
type Store interface {
	store.CallStore
	store.GrainStateStore
}

// Deps are what the grains of one member need.
type Deps struct {
	// Store persists calls and grain snapshots; required. Members of one
	// cluster must share it, or a re-activated grain starts empty.
	Store Store
	// Logger receives grain and cluster logs; default slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the member's Prometheus collectors.
	Registerer prometheus.Registerer
	// WriteBehind, when set, takes the grains' writes while the database is
	// unreachable and applies them, in order per grain, once it is back.
	// Without it such writes fail Unavailable. Writes held there survive a
	// database outage, not a crash of this member.
	WriteBehind *store.WriteBehind
	// Routing is the ACD configuration the Queue and Agent grains run; nil
	// means no queues (every enqueue fails with an unknown queue). Members
	// of one cluster must share it.
	Routing *routing.Config
}

// memberDeps reaches grains through their actor system, never through a
// package global, so several members can live in one process.
type memberDeps struct {
	store        Store
	log          *slog.Logger
	metrics      *grainMetrics
	storeTimeout time.Duration
	writeBehind  *store.WriteBehind
	routing      *routingInfo
}

// depsExtensionID names memberDeps among the actor system's extensions; the
// id is allocated once per process by protoactor's extension registry.
var depsExtensionID = extensions.NextExtensionID()

func (*memberDeps) ExtensionID() extensions.ExtensionID { return depsExtensionID }

// depsOf returns the dependencies registered on the grain's actor system.
func depsOf(system *actor.ActorSystem) *memberDeps {
	return system.Extensions.Get(depsExtensionID).(*memberDeps)
}

// storeCtx bounds one store operation of a grain.
func (d *memberDeps) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d.storeTimeout)
}

// levelFilter passes records from min on to the next handler; it keeps
// protoactor's chatty info logs out of Parley's log.
type levelFilter struct {
	min  slog.Level
	next slog.Handler
}

func (h levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.next.Enabled(ctx, l)
}

func (h levelFilter) Handle(ctx context.Context, r slog.Record) error {
	return h.next.Handle(ctx, r)
}

func (h levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{min: h.min, next: h.next.WithAttrs(a)}
}

func (h levelFilter) WithGroup(name string) slog.Handler {
	return levelFilter{min: h.min, next: h.next.WithGroup(name)}
}
