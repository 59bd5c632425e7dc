package main

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"

	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/g711"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/gateway/sip"
	"github.com/parley-cc/parley/internal/pcapfile"
	"github.com/parley-cc/parley/store"
	"github.com/parley-cc/parley/voicebot/tts"
	ttslocal "github.com/parley-cc/parley/voicebot/tts/local"
)

// The voicebot over real SIP: SIPp is the caller, its audio is speech that
// flite synthesized, parley serve runs the demo deployment on the offline
// stack (pocketsphinx, the local dialog engine, flite), and tcpdump watches
// the RTP on loopback so timings are measured on the wire.

// callerScenario turns SIPp's uac_pcap scenario into a PCMU caller whose
// media section is media (SIPp <exec> actions and pauses).
func callerScenario(t *testing.T, sippDir, dir, media string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sippDir, "scenarios", "uac_pcap.xml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	s = strings.Replace(s, "RTP/AVP 8 101", "RTP/AVP 0 101", 1)
	s = strings.Replace(s, "a=rtpmap:8 PCMA/8000", "a=rtpmap:0 PCMU/8000", 1)
	start := strings.Index(s, "<nop>")
	end := strings.LastIndex(s, `<send retrans="500">`) // the BYE
	if start < 0 || end < start {
		t.Fatalf("uac_pcap.xml has changed shape; cannot find its media section")
	}
	s = s[:start] + media + "\n  " + s[end:]
	path := filepath.Join(dir, "caller.xml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	// SIPp resolves pcap/ relative to its working directory.
	if err := os.Symlink(filepath.Join(sippDir, "pcap"), filepath.Join(dir, "pcap")); err != nil {
		t.Fatal(err)
	}
	return path
}

// speechULaw synthesizes text with flite's kal16 voice (the bot speaks with
// slt) and writes it as raw µ-law for SIPp's rtp_stream, after lead of
// silence and followed by tail of silence.
func speechULaw(t *testing.T, dir, text string, lead, tail time.Duration) (path string, speech time.Duration) {
	t.Helper()
	synth, err := ttslocal.New(ttslocal.Config{Voice: "kal16"})
	if err != nil {
		t.Skipf("flite voice kal16 unavailable: %v", err)
	}
	frames, err := tts.Collect(context.Background(), synth, text)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	silence := func(d time.Duration) {
		for range int(d / (audio.FrameDurationMs * time.Millisecond)) {
			out = g711.EncodeUlaw(out, make([]int16, audio.FrameSamples))
		}
	}
	silence(lead)
	for _, f := range frames {
		out = g711.EncodeUlaw(out, f[:])
	}
	silence(tail)
	path = filepath.Join(dir, "speech.ulaw")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, time.Duration(len(frames)) * audio.FrameDurationMs * time.Millisecond
}

// capture runs tcpdump on loopback for the node's RTP ports until stopped.
type capture struct {
	cmd  *exec.Cmd
	path string
}

func startCapture(t *testing.T, portLo, portHi int) *capture {
	t.Helper()
	bin := requirePeer(t, "tcpdump")
	c := &capture{path: filepath.Join(t.TempDir(), "rtp.pcap")}
	c.cmd = exec.Command(bin, "-i", "lo", "-U", "-n", "-s", "400", "-w", c.path, "udp", "portrange", fmt.Sprintf("%d-%d", portLo, portHi))
	stderr, _ := c.cmd.StderrPipe()
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	// tcpdump says "listening on lo" once the capture is armed.
	buf := make([]byte, 512)
	deadline := time.Now().Add(10 * time.Second)
	var seen string
	for !strings.Contains(seen, "listening on") && time.Now().Before(deadline) {
		n, err := stderr.Read(buf)
		seen += string(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.Contains(seen, "listening on") {
		t.Skipf("tcpdump cannot capture on lo here: %s", seen)
	}
	t.Cleanup(func() { _ = c.cmd.Process.Kill() })
	return c
}

// packet is one RTP packet on the wire with its loudness.
type packet struct {
	at    time.Time
	src   netip.AddrPort
	dst   netip.AddrPort
	level float64 // RMS of the decoded µ-law payload
}

func (c *capture) stop(t *testing.T) []packet {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	_ = c.cmd.Wait()
	f, err := os.Open(c.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dgrams, err := pcapfile.ReadUDP(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []packet
	for _, d := range dgrams {
		var p pionrtp.Packet
		if p.Unmarshal(d.Payload) != nil || p.PayloadType != 0 || len(p.Payload) == 0 {
			continue // RTCP, telephone-events, other codecs
		}
		pcm := g711.DecodeUlaw(nil, p.Payload)
		var e float64
		for _, v := range pcm {
			e += float64(v) * float64(v)
		}
		out = append(out, packet{at: d.Time, src: d.Src, dst: d.Dst, level: math.Sqrt(e / float64(len(pcm)))})
	}
	return out
}

const loud = 300 // RMS; flite speech runs at thousands, line silence at 0-10

// bargeIn finds, on the wire, the caller's speech onset (the first loud
// packet towards the node after a quiet start) and the end of the bot's
// audio that was playing then (the last loud packet from the node before a
// gap of at least 200 ms of quiet).
func bargeIn(pkts []packet, nodePorts func(uint16) bool) (onset, stop time.Time, ok bool) {
	for _, p := range pkts {
		if nodePorts(p.dst.Port()) && p.level > loud {
			onset = p.at
			break
		}
	}
	if onset.IsZero() {
		return onset, stop, false
	}
	var lastLoud time.Time
	botLoudAtOnset := false
	for _, p := range pkts {
		if !nodePorts(p.src.Port()) {
			continue
		}
		if p.at.Before(onset) {
			if p.level > loud {
				lastLoud = p.at
			}
			continue
		}
		if !botLoudAtOnset {
			botLoudAtOnset = !lastLoud.IsZero() && onset.Sub(lastLoud) < 200*time.Millisecond
		}
		if p.level > loud {
			if !lastLoud.IsZero() && p.at.Sub(lastLoud) >= 200*time.Millisecond {
				break // the bot speaks again: its next turn
			}
			lastLoud = p.at
		} else if p.at.Sub(lastLoud) >= 200*time.Millisecond {
			break
		}
	}
	return onset, lastLoud, botLoudAtOnset
}

var wordsOnly = regexp.MustCompile(`[^a-z ]+`)

func TestVoicebotOverSIPAnswersFromTheKnowledgeBaseWithBargeIn(t *testing.T) {
	sippDir := requireData(t, "sipp")
	requirePeer(t, "sipp")
	lo := 32000 + 2*int(time.Now().UnixNano()/1e6%1000)
	n := startSIPNode(t, func(c *Config) {
		c.Demo = true
		c.SIPRTPPorts = fmt.Sprintf("%d-%d", lo, lo+99)
	})
	dir := t.TempDir()
	// The caller speaks 1.5 s into the greeting (which runs ~10 s): a barge-in.
	_, speechLen := speechULaw(t, dir, "I want to check my account balance", 1500*time.Millisecond, 14*time.Second)
	scenario := callerScenario(t, sippDir, dir, `<nop><action><exec rtp_stream="speech.ulaw,1,0"/></action></nop>
  <pause milliseconds="17000"/>`)
	capt := startCapture(t, lo, lo+99)
	runSIPp(t, dir, n, "-sf", scenario, "-s", "bot", "-m", "1", "-r", "1")
	pkts := capt.stop(t)
	call := n.endedCall(t, 30*time.Second)

	// What was said, as stored.
	var callerTurn, answer *store.Turn
	for i := range call.Turns {
		tr := &call.Turns[i]
		if tr.Speaker == store.SpeakerCaller && callerTurn == nil && strings.Contains(tr.Text, "balance") {
			callerTurn = tr
		} else if tr.Speaker == store.SpeakerBot && callerTurn != nil && answer == nil {
			answer = tr
		}
	}
	if callerTurn == nil || answer == nil {
		t.Fatalf("transcript lacks the caller's question and the bot's answer: %+v", call.Turns)
	}
	if callerTurn.Intent != "check_balance" || callerTurn.Confidence <= 0 {
		t.Errorf("caller turn %q has intent %q (%.2f), want check_balance", callerTurn.Text, callerTurn.Intent, callerTurn.Confidence)
	}
	if a := wordsOnly.ReplaceAllString(strings.ToLower(answer.Text), ""); !strings.Contains(a, "balance") || !strings.Contains(a, "lumen app") {
		t.Errorf("bot answer %q is not the billing-balance article", answer.Text)
	}
	t.Logf("caller: %q (intent %s %.2f, timings %+v); bot: %q", callerTurn.Text, callerTurn.Intent, callerTurn.Confidence, callerTurn.Timings, answer.Text)

	// The greeting was cut short: the stored greeting is only what was heard.
	if call.Turns[0].Speaker != store.SpeakerBot || strings.Contains(call.Turns[0].Text, "0 for an agent") {
		t.Errorf("first turn %+v: want the greeting cut by the barge-in", call.Turns[0])
	}

	// On the wire: the bot's audio stopped soon after the caller started.
	nodePort := func(p uint16) bool { return int(p) >= lo && int(p) <= lo+99 }
	onset, stop, playing := bargeIn(pkts, nodePort)
	if !playing {
		t.Fatalf("the bot was not speaking when the caller started (%d packets captured)", len(pkts))
	}
	reaction := stop.Sub(onset)
	t.Logf("barge-in on the wire: caller speech onset %s, bot audio stopped %.0f ms later", onset.Format("15:04:05.000"), ms(reaction))
	if reaction > 100*time.Millisecond {
		t.Errorf("bot audio went on %.0f ms after the caller started speaking; the bound is 100 ms", ms(reaction))
	}

	// The answer was audible to the caller: loud bot packets after the question.
	var answerAudio time.Duration
	questionEnd := onset.Add(speechLen)
	for _, p := range pkts {
		if nodePort(p.src.Port()) && p.at.After(questionEnd) && p.level > loud {
			answerAudio += audio.FrameDurationMs * time.Millisecond
		}
	}
	if answerAudio < 2*time.Second {
		t.Errorf("only %s of bot audio reached the caller after the question", answerAudio)
	}
	t.Logf("bot answer audible on the wire for %s", answerAudio)
	if call.Call.RecordingPath == "" {
		t.Error("call has no recording")
	}
}

func TestVoicebotOverSIPFollowsADTMFMenuChoice(t *testing.T) {
	sippDir := requireData(t, "sipp")
	requirePeer(t, "sipp")
	n := startSIPNode(t, func(c *Config) { c.Demo = true })
	dir := t.TempDir()
	// SIPp's RFC 4733 captures, pressed while the prompts play: 1 (billing),
	// then 3 (questions about your bill). The captures come from one call, so
	// only keys in their recorded order keep sequence numbers rising.
	scenario := callerScenario(t, sippDir, dir, `<pause milliseconds="2000"/>
  <nop><action><exec play_pcap_audio="pcap/dtmf_2833_1.pcap"/></action></nop>
  <pause milliseconds="4000"/>
  <nop><action><exec play_pcap_audio="pcap/dtmf_2833_3.pcap"/></action></nop>
  <pause milliseconds="6000"/>`)
	runSIPp(t, dir, n, "-sf", scenario, "-s", "bot", "-m", "1", "-r", "1")
	call := n.endedCall(t, 30*time.Second)
	// Each key press is a caller turn; the bot's reply follows it.
	var keys []store.Turn
	var replies []string
	for i, tr := range call.Turns {
		if tr.Speaker == store.SpeakerCaller {
			keys = append(keys, tr)
			reply := ""
			if i+1 < len(call.Turns) && call.Turns[i+1].Speaker == store.SpeakerBot {
				reply = call.Turns[i+1].Text
			}
			replies = append(replies, reply)
		}
	}
	digits := ""
	for _, e := range call.Events {
		if e.Type == "dtmf" {
			digits += e.Data["digit"]
		}
	}
	if digits != "13" || len(keys) != 2 {
		t.Fatalf("DTMF 1, 3: events %q, caller turns %+v", digits, keys)
	}
	for _, k := range keys {
		if k.Intent != "dtmf" {
			t.Errorf("key turn %+v: want intent dtmf", k)
		}
	}
	t.Logf("key turns -> %q", replies)
	if !strings.Contains(strings.ToLower(replies[0]), "for your balance press 1") {
		t.Errorf("after 1: %q, want the billing menu", replies[0])
	}
	if !strings.Contains(strings.ToLower(replies[1]), "ways to pay") {
		t.Errorf("after 1, 3: %q, want the bill-questions menu", replies[1])
	}
}

// A menu leaf that answers from the knowledge base, reached by keys: 1
// (billing), 1 (balance). Parley's own SIP stack is the caller here because
// it sends each key as a new RFC 4733 event (SIPp's captures cannot repeat a key).
func TestVoicebotOverSIPMenuLeafAnswersFromTheKnowledgeBase(t *testing.T) {
	n := startSIPNode(t, func(c *Config) { c.Demo = true })
	uac, err := sip.New(sip.Config{Addr: "127.0.0.1:0", MediaTimeout: -1, RTPPortMin: 46000, RTPPortMax: 46999},
		sip.Deps{Dialplan: sip.Extensions{}, Logger: testServeLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() { _ = uac.ListenAndServe(ctx) }()
	<-uac.Ready()
	done := make(chan struct{})
	call, err := uac.Dial(ctx, fmt.Sprintf("sip:bot@127.0.0.1:%d", n.sipPort), sip.DialOptions{NoRecording: true,
		App: media.ApplicationFunc(func(ctx context.Context, c media.Call) error {
			<-done // listen (the frames are discarded by the leg)
			return nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []byte{'1', '1'} {
		time.Sleep(3 * time.Second)
		if err := call.SendDigit(key); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(6 * time.Second)
	close(done)
	_ = call.Hangup(ctx)
	tr := n.endedCall(t, 30*time.Second)
	var replies []string
	for i, turn := range tr.Turns {
		if turn.Speaker == store.SpeakerCaller && i+1 < len(tr.Turns) {
			replies = append(replies, tr.Turns[i+1].Text)
		}
	}
	t.Logf("replies to the keys: %q", replies)
	if len(replies) != 2 || !strings.Contains(replies[1], "Lumen app") {
		t.Fatalf("keys 1, 1: replies %q; want the billing menu, then the balance article", replies)
	}
}
