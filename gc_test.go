package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestTuneGC: serve's collector defaults apply only when the operator set
// neither GOGC nor GOMEMLIMIT.
func TestTuneGC(t *testing.T) {
	prevPercent := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(prevPercent); debug.SetMemoryLimit(prevLimit) })

	for _, env := range []map[string]string{{"GOGC": "50"}, {"GOMEMLIMIT": "1GiB"}} {
		if tuneGC(func(k string) string { return env[k] }) {
			t.Errorf("%v: tuned over the operator's setting", env)
		}
		if p, l := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1); p != 100 || l != math.MaxInt64 {
			t.Errorf("%v: GOGC %d, limit %d changed", env, p, l)
		}
		debug.SetGCPercent(100)
	}
	if !tuneGC(func(string) string { return "" }) {
		t.Fatal("not tuned with nothing set")
	}
	if p, l := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1); p != serveGCPercent || l != serveMemoryLimit {
		t.Errorf("GOGC %d, limit %d; want %d, %d", p, l, serveGCPercent, serveMemoryLimit)
	}
}
