package sip

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"

	"github.com/parley-cc/parley/gateway/rtp/media"
)

const uasReply = `      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
`

const uasAnswerSDP = `  <send><![CDATA[
      SIP/2.0 180 Ringing
` + uasReply + `      Content-Length: 0
    ]]></send>
  <send retrans="500"><![CDATA[
      SIP/2.0 200 OK
` + uasReply + `      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
    ]]></send>
  <recv request="ACK" crlf="true"/>
`

func uasScenario(t *testing.T, name, body string) string {
	return writeScenario(t, name+".xml", `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="`+name+`">
  <recv request="INVITE"/>
`+body+`</scenario>
`)
}

func TestDialAnsweredThenHangup(t *testing.T) {
	events := newEventLog()
	s := startServer(t, Config{}, Deps{Dialplan: Extensions{}, Events: events})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	port, wait := startSIPpUAS(t, ctx, "-sf", uasScenario(t, "answer", uasAnswerSDP+`  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
`+uasReply+`      Content-Length: 0
    ]]></send>
`))
	var mu sync.Mutex
	var progress []int
	call, err := s.Dial(ctx, "sip:agent@127.0.0.1:"+itoa(port), DialOptions{Party: ByAgent, CallerID: "4930123", OnProgress: func(code int) {
		mu.Lock()
		progress = append(progress, code)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatalf("Dial: %v\n%s", err, wait().output)
	}
	if a := call.Agreement(); a.Codec.Name != "PCMA" || !a.DTMF || a.DTMFPayloadType != 101 {
		t.Errorf("agreement = %+v, want PCMA with telephone-event 101", a)
	}
	mu.Lock()
	if len(progress) == 0 || progress[0] != 180 {
		t.Errorf("progress = %v, want 180", progress)
	}
	mu.Unlock()
	if s.ActiveCalls() != 1 {
		t.Errorf("ActiveCalls = %d during the call, want 1", s.ActiveCalls())
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if res := wait(); res.err != nil {
		t.Fatalf("sipp UAS did not see a clean call: %v\n%s", res.err, res.output)
	}
	e := events.wait(t, 5*time.Second, "hangup", func(e Event) bool { return e.Kind == EventHangup })
	if e.By != BySystem || e.CallID != call.ID() || !e.AgentLeg {
		t.Errorf("hangup = %+v, want by=system for agent leg %s", e, call.ID())
	}
	waitIdle(t, s)
}

func TestDialRemoteHangupIsAgent(t *testing.T) {
	events := newEventLog()
	s := startServer(t, Config{}, Deps{Dialplan: Extensions{}, Events: events})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	port, wait := startSIPpUAS(t, ctx, "-sf", writeScenario(t, "bye.xml", `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="callee hangs up">
  <recv request="INVITE">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="caller"/>
      <ereg regexp="sip:[^&gt;;]*" search_in="hdr" header="Contact:" assign_to="contact"/>
    </action>
  </recv>
`+uasAnswerSDP+`  <pause milliseconds="300"/>
  <send retrans="500"><![CDATA[
      BYE [$contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:agent@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
      To:[$caller]
      [last_Call-ID:]
      CSeq: 2 BYE
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  <recv response="200"/>
</scenario>
`))
	call, err := s.Dial(ctx, "sip:agent@127.0.0.1:"+itoa(port), DialOptions{Party: ByAgent, App: media.ApplicationFunc(waitForCall)})
	if err != nil {
		t.Fatalf("Dial: %v\n%s", err, wait().output)
	}
	select {
	case <-call.Done():
	case <-ctx.Done():
		t.Fatal("call did not end after the agent's BYE")
	}
	if res := wait(); res.err != nil {
		t.Fatalf("sipp: %v\n%s", res.err, res.output)
	}
	e := events.wait(t, 5*time.Second, "hangup", func(e Event) bool { return e.Kind == EventHangup })
	if e.By != ByAgent || e.Reason != "bye" {
		t.Errorf("hangup = %+v, want by=agent reason=bye", e)
	}
	waitIdle(t, s)
}

func TestDialBusy(t *testing.T) {
	s := startServer(t, Config{}, Deps{Dialplan: Extensions{}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	port, wait := startSIPpUAS(t, ctx, "-sf", uasScenario(t, "busy", `  <send><![CDATA[
      SIP/2.0 486 Busy Here
`+uasReply+`      Content-Length: 0
    ]]></send>
  <recv request="ACK"/>
`))
	_, err := s.Dial(ctx, "sip:agent@127.0.0.1:"+itoa(port), DialOptions{})
	var de *DialError
	if !errors.As(err, &de) || de.StatusCode != 486 {
		t.Fatalf("Dial to a busy peer = %v, want DialError 486", err)
	}
	if res := wait(); res.err != nil {
		t.Fatalf("sipp: %v\n%s", res.err, res.output)
	}
	waitIdle(t, s)
}

func TestDialCancelledWhileRinging(t *testing.T) {
	s := startServer(t, Config{}, Deps{Dialplan: Extensions{}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	port, wait := startSIPpUAS(t, ctx, "-sf", writeScenario(t, "cancel-uas.xml", `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="cancel-uas">
  <recv request="INVITE">
    <action><ereg regexp=".*" search_in="hdr" header="CSeq:" assign_to="invcseq"/></action>
  </recv>
  <send><![CDATA[
      SIP/2.0 180 Ringing
`+uasReply+`      Content-Length: 0
    ]]></send>
  <recv request="CANCEL"/>
  <send><![CDATA[
      SIP/2.0 200 OK
`+uasReply+`      Content-Length: 0
    ]]></send>
  <send><![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq:[$invcseq]
      Content-Length: 0
    ]]></send>
  <recv request="ACK"/>
</scenario>
`))
	dctx, dcancel := context.WithTimeout(ctx, time.Second)
	defer dcancel()
	_, err := s.Dial(dctx, "sip:agent@127.0.0.1:"+itoa(port), DialOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial with an expiring context = %v, want context.DeadlineExceeded", err)
	}
	if res := wait(); res.err != nil {
		t.Fatalf("sipp did not get CANCEL and ACK for 487: %v\n%s", res.err, res.output)
	}
	waitIdle(t, s)
}

func TestDialTrunkDigest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	port, wait := startSIPpUAS(t, ctx, "-sf", uasScenario(t, "auth", `  <send><![CDATA[
      SIP/2.0 401 Unauthorized
`+uasReply+`      WWW-Authenticate: Digest realm="carrier.example", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", algorithm=MD5
      Content-Length: 0
    ]]></send>
  <recv request="ACK"/>
  <recv request="INVITE">
    <action><verifyauth assign_to="authvalid" username="trunkuser" password="s3cret"/></action>
  </recv>
  <nop hide="true" test="authvalid" next="accept"/>
  <send><![CDATA[
      SIP/2.0 403 Forbidden
`+uasReply+`      Content-Length: 0
    ]]></send>
  <recv request="ACK" next="end"/>
  <label id="accept"/>
`+uasAnswerSDP+`  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
`+uasReply+`      Content-Length: 0
    ]]></send>
  <label id="end"/>
`))
	s := startServer(t, Config{Trunk: Trunk{Host: "127.0.0.1:" + itoa(port), Username: "trunkuser", Password: "s3cret", CallerID: "4930999"}}, Deps{Dialplan: Extensions{}})
	call, err := s.Dial(ctx, "4915112345678", DialOptions{})
	if err != nil {
		t.Fatalf("Dial through the trunk: %v\n%s", err, wait().output)
	}
	if call.To() != "sip:4915112345678@127.0.0.1:"+itoa(port) {
		t.Errorf("To = %q", call.To())
	}
	_ = call.Hangup(ctx)
	if res := wait(); res.err != nil {
		t.Fatalf("sipp: %v\n%s", res.err, res.output)
	}
}

// TestRegisterThenDialExtension registers an agent phone with digest auth through sipgo's
// client and dials the agent by extension; the phone's contact is a SIPp UAS.
func TestRegisterThenDialExtension(t *testing.T) {
	s := startServer(t, Config{Realm: "parley.test"}, Deps{Dialplan: Extensions{}, Agents: AgentPasswords{"1001": "pw1001"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	phonePort, wait := startSIPpUAS(t, ctx, "-sf", uasScenario(t, "phone", uasAnswerSDP+`  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
`+uasReply+`      Content-Length: 0
    ]]></send>
`))
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	register := func(user, password string) *siplib.Response {
		t.Helper()
		req := siplib.NewRequest(siplib.REGISTER, siplib.Uri{Scheme: "sip", Host: "127.0.0.1", Port: s.Addr().Port})
		req.AppendHeader(&siplib.ToHeader{Address: siplib.Uri{Scheme: "sip", User: user, Host: "127.0.0.1"}})
		from := &siplib.FromHeader{Address: siplib.Uri{Scheme: "sip", User: user, Host: "127.0.0.1"}, Params: siplib.NewParams()}
		from.Params.Add("tag", "reg1")
		req.AppendHeader(from)
		req.AppendHeader(siplib.NewHeader("Contact", "<sip:"+user+"@127.0.0.1:"+itoa(phonePort)+">"))
		req.AppendHeader(siplib.NewHeader("Expires", "300"))
		res, err := client.Do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 401 {
			t.Fatalf("unauthenticated REGISTER got %d, want 401", res.StatusCode)
		}
		res, err = client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := register("1001", "wrong"); res.StatusCode != 403 {
		t.Fatalf("REGISTER with a wrong password got %d, want 403", res.StatusCode)
	}
	if len(s.Registrar().Lookup("1001")) != 0 {
		t.Fatal("a failed REGISTER created a binding")
	}
	if res := register("1001", "pw1001"); res.StatusCode != 200 {
		t.Fatalf("REGISTER with the right password got %d, want 200", res.StatusCode)
	}
	b := s.Registrar().Lookup("1001")
	if len(b) != 1 || b[0].Contact != "sip:1001@127.0.0.1:"+itoa(phonePort) || time.Until(b[0].Expires) < 250*time.Second {
		t.Fatalf("bindings = %+v, want one for the phone expiring in ~300 s", b)
	}
	call, err := s.Dial(ctx, "1001", DialOptions{Party: ByAgent})
	if err != nil {
		t.Fatalf("Dial extension 1001: %v\n%s", err, wait().output)
	}
	_ = call.Hangup(ctx)
	if res := wait(); res.err != nil {
		t.Fatalf("agent phone (sipp): %v\n%s", res.err, res.output)
	}
}

// TestTransferBothWays has gateway B call gateway A, then B blind-transfers A's leg
// to a SIPp UAS with REFER: A dials it, reports NOTIFY 200, and B leaves the call.
func TestTransferBothWays(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eventsA := newEventLog()
	shortApp := media.ApplicationFunc(func(ctx context.Context, mc media.Call) error {
		if c := mc.(*Call); c.Inbound() {
			return waitForCall(ctx, c)
		}
		select { // the transferred leg talks briefly, then the gateway hangs up
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
		}
		return nil
	})
	a := startServer(t, Config{}, Deps{Dialplan: Extensions{"service": shortApp}, Events: eventsA})
	b := startServer(t, Config{}, Deps{Dialplan: Extensions{}})
	targetPort, wait := startSIPpUAS(t, ctx, "-sf", uasScenario(t, "target", uasAnswerSDP+`  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
`+uasReply+`      Content-Length: 0
    ]]></send>
`))
	leg, err := b.Dial(ctx, "sip:service@127.0.0.1:"+itoa(a.Addr().Port), DialOptions{})
	if err != nil {
		t.Fatalf("B dials A: %v", err)
	}
	if err := leg.Transfer(ctx, "sip:customer@127.0.0.1:"+itoa(targetPort)); err != nil {
		t.Fatalf("Transfer: %v\n%s", err, wait().output)
	}
	select {
	case <-leg.Done():
	case <-ctx.Done():
		t.Fatal("B's leg did not end after a successful transfer")
	}
	if res := wait(); res.err != nil {
		t.Fatalf("transfer target (sipp): %v\n%s", res.err, res.output)
	}
	e := eventsA.wait(t, 5*time.Second, "hangup of the referring leg", func(e Event) bool { return e.Kind == EventHangup && e.SIPCallID == leg.SIPCallID() })
	if e.By != ByCaller {
		t.Errorf("A's hangup of the referring leg = %+v, want by=caller", e)
	}
	eventsA.wait(t, 5*time.Second, "answer of the new leg", func(e Event) bool {
		return e.Kind == EventAnswered && e.Destination == "sip:customer@127.0.0.1:"+itoa(targetPort)
	})
	waitIdle(t, a)
	waitIdle(t, b)
}
