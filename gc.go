package main

import (
	"flag"
	"fmt"
	"runtime/debug"
	"strconv"
)

// Go's garbage collector defaults (GOGC=100, no memory limit) collect
// each time the heap doubles. A node's live heap is small (tens of MB),
// so under load it collects several times a second: in CPU profiles of
// the three nodes at 512 senders the collector's mark workers and sweeper
// took 3–5.5 % of each node's CPU. The node therefore lets the heap grow to five
// times the live heap (about four times fewer collections), with a soft
// memory limit that makes it collect sooner when that would pass it — far
// below the ≤ 512 MB a node may use at load. Measured: peak anonymous
// memory at 512 senders 42–53 → 87–108 MB.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = "384MiB"
)

// gcFlags are serve's flags for the garbage collector.
type gcFlags struct {
	percent, limit *string
	getenv         func(string) string
}

func addGCFlags(fs *flag.FlagSet, getenv func(string) string) *gcFlags {
	return &gcFlags{
		percent: fs.String("gc-percent", envDefault(getenv, "gc-percent", strconv.Itoa(defaultGCPercent)),
			"heap growth over the live heap before Go collects garbage, in percent (Go's GOGC; the environment variable GOGC, when set, wins)"),
		limit: fs.String("memory-limit", envDefault(getenv, "memory-limit", defaultMemoryLimit),
			"soft limit of the Go heap: the collector runs sooner rather than let it pass this, e.g. 384MiB (Go's GOMEMLIMIT; the environment variable GOMEMLIMIT, when set, wins; 0: none)"),
		getenv: getenv,
	}
}

// apply checks the flags and, with set, sets the collector, leaving alone
// what the GOGC and GOMEMLIMIT environment variables already set.
func (f *gcFlags) apply(set bool) error {
	pct, err := strconv.Atoi(*f.percent)
	if err != nil || pct < 25 || pct > 10000 {
		return fmt.Errorf("--gc-percent %q: want a whole number from 25 to 10000", *f.percent)
	}
	limit, err := parseSize(*f.limit)
	if err != nil || (limit != 0 && limit < 64<<20) {
		return fmt.Errorf("--memory-limit %q: want a size of at least 64MiB, e.g. 256MiB, or 0 for none", *f.limit)
	}
	if !set {
		return nil
	}
	if f.getenv("GOGC") == "" {
		debug.SetGCPercent(pct)
	}
	if f.getenv("GOMEMLIMIT") == "" && limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	return nil
}
