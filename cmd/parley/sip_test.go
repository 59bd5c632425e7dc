package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-cc/parley/gateway/dialplan"
	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/media"
	"github.com/parley-cc/parley/gateway/rtp/wav"
	"github.com/parley-cc/parley/internal/pcapfile"
	"github.com/parley-cc/parley/store"
)

// requirePeer finds a SIP peer program; missing, it skips, or fails with CI=true.
func requirePeer(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (deploy/install-deps.sh test installs sip-tester and baresip): %v", name, err)
		}
		t.Skipf("%s is not installed (apt-get install sip-tester baresip): skipping the real-peer test", name)
	}
	return p
}

// requireData finds ../shared/data/<sub> ($PARLEY_DATA); missing, it skips, or fails with CI=true.
func requireData(t *testing.T, sub string) string {
	t.Helper()
	var roots []string
	if d := os.Getenv("PARLEY_DATA"); d != "" {
		roots = append(roots, d)
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			roots = append(roots, filepath.Join(dir, "shared", "data"))
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	for _, r := range roots {
		if _, err := os.Stat(filepath.Join(r, sub)); err == nil {
			return filepath.Join(r, sub)
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("public data %s not found (set PARLEY_DATA to the shared/data folder)", sub)
	}
	t.Skipf("public data %s not found: set PARLEY_DATA to the shared/data folder to run this test", sub)
	return ""
}

func freeUDP(t *testing.T) int {
	t.Helper()
	for range 50 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		// The SIP gateway binds TCP on the same port.
		if l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free UDP+TCP port")
	return 0
}

// sipNode is a parley serve running in this process.
type sipNode struct {
	base    string // http://host:port
	sipPort int
	dataDir string
	cancel  context.CancelFunc
	done    chan error
}

func startSIPNode(t *testing.T, mutate func(*Config)) *sipNode {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	port := freeUDP(t)
	cfg.SIPAddr = "127.0.0.1:" + strconv.Itoa(port)
	lo := 30000 + 2*rand.IntN(4000)
	cfg.SIPRTPPorts = fmt.Sprintf("%d-%d", lo, lo+999)
	cfg.Demo = false
	cfg.ShutdownTimeout = 10 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &sipNode{sipPort: port, dataDir: cfg.DataDir, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() { n.done <- serve(ctx, cfg, testServeLogger(t), ready) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-n.done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	select {
	case addr := <-ready:
		n.base = "http://" + addr
	case err := <-n.done:
		t.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not become ready")
	}
	return n
}

func (n *sipNode) getJSON(t *testing.T, path string, into any) int {
	t.Helper()
	res, err := http.Get(n.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(into); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return res.StatusCode
}

// endedCall waits for the one SIP call of the node to end and returns its record read back over the API.
func (n *sipNode) endedCall(t *testing.T, timeout time.Duration) httpapi.CallTranscript {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last httpapi.CallTranscript
	for time.Now().Before(deadline) {
		var list httpapi.CallList
		if n.getJSON(t, "/api/v1/calls", &list) == http.StatusOK && len(list.Calls) > 0 {
			if len(list.Calls) != 1 || list.Calls[0].Channel != "sip" {
				t.Fatalf("calls = %+v, want one SIP call", list.Calls)
			}
			if n.getJSON(t, "/api/v1/calls/"+list.Calls[0].ID, &last) == http.StatusOK && last.Call.State == store.CallEnded {
				for _, e := range last.Events {
					if e.Type == "hangup" {
						return last
					}
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no ended SIP call within %v; last read %+v", timeout, last)
	return last
}

// loudSeconds counts 20 ms blocks of one channel louder than about -50 dBFS.
func loudSeconds(samples []int16, channels, ch int) float64 {
	loud := 0
	frames := len(samples) / channels
	for blk := 0; blk+audio.FrameSamples <= frames; blk += audio.FrameSamples {
		var e float64
		for i := blk; i < blk+audio.FrameSamples; i++ {
			v := float64(samples[i*channels+ch])
			e += v * v
		}
		if e/audio.FrameSamples > 100*100 {
			loud++
		}
	}
	return float64(loud) * audio.FrameDurationMs / 1000
}

func decodeWAV(t *testing.T, path string) *wav.Audio {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := wav.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return a
}

func runSIPp(t *testing.T, dir string, n *sipNode, args ...string) string {
	t.Helper()
	bin := requirePeer(t, "sipp")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for attempt := 1; ; attempt++ {
		full := append([]string{"127.0.0.1:" + strconv.Itoa(n.sipPort), "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDP(t)),
			"-mi", "127.0.0.1", "-mp", strconv.Itoa(freeUDP(t) &^ 1), "-nostdin", "-timeout", "60s"}, args...)
		cmd := exec.CommandContext(ctx, bin, full...)
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if err != nil && attempt < 3 && strings.Contains(out.String(), "Address already in use") {
			continue // another test package took the port between our check and SIPp's bind
		}
		if err != nil {
			t.Fatalf("sipp %s: %v\n%s", strings.Join(args, " "), err, lastLinesOf(out.String(), 40))
		}
		return out.String()
	}
}

func lastLinesOf(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestServeSIPpPcapRecordedWithDTMF: SIPp's uac_pcap scenario calls `record`
// on parley serve; the call is answered, its ~8 s of audio are in the
// stereo recording the call record references, and the RFC 4733 '1' is
// among the call's events read back through the API.
func TestServeSIPpPcapRecordedWithDTMF(t *testing.T) {
	requirePeer(t, "sipp")
	dir := requireData(t, "sipp")
	n := startSIPNode(t, nil)
	runSIPp(t, dir, n, "-sn", "uac_pcap", "-s", "record", "-m", "1", "-r", "1")
	tr := n.endedCall(t, 20*time.Second)

	var kinds []string
	digits := ""
	by := ""
	msg := ""
	var quality map[string]string
	for _, e := range tr.Events {
		kinds = append(kinds, e.Type)
		switch e.Type {
		case "quality":
			quality = e.Data
		case "dtmf":
			digits += e.Data["digit"]
		case "hangup":
			by = e.By
		case "message":
			msg = e.Data["path"]
		}
	}
	t.Logf("call %s events %v, recording %s", tr.Call.ID, kinds, tr.Call.RecordingPath)
	if kinds[0] != "answered" || digits != "1" || by != store.SpeakerCaller {
		t.Fatalf("events %v with digits %q, hangup by %q; want answered first, exactly the DTMF '1', hangup by caller", kinds, digits, by)
	}
	// Every packet SIPp replayed from the two captures arrived (loopback loses none).
	sent := 0
	for _, capture := range []string{"g711a.pcap", "dtmf_2833_1.pcap"} {
		f, err := os.Open(filepath.Join(dir, "pcap", capture))
		if err != nil {
			t.Fatal(err)
		}
		d, err := pcapfile.ReadUDP(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		sent += len(d)
	}
	if quality["packets_in"] != strconv.Itoa(sent) || quality["lost"] != "0" {
		t.Errorf("quality event %v: want all %d replayed packets in and none lost", quality, sent)
	}
	if tr.Call.AnsweredAt == nil || tr.Call.From == "" || !strings.Contains(tr.Call.To, "record") {
		t.Errorf("call record %+v lacks answer time, from or to", tr.Call)
	}
	if want := filepath.Join(n.dataDir, "recordings", tr.Call.ID+".wav"); tr.Call.RecordingPath != want {
		t.Fatalf("recording_path = %q, want %q", tr.Call.RecordingPath, want)
	}
	rec := decodeWAV(t, tr.Call.RecordingPath)
	secs := float64(len(rec.Samples)/rec.Channels) / float64(rec.SampleRate)
	caller := loudSeconds(rec.Samples, rec.Channels, 0)
	t.Logf("recording: %d channels, %.2f s, caller audible %.2f s, sent audible %.2f s", rec.Channels, secs, caller, loudSeconds(rec.Samples, rec.Channels, 1))
	if rec.Channels != 2 || rec.SampleRate != 8000 {
		t.Fatalf("recording format %+v, want 8 kHz stereo", rec.Format)
	}
	// uac_pcap: 8 s of PCMA (about 6.5 s of it speech), then the DTMF and a pause before BYE.
	if secs < 8 || secs > 12 {
		t.Errorf("recording lasts %.2f s, want the call's ~9-10 s", secs)
	}
	if caller < 6 || caller > 8.2 {
		t.Errorf("caller channel holds %.2f s of audible audio, want the capture's ~6.5 s", caller)
	}
	if msg == "" {
		t.Fatal("no message event for the record extension")
	}
	if m := decodeWAV(t, msg); loudSeconds(m.Samples, 1, 0) < 6 {
		t.Errorf("recorded message %s holds %.2f s of audible audio", msg, loudSeconds(m.Samples, 1, 0))
	}
}

// TestServeBaresipHearsPlayback: baresip calls `playback`; what it decoded
// holds the synthesized prompt (audible, the prompt's length).
func TestServeBaresipHearsPlayback(t *testing.T) {
	bin := requirePeer(t, "baresip")
	requirePeer(t, "flite")
	n := startSIPNode(t, nil)
	prompt, err := media.LoadPrompt(filepath.Join(n.dataDir, "prompts", "playback.wav"))
	if err != nil {
		t.Fatal(err)
	}
	dumps := t.TempDir()
	conf := baresipConfig(t, dumps, "<sip:caller@127.0.0.1>;regint=0")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	promptSecs := float64(len(prompt)) * audio.FrameDurationMs / 1000
	cmd := exec.CommandContext(ctx, bin, "-f", conf, "-e", "/dial sip:playback@127.0.0.1:"+strconv.Itoa(n.sipPort), "-t", strconv.Itoa(int(promptSecs)+4))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("baresip: %v\n%s", err, out.String())
	}
	decoded, _ := filepath.Glob(filepath.Join(dumps, "*dec*.wav"))
	if len(decoded) != 1 {
		all, _ := filepath.Glob(filepath.Join(dumps, "*"))
		t.Fatalf("baresip wrote %v, want one decoded dump\n%s", all, out.String())
	}
	heard := decodeWAV(t, decoded[0])
	pcm, err := audio.Resample(heard.Mono(), heard.SampleRate, audio.SampleRate)
	if err != nil {
		t.Fatal(err)
	}
	want, got := loudSeconds(audio.Samples(prompt), 1, 0), loudSeconds(pcm, 1, 0)
	t.Logf("prompt %.2f s (%.2f s audible); baresip decoded %.2f s (%.2f s audible)", promptSecs, want, float64(len(pcm))/8000, got)
	if want < 2 {
		t.Fatalf("the synthesized prompt has only %.2f s of audible audio", want)
	}
	if got < want*0.9 || got > want*1.1 {
		t.Fatalf("baresip heard %.2f s of audio, the prompt has %.2f s", got, want)
	}
	tr := n.endedCall(t, 10*time.Second)
	if last := tr.Events[len(tr.Events)-1]; last.Type != "hangup" || last.By != "system" {
		t.Errorf("last event %+v, want the gateway hanging up after the prompt", last)
	}
}

// baresipConfig writes a baresip config folder that dumps decoded audio into dumps.
func baresipConfig(t *testing.T, dumps, account string, extra ...string) string {
	t.Helper()
	return baresipConfigWith(t, "aubridge,src", dumps, account, extra...)
}

// baresipConfigWith is baresipConfig with source as the microphone (e.g. "aufile,speech.wav").
func baresipConfigWith(t *testing.T, source, dumps, account string, extra ...string) string {
	t.Helper()
	conf := t.TempDir()
	lines := append([]string{
		"module_path /usr/lib/baresip/modules",
		"sip_listen 127.0.0.1:" + strconv.Itoa(freeUDP(t)),
		"net_interface 127.0.0.1",
		"audio_source " + source,
		"audio_player aubridge,sink",
		"audio_alert aubridge,sink",
		"rtp_ports 40000-40999",
		"snd_path " + dumps,
		"module stdio.so",
		"module g711.so",
		"module aufile.so",
		"module aubridge.so",
		"module sndfile.so",
		"module_app account.so",
		"module_app menu.so",
	}, extra...)
	if err := os.WriteFile(filepath.Join(conf, "config"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "accounts"), []byte(account+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// TestServeAgentBridgeHoldMute: an agent's baresip phone registers with
// digest auth as extension 1001 and auto-answers; SIPp's uac_pcap calls
// 1001, the dialplan rings the phone and bridges it. While the call is up
// the test holds and mutes through "agent.legs"; the caller's recording
// holds the agent's speech, and the call's events are bridged, hold,
// resume, mute, unmute and the caller's hang-up, which also ends the agent's leg.
func TestServeAgentBridgeHoldMute(t *testing.T) {
	bin := requirePeer(t, "baresip")
	requirePeer(t, "sipp")
	dir := requireData(t, "sipp")
	speech := requireData(t, "asr/osr-harvard-8k/OSR_us_000_0034_8k.wav")
	legsc := make(chan *dialplan.AgentLegs, 1)
	sipStartedHook = func(l *dialplan.AgentLegs) { legsc <- l }
	t.Cleanup(func() { sipStartedHook = nil })
	n := startSIPNode(t, func(c *Config) { c.SIPAgentPasswords = []string{"1001=pw-1001"} })
	legs := <-legsc

	body := `{"id":"ag-1","name":"Ada","extension":"1001","skills":[],"languages":["en"],"capacity":1}`
	res, err := http.Post(n.base+"/api/v1/agents", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		t.Fatalf("create agent: %d", res.StatusCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	account := fmt.Sprintf("<sip:1001@127.0.0.1:%d>;auth_pass=pw-1001;answermode=auto;regint=300", n.sipPort)
	phone := exec.CommandContext(ctx, bin, "-f", baresipConfigWith(t, "aufile,"+speech, t.TempDir(), account))
	var phoneOut bytes.Buffer
	phone.Stdout, phone.Stderr = &phoneOut, &phoneOut
	if err := phone.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = phone.Process.Kill(); _ = phone.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for !legs.Registered(ctx, "ag-1") {
		if time.Now().After(deadline) {
			t.Fatalf("the agent's phone did not register\n%s", phoneOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	sippDone := make(chan string, 1)
	go func() { sippDone <- runSIPp(t, dir, n, "-sn", "uac_pcap", "-s", "1001", "-m", "1", "-r", "1") }()
	var bridge *dialplan.AgentBridge
	for bridge == nil {
		var list httpapi.CallList
		if n.getJSON(t, "/api/v1/calls", &list) == http.StatusOK && len(list.Calls) == 1 {
			bridge = legs.Bridge(list.Calls[0].ID)
		}
		if ctx.Err() != nil {
			t.Fatalf("the call was not bridged\n%s", phoneOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	bridge.Hold(true)
	time.Sleep(time.Second)
	bridge.Hold(false)
	bridge.MuteAgent(true)
	time.Sleep(500 * time.Millisecond)
	bridge.MuteAgent(false)
	<-sippDone
	select {
	case <-bridge.Done():
	case <-ctx.Done():
		t.Fatal("bridge did not end after the caller hung up")
	}
	if bridge.EndedBy() != store.SpeakerCaller {
		t.Errorf("bridge ended by %q, want caller", bridge.EndedBy())
	}
	tr := n.endedCall(t, 10*time.Second)
	var kinds []string
	for _, e := range tr.Events {
		kinds = append(kinds, e.Type)
	}
	if got, want := strings.Join(kinds, ","), "answered,bridged,hold,resume,mute,unmute,dtmf,quality,hangup"; got != want {
		t.Errorf("events %s, want %s", got, want)
	}
	if tr.Call.AgentID != "ag-1" {
		t.Errorf("call agent_id = %q, want ag-1", tr.Call.AgentID)
	}
	rec := decodeWAV(t, tr.Call.RecordingPath)
	agentSecs := loudSeconds(rec.Samples, rec.Channels, 1)
	t.Logf("recording %.2f s: caller audible %.2f s, sent to the caller (agent + hold music) audible %.2f s",
		float64(len(rec.Samples)/2)/8000, loudSeconds(rec.Samples, rec.Channels, 0), agentSecs)
	if agentSecs < 4 {
		t.Errorf("the caller heard only %.2f s of the agent", agentSecs)
	}
}
