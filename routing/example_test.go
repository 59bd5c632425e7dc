package routing_test

import (
	"fmt"
	"time"

	"github.com/parley-cc/parley/routing"
)

// A billing queue that first wants experts, then after 30 s anyone with the
// skill; VIP callers wait ahead of others.
func Example() {
	cfg, err := routing.ParseConfig([]byte(`
skills: [billing]
priority:
  rules: [{attribute: tier, in: [vip], points: 300}]
queues:
  - id: billing
    steps:
      - {expiry: 30s, require: {skill: billing, min: 4}}
      - {require: {skill: billing}}
`))
	if err != nil {
		panic(err)
	}
	var offers []routing.Event
	e, err := routing.New(cfg, routing.WithSink(func(ev routing.Event) {
		if ev.Kind == routing.EventOffered {
			offers = append(offers, ev)
		}
	}))
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	_ = e.AddAgent(now, routing.AgentSpec{ID: "junior", Skills: map[string]int{"billing": 2}})
	_ = e.SetPresence(now, "junior", routing.Available, "")
	_, _ = e.Enqueue(now, routing.ContactSpec{ID: "alice", Queue: "billing"})
	_, _ = e.Enqueue(now.Add(time.Second), routing.ContactSpec{ID: "bob", Queue: "billing", Attributes: map[string]string{"tier": "vip"}})
	est, _ := e.Estimate(now.Add(2*time.Second), "alice")
	fmt.Println("alice position:", est.Position)
	// Only a junior is on: each contact becomes eligible for her when its
	// expert step expires, alice first (at +30 s, bob's would be at +31 s).
	e.Advance(now.Add(31 * time.Second))
	for _, o := range offers {
		fmt.Printf("%s offered to %s at +%v\n", o.Contact, o.Agent, o.At.Sub(now))
	}
	// Output:
	// alice position: 2
	// alice offered to junior at +30s
}
