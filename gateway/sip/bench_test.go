package sip

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"
)

var sippCounter = regexp.MustCompile(`(Successful call|Failed call)\s+\|\s+\d+\s+\|\s+(\d+)`)

// sippCounts reads the cumulative successful and failed call counts from SIPp's final screen.
func sippCounts(out string) (ok, failed int) {
	for _, m := range sippCounter.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[2])
		if m[1] == "Successful call" {
			ok = n
		} else {
			failed = n
		}
	}
	return ok, failed
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkSIPpCallSetup drives SIPp's uac scenario (INVITE, 200, ACK, BYE) at a target rate
// (PARLEY_SIP_BENCH_RATE calls/s, default 300) and reports answered calls per second.
// b.N is the number of calls: -benchtime=18000x is 60 s at 300 calls/s.
func BenchmarkSIPpCallSetup(b *testing.B) {
	rate := envInt("PARLEY_SIP_BENCH_RATE", 300)
	s := startServer(b, Config{MaxCalls: 100000, MediaTimeout: -1}, Deps{Dialplan: Extensions{"service": holdApp()}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(b.N/rate+120)*time.Second)
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	res := runSIPp(b, ctx, b.TempDir(), s, "-sn", "uac", "-s", "service", "-m", strconv.Itoa(b.N), "-r", strconv.Itoa(rate),
		"-l", "5000", "-d", "0", "-recv_timeout", "10000")
	elapsed := time.Since(start)
	b.StopTimer()
	ok, failed := sippCounts(res.output)
	b.ReportMetric(float64(ok)/elapsed.Seconds(), "answered/s")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(float64(rate), "target/s")
	if ok+failed != b.N || failed > 0 || res.err != nil {
		b.Errorf("%d calls: %d answered, %d failed (sipp: %v)\n%s", b.N, ok, failed, res.err, lastLines(res.output, 30))
	}
}
