// Package softphone holds the agent softphone module served at
// GET /static/softphone.js (a plain ES module, no build step).
package softphone

import _ "embed"

// JS is softphone.js: exports Softphone and the <parley-softphone> element.
//
//go:embed softphone.js
var JS []byte
