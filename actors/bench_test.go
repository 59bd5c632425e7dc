package actors

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/parley-cc/parley/store"
)

// Run: go test -run '^$' -bench . -benchmem ./actors/

func benchNode(b *testing.B, st Store) *Node {
	b.Helper()
	return startLocal(b, st, ClusterConfig{})
}

// BenchmarkGrainRequest is a local request/response to a warm Agent grain
// through the typed client: marshal, route, unmarshal, answer.
func BenchmarkGrainRequest(b *testing.B) {
	n := benchNode(b, newMemStore())
	ctx := context.Background()
	b.Run("sequential", func(b *testing.B) {
		if _, err := n.Agents().Get(ctx, "bench-agent"); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			if _, err := n.Agents().Get(ctx, "bench-agent"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
	})
	b.Run("parallel-64-grains", func(b *testing.B) {
		for i := range 64 {
			if _, err := n.Agents().Get(ctx, fmt.Sprint("bench-agent-", i)); err != nil {
				b.Fatal(err)
			}
		}
		var next atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			id := fmt.Sprint("bench-agent-", next.Add(1)%64)
			for pb.Next() {
				if _, err := n.Agents().Get(ctx, id); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
	})
}

// BenchmarkRecordTurn writes a turn through to the store before answering.
func BenchmarkRecordTurn(b *testing.B) {
	for _, tc := range []struct {
		name string
		st   func(b *testing.B) Store
	}{
		{"memstore", func(*testing.B) Store { return newMemStore() }},
		{"sqlite", func(b *testing.B) Store { return openStore(b, b.TempDir()) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			n := benchNode(b, tc.st(b))
			ctx := context.Background()
			if _, _, err := n.Calls().Start(ctx, store.Call{ID: "bench-call", Direction: store.DirectionInbound, Channel: "sip"}); err != nil {
				b.Fatal(err)
			}
			turn := store.Turn{Speaker: store.SpeakerCaller, Text: "I would like to change my delivery address", Intent: "change_address", Confidence: 0.93}
			b.ResetTimer()
			for b.Loop() {
				if _, err := n.Calls().RecordTurn(ctx, "bench-call", turn); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "turns/s")
		})
	}
}

type echoActor struct{}

func (echoActor) Receive(c actor.Context) {
	if _, ok := c.Message().(*actor.Started); ok {
		return
	}
	if c.Sender() != nil {
		c.Respond(c.Message())
	}
}

type countActor struct {
	n    int
	want int
	done chan struct{}
}

func (a *countActor) Receive(c actor.Context) {
	if _, ok := c.Message().(int); ok {
		a.n++
		if a.n == a.want {
			close(a.done)
		}
	}
}

// BenchmarkPlainActor measures protoactor without the cluster layer, to
// show what the grain path adds.
func BenchmarkPlainActor(b *testing.B) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	b.Run("request", func(b *testing.B) {
		pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return echoActor{} }))
		defer sys.Root.Stop(pid)
		for b.Loop() {
			if _, err := sys.Root.RequestFuture(pid, "ping", time.Second).Result(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
	})
	b.Run("send", func(b *testing.B) {
		a := &countActor{want: b.N, done: make(chan struct{})}
		pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return a }))
		defer sys.Root.Stop(pid)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			sys.Root.Send(pid, i)
		}
		<-a.done
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
	})
}

// BenchmarkActivation activates a new Agent grain per request, restore from
// the store included.
func BenchmarkActivation(b *testing.B) {
	for _, tc := range []struct {
		name string
		st   func(b *testing.B) Store
	}{
		{"memstore", func(*testing.B) Store { return newMemStore() }},
		{"sqlite", func(b *testing.B) Store { return openStore(b, b.TempDir()) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			n := benchNode(b, tc.st(b))
			ctx := context.Background()
			var next atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := n.Agents().Get(ctx, fmt.Sprint("act-", next.Add(1))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "activations/s")
		})
	}
}

// BenchmarkIdleCallGrainMemory activates 10,000 started Call grains and
// reports the heap each idle grain holds on its member.
func BenchmarkIdleCallGrainMemory(b *testing.B) {
	const grains = 10_000
	for i := 0; b.Loop(); i++ {
		st := newMemStore()
		// Records exist in the store before activation, so the store's
		// own memory is outside the measurement.
		for g := range grains {
			id := fmt.Sprintf("mem-%d-%d", i, g)
			_ = st.SaveCall(context.Background(), &store.Call{ID: id, Direction: store.DirectionInbound, Channel: "sip", From: "+15550100", To: "+15550199", State: store.CallBot})
		}
		n := benchNode(b, st)
		ctx := context.Background()
		// Warm the member (placement, PID cache, pools) before measuring.
		if _, err := n.Calls().Transcript(ctx, fmt.Sprintf("mem-%d-0", i)); err != nil {
			b.Fatal(err)
		}
		before := heapInUse()
		for g := 1; g < grains; g++ {
			if _, err := n.Calls().Transcript(ctx, fmt.Sprintf("mem-%d-%d", i, g)); err != nil {
				b.Fatal(err)
			}
		}
		after := heapInUse()
		b.ReportMetric(float64(after-before)/float64(grains-1), "bytes/grain")
		_ = n.Stop(false)
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkCrossMemberRequest times requests from one member to a grain
// hosted by another over loopback (automanaged provider).
func BenchmarkCrossMemberRequest(b *testing.B) {
	ports := freePorts(b, 2)
	seeds := []string{hostPort(ports[0]), hostPort(ports[1])}
	st := newMemStore()
	var nodes []*Node
	for i := range 2 {
		nodes = append(nodes, startLocal(b, st, ClusterConfig{
			Provider: ProviderAutomanaged, Name: "bench-x", AutoManageAddr: seeds[i], Seeds: seeds,
			AutoManageRefresh: 200 * time.Millisecond,
		}))
	}
	a := nodes[0]
	deadline := time.Now().Add(10 * time.Second)
	for len(a.Members()) != 2 || len(nodes[1].Members()) != 2 {
		if time.Now().After(deadline) {
			b.Fatalf("members see %v and %v", a.Members(), nodes[1].Members())
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx := context.Background()
	// Find a call whose grain lives on the other member.
	var callID string
	for i := 0; ; i++ {
		callID = fmt.Sprint("x-call-", i)
		if _, _, err := a.Calls().Start(ctx, store.Call{ID: callID, Direction: store.DirectionInbound, Channel: "sip"}); err != nil {
			b.Fatal(err)
		}
		tr, err := a.Calls().Transcript(ctx, callID)
		if err != nil {
			b.Fatal(err)
		}
		if tr.Member == nodes[1].Address() {
			break
		}
	}
	lat := make([]time.Duration, 0, 1<<16)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if _, err := a.Calls().Transcript(ctx, callID); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
