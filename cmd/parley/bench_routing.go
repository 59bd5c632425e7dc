package main

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/parley-cc/parley/routing"
	"github.com/parley-cc/parley/routing/sim"
)

func init() {
	registerBench("routing", "simulate Poisson arrivals through the routing engine and compare with Erlang C", benchRouting)
}

// benchRouting runs the discrete-event simulation at one load (flags) or at
// three reference loads, and prints measured service level and ASA beside
// the Erlang C formula, with the engine's decision rate.
func benchRouting(args []string, stdout, stderr io.Writer) int {
	fs := benchFlags("routing", stderr)
	perHour := fs.Float64("calls-per-hour", 0, "arrival rate (0: run the three reference loads)")
	aht := fs.Duration("aht", 4*time.Minute, "mean handle time (exponential)")
	agents := fs.Int("agents", 55, "agents staffed")
	sl := fs.Duration("service-level", 15*time.Second, "service-level threshold")
	calls := fs.Int("calls", 200_000, "contacts measured per load")
	patience := fs.Duration("patience", 0, "mean caller patience (exponential; 0: nobody abandons, Erlang C)")
	seed := fs.Uint64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "parley bench routing: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	loads := []sim.Scenario{{CallsPerHour: *perHour, AHT: *aht, Agents: *agents, ServiceLevel: *sl, Calls: *calls, Patience: *patience, Seed: *seed}}
	if *perHour == 0 {
		loads = []sim.Scenario{
			{CallsPerHour: 720, AHT: 4 * time.Minute, Agents: 55, ServiceLevel: 15 * time.Second},
			{CallsPerHour: 360, AHT: 3 * time.Minute, Agents: 21, ServiceLevel: 20 * time.Second},
			{CallsPerHour: 60, AHT: 5 * time.Minute, Agents: 7, ServiceLevel: 30 * time.Second},
		}
		for i := range loads {
			loads[i].Calls, loads[i].Patience, loads[i].Seed = *calls, *patience, *seed+uint64(i)
		}
	}
	var rows [][]string
	failed := false
	for _, s := range loads {
		if s.CallsPerHour <= 0 || s.AHT <= 0 || s.Agents <= 0 || s.Calls <= 0 {
			fmt.Fprintln(stderr, "parley bench routing: calls-per-hour, aht, agents and calls must be positive")
			return 2
		}
		r, err := sim.Run(s)
		if err != nil {
			fmt.Fprintf(stderr, "parley bench routing: %v\n", err)
			return 1
		}
		m := routing.ErlangC{ArrivalsPerSecond: s.CallsPerHour / 3600, AHT: s.AHT}
		erlangs := s.CallsPerHour / 3600 * s.AHT.Seconds()
		wantSL, wantASA := m.ServiceLevel(s.Agents, s.ServiceLevel), m.ASA(s.Agents)
		dSL := 100 * math.Abs(r.ServiceLevel-wantSL)
		dASA := 100 * math.Abs(r.ASA.Seconds()-wantASA.Seconds()) / math.Max(wantASA.Seconds(), 1e-9)
		if s.Patience == 0 && (dSL > 3 || dASA > 10) {
			failed = true
		}
		rows = append(rows, []string{
			fmt.Sprintf("%.0f/h × %s on %d (%.1f E)", s.CallsPerHour, s.AHT, s.Agents, erlangs),
			fmt.Sprintf("%.2f%%", 100*r.ServiceLevel), fmt.Sprintf("%.2f%%", 100*wantSL), fmt.Sprintf("%.2f pp", dSL),
			fmt.Sprintf("%.2fs", r.ASA.Seconds()), fmt.Sprintf("%.2fs", wantASA.Seconds()), fmt.Sprintf("%.1f%%", dASA),
			fmt.Sprintf("%.1f%%", 100*r.AbandonRate),
			fmt.Sprintf("%.0f", float64(r.Decisions)/r.Wall.Seconds()),
		})
	}
	table(stdout, []string{"load", "SL", "Erlang C SL", "|Δ|", "ASA", "Erlang C ASA", "|Δ|", "abandoned", "decisions/s"}, rows)
	if failed {
		fmt.Fprintln(stderr, "parley bench routing: a load is outside 3 pp service level / 10% ASA of Erlang C")
		return 1
	}
	return 0
}
