// Package web serves Parley's operator console: one page, no build step,
// that reads the REST API (calls with transcripts and recordings, agents,
// queues, the knowledge base, eval runs, node health).
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed console
var console embed.FS

// Console serves the console's files under /console/ and its page at /.
func Console() http.Handler {
	sub, _ := fs.Sub(console, "console") // the folder is embedded above
	files := http.FileServerFS(sub)
	mux := http.NewServeMux()
	mux.Handle("GET /console/", http.StripPrefix("/console/", noSniff(files)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, sub, "index.html")
	})
	return mux
}

func noSniff(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}
