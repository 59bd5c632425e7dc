package sip

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// answeredScenario is a UAC that sends no RTP and waits for the gateway's BYE.
func answeredScenario(t *testing.T) string {
	return writeScenario(t, "wait-bye.xml", `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="wait for BYE">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
`+strings.Replace(sippHeaders, "[peer_tag_param]", "", 1)+`      CSeq: 1 INVITE
      Content-Type: application/sdp
      Content-Length: [len]

`+sdpBody("sendrecv")+`    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
`+sippHeaders+`      CSeq: 1 ACK
      Content-Length: 0
    ]]></send>
  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]></send>
</scenario>
`)
}

func TestMediaTimeoutHangsUp(t *testing.T) {
	events := newEventLog()
	s := startServer(t, Config{MediaTimeout: time.Second}, Deps{Dialplan: Extensions{"service": holdApp()}, Events: events})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if res := runSIPp(t, ctx, t.TempDir(), s, "-sf", answeredScenario(t), "-s", "service", "-m", "1"); res.err != nil {
		t.Fatalf("sipp did not get a BYE for the silent call: %v\n%s", res.err, res.output)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("media timeout of 1 s took %v to hang up", d)
	}
	e := events.wait(t, 5*time.Second, "hangup", func(e Event) bool { return e.Kind == EventHangup })
	if e.By != BySystem || e.Reason != "media timeout" {
		t.Fatalf("hangup = %+v, want by=system reason=media timeout", e)
	}
	waitIdle(t, s)
}

// TestShutdownDrains checks that a draining node refuses new calls with 503 and
// hangs up the calls still up at the deadline with BYE.
func TestShutdownDrains(t *testing.T) {
	events := newEventLog()
	s := startServer(t, Config{MediaTimeout: -1, RetryAfter: 3 * time.Second}, Deps{Dialplan: Extensions{"service": holdApp()}, Events: events})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var up sippResult
	wg.Add(1)
	go func() {
		defer wg.Done()
		up = runSIPp(t, ctx, t.TempDir(), s, "-sf", answeredScenario(t), "-s", "service", "-m", "1")
	}()
	events.wait(t, 5*time.Second, "answered", func(e Event) bool { return e.Kind == EventAnswered })
	shutdownDone := make(chan error, 1)
	go func() {
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer scancel()
		shutdownDone <- s.Shutdown(sctx)
	}()
	time.Sleep(200 * time.Millisecond)
	if res := runSIPp(t, ctx, t.TempDir(), s, "-sf", rejectScenario(t, "0", "      a=rtpmap:0 PCMU/8000", 503), "-s", "service", "-m", "1"); res.err != nil {
		t.Fatalf("INVITE during shutdown did not get 503: %v\n%s", res.err, res.output)
	}
	if err := <-shutdownDone; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if up.err != nil {
		t.Fatalf("the call up at shutdown did not get a BYE: %v\n%s", up.err, up.output)
	}
	e := events.wait(t, 5*time.Second, "hangup", func(e Event) bool { return e.Kind == EventHangup })
	if e.By != BySystem || e.Reason != "shutdown" {
		t.Fatalf("hangup = %+v, want by=system reason=shutdown", e)
	}
}

// TestFloodKeepsAudio fills the node with two uac_pcap calls, floods it with INVITEs that must
// all get 503, and checks the calls already up still recorded all their audio.
func TestFloodKeepsAudio(t *testing.T) {
	dir := sharedData(t, "sipp")
	events := newEventLog()
	s := startServer(t, Config{MaxCalls: 2, DataDir: t.TempDir()}, Deps{Dialplan: Extensions{"record": recordApp(t.TempDir())}, Events: events})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var up sippResult
	wg.Add(1)
	go func() {
		defer wg.Done()
		up = runSIPp(t, ctx, dir, s, "-sn", "uac_pcap", "-s", "record", "-m", "2", "-r", "10")
	}()
	deadline := time.Now().Add(5 * time.Second)
	for s.ActiveCalls() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("ActiveCalls = %d, want the two pcap calls up", s.ActiveCalls())
		}
		time.Sleep(20 * time.Millisecond)
	}
	flood := runSIPp(t, ctx, t.TempDir(), s, "-sf", rejectScenario(t, "0", "      a=rtpmap:0 PCMU/8000", 503), "-s", "record", "-m", "500", "-r", "200", "-l", "200")
	if flood.err != nil {
		t.Fatalf("flood beyond capacity did not get 503 for every INVITE: %v\n%s", flood.err, lastLines(flood.output, 30))
	}
	if ok, failed := sippCounts(flood.output); ok != 500 || failed != 0 {
		t.Fatalf("flood: %d calls got 503, %d failed; want 500 and 0", ok, failed)
	}
	wg.Wait()
	if up.err != nil {
		t.Fatalf("calls up during the flood failed: %v\n%s", up.err, up.output)
	}
	want := pcapLoudSeconds(t, dir+"/pcap/g711a.pcap")
	events.wait(t, 5*time.Second, "second recording", func(Event) bool { return events.count(EventRecording) >= 2 })
	recs := 0
	for _, e := range events.all() {
		if e.Kind != EventRecording {
			continue
		}
		recs++
		_, loud := wavStats(t, e.Path)
		if got := float64(loud[0]) * 0.02; got < want*0.95 || got > want*1.05 {
			t.Errorf("call %s recorded %.2f s of audible audio during the flood, the capture has %.2f s", e.CallID, got, want)
		}
	}
	if recs != 2 || events.count(EventDTMF) != 2 {
		t.Fatalf("recordings = %d, DTMF events = %d; want 2 and 2", recs, events.count(EventDTMF))
	}
}
