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
	n, err := Start(context.Background(), ClusterConfig{}, Deps{Store: st, Logger: testLogger(t), Registerer: reg, Routing: testRouting(t)})
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
