package sim

import (
	"math"
	"testing"
	"time"

	"github.com/parley-cc/parley/routing"
)

// TestReproducesErlangC runs three load levels through the engine and checks
// the measured service level within 3 points and ASA within 10 % of the
// Erlang C formula.
func TestReproducesErlangC(t *testing.T) {
	cases := []struct {
		name   string
		perH   float64
		aht    time.Duration
		agents int
		sl     time.Duration
		calls  int
	}{
		// Mean wait converges slowly near saturation (waits are strongly
		// autocorrelated), so the heaviest load gets the largest volume.
		{"48 Erlangs on 55 agents", 720, 4 * time.Minute, 55, 15 * time.Second, 400_000},
		{"18 Erlangs on 21 agents", 360, 3 * time.Minute, 21, 20 * time.Second, 300_000},
		{"5 Erlangs on 7 agents", 60, 5 * time.Minute, 7, 30 * time.Second, 150_000},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Scenario{CallsPerHour: tc.perH, AHT: tc.aht, Agents: tc.agents, ServiceLevel: tc.sl, Calls: tc.calls, Seed: uint64(1 + i)}
			r, err := Run(s)
			if err != nil {
				t.Fatal(err)
			}
			m := routing.ErlangC{ArrivalsPerSecond: tc.perH / 3600, AHT: tc.aht}
			wantSL, wantASA := m.ServiceLevel(tc.agents, tc.sl), m.ASA(tc.agents)
			t.Logf("%s: SL %.2f%% (Erlang C %.2f%%), ASA %.2fs (Erlang C %.2fs), occupancy %.3f (%.3f), %d contacts, %d decisions, %v simulated in %v",
				tc.name, 100*r.ServiceLevel, 100*wantSL, r.ASA.Seconds(), wantASA.Seconds(), r.Occupancy, m.Occupancy(tc.agents), r.Offered, r.Decisions, r.Simulated.Round(time.Hour), r.Wall.Round(time.Millisecond))
			if r.Abandoned != 0 || r.Answered != s.Calls {
				t.Fatalf("answered %d abandoned %d, want all %d answered", r.Answered, r.Abandoned, s.Calls)
			}
			if d := math.Abs(r.ServiceLevel - wantSL); d > 0.03 {
				t.Errorf("service level %.4f vs Erlang C %.4f: off by %.4f > 0.03", r.ServiceLevel, wantSL, d)
			}
			if d := math.Abs(r.ASA.Seconds()-wantASA.Seconds()) / wantASA.Seconds(); d > 0.10 {
				t.Errorf("ASA %v vs Erlang C %v: off by %.1f%% > 10%%", r.ASA, wantASA, 100*d)
			}
			if d := math.Abs(r.Occupancy - m.Occupancy(tc.agents)); d > 0.02 {
				t.Errorf("occupancy %.3f vs %.3f", r.Occupancy, m.Occupancy(tc.agents))
			}
		})
	}
}

// TestReproducesErlangA adds exponential patience and checks abandonment and
// service level against the Erlang A helper.
func TestReproducesErlangA(t *testing.T) {
	s := Scenario{CallsPerHour: 720, AHT: 4 * time.Minute, Agents: 48, Patience: 2 * time.Minute, ServiceLevel: 20 * time.Second, Calls: 200_000, Seed: 5}
	r, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	want, err := routing.ErlangA{ArrivalsPerSecond: 0.2, AHT: s.AHT, Patience: s.Patience}.Solve(s.Agents, s.ServiceLevel)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Erlang A: SL %.2f%% (formula %.2f%%), abandon %.2f%% (%.2f%%), ASA %.2fs (%.2fs)",
		100*r.ServiceLevel, 100*want.ServiceLevel, 100*r.AbandonRate, 100*want.ProbAbandon, r.ASA.Seconds(), want.ASA.Seconds())
	if d := math.Abs(r.ServiceLevel - want.ServiceLevel); d > 0.03 {
		t.Errorf("service level %.4f vs Erlang A %.4f", r.ServiceLevel, want.ServiceLevel)
	}
	if d := math.Abs(r.AbandonRate - want.ProbAbandon); d > 0.01 {
		t.Errorf("abandon rate %.4f vs Erlang A %.4f", r.AbandonRate, want.ProbAbandon)
	}
	if d := math.Abs(r.ASA.Seconds()-want.ASA.Seconds()) / want.ASA.Seconds(); d > 0.10 {
		t.Errorf("ASA %v vs Erlang A %v", r.ASA, want.ASA)
	}
}

// BenchmarkSimulation runs the 48-Erlang scenario end to end and reports the
// engine's decisions (offers) per wall-clock second, simulation included.
func BenchmarkSimulation(b *testing.B) {
	for b.Loop() {
		r, err := Run(Scenario{CallsPerHour: 720, AHT: 4 * time.Minute, Agents: 55, ServiceLevel: 15 * time.Second, Calls: 100_000, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(r.Decisions)/r.Wall.Seconds(), "decisions/s")
	}
}
