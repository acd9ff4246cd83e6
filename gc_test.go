package main

import (
	"flag"
	"io"
	"math"
	"runtime/debug"
	"testing"
)

func gcFlagsFor(t *testing.T, env map[string]string, args ...string) *gcFlags {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := addGCFlags(fs, func(k string) string { return env[k] })
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestGCFlags: the node sets the collector from its flags (default 200 %
// and no soft limit), refuses nonsense, and leaves alone what GOGC
// and GOMEMLIMIT in the environment set.
func TestGCFlags(t *testing.T) {
	pct0 := debug.SetGCPercent(100)
	lim0 := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(pct0); debug.SetMemoryLimit(lim0) })
	readBack := func() (int, int64) {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p, debug.SetMemoryLimit(-1)
	}

	if err := gcFlagsFor(t, nil).apply(true); err != nil {
		t.Fatal(err)
	}
	if p, l := readBack(); p != 200 || l != math.MaxInt64 {
		t.Errorf("defaults set %d %%, limit %d; want 200 %%, none", p, l)
	}
	if err := gcFlagsFor(t, map[string]string{"WAEDGE_GC_PERCENT": "200"}, "--memory-limit", "1GiB").apply(true); err != nil {
		t.Fatal(err)
	}
	if p, l := readBack(); p != 200 || l != 1<<30 {
		t.Errorf("set %d %%, limit %d; want 200 %%, 1 GiB", p, l)
	}
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(300 << 20)
	if err := gcFlagsFor(t, map[string]string{"GOGC": "150", "GOMEMLIMIT": "300MiB"}).apply(true); err != nil {
		t.Fatal(err)
	}
	if p, l := readBack(); p != 150 || l != 300<<20 {
		t.Errorf("with GOGC and GOMEMLIMIT set: %d %%, limit %d; want them untouched (150 %%, 300 MiB)", p, l)
	}
	if err := gcFlagsFor(t, nil, "--gc-percent", "500", "--memory-limit", "0").apply(false); err != nil {
		t.Fatal(err)
	}
	if p, l := readBack(); p != 150 || l != 300<<20 {
		t.Errorf("apply(false) changed the collector: %d %%, limit %d", p, l)
	}
	for _, args := range [][]string{{"--gc-percent", "x"}, {"--gc-percent", "10"}, {"--memory-limit", "1MiB"}, {"--memory-limit", "lots"}} {
		if err := gcFlagsFor(t, nil, args...).apply(false); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
