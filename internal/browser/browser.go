// Package browser starts Debian's headless Chromium under chromedp for the
// end-to-end tests of Parley's web pages (the console, the caller page, the
// agent desktop, eval reports), with the flags that work on these machines.
package browser

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path is the Chromium binary the tests drive.
const Path = "/usr/bin/chromium"

// Options adjust a browser for one test.
type Options struct {
	// FakeAudio, when set, is the WAV the fake microphone plays.
	FakeAudio string
	// Timeout bounds the whole browser session; default 60 s.
	Timeout time.Duration
	// Flags are extra Chromium switches (name without "--" → value; "" or
	// true for a bare switch).
	Flags map[string]any
}

// New starts a headless Chromium for t and returns a chromedp context for
// it; everything is closed at the end of the test. Without Chromium the test
// is skipped, except under CI=true where that is a failure (.ci/run
// installs it).
func New(t testing.TB, o Options) context.Context {
	t.Helper()
	if _, err := exec.LookPath(Path); err != nil {
		msg := "chromium not installed (apt-get install -y chromium; deploy/install-deps.sh test does it)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
		chromedp.WindowSize(1280, 900),
	}
	if o.FakeAudio != "" {
		opts = append(opts, chromedp.Flag("use-file-for-fake-audio-capture", o.FakeAudio))
	}
	for k, v := range o.Flags {
		opts = append(opts, chromedp.Flag(k, v))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, o.Timeout)
	t.Cleanup(func() { cancelTimeout(); cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser now
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}
