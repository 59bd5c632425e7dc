package sip

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/rtp/media"
)

func holdApp() media.Application { return media.ApplicationFunc(waitForCall) }

func TestSIPpBasicCall(t *testing.T) {
	events := newEventLog()
	s := startServer(t, Config{}, Deps{Dialplan: Extensions{"service": holdApp()}, Events: events})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, transport := range []string{"u1", "t1"} {
		res := runSIPp(t, ctx, t.TempDir(), s, "-sn", "uac", "-s", "service", "-t", transport, "-m", "3", "-r", "10", "-d", "200")
		if res.err != nil {
			t.Fatalf("sipp uac over %s failed: %v\n%s", transport, res.err, res.output)
		}
	}
	if n := events.count(EventAnswered); n != 6 {
		t.Errorf("answered events = %d, want 6", n)
	}
	hangup := events.wait(t, 5*time.Second, "hangup", func(e Event) bool { return e.Kind == EventHangup })
	if hangup.By != ByCaller || hangup.Reason != "bye" || hangup.Destination != "service" {
		t.Errorf("hangup event = %+v, want by=caller reason=bye destination=service", hangup)
	}
	waitIdle(t, s)
}

func waitIdle(t testing.TB, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.ActiveCalls() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("ActiveCalls = %d after all calls ended, want 0", s.ActiveCalls())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSIPpRejections(t *testing.T) {
	events := newEventLog()
	s := startServer(t, Config{}, Deps{Dialplan: Extensions{"service": holdApp()}, Events: events})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tests := []struct {
		name, service, formats, rtpmaps string
		want                            int
	}{
		{"no common codec", "service", "18 9 101", "      a=rtpmap:18 G729/8000\n      a=rtpmap:9 G722/8000\n      a=rtpmap:101 telephone-event/8000", 488},
		{"unknown extension", "nobody", "0", "      a=rtpmap:0 PCMU/8000", 404},
		{"malformed payload type", "service", "0 x", "      a=rtpmap:0 PCMU/8000", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sf := rejectScenario(t, tt.formats, tt.rtpmaps, tt.want)
			res := runSIPp(t, ctx, t.TempDir(), s, "-sf", sf, "-s", tt.service, "-m", "1")
			if res.err != nil {
				t.Fatalf("sipp expecting %d failed: %v\n%s", tt.want, res.err, res.output)
			}
		})
	}
	waitIdle(t, s)
	// Only the call that reached a destination is someone's missed call.
	var missed []Event
	for _, e := range events.all() {
		if e.Kind == EventMissed {
			missed = append(missed, e)
		}
	}
	if len(missed) != 1 || missed[0].Code != 488 || missed[0].Disposition != DispositionNoCodec {
		t.Fatalf("missed events %+v, want one with code 488, disposition no_codec", missed)
	}
}

// exchange sends one datagram and returns the first response line, or "" on timeout.
func exchange(t *testing.T, conn net.Conn, msg string) string {
	t.Helper()
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

func sipRequest(method, uri, callID, toTag string, conn net.Conn) string {
	local := conn.LocalAddr().String()
	to := "<" + uri + ">"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	return method + " " + uri + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + callID + method + "\r\n" +
		"From: <sip:tester@" + local + ">;tag=abc123\r\n" +
		"To: " + to + "\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 2 " + method + "\r\n" +
		"Contact: <sip:tester@" + local + ">\r\n" +
		"Max-Forwards: 70\r\n" +
		"Content-Length: 0\r\n\r\n"
}

func TestGarbageAndOutOfDialog(t *testing.T) {
	s := startServer(t, Config{}, Deps{Dialplan: Extensions{"service": holdApp()}})
	conn, err := net.Dial("udp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	uri := "sip:service@" + s.Addr().String()
	garbage := []string{
		"\x00\x01\x02\xff\xfe garbage",
		"INVITE sip:service@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo:",
		"SIP/2.0 200 OK\r\n\r\n",
		"INVITE sip:service@127.0.0.1 SIP/2.0\r\nContent-Length: 999999\r\n\r\nv=0",
		strings.Repeat("A", 8000),
		"BYE  SIP/2.0\r\n\r\n",
	}
	for _, g := range garbage {
		if _, err := conn.Write([]byte(g)); err != nil {
			t.Fatal(err)
		}
	}
	tcp, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = tcp.Write([]byte("INVITE sip:service@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4;branch=z9hG4bKy\r\nContent-Length: 10\r\n\r\nv="))
	tcp.Close()

	res := exchange(t, conn, sipRequest("OPTIONS", uri, "opt-1", "", conn))
	if !strings.HasPrefix(res, "SIP/2.0 200") || !strings.Contains(res, "INVITE, ACK, CANCEL, BYE") || !strings.Contains(res, "application/sdp") {
		t.Fatalf("OPTIONS after garbage answered %q, want 200 with Allow and Accept", res)
	}
	if res := exchange(t, conn, sipRequest("BYE", uri, "nope-1", "unknown", conn)); !strings.HasPrefix(res, "SIP/2.0 481") {
		t.Fatalf("BYE for an unknown dialog answered %q, want 481", res)
	}
	if res := exchange(t, conn, sipRequest("INVITE", uri, "nope-2", "unknown", conn)); !strings.HasPrefix(res, "SIP/2.0 481") {
		t.Fatalf("re-INVITE for an unknown dialog answered %q, want 481", res)
	}
	if res := exchange(t, conn, sipRequest("CANCEL", uri, "nope-3", "", conn)); !strings.HasPrefix(res, "SIP/2.0 481") {
		t.Fatalf("CANCEL matching nothing answered %q, want 481", res)
	}
}
