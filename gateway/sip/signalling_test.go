package sip

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const sippHeaders = `      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
`

func sdpBody(direction string) string {
	return `      v=0
      o=user1 53655765 [cseq] IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 0 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=` + direction + "\n"
}

// reinvite sends an in-dialog INVITE with the given direction and checks the answer's direction.
func reinvite(cseq int, direction, wantAnswer string) string {
	n := strconv.Itoa(cseq)
	return `  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
` + sippHeaders + `      CSeq: ` + n + ` INVITE
      Content-Type: application/sdp
      Content-Length: [len]

` + sdpBody(direction) + `    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="200">
    <action><ereg regexp="a=` + wantAnswer + `" search_in="body" check_it="true" assign_to="d` + n + `"/></action>
  </recv>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
` + sippHeaders + `      CSeq: ` + n + ` ACK
      Content-Length: 0
    ]]></send>
  <pause milliseconds="200"/>
`
}

// TestSIPpLateOfferHoldResume covers an INVITE without SDP (offer in 200, answer in ACK)
// and re-INVITEs that hold and resume the call.
func TestSIPpLateOfferHoldResume(t *testing.T) {
	events := newEventLog()
	s := startServer(t, Config{}, Deps{Dialplan: Extensions{"service": holdApp()}, Events: events})
	scenario := `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="late offer, hold, resume">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
` + strings.Replace(sippHeaders, "[peer_tag_param]", "", 1) + `      CSeq: 1 INVITE
      Content-Length: 0
    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200">
    <action>
      <ereg regexp="m=audio [0-9]+ RTP/AVP 0 8 101" search_in="body" check_it="true" assign_to="offer"/>
      <ereg regexp="a=sendrecv" search_in="body" check_it="true" assign_to="dir"/>
    </action>
  </recv>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
` + sippHeaders + `      CSeq: 1 ACK
      Content-Type: application/sdp
      Content-Length: [len]

` + sdpBody("sendrecv") + `    ]]></send>
  <pause milliseconds="200"/>
` + reinvite(2, "sendonly", "recvonly") + reinvite(3, "sendrecv", "sendrecv") + reinvite(4, "inactive", "inactive") + reinvite(5, "sendrecv", "sendrecv") + `
  <send retrans="500"><![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
` + sippHeaders + `      CSeq: 6 BYE
      Content-Length: 0
    ]]></send>
  <recv response="200"/>
  <Reference variables="offer,dir,d2,d3,d4,d5"/>
</scenario>
`
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := runSIPp(t, ctx, t.TempDir(), s, "-sf", writeScenario(t, "late.xml", scenario), "-s", "service", "-m", "1")
	if res.err != nil {
		t.Fatalf("sipp late offer/hold scenario failed: %v\n%s", res.err, res.output)
	}
	events.wait(t, 5*time.Second, "hangup", func(e Event) bool { return e.Kind == EventHangup })
	var kinds []string
	for _, e := range events.all() {
		kinds = append(kinds, string(e.Kind))
	}
	if got, want := strings.Join(kinds, ","), "answered,hold,resume,hold,resume,hangup"; got != want {
		t.Fatalf("events = %s, want %s", got, want)
	}
	waitIdle(t, s)
}

// TestSIPpCancelWhileRinging checks that a CANCEL during ringing gets the INVITE a 487 and frees the slot.
func TestSIPpCancelWhileRinging(t *testing.T) {
	events := newEventLog()
	s := startServer(t, Config{RingTime: 3 * time.Second}, Deps{Dialplan: Extensions{"service": holdApp()}, Events: events})
	scenario := `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="cancel">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
` + strings.Replace(sippHeaders, "[peer_tag_param]", "", 1) + `      CSeq: 1 INVITE
      Content-Type: application/sdp
      Content-Length: [len]

` + sdpBody("sendrecv") + `    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <send><![CDATA[
      CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  <recv response="200"/>
  <recv response="487"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
</scenario>
`
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := runSIPp(t, ctx, t.TempDir(), s, "-sf", writeScenario(t, "cancel.xml", scenario), "-s", "service", "-m", "1")
	if res.err != nil {
		t.Fatalf("sipp CANCEL scenario failed: %v\n%s", res.err, res.output)
	}
	waitIdle(t, s)
	if n := events.count(EventAnswered); n != 0 {
		t.Fatalf("a cancelled call produced %d answered events", n)
	}
	e := events.wait(t, 5*time.Second, "missed", func(e Event) bool { return e.Kind == EventMissed })
	if e.Code != 487 || e.Disposition != DispositionCancelled || e.Destination != "service" || e.CallID == "" || e.From == "" {
		t.Fatalf("missed event %+v, want code 487, disposition cancelled, destination service, a call id and the caller", e)
	}
}

// TestCapacity503 fills the node with long calls and checks that one more INVITE gets 503 with Retry-After.
func TestCapacity503(t *testing.T) {
	events := newEventLog()
	s := startServer(t, Config{MaxCalls: 2, RetryAfter: 7 * time.Second}, Deps{Dialplan: Extensions{"service": holdApp()}, Events: events})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	long := make(chan sippResult, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		long <- runSIPp(t, ctx, t.TempDir(), s, "-sn", "uac", "-s", "service", "-m", "2", "-r", "20", "-d", "3000")
	}()
	deadline := time.Now().Add(5 * time.Second)
	for s.ActiveCalls() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("ActiveCalls = %d, want 2 long calls up", s.ActiveCalls())
		}
		time.Sleep(20 * time.Millisecond)
	}
	sf := rejectScenario(t, "0", "      a=rtpmap:0 PCMU/8000", 503)
	sf = writeScenario(t, "503.xml", strings.Replace(readFile(t, sf), `<recv response="503"/>`,
		`<recv response="503"><action><ereg regexp="Retry-After: 7" search_in="msg" check_it="true" assign_to="ra"/></action></recv>`, 1))
	sf = writeScenario(t, "503ref.xml", strings.Replace(readFile(t, sf), "</scenario>", `<Reference variables="ra"/></scenario>`, 1))
	if res := runSIPp(t, ctx, t.TempDir(), s, "-sf", sf, "-s", "service", "-m", "3", "-r", "10"); res.err != nil {
		t.Fatalf("INVITEs beyond capacity did not all get 503 with Retry-After: %v\n%s", res.err, res.output)
	}
	wg.Wait()
	if res := <-long; res.err != nil {
		t.Fatalf("calls already up failed while the node was full: %v\n%s", res.err, res.output)
	}
	waitIdle(t, s)
	busy := 0
	for _, e := range events.all() {
		if e.Kind == EventMissed && e.Code == 503 && e.Disposition == DispositionBusy {
			busy++
		}
	}
	if busy != 3 {
		t.Fatalf("%d busy missed-call events, want one per refused INVITE (3)", busy)
	}
}
