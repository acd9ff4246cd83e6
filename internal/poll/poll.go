// Package poll waits in tests for a condition that another goroutine or
// process makes true, by asking again until a deadline.
//
// Tests in this repository never sleep to synchronise; they poll the state
// they expect with a deadline, and fail with what they were waiting for.
// Every package's tests use this one helper so that the interval, the
// failure message and the deadline semantics are the same everywhere.
package poll

import (
	"testing"
	"time"
)

// Interval is how long Until waits between two checks.
const Interval = 5 * time.Millisecond

// Until calls cond every Interval until it returns true, and fails t with
// "timed out after <timeout> waiting for <what>" once timeout has passed.
func Until(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	if !Wait(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// Wait calls cond every Interval until it returns true (true) or timeout
// has passed (false). For callers that report the failure themselves.
func Wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}
