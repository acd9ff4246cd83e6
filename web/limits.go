package web

import (
	"sync"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/raftfsm"
)

// Default platform limits (docs/cloud-api.md §7).
const (
	defaultMPS           = 80 // messages per second per business number
	defaultPairPerMinute = 10 // ≈ one message per 6 s to one consumer, bursts tolerated
	pairBurst            = 5
	maxPairBuckets       = 1 << 16
)

// bucket is a token bucket.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time, rate, burst float64) bool {
	if b.last.IsZero() {
		b.tokens = burst
	} else {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// limiter enforces the per-number throughput and per-pair rate. Each node
// admits its share (limit ÷ cluster size): requests reach any node, so the
// cluster as a whole admits about the configured limit without a
// replicated counter on the hot path.
type limiter struct {
	mu      sync.Mutex
	numbers map[string]*bucket
	pairs   map[string]*bucket
}

func newLimiter() *limiter {
	return &limiter{numbers: map[string]*bucket{}, pairs: map[string]*bucket{}}
}

// allow checks both limits for one message; share is this node's fraction.
func (l *limiter) allow(p raftfsm.Phone, waID string, now time.Time, share float64) error {
	mps := float64(p.ThroughputMPS)
	if mps == 0 {
		mps = defaultMPS
	}
	ppm := float64(p.PairPerMinute)
	if ppm == 0 {
		ppm = defaultPairPerMinute
	}
	mps *= share
	pairRate := ppm / 60 * share
	l.mu.Lock()
	defer l.mu.Unlock()
	pk := p.ID + "/" + waID
	pb := l.pairs[pk]
	if pb == nil {
		if len(l.pairs) >= maxPairBuckets {
			for k, b := range l.pairs { // drop idle buckets (they would be full anyway)
				if now.Sub(b.last) > time.Minute {
					delete(l.pairs, k)
				}
			}
		}
		pb = &bucket{}
		l.pairs[pk] = pb
	}
	nb := l.numbers[p.ID]
	if nb == nil {
		nb = &bucket{}
		l.numbers[p.ID] = nb
	}
	// Check the pair first without spending the number's token on a refusal.
	probe := *pb
	// The burst is five messages, or one second's worth when the pair rate
	// is configured higher.
	if !probe.take(now, pairRate, max(1, max(pairBurst, ppm/60)*share)) {
		*pb = probe
		return cloudapi.ErrPairRateLimit
	}
	if !nb.take(now, mps, max(1, mps)) {
		return cloudapi.ErrThroughput
	}
	*pb = probe
	return nil
}
