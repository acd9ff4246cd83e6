package relay

import (
	"sync"
	"time"
)

// Prekey bundle rate limits (token buckets; see DESIGN.md "Prekey bundles").
//
// A device (keyed by the first number its connection authenticated) may fetch BundleDeviceBurst
// bundles at once and BundleDeviceRate per second after that; beyond it the fetch is refused with
// network.ErrRateLimited. Independently, a target number hands out at most BundleTargetBurst
// one-time prekeys at once and BundleTargetRate per second after that, whoever asks; beyond it the
// bundle carries the signed prekey alone (a valid X3DH bundle, as Signal serves when one-time keys
// run out) and the pool is left untouched. Draining a number's one-time keys therefore needs time,
// not just many devices, and sessions keep starting while it happens.
const (
	BundleDeviceBurst = 100
	BundleDeviceRate  = 50.0 // bundles per second
	BundleTargetBurst = 20
	BundleTargetRate  = 1.0 // one-time prekeys per second
	// maxTrackedBuckets bounds each bucket map; beyond it, buckets that have refilled are forgotten.
	maxTrackedBuckets = 100_000
)

type bucket struct {
	tokens float64
	last   time.Time
}

// buckets is a map of token buckets of one size and rate.
type buckets struct {
	burst, rate float64
	m           map[string]*bucket
}

func (b *buckets) take(key string, now time.Time) bool {
	k := b.m[key]
	if k == nil {
		if len(b.m) >= maxTrackedBuckets {
			b.forgetFull(now)
		}
		k = &bucket{tokens: b.burst, last: now}
		b.m[key] = k
	}
	if dt := now.Sub(k.last).Seconds(); dt > 0 {
		k.tokens = min(b.burst, k.tokens+dt*b.rate)
	}
	k.last = now
	if k.tokens < 1 {
		return false
	}
	k.tokens--
	return true
}

func (b *buckets) forgetFull(now time.Time) {
	for key, k := range b.m {
		if k.tokens+now.Sub(k.last).Seconds()*b.rate >= b.burst {
			delete(b.m, key)
		}
	}
}

// bundleLimits holds the per-device and per-target buckets of bundle fetches.
type bundleLimits struct {
	now     func() time.Time
	mu      sync.Mutex
	devices buckets
	targets buckets
}

func newBundleLimits(now func() time.Time) *bundleLimits {
	return &bundleLimits{now: now,
		devices: buckets{burst: BundleDeviceBurst, rate: BundleDeviceRate, m: map[string]*bucket{}},
		targets: buckets{burst: BundleTargetBurst, rate: BundleTargetRate, m: map[string]*bucket{}}}
}

// device spends one bundle of the requesting device's budget.
func (l *bundleLimits) device(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.devices.take(key, l.now())
}

// oneTimeKey spends one of target's one-time prekey handouts.
func (l *bundleLimits) oneTimeKey(target string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.targets.take(target, l.now())
}
