package main

import (
	"context"
	"net/http"

	"github.com/parley-cc/parley/web"
)

// The operator console at /: calls with transcripts and recordings, queues,
// agents, knowledge search, eval runs and node health, all read from the API.
func init() {
	registerComponent(component{name: "web console", order: orderWeb, start: func(context.Context, *nodeEnv) (*running, error) {
		h := web.Console()
		return &running{Pages: map[string]http.Handler{"GET /{$}": h, "GET /console/": h}}, nil
	}})
}
