package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/parley-cc/parley/actors/pb"
	"github.com/parley-cc/parley/store"
)

// Errors a grain request can end with, besides store.ErrNotFound for a grain
// that has nothing to show (e.g. the transcript of a call never started).
var (
	// ErrInvalidArgument means the request was wrong; retrying cannot help.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrFailedPrecondition means the grain's state forbids the request
	// (e.g. a turn on a call that was never started).
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnavailable means the grain or its member could not be reached or
	// could not persist in time; the request may be retried.
	ErrUnavailable = errors.New("unavailable")
	// ErrStopped means the node was stopped; its clients no longer work.
	ErrStopped = errors.New("cluster member stopped")
)

// router is the cluster context: it resolves a grain to a PID (cache first)
// and sends one request. It replaces protoactor's DefaultContext, which
// builds a log throttle (a goroutine) per request, logs every request at
// debug level with reflection, and shares one global call config across
// clusters in a process.
type router struct {
	cluster   *cluster.Cluster
	placement *placement
	timeout   time.Duration
}

var _ cluster.Context = (*router)(nil)

// Request serves generated grain clients; it applies their call options.
func (r *router) Request(identity, kind string, message any, opts ...cluster.GrainCallOption) (any, error) {
	cfg := cluster.GrainCallConfig{RetryCount: 3, Timeout: r.timeout}
	for _, o := range opts {
		o(&cfg)
	}
	deadline := time.Now().Add(cfg.Timeout)
	var err error
	for attempt := 0; attempt < max(cfg.RetryCount, 1); attempt++ {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		var resp any
		resp, err = r.once(identity, kind, message, left)
		if err == nil || !transient(err) {
			return resp, err
		}
		time.Sleep(backoff(attempt))
	}
	return nil, err
}

// RequestFuture resolves the grain and returns the future of one request.
func (r *router) RequestFuture(identity, kind string, message any, opts ...cluster.GrainCallOption) (*actor.Future, error) {
	cfg := cluster.GrainCallConfig{Timeout: r.timeout}
	for _, o := range opts {
		o(&cfg)
	}
	pid := r.pid(identity, kind)
	if pid == nil {
		return nil, fmt.Errorf("no member activates %s/%s: %w", kind, identity, ErrUnavailable)
	}
	return r.cluster.ActorSystem.Root.RequestFuture(pid, message, cfg.Timeout), nil
}

// once sends one request; a transient failure evicts the cached PID so the
// next attempt resolves the grain again (it may have moved). A request to
// another member also ends as soon as that member leaves the topology, so
// failover takes as long as failure detection, not a whole request timeout.
func (r *router) once(identity, kind string, message any, timeout time.Duration) (any, error) {
	pid := r.pid(identity, kind)
	if pid == nil {
		return nil, fmt.Errorf("no member activates %s/%s: %w", kind, identity, ErrUnavailable)
	}
	sys := r.cluster.ActorSystem
	var resp any
	var err error
	if pid.Address == sys.Address() {
		resp, err = sys.Root.RequestFuture(pid, message, timeout).Result()
	} else {
		resp, err = r.remote(pid, message, timeout)
	}
	if err != nil {
		if transient(err) {
			r.cluster.PidCache.RemoveByValue(identity, kind, pid)
			return nil, fmt.Errorf("request %s/%s at %s: %w: %w", kind, identity, pid.Address, ErrUnavailable, err)
		}
		return nil, fmt.Errorf("request %s/%s: %w", kind, identity, err)
	}
	return resp, nil
}

var errMemberLeft = errors.New("member left the cluster")

// remote waits for a request to another member, giving up when that member
// leaves the topology.
func (r *router) remote(pid *actor.PID, message any, timeout time.Duration) (any, error) {
	table := r.placement.members.Load()
	if len(table.all) > 0 && !table.has(pid.Address) {
		return nil, fmt.Errorf("%s: %w", pid.Address, errMemberLeft)
	}
	f := r.cluster.ActorSystem.Root.RequestFuture(pid, message, timeout)
	type result struct {
		resp any
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := f.Result()
		done <- result{resp, err}
	}()
	for {
		select {
		case res := <-done:
			return res.resp, res.err
		case <-table.replaced:
			table = r.placement.members.Load()
			if !table.has(pid.Address) {
				return nil, fmt.Errorf("%s: %w", pid.Address, errMemberLeft)
			}
		}
	}
}

func (r *router) pid(identity, kind string) *actor.PID {
	if pid, ok := r.cluster.PidCache.Get(identity, kind); ok {
		return pid
	}
	pid := r.cluster.IdentityLookup.Get(cluster.NewClusterIdentity(identity, kind))
	if pid != nil {
		r.cluster.PidCache.Set(identity, kind, pid)
	}
	return pid
}

// transient reports whether a request failure may pass on retry.
func transient(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, errMemberLeft) || errors.Is(err, actor.ErrTimeout) ||
		errors.Is(err, actor.ErrDeadLetter) || errors.Is(err, remote.ErrTimeout) ||
		errors.Is(err, remote.ErrDeadLetter)
}

func backoff(attempt int) time.Duration {
	d := 10 * time.Millisecond << min(attempt, 5)
	return min(d, 250*time.Millisecond)
}

// invoke runs a grain method: one attempt at a time, each bounded by the
// node's request timeout, retried on transient failures until ctx (or, when
// ctx has no deadline, the retry budget) runs out.
func invoke[T proto.Message](ctx context.Context, n *Node, kind, identity string, method int32, req proto.Message) (T, error) {
	var zero T
	if identity == "" {
		return zero, fmt.Errorf("%s id is empty: %w", kind, ErrInvalidArgument)
	}
	data, err := proto.Marshal(req)
	if err != nil {
		return zero, fmt.Errorf("encode %s request: %w", kind, err)
	}
	msg := &cluster.GrainRequest{MethodIndex: method, MessageData: data}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(n.cfg.RetryBudget)
	}
	var last error
	for attempt := 0; ; attempt++ {
		if n.stopped.Load() {
			return zero, fmt.Errorf("%s/%s: %w", kind, identity, ErrStopped)
		}
		if err := ctx.Err(); err != nil {
			return zero, joinLast(fmt.Errorf("%s/%s: %w", kind, identity, err), last)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return zero, joinLast(fmt.Errorf("%s/%s: %w", kind, identity, context.DeadlineExceeded), last)
		}
		resp, err := n.router.once(identity, kind, msg, min(left, n.cfg.RequestTimeout))
		if err == nil {
			switch r := resp.(type) {
			case T:
				return r, nil
			case *cluster.GrainErrorResponse:
				err = grainError(kind, identity, r)
			default:
				return zero, fmt.Errorf("%s/%s answered %T", kind, identity, resp)
			}
		}
		if !transient(err) {
			return zero, err
		}
		last = err
		select {
		case <-ctx.Done():
		case <-time.After(min(backoff(attempt), time.Until(deadline))):
		}
	}
}

func joinLast(err, last error) error {
	if last == nil {
		return err
	}
	return fmt.Errorf("%w (last failure: %w)", err, last)
}

// grainError turns a grain's error answer into an error that errors.Is
// recognises.
func grainError(kind, identity string, r *cluster.GrainErrorResponse) error {
	var base error
	switch r.Reason {
	case cluster.ErrorReason_NOT_FOUND:
		base = store.ErrNotFound
	case cluster.ErrorReason_INVALID_ARGUMENT:
		base = ErrInvalidArgument
	case cluster.ErrorReason_FAILED_PRECONDITION:
		base = ErrFailedPrecondition
	case cluster.ErrorReason_UNAVAILABLE:
		base = ErrUnavailable
	default:
		return fmt.Errorf("%s/%s: %s: %s", kind, identity, r.Reason, r.Message)
	}
	return fmt.Errorf("%s/%s: %s: %w", kind, identity, r.Message, base)
}

// methodIndex returns the index protoc-gen-go-grain gave a service method:
// its position in the service, read from the descriptor so that reordering
// the .proto cannot silently misroute requests.
func methodIndex(service, method string) int32 {
	sd := pb.File_grains_proto.Services().ByName(protoreflect.Name(service))
	if sd == nil {
		panic("actors: no service " + service + " in grains.proto")
	}
	md := sd.Methods().ByName(protoreflect.Name(method))
	if md == nil {
		panic("actors: no method " + service + "." + method + " in grains.proto")
	}
	return int32(md.Index())
}
