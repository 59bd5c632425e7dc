// Package latency measures operations for the knowledge-base benchmarks in
// wall-clock and CPU time.
package latency

import (
	"slices"
	"syscall"
	"time"
)

// CPUTime is the CPU time this process has used (user + system, all
// threads). The benchmarks run on machines shared by many processes, where
// wall-clock tails measure the scheduler; with GOMAXPROCS 1 (go test
// -cpu 1) and one operation at a time, the CPU time an operation consumed
// is its latency on a core of its own.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Latencies collects per-operation wall-clock and CPU times.
type Latencies struct {
	wall, cpu []time.Duration
}

// Measure runs op, recording its wall-clock and CPU time; it returns op's
// error.
func (l *Latencies) Measure(op func() error) error {
	c0, w0 := CPUTime(), time.Now()
	err := op()
	w := time.Since(w0)
	c := CPUTime() - c0
	l.wall = append(l.wall, w)
	l.cpu = append(l.cpu, c)
	return err
}

// Add records one operation measured elsewhere.
func (l *Latencies) Add(wall, cpu time.Duration) {
	l.wall = append(l.wall, wall)
	l.cpu = append(l.cpu, cpu)
}

// Len is the number of operations recorded.
func (l *Latencies) Len() int { return len(l.wall) }

// Reporter is a *testing.B.
type Reporter interface{ ReportMetric(n float64, unit string) }

// Report adds p50/p99 of wall-clock ("p50-ms", "p99-ms") and CPU time
// ("cpu-p50-ms", "cpu-p99-ms") to b's results.
func (l *Latencies) Report(b Reporter) {
	if len(l.wall) == 0 {
		return
	}
	pct := func(d []time.Duration, p int) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[min(len(s)-1, len(s)*p/100)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(l.wall, 50), "p50-ms")
	b.ReportMetric(pct(l.wall, 99), "p99-ms")
	b.ReportMetric(pct(l.cpu, 50), "cpu-p50-ms")
	b.ReportMetric(pct(l.cpu, 99), "cpu-p99-ms")
}
