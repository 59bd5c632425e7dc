package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/parley-cc/parley/internal/browser"
)

// The operator console of a real node, in headless Chromium: the live
// queue and agent views read the routing API of the demo deployment.
func TestConsoleShowsLiveQueuesAndAgents(t *testing.T) {
	n := startSIPNode(t, func(c *Config) { c.Demo = true })
	b := browser.New(t, browser.Options{})
	if err := chromedp.Do(b,
		chromedp.Navigate(n.base+"/#queues"),
		chromedp.WaitVisible(`#live-queues tbody tr td:nth-child(2)`),
		chromedp.WaitVisible(`#live-agents tbody tr td:nth-child(2)`),
	); err != nil {
		t.Fatal(err)
	}
	queues, err := chromedp.Run(b, chromedp.Text(`#live-queues tbody`))
	if err != nil {
		t.Fatal(err)
	}
	agents, err := chromedp.Run(b, chromedp.Text(`#live-agents tbody`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("live queues:\n%s\nlive agents:\n%s", queues, agents)
	if !strings.Contains(queues, "support") || !strings.Contains(queues, "billing") {
		t.Errorf("live queues lack the demo's support and billing queues:\n%s", queues)
	}
	if !strings.Contains(agents, "alice") || !strings.Contains(agents, "logged_out") && !strings.Contains(agents, "offline") {
		t.Errorf("live agents lack alice and her state:\n%s", agents)
	}
}
