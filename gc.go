package main

import (
	"runtime/debug"
)

// Collector settings of `waedge serve` when the operator sets neither GOGC
// nor GOMEMLIMIT. The live heap of a node is small (tens of MB at 512
// senders, ~200 MB with a million consumers in the in-memory indexes), and
// at the default GOGC 100 the collector ran a full cycle every time the
// heap doubled — 4–5 % of a node's CPU under load, with mallocgc's assists
// on top. GOGC 200 collects half as often; the soft limit makes it collect
// sooner again as the heap nears it, which keeps a node inside the memory
// goal (≤ 512 MB at load) where GOGC alone would let a 200 MB live heap
// grow to 600 MB.
const (
	serveGCPercent   = 200
	serveMemoryLimit = 448 << 20
)

// tuneGC applies the serve defaults above unless GOGC or GOMEMLIMIT is set
// in the environment (the runtime has then applied the operator's choice);
// it reports whether it changed anything.
func tuneGC(getenv func(string) string) bool {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return false
	}
	debug.SetGCPercent(serveGCPercent)
	debug.SetMemoryLimit(serveMemoryLimit)
	return true
}
