// Package dunlin embeds the files at the repository root that the Go code
// reads at run time: the SAM template, whose table definition the local stack
// and the tests create their tables from.
package dunlin

import _ "embed"

// Template is template.yaml, the single source of truth for infrastructure.
//
//go:embed template.yaml
var Template []byte
