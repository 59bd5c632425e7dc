// Package call holds the caller page served at GET /call: plain HTML and
// JavaScript, no build step.
package call

import "embed"

// Files are index.html, call.js and call.css.
//
//go:embed index.html call.js call.css
var Files embed.FS
