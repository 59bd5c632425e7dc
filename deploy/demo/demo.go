// Package demo ships the demo deployment (Lumen Fibre: intents, flows, an
// IVR menu and help articles) inside the parley binary, so `parley serve`
// and `parley chat` work from any directory.
package demo

import "embed"

// FS holds deployment.yaml, the other YAML files and kb/*.md.
//
//go:embed *.yaml kb/*.md
var FS embed.FS

// Source names the embedded deployment in messages.
const Source = "deploy/demo"
