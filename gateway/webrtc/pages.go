package webrtc

import (
	"io/fs"
	"net/http"
	"path"

	"github.com/parley-cc/parley/web/call"
	"github.com/parley-cc/parley/web/softphone"
)

// Pages returns the gateway's HTTP handlers by mux pattern: the caller page,
// its assets and configuration, the softphone module and both WebSockets.
func (g *Gateway) Pages() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /call":                asset(call.Files, "index.html"),
		"GET /call/call.js":        asset(call.Files, "call.js"),
		"GET /call/call.css":       asset(call.Files, "call.css"),
		"GET /call/config":         http.HandlerFunc(g.serveConfig),
		"GET /call/ws":             http.HandlerFunc(g.ServeCaller),
		"GET /softphone/ws":        http.HandlerFunc(g.ServeAgent),
		"GET /static/softphone.js": bytesAsset("softphone.js", softphone.JS),
	}
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

func asset(files fs.FS, name string) http.Handler {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		panic("webrtc: embedded asset missing: " + name) // a build defect, caught by tests
	}
	return bytesAsset(name, b)
}

func bytesAsset(name string, b []byte) http.Handler {
	ct := contentTypes[path.Ext(name)]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(b)
	})
}
