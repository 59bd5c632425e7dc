package actors

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/parley-cc/parley/store"
)

// restart passivates the grain so the next request restores it from the store.
func restart(t *testing.T, n *Node, kind, id string) {
	t.Helper()
	pid := n.Cluster().Get(id, kind)
	if pid == nil {
		t.Fatalf("no activation of %s/%s", kind, id)
	}
	if err := n.Cluster().ActorSystem.Root.PoisonFuture(pid).Wait(); err != nil {
		t.Fatalf("stop %s/%s: %v", kind, id, err)
	}
}

func TestAgentPresenceWorkAndSkillsSurviveRestart(t *testing.T) {
	st := openStore(t, t.TempDir())
	n := startLocal(t, st, ClusterConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ag := n.Agents()

	a, err := ag.Get(ctx, "a-1")
	if err != nil || a.Presence != PresenceLoggedOut || a.WorkState != WorkIdle {
		t.Fatalf("new agent = %+v, %v; want logged_out idle", a, err)
	}
	if _, err := ag.SetWork(ctx, "a-1", WorkOffered, "call-9"); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("offer to a logged-out agent: %v, want ErrFailedPrecondition", err)
	}
	if _, err := ag.SetPresence(ctx, "a-1", "asleep", ""); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad presence: %v, want ErrInvalidArgument", err)
	}
	if _, err := ag.SetSkills(ctx, "a-1", []store.Skill{{Name: "billing", Proficiency: 9}}, nil, 1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("proficiency 9: %v, want ErrInvalidArgument", err)
	}
	if _, err := ag.SetSkills(ctx, "a-1", []store.Skill{{Name: "billing", Proficiency: 4}, {Name: "es", Proficiency: 2}}, []string{"en", "es"}, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := ag.SetPresence(ctx, "a-1", PresenceAvailable, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := ag.SetWork(ctx, "a-1", WorkOnContact, "call-9"); err != nil {
		t.Fatal(err)
	}
	if _, err := ag.SetPresence(ctx, "a-1", PresenceLoggedOut, ""); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("log out on a contact: %v, want ErrFailedPrecondition", err)
	}
	restart(t, n, KindAgent, "a-1")
	a, err = ag.Get(ctx, "a-1")
	if err != nil {
		t.Fatal(err)
	}
	if a.Presence != PresenceAvailable || a.WorkState != WorkOnContact || a.CallID != "call-9" || a.Capacity != 2 ||
		len(a.Skills) != 2 || a.Skills[0] != (store.Skill{Name: "billing", Proficiency: 4}) || len(a.Languages) != 2 {
		t.Fatalf("restored agent = %+v", a)
	}
	if _, err := ag.SetWork(ctx, "a-1", WorkIdle, ""); err != nil {
		t.Fatal(err)
	}
	a, err = ag.SetPresence(ctx, "a-1", PresenceBreak, "lunch")
	if err != nil || a.Presence != PresenceBreak || a.BreakReason != "lunch" || a.CallID != "" {
		t.Fatalf("break: %+v %v", a, err)
	}
}

func TestQueueOrderPositionsAndRestore(t *testing.T) {
	st := openStore(t, t.TempDir())
	n := startLocal(t, st, ClusterConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	q := n.Queues()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

	add := func(id string, prio int, at time.Time, wantPos int) {
		t.Helper()
		p, err := q.Enqueue(ctx, "support", WaitingContact{ContactID: id, CallID: "call-" + id, Priority: prio, EnqueuedAt: at})
		if err != nil || p.Position != wantPos {
			t.Fatalf("enqueue %s: %+v %v, want position %d", id, p, err, wantPos)
		}
	}
	add("c1", 0, t0, 1)
	add("c2", 0, t0.Add(time.Second), 2)
	add("vip", 5, t0.Add(2*time.Second), 1)
	add("c0", 0, t0.Add(-time.Second), 2) // waited longer than c1
	if p, err := q.Enqueue(ctx, "support", WaitingContact{ContactID: "c1"}); err != nil || !p.Already || p.Position != 3 || p.Waiting != 4 {
		t.Fatalf("enqueue again: %+v %v", p, err)
	}
	if _, err := q.Enqueue(ctx, "support", WaitingContact{}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("enqueue without contact id: %v", err)
	}

	restart(t, n, KindQueue, "support")
	list, err := q.List(ctx, "support")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range list {
		order = append(order, c.ContactID)
	}
	if got := strings.Join(order, ","); got != "vip,c0,c1,c2" {
		t.Fatalf("restored order %s, want vip,c0,c1,c2", got)
	}
	if p, err := q.Position(ctx, "support", "c2"); err != nil || p.Position != 4 || p.Waiting != 4 {
		t.Fatalf("position of c2: %+v %v", p, err)
	}
	c, found, err := q.Dequeue(ctx, "support", "")
	if err != nil || !found || c.ContactID != "vip" || c.CallID != "call-vip" || !c.EnqueuedAt.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("dequeue next: %+v %v %v", c, found, err)
	}
	if _, found, err := q.Dequeue(ctx, "support", "c1"); err != nil || !found {
		t.Fatalf("dequeue c1: %v %v", found, err)
	}
	if _, found, err := q.Dequeue(ctx, "support", "ghost"); err != nil || found {
		t.Fatalf("dequeue ghost: %v %v", found, err)
	}
	if p, err := q.Position(ctx, "support", "c2"); err != nil || p.Position != 2 || p.Waiting != 2 {
		t.Fatalf("position of c2 after dequeues: %+v %v", p, err)
	}
}

func TestCampaignLifecycle(t *testing.T) {
	st := openStore(t, t.TempDir())
	n := startLocal(t, st, ClusterConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cp := n.Campaigns()
	if s, err := cp.Status(ctx, "camp"); err != nil || s.State != store.CampaignDraft {
		t.Fatalf("new campaign: %+v %v", s, err)
	}
	if _, err := cp.Pause(ctx, "camp", "x"); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("pause a draft: %v", err)
	}
	s, err := cp.Start(ctx, "camp")
	if err != nil || s.State != store.CampaignRunning || s.StartedAt.IsZero() {
		t.Fatalf("start: %+v %v", s, err)
	}
	if s, err = cp.Pause(ctx, "camp", "lines busy"); err != nil || s.State != store.CampaignPaused {
		t.Fatalf("pause: %+v %v", s, err)
	}
	restart(t, n, KindCampaign, "camp")
	if s, err = cp.Status(ctx, "camp"); err != nil || s.State != store.CampaignPaused || s.Reason != "lines busy" {
		t.Fatalf("restored: %+v %v", s, err)
	}
	if s, err = cp.Stop(ctx, "camp", "done"); err != nil || s.State != store.CampaignStopped || s.StoppedAt.IsZero() {
		t.Fatalf("stop: %+v %v", s, err)
	}
	if _, err := cp.Start(ctx, "camp"); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("restart a stopped campaign: %v", err)
	}
}

func TestMetricsCountActivationsAndMessages(t *testing.T) {
	st := openStore(t, t.TempDir())
	reg := prometheus.NewRegistry()
	n, err := Start(context.Background(), ClusterConfig{}, Deps{Store: st, Logger: testLogger(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, id := range []string{"q1", "q2", "q3"} {
		for range 2 {
			if _, err := n.Queues().List(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := n.Queues().Position(ctx, "q1", ""); err == nil {
		t.Fatal("position without contact id succeeded")
	}
	m := n.metrics.byKind[KindQueue]
	if got := metricValue(t, m.activations); got != 3 {
		t.Fatalf("queue activations = %v, want 3", got)
	}
	if got := metricValue(t, m.active); got != 3 {
		t.Fatalf("active queues = %v, want 3", got)
	}
	if got := metricValue(t, m.messages); got != 7 {
		t.Fatalf("queue messages = %v, want 7", got)
	}
	if got := metricValue(t, m.failures); got != 1 {
		t.Fatalf("queue failures = %v, want 1", got)
	}
	restart(t, n, KindQueue, "q2")
	if got := metricValue(t, m.active); got != 2 {
		t.Fatalf("active queues after passivation = %v, want 2", got)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, f := range families {
		if f.GetName() == "parley_grain_messages_total" {
			series = len(f.GetMetric())
		}
	}
	if series != 4 {
		t.Fatalf("registry has %d messages series, want one per kind", series)
	}
	// A second member cannot share the registry.
	if _, err := Start(context.Background(), ClusterConfig{}, Deps{Store: st, Registerer: reg}); err == nil {
		t.Fatal("second member registered into the same registry")
	}
}

func TestClusterConfigValidation(t *testing.T) {
	cases := []struct {
		name  string
		cfg   ClusterConfig
		field string
	}{
		{"bad provider", ClusterConfig{Provider: "consul"}, "Provider"},
		{"bad addr", ClusterConfig{Addr: "localhost"}, "Addr"},
		{"automanaged without seeds", ClusterConfig{Provider: ProviderAutomanaged, AutoManageAddr: "127.0.0.1:6330"}, "Seeds"},
		{"automanaged port 0", ClusterConfig{Provider: ProviderAutomanaged, AutoManageAddr: "127.0.0.1:0", Seeds: []string{"a:1"}}, "AutoManageAddr"},
		{"bad seed", ClusterConfig{Provider: ProviderAutomanaged, AutoManageAddr: "127.0.0.1:6330", Seeds: []string{"nohost"}}, "Seeds[0]"},
		{"etcd without endpoints", ClusterConfig{Provider: ProviderEtcd}, "EtcdEndpoints"},
		{"advertise port 0", ClusterConfig{AdvertiseAddr: "10.0.0.1:0"}, "AdvertiseAddr"},
		{"log level", ClusterConfig{ActorLogLevel: "loud"}, "ActorLogLevel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.field)
			}
		})
	}
	if err := (ClusterConfig{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	if _, err := Start(context.Background(), ClusterConfig{}, Deps{}); err == nil || !strings.Contains(err.Error(), "Store") {
		t.Fatalf("start without store: %v", err)
	}
}

func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

func TestIdleGrainsPassivateAndComeBack(t *testing.T) {
	st := openStore(t, t.TempDir())
	n := startLocal(t, st, ClusterConfig{GrainIdleTimeout: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := n.Agents().SetPresence(ctx, "idle-agent", PresenceAvailable, ""); err != nil {
		t.Fatal(err)
	}
	m := n.metrics.byKind[KindAgent]
	if got := metricValue(t, m.active); got != 1 {
		t.Fatalf("active agents = %v, want 1", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for metricValue(t, m.active) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle agent grain was not passivated")
		}
		time.Sleep(50 * time.Millisecond)
	}
	a, err := n.Agents().Get(ctx, "idle-agent")
	if err != nil || a.Presence != PresenceAvailable {
		t.Fatalf("agent after passivation: %+v %v", a, err)
	}
	if got := metricValue(t, m.activations); got != 2 {
		t.Fatalf("agent activations = %v, want 2", got)
	}
}
