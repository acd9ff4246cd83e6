package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestServeRejectsBadRaftTimeouts(t *testing.T) {
	for _, args := range [][]string{
		{"--raft-heartbeat-timeout", "soon"},
		{"--raft-election-timeout", "1ms"},
		{"--raft-lease-timeout", "-5s"},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"serve", "--data-dir", t.TempDir()}, args...), &out, &errb, func(string) string { return "" })
		if code != 2 || !strings.Contains(errb.String(), args[0]) {
			t.Errorf("%q: exit %d, stderr %q: want 2 naming the flag", args, code, errb.String())
		}
	}
	// The environment sets them too.
	var out, errb bytes.Buffer
	env := func(k string) string {
		if k == "WAEDGE_RAFT_ELECTION_TIMEOUT" {
			return "2ms"
		}
		return ""
	}
	if code := run([]string{"serve", "--data-dir", t.TempDir()}, &out, &errb, env); code != 2 || !strings.Contains(errb.String(), "raft-election-timeout") {
		t.Errorf("WAEDGE_RAFT_ELECTION_TIMEOUT=2ms: exit %d, stderr %q", code, errb.String())
	}
}

// TestServeRejectsBadCommitPathFlags: the commit-path knobs refuse values
// Raft or the batcher cannot run with, naming the flag, before anything
// starts.
func TestServeRejectsBadCommitPathFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--propose-in-flight", "0"},
		{"--raft-pipeline-depth", "many"},
		{"--raft-log-cache", "-1"},
		{"--raft-commit-timeout", "500us"},
		{"--raft-commit-timeout", "2s"},
		{"--gc-percent", "5"},
		{"--memory-limit", "1MiB"},
		{"--fsm-checkpoint-bytes", "4KiB"},
		{"--fsm-checkpoint-bytes", "lots"},
		{"--expiry-yield", "-1"},
		{"--expiry-yield", "101"},
		{"--expiry-yield", "NaN"},
	} {
		serveRefuses(t, args)
	}
}

// serveRefuses checks that serve exits 2 with args, naming the flag args[0].
func serveRefuses(t *testing.T, args []string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"serve", "--data-dir", t.TempDir()}, args...), &out, &errb, func(string) string { return "" })
	if code != 2 || !strings.Contains(errb.String(), args[0]) {
		t.Errorf("%q: exit %d, stderr %q: want 2 naming the flag", args, code, errb.String())
	}
}

// --expiry-yield 0 means no pause, which retention.Config spells as a
// negative Yield (its zero is "the default").
func TestExpiryYieldFlag(t *testing.T) {
	for v, want := range map[string]float64{"0": -1, "3": 3, "0.5": 0.5, "100": 100} {
		if got, err := parseExpiryYield(v); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", v, got, err, want)
		}
	}
}
