package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestBenchWebRTC runs `parley bench webrtc` small against an in-process
// node (the child-process mode needs the parley binary, not the test's):
// every call is set up, the node's stream arrives and the report names
// loss, jitter, CPU and memory.
func TestBenchWebRTC(t *testing.T) {
	base := startWebRTCNode(t, nil)
	var out, errOut strings.Builder
	if code := benchWebRTC([]string{"--target", base, "--calls", "3", "--ramp", "10", "--hold", "2s"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut.String(), out.String())
	}
	t.Logf("\n%s", out.String())
	for _, want := range []string{"calls wanted 3, up 3, failed to set up 0", "RFC 3550 jitter", "node memory: RSS", "node CPU during the hold", "load average before"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, out.String())
		}
	}
	m := regexp.MustCompile(`node -> callers: (\d+) packets received`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no received count:\n%s", out.String())
	}
	if n, _ := strconv.Atoi(m[1]); n < 3*2*50*8/10 {
		t.Fatalf("only %d packets from the node for 3 calls × 2 s", n)
	}
	for _, bad := range [][]string{{"--calls", "0"}, {"--hold", "soon"}, {"extra"}} {
		errOut.Reset()
		if code := benchWebRTC(bad, &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("bench webrtc %v: exit %d, stderr %q; want exit 2 with a message", bad, code, errOut.String())
		}
	}
}
