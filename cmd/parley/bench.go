package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// benchmarks are the `parley bench` subcommands: load and capacity measures
// a go test -bench cannot express (real peers, whole nodes, simulations).
var benchmarks = map[string]struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}{}

func registerBench(name, summary string, run func(args []string, stdout, stderr io.Writer) int) {
	benchmarks[name] = struct {
		summary string
		run     func(args []string, stdout, stderr io.Writer) int
	}{summary, run}
}

func init() { register("bench", "measure capacity: routing simulation, SIP load", runBench) }

func runBench(args []string) int {
	if len(args) == 0 || benchmarks[args[0]].run == nil {
		names := make([]string, 0, len(benchmarks))
		for n := range benchmarks {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintln(os.Stderr, "usage: parley bench <benchmark> [flags]\n\nbenchmarks:")
		for _, n := range names {
			fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, benchmarks[n].summary)
		}
		return 2
	}
	return benchmarks[args[0]].run(args[1:], os.Stdout, os.Stderr)
}

// benchFlags is a flag set for one benchmark that prints its errors to stderr.
func benchFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("parley bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// table prints rows with aligned columns.
func table(w io.Writer, header []string, rows [][]string) {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = len(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	line := func(cells []string) {
		parts := make([]string, len(cells))
		for i, c := range cells {
			parts[i] = fmt.Sprintf("%-*s", widths[i], c)
		}
		fmt.Fprintln(w, strings.TrimRight(strings.Join(parts, "  "), " "))
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
}
