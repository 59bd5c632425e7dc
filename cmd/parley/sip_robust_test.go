package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/g711"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/store/sqlite"
)

// Serve-level robustness of the SIP edge: each test runs `parley serve`
// (in this process, or built and signalled for the drain) against SIPp.

// uacHead returns SIPp's uac_pcap INVITE and ACK, up to its media section,
// with the SDP offer rewritten by offer (which gets and returns the INVITE's text).
func uacHead(t *testing.T, sippDir string, offer func(string) string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sippDir, "scenarios", "uac_pcap.xml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	end := strings.Index(s, "<nop>")
	if end < 0 {
		t.Fatal("uac_pcap.xml has changed shape: no <nop> media section")
	}
	return offer(s[:end])
}

// pcmuOnly turns uac_pcap's offer (PCMA + telephone-event) into plain PCMU,
// without telephone-event: a phone that can only send its keys as tones.
func pcmuOnly(s string) string {
	s = strings.Replace(s, "RTP/AVP 8 101", "RTP/AVP 0", 1)
	s = strings.Replace(s, "a=rtpmap:8 PCMA/8000", "a=rtpmap:0 PCMU/8000", 1)
	s = regexp.MustCompile(`(?m)^\s*a=(rtpmap|fmtp):101 .*\n`).ReplaceAllString(s, "")
	return s
}

// awaitBye is a scenario tail for calls the node hangs up: the caller
// answers the node's BYE.
const awaitBye = `
  <recv request="BYE" timeout="30000"/>
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
`

// writeSIPpScenario writes a scenario into a folder that also links SIPp's pcap/ and returns the folder.
func writeSIPpScenario(t *testing.T, sippDir, name, body string) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(sippDir, "pcap"), filepath.Join(dir, "pcap")); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

// callRecord reads one call back through the API.
func (n *sipNode) callRecord(t *testing.T, id string) (httpapi.CallTranscript, bool) {
	t.Helper()
	var tr httpapi.CallTranscript
	return tr, n.getJSON(t, "/api/v1/calls/"+id, &tr) == http.StatusOK
}

// waitCalls polls the call list until ok accepts it.
func (n *sipNode) waitCalls(t *testing.T, timeout time.Duration, what string, ok func([]store.Call) bool) []store.Call {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var list httpapi.CallList
	for {
		list = httpapi.CallList{}
		if n.getJSON(t, "/api/v1/calls?limit=1000", &list) == http.StatusOK && ok(list.Calls) {
			return list.Calls
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; calls %+v", what, timeout, list.Calls)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitEnded waits for call id to reach a final state with its hangup event recorded.
func (n *sipNode) waitEnded(t *testing.T, id string, timeout time.Duration) httpapi.CallTranscript {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var tr httpapi.CallTranscript
	for time.Now().Before(deadline) {
		var ok bool
		if tr, ok = n.callRecord(t, id); ok && (tr.Call.State == store.CallEnded || tr.Call.State == store.CallAbandon) {
			for _, e := range tr.Events {
				if e.Type == "hangup" {
					return tr
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("call %s did not end within %v; last read %+v", id, timeout, tr)
	return tr
}

func countState(calls []store.Call, state string) int {
	n := 0
	for _, c := range calls {
		if c.State == state {
			n++
		}
	}
	return n
}

// dtmfToneULaw resamples the baresip key tones (44.1 kHz WAVs) to 8 kHz
// with gateway/rtp/audio and writes them as raw µ-law for SIPp's rtp_stream:
// half a second of silence, then each key with 200 ms of silence after it.
func dtmfToneULaw(t *testing.T, dir string, keys string) string {
	t.Helper()
	files := map[byte]string{'*': "soundstar.wav", '#': "soundroute.wav"}
	for d := byte('0'); d <= '9'; d++ {
		files[d] = fmt.Sprintf("sound%c.wav", d)
	}
	silence := func(ms int) []byte { return g711.EncodeUlaw(nil, make([]int16, ms*audio.SampleRate/1000)) }
	out := silence(500)
	for i := 0; i < len(keys); i++ {
		path := filepath.Join(requireData(t, "dtmf"), files[keys[i]])
		a := decodeWAV(t, path)
		pcm, err := audio.Resample(a.Mono(), a.SampleRate, audio.SampleRate)
		if err != nil {
			t.Fatalf("resample %s: %v", path, err)
		}
		out = append(out, g711.EncodeUlaw(nil, pcm)...)
		out = append(out, silence(200)...)
	}
	p := filepath.Join(dir, "tones.ulaw")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServeInbandDTMFToRecord: a SIPp caller whose SDP has no
// telephone-event plays the in-band tones of every key to `record`; the
// call's events, read back through the API, hold every digit in order,
// each detected in-band, and '#' ends the message (the node hangs up).
func TestServeInbandDTMFToRecord(t *testing.T) {
	requirePeer(t, "sipp")
	sippDir := requireData(t, "sipp")
	n := startSIPNode(t, nil)
	const keys = "1234567890*#"
	dir, sf := writeSIPpScenario(t, sippDir, "tones.xml", uacHead(t, sippDir, pcmuOnly)+
		`<nop><action><exec rtp_stream="tones.ulaw,1,0"/></action></nop>`+awaitBye)
	dtmfToneULaw(t, dir, keys)
	runSIPp(t, dir, n, "-sf", sf, "-s", "record", "-m", "1", "-r", "1")

	calls := n.waitCalls(t, 10*time.Second, "one SIP call", func(c []store.Call) bool { return len(c) == 1 })
	tr := n.waitEnded(t, calls[0].ID, 10*time.Second)
	var digits, kinds []string
	for _, e := range tr.Events {
		kinds = append(kinds, e.Type)
		if e.Type == "dtmf" {
			digits = append(digits, e.Data["digit"])
			if e.Data["detection"] != "in-band" {
				t.Errorf("dtmf event %+v not marked in-band", e)
			}
		}
	}
	t.Logf("events %v", kinds)
	if got := strings.Join(digits, ""); got != keys {
		t.Fatalf("dtmf events %q, want every key in order %q", got, keys)
	}
	if last := tr.Events[len(tr.Events)-1]; last.Type != "hangup" || last.By != "system" {
		t.Errorf("last event %+v, want the node hanging up after '#'", last)
	}
}

// floodScenario sends INVITEs that must each get 503 with a Retry-After of
// retryAfter seconds, and ACKs the 503.
func floodScenario(retryAfter int) string {
	return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="flood">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: flood <sip:flood@[local_ip]:[local_port]>;tag=[pid]Flood[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:flood@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="503"><action><ereg regexp="Retry-After: ` + strconv.Itoa(retryAfter) + `" search_in="msg" check_it="true" assign_to="ra"/></action></recv>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: flood <sip:flood@[local_ip]:[local_port]>;tag=[pid]Flood[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  <Reference variables="ra"/>
</scenario>
`
}

// sippTotals reads SIPp's final "Successful call" and "Failed call" totals.
func sippTotals(out string) (ok, failed int) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(strings.ReplaceAll(line, "|", " "))
		if len(f) >= 4 && f[0] == "Successful" && f[1] == "call" {
			ok, _ = strconv.Atoi(f[len(f)-1])
		}
		if len(f) >= 4 && f[0] == "Failed" && f[1] == "call" {
			failed, _ = strconv.Atoi(f[len(f)-1])
		}
	}
	return ok, failed
}

// TestServeFloodBeyondMaxCalls: with --max-calls 2 and two uac_pcap calls
// up, a flood of 200 INVITEs all get 503 with Retry-After; the two calls
// keep their audio (their recordings hold the capture's ~6.5 s of speech)
// and the refused calls are on record as busy.
func TestServeFloodBeyondMaxCalls(t *testing.T) {
	requirePeer(t, "sipp")
	sippDir := requireData(t, "sipp")
	n := startSIPNode(t, func(c *Config) { c.MaxCalls = 2; c.SIPRetryAfter = 9 * time.Second })
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		runSIPp(t, sippDir, n, "-sn", "uac_pcap", "-s", "record", "-m", "2", "-r", "10")
	}()
	n.waitCalls(t, 10*time.Second, "two calls up", func(c []store.Call) bool { return countState(c, store.CallBot) == 2 })
	dir := t.TempDir()
	sf := filepath.Join(dir, "flood.xml")
	if err := os.WriteFile(sf, []byte(floodScenario(9)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runSIPp(t, dir, n, "-sf", sf, "-s", "record", "-m", "200", "-r", "100", "-l", "200")
	if ok, failed := sippTotals(out); ok != 200 || failed != 0 {
		t.Fatalf("flood: %d INVITEs got 503 with Retry-After, %d failed; want 200 and 0\n%s", ok, failed, lastLinesOf(out, 30))
	}
	wg.Wait() // runSIPp fails the test if the calls up did not complete

	calls := n.waitCalls(t, 20*time.Second, "the two calls ended", func(c []store.Call) bool {
		up := 0
		for _, x := range c {
			if x.AnsweredAt != nil && x.State == store.CallEnded {
				up++
			}
		}
		return up == 2
	})
	for _, c := range calls {
		if c.AnsweredAt == nil {
			continue
		}
		tr := n.waitEnded(t, c.ID, 10*time.Second)
		rec := decodeWAV(t, tr.Call.RecordingPath)
		caller := loudSeconds(rec.Samples, rec.Channels, 0)
		t.Logf("call %s up during the flood: caller audible %.2f s", c.ID, caller)
		if caller < 6 || caller > 8.2 {
			t.Errorf("call %s recorded %.2f s of the caller during the flood, want the capture's ~6.5 s", c.ID, caller)
		}
	}
	busy := 0
	for _, c := range calls {
		if c.AnsweredAt == nil && c.State == store.CallEnded && c.Disposition == "busy" {
			busy++
		}
	}
	// Missed-call records are capped at 50 per second (plus a burst of 50) so refusing stays cheap.
	t.Logf("%d refused INVITEs on record as busy", busy)
	if busy < 50 || busy > 200 {
		t.Errorf("%d busy missed-call records, want 50-200", busy)
	}
}

// TestServeSIGTERMDrains builds parley, starts a uac_pcap call to
// `record`, and sends the node SIGTERM: new INVITEs get 503 with
// Retry-After while the call in progress finishes (the caller's BYE, its
// whole audio recorded), then the process exits 0.
func TestServeSIGTERMDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("builds parley and runs it as a process")
	}
	requirePeer(t, "sipp")
	sippDir := requireData(t, "sipp")
	bin := buildParley(t)
	dataDir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	sipPort := freeUDP(t)
	lo := 30000 + 2*(int(time.Now().UnixNano()/1000)%4000)
	cmd := exec.Command(bin, "serve", "--http-addr", httpAddr, "--sip-addr", fmt.Sprintf("127.0.0.1:%d", sipPort),
		"--sip-rtp-ports", fmt.Sprintf("%d-%d", lo, lo+99), "--data-dir", dataDir, "--demo=false",
		"--sip-retry-after", "4s", "--shutdown-timeout", "30s", "--log-level", "info")
	var log bytes.Buffer
	var logMu sync.Mutex
	cmd.Stdout, cmd.Stderr = lockedWriter{&logMu, &log}, lockedWriter{&logMu, &log}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	logText := func() string { logMu.Lock(); defer logMu.Unlock(); return log.String() }
	n := &sipNode{base: "http://" + httpAddr, sipPort: sipPort, dataDir: dataDir}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(n.base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("parley serve not ready in 60 s:\n%s", logText())
		}
		time.Sleep(200 * time.Millisecond)
	}

	up := make(chan string, 1)
	go func() { up <- runSIPp(t, sippDir, n, "-sn", "uac_pcap", "-s", "record", "-m", "1", "-r", "1") }()
	calls := n.waitCalls(t, 10*time.Second, "the call up", func(c []store.Call) bool { return countState(c, store.CallBot) == 1 })
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	dir := t.TempDir()
	sf := filepath.Join(dir, "drain.xml")
	if err := os.WriteFile(sf, []byte(floodScenario(4)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runSIPp(t, dir, n, "-sf", sf, "-s", "record", "-m", "3", "-r", "10")
	if ok, failed := sippTotals(out); ok != 3 || failed != 0 {
		t.Fatalf("INVITEs while draining: %d got 503 with Retry-After, %d failed; want 3 and 0", ok, failed)
	}
	select {
	case err := <-exited:
		t.Fatalf("parley exited (%v) before the call in progress ended:\n%s", err, logText())
	default:
	}
	<-up // the caller's own BYE got its 200: the call was not cut
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("parley serve exited with %v after SIGTERM:\n%s", err, logText())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("parley serve did not exit after the drained call ended:\n%s", logText())
	}

	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := st.GetCall(ctx, calls[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	events, err := st.ListCallEvents(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var by string
	for _, e := range events {
		if e.Type == "hangup" {
			by = e.By
		}
	}
	if c.State != store.CallEnded || by != store.SpeakerCaller {
		t.Fatalf("drained call %+v hung up by %q, want ended by the caller", c, by)
	}
	rec := decodeWAV(t, c.RecordingPath)
	if caller := loudSeconds(rec.Samples, rec.Channels, 0); caller < 6 || caller > 8.2 {
		t.Errorf("drained call recorded %.2f s of the caller, want the capture's ~6.5 s", caller)
	}
	all, err := st.ListCalls(ctx, store.CallFilter{})
	if err != nil {
		t.Fatal(err)
	}
	busy := 0
	for _, x := range all {
		if x.Disposition == "busy" {
			busy++
		}
	}
	if busy != 3 {
		t.Errorf("%d calls refused while draining are on record as busy, want 3", busy)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// sipExchange sends one datagram and returns the response, "" when none came within wait.
func sipExchange(t *testing.T, conn *net.UDPConn, msg string, wait time.Duration) string {
	t.Helper()
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 8192)
	n, err := conn.Read(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

func rawSIP(method, uri, callID, toTag string, conn *net.UDPConn, cseq int) string {
	local := conn.LocalAddr().String()
	to := "<" + uri + ">"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	return method + " " + uri + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + callID + method + "\r\n" +
		"From: <sip:tester@" + local + ">;tag=t" + callID + "\r\n" +
		"To: " + to + "\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: " + strconv.Itoa(cseq) + " " + method + "\r\n" +
		"Contact: <sip:tester@" + local + ">\r\n" +
		"Max-Forwards: 70\r\n" +
		"Content-Length: 0\r\n\r\n"
}

// TestServeBadSIPInput: garbage UDP, truncated SIP and a BYE for an unknown
// dialog get the right answer (481) or none (a dropped datagram), an INVITE
// with no common codec gets 488 and is on record as a missed call; the
// node keeps serving (OPTIONS, a real call, readiness).
func TestServeBadSIPInput(t *testing.T) {
	requirePeer(t, "sipp")
	sippDir := requireData(t, "sipp")
	n := startSIPNode(t, nil)
	conn, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: n.sipPort})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	uri := fmt.Sprintf("sip:echo@127.0.0.1:%d", n.sipPort)
	for _, g := range []string{
		"\x00\x01\x02\xff\xfe garbage",
		strings.Repeat("\xff", 1400),
		"INVITE sip:echo@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKt1\r\nFrom: <sip:a@b>;tag=1\r\nTo:",
		"INVITE sip:echo@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKt2\r\nContent-Length: 999\r\n\r\nv=0\r\no=",
		"SIP/2.0 200 OK\r\n\r\n",
		"BYE  SIP/2.0\r\n\r\n",
	} {
		if res := sipExchange(t, conn, g, 300*time.Millisecond); res != "" {
			t.Errorf("garbage %q answered %q, want a dropped datagram", truncateStr(g, 40), truncateStr(res, 80))
		}
	}
	if res := sipExchange(t, conn, rawSIP("BYE", uri, "unknown-bye", "nosuchtag", conn, 2), 2*time.Second); !strings.HasPrefix(res, "SIP/2.0 481") {
		t.Fatalf("BYE for an unknown dialog answered %q, want 481", truncateStr(res, 80))
	}
	if res := sipExchange(t, conn, rawSIP("OPTIONS", uri, "opt-after", "", conn, 1), 2*time.Second); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("OPTIONS after the garbage answered %q, want 200", truncateStr(res, 80))
	}

	// No common codec: G.729 and G.722 only.
	noCodec := floodScenario(0)
	noCodec = strings.Replace(noCodec, "m=audio [media_port] RTP/AVP 0\n      a=rtpmap:0 PCMU/8000",
		"m=audio [media_port] RTP/AVP 18 9\n      a=rtpmap:18 G729/8000\n      a=rtpmap:9 G722/8000", 1)
	noCodec = regexp.MustCompile(`<recv response="503">.*</recv>`).ReplaceAllString(noCodec, `<recv response="488"/>`)
	noCodec = strings.Replace(noCodec, `<Reference variables="ra"/>`, "", 1)
	dir := t.TempDir()
	sf := filepath.Join(dir, "nocodec.xml")
	if err := os.WriteFile(sf, []byte(noCodec), 0o644); err != nil {
		t.Fatal(err)
	}
	runSIPp(t, dir, n, "-sf", sf, "-s", "echo", "-m", "1")
	calls := n.waitCalls(t, 10*time.Second, "the 488 on record", func(c []store.Call) bool { return len(c) == 1 && c[0].State == store.CallEnded })
	tr := n.waitEnded(t, calls[0].ID, 5*time.Second)
	if tr.Call.Disposition != "no_codec" || tr.Call.AnsweredAt != nil || tr.Events[0].Type != "rejected" || tr.Events[0].Data["code"] != "488" {
		t.Fatalf("no-codec call on record as %+v with events %+v, want unanswered, disposition no_codec, a rejected event with code 488", tr.Call, tr.Events)
	}

	// The node still serves a real call.
	runSIPp(t, sippDir, n, "-sn", "uac_pcap", "-s", "echo", "-m", "1", "-r", "1")
	n.waitCalls(t, 10*time.Second, "the echo call ended", func(c []store.Call) bool {
		for _, x := range c {
			if x.AnsweredAt != nil && x.State == store.CallEnded {
				return true
			}
		}
		return false
	})
	if res, err := http.Get(n.base + "/readyz"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("readyz after bad input: %v %v", res, err)
	}
}

func truncateStr(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// cancelScenario rings and CANCELs after the 180.
func cancelScenario() string {
	return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="cancel">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: caller <sip:07700900123@[local_ip]:[local_port]>;tag=[pid]Cancel[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:caller@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <pause milliseconds="500"/>
  <send><![CDATA[
      CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: caller <sip:07700900123@[local_ip]:[local_port]>;tag=[pid]Cancel[call_number]
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
      From: caller <sip:07700900123@[local_ip]:[local_port]>;tag=[pid]Cancel[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
</scenario>
`
}

// TestServeMissedCallsOnRecord: a caller who hangs up while it rings
// (CANCEL, with --sip-ring-time 3s) and one rejected because the agent they
// dialled has no phone registered (480) are on record: abandoned/cancelled
// by the caller and ended/unavailable by the system, never answered.
func TestServeMissedCallsOnRecord(t *testing.T) {
	requirePeer(t, "sipp")
	n := startSIPNode(t, func(c *Config) { c.SIPRingTime = 3 * time.Second })
	dir := t.TempDir()
	sf := filepath.Join(dir, "cancel.xml")
	if err := os.WriteFile(sf, []byte(cancelScenario()), 0o644); err != nil {
		t.Fatal(err)
	}
	runSIPp(t, dir, n, "-sf", sf, "-s", "echo", "-m", "1")
	calls := n.waitCalls(t, 10*time.Second, "the cancelled call on record", func(c []store.Call) bool { return len(c) == 1 })
	tr := n.waitEnded(t, calls[0].ID, 10*time.Second)
	var hangup store.CallEvent
	for _, e := range tr.Events {
		if e.Type == "hangup" {
			hangup = e
		}
	}
	t.Logf("cancelled: %+v events %+v", tr.Call, tr.Events)
	if tr.Call.State != store.CallAbandon || tr.Call.Disposition != "cancelled" || tr.Call.AnsweredAt != nil ||
		tr.Call.EndedAt == nil || !strings.Contains(tr.Call.From, "07700900123") || hangup.By != store.SpeakerCaller {
		t.Fatalf("cancelled call on record as %+v (hangup %+v), want abandoned, cancelled, unanswered, from the caller, hung up by the caller", tr.Call, hangup)
	}

	// An agent with no registered phone: 480, on record as unavailable.
	res, err := http.Post(n.base+"/api/v1/agents", "application/json",
		strings.NewReader(`{"id":"ag-9","name":"Ida","extension":"1009","skills":[],"languages":["en"],"capacity":1}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	reject := strings.Replace(floodScenario(0), `<recv response="503"><action><ereg regexp="Retry-After: 0" search_in="msg" check_it="true" assign_to="ra"/></action></recv>`, `<recv response="480"/>`, 1)
	reject = strings.Replace(reject, `<Reference variables="ra"/>`, "", 1)
	sf = filepath.Join(dir, "480.xml")
	if err := os.WriteFile(sf, []byte(reject), 0o644); err != nil {
		t.Fatal(err)
	}
	runSIPp(t, dir, n, "-sf", sf, "-s", "1009", "-m", "1")
	calls = n.waitCalls(t, 10*time.Second, "the 480 on record", func(c []store.Call) bool { return len(c) == 2 })
	for _, c := range calls {
		if c.ID == tr.Call.ID {
			continue
		}
		tr := n.waitEnded(t, c.ID, 10*time.Second)
		if tr.Call.State != store.CallEnded || tr.Call.Disposition != "unavailable" || tr.Call.AnsweredAt != nil ||
			tr.Events[0].Type != "rejected" || tr.Events[0].Data["code"] != "480" || tr.Events[0].Data["destination"] != "1009" {
			t.Fatalf("rejected call on record as %+v events %+v, want ended, unavailable, a rejected event (480, destination 1009)", tr.Call, tr.Events)
		}
	}
}
