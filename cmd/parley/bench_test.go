package main

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBenchRoutingComparesWithErlangC(t *testing.T) {
	var out, errOut strings.Builder
	code := benchRouting([]string{"--calls-per-hour", "360", "--aht", "3m", "--agents", "21", "--service-level", "20s", "--calls", "300000"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut.String(), out.String())
	}
	if !strings.Contains(out.String(), "360/h × 3m0s on 21 (18.0 E)") || !strings.Contains(out.String(), "Erlang C SL") {
		t.Fatalf("unexpected output:\n%s", out.String())
	}
	for _, bad := range [][]string{{"--agents", "0", "--calls-per-hour", "10"}, {"--aht", "soon"}, {"extra"}} {
		errOut.Reset()
		if code := benchRouting(bad, &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("bench routing %v: exit %d, stderr %q; want exit 2 with a message", bad, code, errOut.String())
		}
	}
}

// parley bench sip's media mode against an in-process node: every call is
// set up, the echo comes back without transit loss, and the node's own
// view (its parley_rtp_* metrics) and memory are read.
func TestBenchSIPMediaAgainstANode(t *testing.T) {
	n := startSIPNode(t, nil)
	var log strings.Builder
	res, err := benchSIPMedia("127.0.0.1:"+strconv.Itoa(n.sipPort), n.base+"/metrics", "echo", 5, 20, 2*time.Second, &log)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	res.print(&out)
	t.Log(out.String())
	if res.up != 5 || res.failed != 0 || res.lost != 0 || res.received < 5*50 {
		t.Fatalf("5 echo calls for 2 s: %+v", res)
	}
	if res.node["packets_received_total"] < 5*90 || res.node["packets_lost_total"] != 0 || res.memPeak == 0 {
		t.Fatalf("node side not read from /metrics: %v, memory %v", res.node, res.memPeak)
	}
}
