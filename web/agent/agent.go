// Package agentweb is the agent desktop page served at GET /agent: plain
// HTML and JavaScript over the desktop WebSocket /ws/agent (routing/desk)
// with the WebRTC softphone from /static/softphone.js when the node serves it.
package agentweb

import (
	_ "embed"
	"net/http"
)

//go:embed index.html
var index []byte

// Page serves the desktop; ?agent=ID (and ?token= when tokens are set)
// choose the agent.
func Page() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; media-src 'self' blob:")
		_, _ = w.Write(index)
	})
}
