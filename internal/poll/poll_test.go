package poll

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitReturnsOnceTrue(t *testing.T) {
	var n atomic.Int32
	go func() {
		for n.Load() < 3 {
			n.Add(1)
		}
	}()
	if !Wait(10*time.Second, func() bool { return n.Load() >= 3 }) {
		t.Fatal("condition that became true was reported as timed out")
	}
}

func TestWaitTimesOut(t *testing.T) {
	start := time.Now()
	if Wait(30*time.Millisecond, func() bool { return false }) {
		t.Fatal("a condition that never holds was reported true")
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("gave up after %v, before the 30ms deadline", d)
	}
}

// fakeTB records a Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	msg string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.msg = format
}

func TestUntilFailsWithWhatItWaitedFor(t *testing.T) {
	f := &fakeTB{TB: t}
	Until(f, "the answer", 10*time.Millisecond, func() bool { return false })
	if f.msg == "" {
		t.Fatal("Until did not fail the test after its deadline")
	}
}
