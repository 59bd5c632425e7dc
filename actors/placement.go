package actors

import (
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
)

// placementActorName is the well-known name of every member's placement
// actor, which spawns the grains the member owns.
const placementActorName = "parley-placement"

// placement is a distributed-hash identity lookup: the owner of a grain is
// the member with the highest rendezvous score (FNV-1a of identity+address,
// like upstream disthash). It differs from upstream disthash in being free of
// data races (the member table is swapped atomically), in answering grain
// terminations in O(1), and in bounding activation requests by the caller's
// timeout instead of a fixed 5 s.
type placement struct {
	cluster  *cluster.Cluster
	members  atomic.Pointer[memberTable]
	actor    *actor.PID
	sub      *eventstream.Subscription
	timeout  time.Duration
	stopOnce sync.Once
}

// memberTable is an immutable snapshot of the members hosting each kind.
type memberTable struct {
	byKind map[string][]string // kind -> member addresses
	all    []string
	// replaced is closed when a newer table replaces this one.
	replaced chan struct{}
}

// has reports whether addr is a member.
func (t *memberTable) has(addr string) bool {
	for _, a := range t.all {
		if a == addr {
			return true
		}
	}
	return false
}

var _ cluster.IdentityLookup = (*placement)(nil)

func newPlacement(timeout time.Duration) *placement {
	p := &placement{timeout: timeout}
	p.members.Store(newMemberTable(nil))
	return p
}

// Setup starts the placement actor and follows topology changes.
func (p *placement) Setup(c *cluster.Cluster, _ []string, _ bool) {
	p.cluster = c
	props := actor.PropsFromProducer(func() actor.Actor {
		return &placementActor{cluster: c, grains: map[string]*actor.PID{}, byPID: map[string]string{}}
	})
	pid, err := c.ActorSystem.Root.SpawnNamed(props, placementActorName)
	if err != nil {
		panic(fmt.Errorf("spawn placement actor: %w", err))
	}
	p.actor = pid
	p.sub = c.ActorSystem.EventStream.Subscribe(func(ev any) {
		if t, ok := ev.(*cluster.ClusterTopology); ok {
			old := p.members.Swap(newMemberTable(t.Members))
			close(old.replaced)
			c.ActorSystem.Root.Send(p.actor, t)
		}
	})
}

// Shutdown stops the placement actor and with it every local grain.
func (p *placement) Shutdown() {
	p.stopOnce.Do(func() {
		if p.sub != nil {
			p.cluster.ActorSystem.EventStream.Unsubscribe(p.sub)
		}
		if p.actor != nil {
			_ = p.cluster.ActorSystem.Root.PoisonFuture(p.actor).Wait()
		}
	})
}

// Get returns the PID of the grain, activating it on its owner if needed, or
// nil when no member hosts the kind or the owner does not answer.
func (p *placement) Get(ci *cluster.ClusterIdentity) *actor.PID {
	owner := p.members.Load().owner(ci.Kind, ci.Identity)
	if owner == "" {
		return nil
	}
	res, err := p.cluster.ActorSystem.Root.RequestFuture(actor.NewPID(owner, placementActorName),
		&cluster.ActivationRequest{ClusterIdentity: ci}, p.timeout).Result()
	if err != nil {
		return nil
	}
	if r, ok := res.(*cluster.ActivationResponse); ok {
		return r.Pid
	}
	return nil
}

// RemovePid forgets a cached activation; the PID cache does the real work.
func (p *placement) RemovePid(ci *cluster.ClusterIdentity, pid *actor.PID) {
	p.cluster.PidCache.RemoveByValue(ci.Identity, ci.Kind, pid)
}

// Members returns the addresses of the members in the current topology.
func (p *placement) Members() []string {
	return append([]string(nil), p.members.Load().all...)
}

func newMemberTable(ms []*cluster.Member) *memberTable {
	t := &memberTable{byKind: map[string][]string{}, replaced: make(chan struct{})}
	seen := map[string]bool{}
	for _, m := range ms {
		addr := m.Address()
		if seen[addr] {
			continue
		}
		seen[addr] = true
		t.all = append(t.all, addr)
		for _, k := range m.Kinds {
			t.byKind[k] = append(t.byKind[k], addr)
		}
	}
	return t
}

// owner picks the member with the highest rendezvous score for identity.
func (t *memberTable) owner(kind, identity string) string {
	ms := t.byKind[kind]
	switch len(ms) {
	case 0:
		return ""
	case 1:
		return ms[0]
	}
	var best string
	var bestScore uint32
	for _, m := range ms {
		h := fnv.New32a()
		_, _ = h.Write([]byte(identity))
		_, _ = h.Write([]byte(m))
		if s := h.Sum32(); best == "" || s > bestScore {
			best, bestScore = m, s
		}
	}
	return best
}

// placementActor spawns and tracks the grains this member owns.
type placementActor struct {
	cluster *cluster.Cluster
	grains  map[string]*actor.PID // kind/identity -> grain
	byPID   map[string]string     // grain PID id -> kind/identity
}

func (a *placementActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *cluster.ActivationRequest:
		a.activate(ctx, msg)
	case *actor.Terminated:
		if key, ok := a.byPID[msg.Who.Id]; ok {
			delete(a.byPID, msg.Who.Id)
			delete(a.grains, key)
			kind, _ := splitKey(key)
			if k, ok := a.cluster.TryGetClusterKind(kind); ok {
				k.Dec()
			}
		}
	case *cluster.ClusterTopology:
		a.rebalance(ctx, msg)
	}
}

func (a *placementActor) activate(ctx actor.Context, msg *cluster.ActivationRequest) {
	ci := msg.ClusterIdentity
	key := ci.AsKey()
	if pid, ok := a.grains[key]; ok {
		ctx.Respond(&cluster.ActivationResponse{Pid: pid})
		return
	}
	kind, ok := a.cluster.TryGetClusterKind(ci.Kind)
	if !ok {
		ctx.Logger().Error("activation of unknown grain kind", slog.String("kind", ci.Kind))
		ctx.Respond(&cluster.ActivationResponse{Failed: true})
		return
	}
	// SpawnPrefix, not SpawnNamed: a passivated activation may still be
	// stopping under the same identity.
	pid := ctx.SpawnPrefix(cluster.WithClusterIdentity(kind.Props, ci), key)
	kind.Inc()
	a.grains[key] = pid
	a.byPID[pid.Id] = key
	ctx.Respond(&cluster.ActivationResponse{Pid: pid})
}

// rebalance stops grains that another member owns now; they re-activate
// there from the store on their next request.
func (a *placementActor) rebalance(ctx actor.Context, t *cluster.ClusterTopology) {
	table := newMemberTable(t.Members)
	self := a.cluster.ActorSystem.Address()
	for key, pid := range a.grains {
		kind, identity := splitKey(key)
		if owner := table.owner(kind, identity); owner != "" && owner != self {
			ctx.Poison(pid)
		}
	}
}

func splitKey(key string) (kind, identity string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return "", key
}
