// Package embed carries the admin console's static files inside the
// binary, so `go build` alone produces the whole product (no Node build).
package embed

import (
	stdembed "embed"
	"io/fs"
)

//go:embed all:dist
var dist stdembed.FS

// Console returns the console's files, rooted at dist/.
func Console() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is compiled in; this cannot fail
	}
	return sub
}
