package main

import (
	"flag"
	"fmt"
	"runtime/debug"
	"strconv"
)

// Go's garbage collector defaults (GOGC=100, no memory limit) collect
// each time the heap doubles. A node's live heap is small (tens of MB at
// 512 senders, ~140 MB with a million consumers in the in-memory
// indexes), so under load it collects several times a second: in CPU
// profiles of the three nodes at 512 senders the collector's mark workers
// and sweeper took 3–5.5 % of each node's CPU. The node therefore lets the
// heap grow to three times the live heap (half as many collections).
//
// No soft memory limit by default: with 400 % and a 384 MiB limit, the
// 1M-message expiry bench ran its heap into the limit, where the collector
// and the scavenger run nearly continuously — expiry took 131 s instead of
// 68 s at 63 instead of 13 µs of CPU per record. At 200 % without a limit
// the same run expired 1M in 54 s with a peak of 411 MB anonymous memory,
// inside the ≤ 512 MB a node may use at load. An operator with a larger
// state can set --memory-limit (or GOMEMLIMIT).
const (
	defaultGCPercent   = 200
	defaultMemoryLimit = "0"
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
			"soft limit of the Go heap: the collector runs sooner rather than let it pass this, e.g. 448MiB (Go's GOMEMLIMIT; the environment variable GOMEMLIMIT, when set, wins; 0: none)"),
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
