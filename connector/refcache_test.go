package connector

import (
	"strconv"
	"testing"
)

// countingRefs is a Sealer whose ConsumerRef counts its calls.
type countingRefs struct {
	Sealer
	calls int
}

func (c *countingRefs) ConsumerRef(phoneNumberID, waID string) string {
	c.calls++
	return phoneNumberID + "/" + waID
}

// TestRefCacheAnswersLikeTheSealer: the cache returns what the Sealer
// returns, computes each reference once, keeps numbers of different
// business numbers apart, and stays bounded.
func TestRefCacheAnswersLikeTheSealer(t *testing.T) {
	inner := &countingRefs{}
	c := newRefCache(inner)
	for range 3 {
		if got := c.ConsumerRef("p1", "491"); got != "p1/491" {
			t.Fatalf("ref %q", got)
		}
	}
	if got := c.ConsumerRef("p2", "491"); got != "p2/491" {
		t.Fatalf("ref of another business number %q", got)
	}
	if inner.calls != 2 {
		t.Fatalf("sealer asked %d times, want 2", inner.calls)
	}
	for i := range refCacheMax + 10 {
		c.ConsumerRef("p1", strconv.Itoa(i))
	}
	if n := len(c.refs); n > refCacheMax {
		t.Fatalf("cache holds %d entries, bound %d", n, refCacheMax)
	}
}
