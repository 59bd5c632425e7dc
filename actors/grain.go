package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/parley-cc/parley/store"
)

// grain is what every Parley grain shares: its identity, its member's
// dependencies and whether it restored its state.
type grain struct {
	deps    *memberDeps
	metrics *kindMetrics
	kind    string
	id      string
	// broken holds the restore failure; such a grain answers Unavailable and
	// stops, so the next request activates it afresh.
	broken error
}

// activate binds the grain to its member and counts the activation.
func (g *grain) activate(ctx cluster.GrainContext, kind string) {
	g.deps = depsOf(ctx.ActorSystem())
	g.metrics = g.deps.metrics.byKind[kind]
	g.kind = kind
	g.id = ctx.Identity()
	g.metrics.activations.Inc()
	g.metrics.active.Inc()
}

// restored records the outcome of loading the grain's state.
func (g *grain) restored(err error) {
	if err != nil {
		g.broken = err
		g.deps.log.Error("grain restore failed", slog.String("kind", g.kind), slog.String("id", g.id), slog.Any("error", err))
	}
}

func (g *grain) terminate() {
	if g.metrics != nil {
		g.metrics.active.Dec()
	}
}

// ready returns an Unavailable error, and stops the grain, when its state
// could not be restored.
func (g *grain) ready(ctx cluster.GrainContext) error {
	if g.broken == nil {
		return nil
	}
	ctx.Poison(ctx.Self())
	return g.fail(cluster.ErrorReason_UNAVAILABLE, "restore %s %s: %v", g.kind, g.id, g.broken)
}

// fail builds the error answer of a request and counts it.
func (g *grain) fail(reason, format string, args ...any) error {
	g.metrics.failures.Inc()
	return cluster.NewGrainErrorResponse(reason, fmt.Sprintf(format, args...))
}

func (g *grain) invalid(format string, args ...any) error {
	return g.fail(cluster.ErrorReason_INVALID_ARGUMENT, format, args...)
}

func (g *grain) precondition(format string, args ...any) error {
	return g.fail(cluster.ErrorReason_FAILED_PRECONDITION, format, args...)
}

// storeFailed answers a failed write-through; the caller may retry.
func (g *grain) storeFailed(what string, err error) error {
	g.deps.log.Warn("grain write-through failed", slog.String("kind", g.kind), slog.String("id", g.id), slog.String("op", what), slog.Any("error", err))
	return g.fail(cluster.ErrorReason_UNAVAILABLE, "%s: %v", what, err)
}

func (g *grain) ReceiveDefault(cluster.GrainContext) {}

// nanos converts a time to the wire form (0 = unset).
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos converts the wire form back (0 = zero time).
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func ptrFromNanos(n int64) *time.Time {
	if n == 0 {
		return nil
	}
	t := fromNanos(n)
	return &t
}

func nanosPtr(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return nanos(*t)
}

// loadSnapshot fills m from the grain's saved state; found is false when the
// grain never saved any.
func (g *grain) loadSnapshot(m proto.Message) (found bool, err error) {
	sctx, cancel := g.deps.storeCtx()
	defer cancel()
	b, err := g.deps.store.LoadGrainState(sctx, g.kind, g.id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load %s %s snapshot: %w", g.kind, g.id, err)
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return false, fmt.Errorf("decode %s %s snapshot: %w", g.kind, g.id, err)
	}
	return true, nil
}

// saveSnapshot writes m through before the grain adopts it as its state.
func (g *grain) saveSnapshot(m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return g.fail(cluster.ErrorReason_INTERNAL, "encode %s %s snapshot: %v", g.kind, g.id, err)
	}
	return g.persist("save snapshot", func(ctx context.Context) error { return g.deps.store.SaveGrainState(ctx, g.kind, g.id, b) })
}

// persist writes through to the store. When the database does not answer
// and the member has a write-behind queue, the write is queued there instead
// — retried until the database takes it, in order with the grain's other
// writes — so live calls go on through a database outage. Without a queue,
// or when it is full, the request fails Unavailable and the caller retries:
// a write is never dropped silently.
func (g *grain) persist(what string, write store.Write) error {
	wb := g.deps.writeBehind
	key := g.kind + "/" + g.id
	if wb != nil && wb.HasPending(key) {
		return g.deferWrite(what, key, write, nil)
	}
	sctx, cancel := g.deps.storeCtx()
	err := write(sctx)
	cancel()
	if err == nil {
		return nil
	}
	if wb == nil || store.IsPermanent(err) {
		return g.storeFailed(what, err)
	}
	return g.deferWrite(what, key, write, err)
}

func (g *grain) deferWrite(what, key string, write store.Write, cause error) error {
	if err := g.deps.writeBehind.Enqueue(key, write); err != nil {
		if cause != nil {
			err = fmt.Errorf("%w (write-through: %v)", err, cause)
		}
		return g.storeFailed(what, err)
	}
	g.metrics.deferred.Inc()
	if cause != nil {
		g.deps.log.Warn("grain write deferred: database unavailable", slog.String("kind", g.kind), slog.String("id", g.id), slog.String("op", what), slog.Any("error", cause))
	}
	return nil
}
