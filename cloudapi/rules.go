package cloudapi

import (
	"math"
	"sync"
	"time"
)

// Platform rules of cloud-api.md §7 as pure functions of their inputs. None
// reads a clock: callers pass now, so tests and replicated state machines
// get the same answer for the same inputs.

// ServiceWindow is how long after a consumer's last message the business
// may send free-form (non-template) messages.
const ServiceWindow = 24 * time.Hour

// WindowOpen reports whether the customer-service window started by the
// consumer's last message at lastInbound is still open at now. A zero
// lastInbound (the consumer never wrote) is a closed window.
func WindowOpen(lastInbound, now time.Time) bool {
	return !lastInbound.IsZero() && now.Sub(lastInbound) <= ServiceWindow
}

// CheckServiceWindow returns ErrReEngagement (131047) for a free-form
// message outside the window; templates may always be sent.
func CheckServiceWindow(now, lastInbound time.Time, isTemplate bool) error {
	if isTemplate || WindowOpen(lastInbound, now) {
		return nil
	}
	return ErrReEngagement
}

// CheckRecipient returns ErrRecipientIsSender (131021) when the recipient
// is the sending business number itself. Both sides are normalised, so
// "+1 555-000-1000" and "15550001000" are the same number.
func CheckRecipient(senderPhone, recipient string) error {
	s, r := NormalizePhone(senderPhone), NormalizePhone(recipient)
	if s != "" && s == r {
		return ErrRecipientIsSender
	}
	return nil
}

// Default limits (cloud-api.md §7).
const (
	// DefaultThroughput is a number's messages per second (130429 above).
	DefaultThroughput = 80
	// DefaultPairInterval is the sustained pace to one consumer: one
	// message every 6 s (131056 above).
	DefaultPairInterval = 6 * time.Second
	// DefaultPairBurst is how many messages may go to one consumer at once,
	// borrowed from the sustained pace and paid back at it.
	DefaultPairBurst = 45
)

// gcra is a token bucket in its virtual-scheduling form: one "theoretical
// arrival time" per key instead of a token count and a timestamp. A
// request at now is allowed when tat-now ≤ (burst-1)·interval; it then
// moves tat forward by one interval. A key whose tat ≤ now is a full
// bucket and can be forgotten.
func gcraAllow(tat, now time.Time, interval time.Duration, burst int) (time.Time, bool) {
	if tat.Before(now) {
		tat = now
	}
	if tat.Sub(now) > time.Duration(burst-1)*interval {
		return tat, false
	}
	return tat.Add(interval), true
}

// ThroughputLimiter is the per-phone-number messages-per-second limit, a
// token bucket holding one second's worth of messages. Inbound and
// outbound messages both count. Safe for concurrent use.
type ThroughputLimiter struct {
	mu     sync.Mutex
	def    float64
	limits map[string]float64
	tat    map[string]time.Time
}

// NewThroughputLimiter returns a limiter admitting defaultMPS messages per
// second per number (DefaultThroughput if defaultMPS ≤ 0).
func NewThroughputLimiter(defaultMPS float64) *ThroughputLimiter {
	if defaultMPS <= 0 {
		defaultMPS = DefaultThroughput
	}
	return &ThroughputLimiter{def: defaultMPS, limits: map[string]float64{}, tat: map[string]time.Time{}}
}

// SetLimit sets one number's messages per second; mps ≤ 0 restores the
// default.
func (l *ThroughputLimiter) SetLimit(phoneNumberID string, mps float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if mps <= 0 {
		delete(l.limits, phoneNumberID)
		return
	}
	l.limits[phoneNumberID] = mps
}

// Allow admits one message for phoneNumberID at now, or returns
// ErrThroughput (130429).
func (l *ThroughputLimiter) Allow(phoneNumberID string, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	mps, ok := l.limits[phoneNumberID]
	if !ok {
		mps = l.def
	}
	interval := time.Duration(float64(time.Second) / mps)
	burst := max(1, int(math.Ceil(mps-1e-9)))
	tat, allowed := gcraAllow(l.tat[phoneNumberID], now, interval, burst)
	if !allowed {
		return ErrThroughput
	}
	l.tat[phoneNumberID] = tat
	return nil
}

// PairLimiter is the per-(business number, consumer) limit: a burst, then
// one message per interval. Safe for concurrent use; idle pairs are
// forgotten, so memory follows the number of recently active pairs.
type PairLimiter struct {
	mu       sync.Mutex
	interval time.Duration
	burst    int
	tat      map[pairKey]time.Time
	sweepAt  int
}

type pairKey struct{ number, consumer string }

const minPairSweep = 1024

// NewPairLimiter returns a limiter of one message per interval after a
// burst of burst messages (DefaultPairInterval and DefaultPairBurst for
// values ≤ 0).
func NewPairLimiter(interval time.Duration, burst int) *PairLimiter {
	if interval <= 0 {
		interval = DefaultPairInterval
	}
	if burst <= 0 {
		burst = DefaultPairBurst
	}
	return &PairLimiter{interval: interval, burst: burst, tat: map[pairKey]time.Time{}, sweepAt: minPairSweep}
}

// Allow admits one message from phoneNumberID to consumer waID at now, or
// returns ErrPairRateLimit (131056). Other consumers are unaffected.
func (l *PairLimiter) Allow(phoneNumberID, waID string, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := pairKey{phoneNumberID, waID}
	tat, allowed := gcraAllow(l.tat[k], now, l.interval, l.burst)
	if !allowed {
		return ErrPairRateLimit
	}
	l.tat[k] = tat
	if len(l.tat) >= l.sweepAt {
		for key, t := range l.tat {
			if !t.After(now) {
				delete(l.tat, key)
			}
		}
		l.sweepAt = max(minPairSweep, 2*len(l.tat))
	}
	return nil
}

// Len is the number of pairs currently remembered.
func (l *PairLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.tat)
}
