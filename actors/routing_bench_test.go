package actors

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parley-cc/parley/store"
)

// BenchmarkHandoffToOfferThreeMembers times, on a 3-member cluster
// (automanaged, loopback, in one process), a hand-off enqueued on member A
// until the offer reaches the agent's desktop subscription on member C; the
// Queue and Agent grains live wherever placement puts them. Between
// iterations (untimed) the agent accepts, finishes and ends wrap-up.
func BenchmarkHandoffToOfferThreeMembers(b *testing.B) {
	ports := freePorts(b, 3)
	seeds := []string{hostPort(ports[0]), hostPort(ports[1]), hostPort(ports[2])}
	st := newMemStore()
	var nodes []*Node
	for i := range 3 {
		n, err := Start(context.Background(), ClusterConfig{Provider: ProviderAutomanaged, Name: "bench-route", AutoManageAddr: seeds[i], Seeds: seeds,
			AutoManageRefresh: 200 * time.Millisecond}, Deps{Store: st, Logger: testLogger(b), Routing: testRouting(b)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = n.Stop(false) })
		nodes = append(nodes, n)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, n := range nodes {
		for len(n.Members()) != 3 {
			if time.Now().After(deadline) {
				b.Fatalf("members see %v", n.Members())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	a, c := nodes[0], nodes[2]
	ctx := context.Background()
	if _, err := c.Agents().SetSkills(ctx, "bench-agent", []store.Skill{{Name: "support", Proficiency: 3}}, nil, 1); err != nil {
		b.Fatal(err)
	}
	sub, _, err := c.Agents().Subscribe(ctx, "bench-agent")
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close(ctx, false)
	if _, err := c.Agents().SetPresence(ctx, "bench-agent", PresenceAvailable, ""); err != nil {
		b.Fatal(err)
	}
	ready := func() {
		for {
			s, err := a.Queues().Stats(ctx, "support")
			if err == nil && s.Idle == 1 {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	where := func(id, kind string) string {
		if pid := a.Cluster().Get(id, kind); pid != nil {
			for i, n := range nodes {
				if n.Address() == pid.Address {
					return string(rune('A' + i))
				}
			}
		}
		return "?"
	}
	b.Logf("enqueue on A, desktop on C, Queue grain on %s, Agent grain on %s", where("support", KindQueue), where("bench-agent", KindAgent))
	lat := make([]time.Duration, 0, 1024)
	i := 0
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		ready()
		id := fmt.Sprint("bench-contact-", i)
		i++
		b.StartTimer()
		t0 := time.Now()
		if _, err := a.Queues().Enqueue(ctx, "support", WaitingContact{ContactID: id}); err != nil {
			b.Fatal(err)
		}
		var offer *Offer
		for offer == nil {
			ev := <-sub.C
			if ev.Kind == EventOffer && ev.Offer.ContactID == id {
				offer = ev.Offer
			}
		}
		lat = append(lat, time.Since(t0))
		b.StopTimer()
		if _, err := c.Agents().Answer(ctx, "bench-agent", offer.ID, true); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Agents().Finish(ctx, "bench-agent", id, "bench"); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Agents().EndWrapUp(ctx, "bench-agent"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}
