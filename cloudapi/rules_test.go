package cloudapi

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)

func TestServiceWindow(t *testing.T) {
	for _, tc := range []struct {
		name     string
		last     time.Time
		template bool
		want     error
	}{
		{"just wrote", t0.Add(-time.Minute), false, nil},
		{"exactly 24h", t0.Add(-24 * time.Hour), false, nil},
		{"24h and a second", t0.Add(-24*time.Hour - time.Second), false, ErrReEngagement},
		{"never wrote", time.Time{}, false, ErrReEngagement},
		{"never wrote, template", time.Time{}, true, nil},
		{"closed, template", t0.Add(-48 * time.Hour), true, nil},
		{"clock skew: last in the future", t0.Add(time.Minute), false, nil},
	} {
		err := CheckServiceWindow(t0, tc.last, tc.template)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if e := ErrReEngagement; e.Code != 131047 || e.Status != 400 {
		t.Errorf("131047 template %+v", e)
	}
}

func TestCheckRecipient(t *testing.T) {
	for _, tc := range []struct {
		sender, to string
		same       bool
	}{
		{"+1 555-000-1000", "15550001000", true},
		{"15550001000", "+1 (555) 000-1000", true},
		{"15550001000", "15550001001", false},
		{"", "", false},
	} {
		err := CheckRecipient(tc.sender, tc.to)
		if errors.Is(err, ErrRecipientIsSender) != tc.same || (!tc.same && err != nil) {
			t.Errorf("%q → %q: %v", tc.sender, tc.to, err)
		}
	}
}

func TestThroughputLimiter(t *testing.T) {
	l := NewThroughputLimiter(0)
	admitted := 0
	for range 100 {
		if l.Allow("pn1", t0) == nil {
			admitted++
		}
	}
	if admitted != DefaultThroughput {
		t.Fatalf("admitted %d in one instant, want %d", admitted, DefaultThroughput)
	}
	if err := l.Allow("pn1", t0); !errors.Is(err, ErrThroughput) || ErrThroughput.Code != 130429 {
		t.Fatalf("over the limit: %v", err)
	}
	if err := l.Allow("pn2", t0); err != nil {
		t.Fatalf("another number: %v", err)
	}
	// One interval later (1/80 s) exactly one more message fits.
	later := t0.Add(time.Second / DefaultThroughput)
	if err := l.Allow("pn1", later); err != nil {
		t.Fatalf("after refill: %v", err)
	}
	if err := l.Allow("pn1", later); err == nil {
		t.Fatal("refill gave more than one token")
	}
	// A second later the full burst is back.
	admitted = 0
	for range 100 {
		if l.Allow("pn1", later.Add(time.Second)) == nil {
			admitted++
		}
	}
	if admitted != DefaultThroughput {
		t.Fatalf("after a second: %d", admitted)
	}
	// A time in the past does not refill.
	if err := l.Allow("pn1", t0); err == nil {
		t.Fatal("going back in time refilled")
	}
}

func TestThroughputSetLimit(t *testing.T) {
	for _, tc := range []struct {
		mps  float64
		want int
	}{
		{3, 3}, {1000, 1000}, {0.5, 1}, {2.5, 3}, {-1, DefaultThroughput},
	} {
		l := NewThroughputLimiter(0)
		l.SetLimit("pn", tc.mps)
		n := 0
		for range 2000 {
			if l.Allow("pn", t0) == nil {
				n++
			}
		}
		if n != tc.want {
			t.Errorf("mps %v: admitted %d in an instant, want %d", tc.mps, n, tc.want)
		}
	}
	l := NewThroughputLimiter(10)
	l.SetLimit("pn", 2)
	l.SetLimit("pn", 0) // back to the limiter's default
	n := 0
	for range 50 {
		if l.Allow("pn", t0) == nil {
			n++
		}
	}
	if n != 10 {
		t.Errorf("default restored: %d", n)
	}
}

func TestPairLimiter(t *testing.T) {
	l := NewPairLimiter(0, 0)
	for i := range DefaultPairBurst {
		if err := l.Allow("pn", "c1", t0); err != nil {
			t.Fatalf("burst message %d: %v", i, err)
		}
	}
	if err := l.Allow("pn", "c1", t0); !errors.Is(err, ErrPairRateLimit) || ErrPairRateLimit.Code != 131056 {
		t.Fatalf("after the burst: %v", err)
	}
	if err := l.Allow("pn", "c2", t0); err != nil {
		t.Fatalf("other consumer: %v", err)
	}
	if err := l.Allow("pn2", "c1", t0); err != nil {
		t.Fatalf("other number: %v", err)
	}
	if err := l.Allow("pn", "c1", t0.Add(DefaultPairInterval-time.Millisecond)); err == nil {
		t.Fatal("admitted before the interval")
	}
	if err := l.Allow("pn", "c1", t0.Add(DefaultPairInterval)); err != nil {
		t.Fatalf("after one interval: %v", err)
	}
	if err := l.Allow("pn", "c1", t0.Add(DefaultPairInterval)); err == nil {
		t.Fatal("two after one interval")
	}
	// Sustained pace: one per interval is always admitted.
	l2 := NewPairLimiter(time.Second, 1)
	for i := range 10 {
		if err := l2.Allow("pn", "c", t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatalf("paced message %d: %v", i, err)
		}
	}
}

func TestPairLimiterForgetsIdlePairs(t *testing.T) {
	l := NewPairLimiter(time.Second, 2)
	for i := range 3 * minPairSweep {
		if err := l.Allow("pn", fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.Len(); n >= minPairSweep {
		t.Fatalf("%d pairs remembered", n)
	}
	// A forgotten pair starts with a full burst, exactly like a remembered idle one.
	for range 2 {
		if err := l.Allow("pn", "0", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Allow("pn", "0", t0.Add(time.Hour)); err == nil {
		t.Fatal("third message in the burst admitted")
	}
}

func TestLimitersConcurrent(t *testing.T) {
	tl := NewThroughputLimiter(50)
	pl := NewPairLimiter(time.Minute, 7)
	var ok, pairOK atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if tl.Allow("pn", t0) == nil {
					ok.Add(1)
				}
				if pl.Allow("pn", "c", t0) == nil {
					pairOK.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != 50 || pairOK.Load() != 7 {
		t.Fatalf("admitted %d and %d, want 50 and 7", ok.Load(), pairOK.Load())
	}
}
