package main

import (
	"encoding/json"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	httpapi "github.com/parley-cc/parley/gateway/http"
	"github.com/parley-cc/parley/gateway/rtp/audio"
	"github.com/parley-cc/parley/gateway/rtp/wav"
	"github.com/parley-cc/parley/internal/browser"
	"github.com/parley-cc/parley/internal/shareddata"
)

// webrtcSpeech is the WAV the fake microphone plays (looped by Chromium).
var webrtcSpeech = []string{"asr", "librispeech-arm", "i_tell_you.wav"}

// tapJS records, in the caller page, the 20 ms RMS envelope of the
// microphone (what the browser sends) and of the remote track (what Parley
// sends back) through one WebAudio graph at 8 kHz, so both share a clock.
var tapJS = tapStreams("window.parleyCall.localStream", "window.parleyCall.remoteStream")

// tapStreams is tapJS for any two MediaStream expressions of a page; the
// envelopes are read from window.parleyEnv.
func tapStreams(local, remote string) string {
	return `(() => {
  const ctx = new AudioContext({ sampleRate: 8000 });
  const merger = ctx.createChannelMerger(2);
  ctx.createMediaStreamSource(` + local + `).connect(merger, 0, 0);
  ctx.createMediaStreamSource(` + remote + `).connect(merger, 0, 1);
  const proc = ctx.createScriptProcessor(1024, 2, 1);
  const env = { local: [], remote: [], acc: [0, 0], n: 0, rate: ctx.sampleRate };
  proc.onaudioprocess = (e) => {
    const a = e.inputBuffer.getChannelData(0), b = e.inputBuffer.getChannelData(1);
    const per = Math.round(env.rate / 50);
    for (let i = 0; i < a.length; i++) {
      env.acc[0] += a[i] * a[i]; env.acc[1] += b[i] * b[i];
      if (++env.n === per) {
        env.local.push(Math.sqrt(env.acc[0] / per)); env.remote.push(Math.sqrt(env.acc[1] / per));
        env.acc = [0, 0]; env.n = 0;
      }
    }
  };
  merger.connect(proc);
  proc.connect(ctx.destination);
  window.parleyEnv = env;
  ctx.resume();
  return ctx.sampleRate;
})()`
}

// TestBrowserCallsEcho is the must-show browser test: headless Chromium,
// its fake microphone playing a LibriSpeech clip, loads /call from parley
// serve, calls echo over WebRTC and hears its own speech back; the page's
// keypad sends RFC 4733 keys and the Call grain records the call.
func TestBrowserCallsEcho(t *testing.T) {
	speech := shareddata.Path(t, webrtcSpeech...)
	bctx := browser.New(t, browser.Options{FakeAudio: speech, Timeout: 90 * time.Second})

	base := startSIPNode(t, func(cfg *Config) {
		cfg.WebRTCLoopback = true
		cfg.ShutdownTimeout = 10 * time.Second
	}).base

	err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/call?extension=echo"),
		chromedp.Poll[chromedp.Void](`window.parleyReady === true`, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Click("#call"),
		chromedp.Poll[chromedp.Void](`window.parleyCall && (window.parleyCall.state === "in call" || window.parleyCall.errors.length > 0)`, chromedp.WithPollingTimeout(20*time.Second)),
	)
	if err != nil {
		t.Fatalf("call echo from the page: %v", err)
	}
	state, err := chromedp.Run(bctx, chromedp.Evaluate[string](`window.parleyCall.state + " " + JSON.stringify(window.parleyCall.errors)`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(state, "in call") {
		t.Fatalf("page state %q", state)
	}
	rate, err := chromedp.Run(bctx, chromedp.Evaluate[float64](tapJS))
	if err != nil {
		t.Fatalf("tap audio: %v", err)
	}
	time.Sleep(8 * time.Second)
	type envelopes struct{ Local, Remote []float64 }
	env, err := chromedp.Run(bctx, chromedp.Evaluate[envelopes](`({local: window.parleyEnv.local, remote: window.parleyEnv.remote})`))
	if err != nil {
		t.Fatal(err)
	}
	callID, err := chromedp.Run(bctx, chromedp.Evaluate[string](`window.parleyCall.callId`))
	if err != nil {
		t.Fatal(err)
	}
	n := min(len(env.Local), len(env.Remote))
	if n < 200 {
		t.Fatalf("only %d envelope frames recorded in the page (context rate %.0f)", n, rate)
	}
	// A 60 ms moving average keeps the comparison to the speech's syllables,
	// not to the browser's playout time-stretching.
	local, remote := smooth(env.Local[:n], 3), smooth(env.Remote[:n], 3)
	lag, r := bestLag(local, remote, 75)
	t.Logf("page heard %d ms: mic level %.4f rms, echo level %.4f rms", n*20, mean(local), mean(remote))
	t.Logf("round trip (browser mic -> parley echo -> browser speaker path): %d ms, envelope correlation %.3f", lag*20, r)
	if mean(remote) < 0.1*mean(local) {
		t.Fatalf("the echo is nearly silent: %.5f vs mic %.5f", mean(remote), mean(local))
	}
	if r < 0.6 {
		t.Fatalf("what came back does not follow what was sent: best correlation %.3f at %d ms", r, lag*20)
	}
	// What came back is the WAV's speech, not just any sound.
	fileEnv := smooth(wavEnvelope(t, speech), 3)
	fr := bestCircular(fileEnv, remote)
	t.Logf("echo vs %s: envelope correlation %.3f (mic vs file %.3f)", webrtcSpeech[len(webrtcSpeech)-1], fr, bestCircular(fileEnv, local))
	if fr < 0.6 {
		t.Fatalf("echoed audio does not match the WAV the microphone plays: correlation %.3f", fr)
	}

	// Keys from the page's keypad, then hang up from the page.
	if err := chromedp.Do(bctx,
		chromedp.Click(`#keypad button[data-digit="5"]`),
		chromedp.Sleep(400*time.Millisecond),
		chromedp.Click(`#keypad button[data-digit="#"]`),
		chromedp.Sleep(600*time.Millisecond),
		chromedp.Click("#hangup"),
	); err != nil {
		t.Fatal(err)
	}
	var tr httpapi.CallTranscript
	deadline := time.Now().Add(10 * time.Second)
	for {
		tr = httpapi.CallTranscript{}
		resp, err := http.Get(base + "/api/v1/calls/" + callID)
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&tr)
			resp.Body.Close()
		}
		if tr.Call.State == "ended" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var got []string
	for _, e := range tr.Events {
		s := e.Type + ":" + e.By
		if e.Type == "dtmf" {
			s += ":" + e.Data["digit"] + "/" + e.Data["source"]
		}
		got = append(got, s)
	}
	t.Logf("call %s: channel %s, state %s, recording %s, events %v", callID, tr.Call.Channel, tr.Call.State, tr.Call.RecordingPath, got)
	want := "recording:system answered:system dtmf:caller:5/rfc4733 dtmf:caller:#/rfc4733 hangup:caller"
	if tr.Call.Channel != "webrtc" || tr.Call.To != "echo" || tr.Call.State != "ended" || strings.Join(got, " ") != want {
		t.Fatalf("call record %+v events %v; want channel webrtc to echo, ended, events %s", tr.Call, got, want)
	}
	if st, err := os.Stat(tr.Call.RecordingPath); err != nil || st.Size() < 8000*2*2*5 {
		t.Fatalf("recording %s: %v (want at least 5 s of stereo)", tr.Call.RecordingPath, err)
	}
}

// wavEnvelope is the 20 ms RMS envelope (full scale 1) of a WAV at 8 kHz.
func wavEnvelope(t *testing.T, path string) []float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := wav.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := audio.Resample(a.Mono(), a.SampleRate, audio.SampleRate)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(pcm)/audio.FrameSamples)
	for i := range out {
		var s float64
		for _, v := range pcm[i*audio.FrameSamples : (i+1)*audio.FrameSamples] {
			x := float64(v) / 32768
			s += x * x
		}
		out[i] = math.Sqrt(s / audio.FrameSamples)
	}
	return out
}

// bestCircular correlates the looped file envelope with a received one at
// every phase and returns the best Pearson correlation.
func bestCircular(file, got []float64) float64 {
	best := -1.0
	p := len(file)
	for phase := 0; phase < p; phase++ {
		ref := make([]float64, len(got))
		for i := range ref {
			ref[i] = file[(phase+i)%p]
		}
		if r := pearson(ref, got); r > best {
			best = r
		}
	}
	return best
}

// bestLag finds the delay in frames (0..maxLag) at which b best follows a.
func bestLag(a, b []float64, maxLag int) (int, float64) {
	best, bestR := 0, -2.0
	for lag := 0; lag <= maxLag && len(b)-lag > 10; lag++ {
		n := min(len(a), len(b)-lag)
		if r := pearson(a[:n], b[lag:lag+n]); r > bestR {
			best, bestR = lag, r
		}
	}
	return best, bestR
}

func pearson(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// smooth is a moving average over w frames.
func smooth(x []float64, w int) []float64 {
	out := make([]float64, len(x))
	for i := range x {
		var s float64
		n := 0
		for j := max(0, i-w+1); j <= i; j++ {
			s += x[j]
			n++
		}
		out[i] = s / float64(n)
	}
	return out
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / math.Max(1, float64(len(x)))
}
