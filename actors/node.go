package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/k8s"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/asynkron/protoactor-go/remote"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/parley-cc/parley/actors/pb"
	"github.com/parley-cc/parley/routing"
)

// registerFactories installs the grain factories once per process:
// protoc-gen-go-grain keeps them in package globals of pb, and writing them
// once keeps several members in one process free of data races. The
// factories hold no state; per-member dependencies come from the context.
var registerFactories = sync.OnceFunc(func() {
	pb.CallFactory(newCallGrain)
	pb.AgentFactory(newAgentGrain)
	pb.QueueFactory(newQueueGrain)
	pb.CampaignFactory(newCampaignGrain)
})

// Node is one running cluster member with typed clients for its grains.
type Node struct {
	cfg       ClusterConfig
	deps      Deps
	system    *actor.ActorSystem
	cluster   *cluster.Cluster
	router    *router
	placement *placement
	metrics   *grainMetrics
	dispatch  *workerDispatcher
	provider  cluster.ClusterProvider
	// kill ends the provider as a crash would (nil when not needed).
	kill     func()
	stopOnce sync.Once
	stopped  atomic.Bool

	calls     CallClient
	agents    AgentClient
	queues    QueueClient
	campaigns CampaignClient
}

// Start joins (or forms) the cluster described by cfg and returns the running
// member. The context bounds provider setup (e.g. reaching etcd).
func Start(ctx context.Context, cfg ClusterConfig, deps Deps) (n *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if deps.Store == nil {
		return nil, errors.New("actors: start member: Deps.Store is nil")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	level, _ := parseLevel(cfg.ActorLogLevel)
	ri, err := newRoutingInfo(deps.Routing)
	if err != nil {
		return nil, fmt.Errorf("actors: start member: %w", err)
	}
	registerFactories()

	host, port, _ := splitHostPort(cfg.Addr, true)
	metrics, err := newGrainMetrics(deps.Registerer)
	if err != nil {
		return nil, fmt.Errorf("actors: start member: %w", err)
	}
	defer func() {
		if err != nil {
			metrics.unregister(deps.Registerer)
		}
	}()

	// Check the address before protoactor does: its remote panics on a
	// taken port, after replacing grpc's global logger.
	l, lerr := net.Listen("tcp", cfg.Addr)
	if lerr != nil {
		return nil, fmt.Errorf("actors: start member: remoting address %s: %w", cfg.Addr, lerr)
	}
	_ = l.Close()

	n = &Node{cfg: cfg, deps: deps, metrics: metrics, dispatch: newWorkerDispatcher(4*runtime.GOMAXPROCS(0), 300)}
	defer func() {
		if err != nil {
			n.dispatch.close()
		}
	}()
	n.provider, n.kill, err = newProvider(ctx, cfg, deps.Logger)
	if err != nil {
		return nil, fmt.Errorf("actors: start member: %w", err)
	}

	actorLog := slog.New(levelFilter{min: level, next: deps.Logger.Handler()})
	n.system = actor.NewActorSystem(actor.WithLoggerFactory(func(s *actor.ActorSystem) *slog.Logger {
		return actorLog.With(slog.String("lib", "protoactor"), slog.String("member", s.ID))
	}))
	n.system.Extensions.Register(&memberDeps{
		store: deps.Store, log: deps.Logger.With(slog.String("component", "actors")),
		metrics: metrics, storeTimeout: cfg.StoreTimeout, writeBehind: deps.WriteBehind, routing: ri,
	})

	var remoteOpts []remote.ConfigOption
	if cfg.AdvertiseAddr != "" {
		remoteOpts = append(remoteOpts, remote.WithAdvertisedHost(cfg.AdvertiseAddr))
	}
	n.placement = newPlacement(cfg.RequestTimeout)
	ccfg := cluster.Configure(cfg.Name, n.provider, n.placement, remote.Configure(host, port, remoteOpts...),
		cluster.WithKinds(n.kinds()...),
		cluster.WithRequestTimeout(cfg.RequestTimeout),
		cluster.WithClusterContextProducer(func(c *cluster.Cluster) cluster.Context {
			return &router{cluster: c, placement: n.placement, timeout: cfg.RequestTimeout}
		}),
	)
	n.cluster = cluster.New(n.system, ccfg)
	n.router = &router{cluster: n.cluster, placement: n.placement, timeout: cfg.RequestTimeout}

	// protoactor reports start failures (a port in use, an unreachable
	// provider) by panicking.
	if err := startMember(n.cluster, cfg.ClientOnly); err != nil {
		n.system.Shutdown()
		if n.kill != nil {
			n.kill()
		}
		return nil, fmt.Errorf("actors: start member on %s (%s provider): %w", cfg.Addr, cfg.Provider, err)
	}
	n.calls = CallClient{n}
	n.agents = AgentClient{n}
	n.queues = QueueClient{n}
	n.campaigns = CampaignClient{n}
	deps.Logger.Info("cluster member started", slog.String("address", n.Address()),
		slog.String("provider", cfg.Provider), slog.String("cluster", cfg.Name))
	return n, nil
}

func startMember(c *cluster.Cluster, clientOnly bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	if clientOnly {
		c.StartClient()
	} else {
		c.StartMember()
	}
	return nil
}

// kinds builds this member's grain kinds; the props are per member so that
// the message counter needs no lookup.
func (n *Node) kinds() []*cluster.Kind {
	mk := func(kind string, newActor func(time.Duration) actor.Actor) *cluster.Kind {
		km := n.metrics.byKind[kind]
		// The generated actors' own idle timeout (protoactor's receive
		// timeout) is off: idleActor passivates without its data race.
		props := actor.PropsFromProducer(func() actor.Actor { return &idleActor{inner: newActor(0), idle: n.cfg.GrainIdleTimeout} },
			actor.WithDispatcher(n.dispatch),
			actor.WithReceiverMiddleware(func(next actor.ReceiverFunc) actor.ReceiverFunc {
				return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
					if _, ok := env.Message.(*cluster.GrainRequest); ok {
						km.messages.Inc()
					}
					next(c, env)
				}
			}))
		return cluster.NewKind(kind, props)
	}
	return []*cluster.Kind{
		mk(KindCall, func(t time.Duration) actor.Actor { return &pb.CallActor{Timeout: t} }),
		mk(KindAgent, func(t time.Duration) actor.Actor { return &pb.AgentActor{Timeout: t} }),
		mk(KindQueue, func(t time.Duration) actor.Actor { return &pb.QueueActor{Timeout: t} }),
		mk(KindCampaign, func(t time.Duration) actor.Actor { return &pb.CampaignActor{Timeout: t} }),
	}
}

// newProvider builds the membership provider cfg names. kill, when not nil,
// ends the provider the way a crashed process would.
func newProvider(ctx context.Context, cfg ClusterConfig, log *slog.Logger) (cluster.ClusterProvider, func(), error) {
	switch cfg.Provider {
	case ProviderLocal:
		// The in-memory agent of protoactor's test provider knows exactly
		// this member: a one-member cluster with nothing to reach.
		// Its Shutdown deregisters the member, which makes protoactor block
		// it in remote.BlockList, a write that races with the unlocked
		// IsBlocked reads of endpoint goroutines still winding down; a
		// member alone in its cluster has nobody to tell, so it is skipped.
		p := test.NewTestProvider(test.NewInMemAgent())
		return p, nil, nil
	case ProviderAutomanaged:
		_, port, _ := splitHostPort(cfg.AutoManageAddr, false)
		p := automanaged.NewWithConfig(cfg.AutoManageRefresh, port, cfg.Seeds...)
		if cfg.ClientOnly {
			// A client serves no membership endpoint, so the provider's
			// Shutdown (which closes it) would panic; deregistering ends
			// its polling.
			return p, func() { _ = p.DeregisterMember() }, nil
		}
		return p, func() { _ = p.Shutdown(false) }, nil
	case ProviderEtcd:
		p := &etcdProvider{prefix: cfg.EtcdPrefix, endpoints: cfg.EtcdEndpoints, dial: 5 * time.Second, leaseTTL: cfg.EtcdLeaseTTL, log: log}
		if dl, ok := ctx.Deadline(); ok {
			p.dial = min(p.dial, time.Until(dl))
		}
		return p, p.kill, nil
	case ProviderK8s:
		// Needs in-cluster credentials (a pod's service account); the
		// namespace is the pod's.
		p, err := k8s.New()
		if err != nil {
			return nil, nil, fmt.Errorf("kubernetes provider (runs only inside a pod): %w", err)
		}
		return p, nil, nil
	}
	return nil, nil, fmt.Errorf("unknown provider %q", cfg.Provider)
}

// Stop leaves the cluster. Graceful hands the member's grains over (they
// stop here and re-activate on their new owners on demand) and deregisters
// from the provider; non-graceful drops everything at once, as a crash would,
// which tests use to exercise failover.
func (n *Node) Stop(graceful bool) error {
	n.stopOnce.Do(func() {
		n.stopped.Store(true)
		switch {
		case n.cfg.ClientOnly:
			// cluster.Shutdown assumes a gossiping member (it panics on a
			// client's missing gossip actor), so a client stops by hand.
			// Graceful remote shutdown also closes the client's outgoing
			// connections, which would otherwise redial dead members forever.
			n.placement.Shutdown()
			n.cluster.Remote.Shutdown(true)
			n.system.Shutdown()
			if n.kill != nil {
				n.kill()
			}
		case graceful:
			n.placement.Shutdown()
			n.cluster.Shutdown(true)
		default:
			n.cluster.Shutdown(false)
			if n.kill != nil {
				n.kill()
			}
		}
		n.dispatch.close()
		n.metrics.unregister(n.deps.Registerer)
		n.deps.Logger.Info("cluster member stopped", slog.String("address", n.Address()), slog.Bool("graceful", graceful))
	})
	return nil
}

// Address is the host:port other members reach this member at.
func (n *Node) Address() string { return n.system.Address() }

// ID is this member's unique id (a new one on every start).
func (n *Node) ID() string { return n.system.ID }

// Members returns the addresses of the members this member currently sees.
func (n *Node) Members() []string { return n.placement.Members() }

// Ready reports whether this member sees a member to host each grain kind;
// /readyz can use it.
func (n *Node) Ready() error {
	t := n.placement.members.Load()
	for _, k := range kinds {
		if len(t.byKind[k]) == 0 {
			return fmt.Errorf("actors: no cluster member hosts %s grains yet", k)
		}
	}
	return nil
}

// Cluster exposes the protoactor cluster for generated grain clients
// (pb.GetCallGrainClient and friends) and diagnostics.
func (n *Node) Cluster() *cluster.Cluster { return n.cluster }

// Calls returns the client of Call grains.
func (n *Node) Calls() *CallClient { return &n.calls }

// Agents returns the client of Agent grains.
func (n *Node) Agents() *AgentClient { return &n.agents }

// Queues returns the client of Queue grains.
func (n *Node) Queues() *QueueClient { return &n.queues }

// Campaigns returns the client of Campaign grains.
func (n *Node) Campaigns() *CampaignClient { return &n.campaigns }

// etcdProvider creates protoactor's etcd provider when the member starts,
// after remoting: remote.Start replaces grpc's global logger, which must not
// happen while an etcd gRPC client is already logging (a data race).
type etcdProvider struct {
	prefix    string
	endpoints []string
	dial      time.Duration
	leaseTTL  time.Duration
	log       *slog.Logger
	inner     *etcd.Provider
	cancel    context.CancelFunc
}

func (p *etcdProvider) connect() error {
	// The client's context is how kill stops the lease keep-alive without
	// deregistering, like a crash.
	cctx, cancel := context.WithCancel(context.Background())
	inner, err := etcd.NewWithConfig(p.prefix, clientv3.Config{Endpoints: p.endpoints, DialTimeout: p.dial, Context: cctx})
	if err != nil {
		cancel()
		return fmt.Errorf("connect etcd %v: %w", p.endpoints, err)
	}
	if !setLeaseTTL(inner, p.leaseTTL) {
		p.log.Warn("etcd provider: cannot set the member lease TTL on this protoactor version; crashed members are noticed after its default", "wanted", p.leaseTTL)
	}
	p.inner, p.cancel = inner, cancel
	return nil
}

// setLeaseTTL sets the member lease TTL of protoactor's etcd provider, which
// offers no option for it: its fixed 3 s, plus etcd's expiry sweep, topology
// propagation and grain re-activation, overshoots a 5 s failover under load.
// The unexported field is reached by reflection on the pinned version; it
// reports false, leaving the default, if the field is not there.
func setLeaseTTL(p *etcd.Provider, ttl time.Duration) bool {
	f := reflect.ValueOf(p).Elem().FieldByName("keepAliveTTL")
	if !f.IsValid() || f.Type() != reflect.TypeFor[time.Duration]() {
		return false
	}
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().SetInt(int64(ttl))
	return true
}

func (p *etcdProvider) StartMember(c *cluster.Cluster) error {
	if err := p.connect(); err != nil {
		return err
	}
	return p.inner.StartMember(c)
}

func (p *etcdProvider) StartClient(c *cluster.Cluster) error {
	if err := p.connect(); err != nil {
		return err
	}
	return p.inner.StartClient(c)
}

func (p *etcdProvider) Shutdown(graceful bool) error {
	if p.inner == nil {
		return nil
	}
	return p.inner.Shutdown(graceful)
}

// kill drops the etcd session: the lease expires and the others see this
// member leave after the lease TTL.
func (p *etcdProvider) kill() {
	if p.inner == nil {
		return
	}
	p.cancel()
	_ = p.inner.Shutdown(false)
}

// RoutingConfig is the ACD configuration the member's Queue and Agent grains
// run (an empty one when Deps.Routing was nil).
func (n *Node) RoutingConfig() *routing.Config { return depsOf(n.system).routing.cfg }
