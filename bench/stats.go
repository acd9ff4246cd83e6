package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the nearest-rank p-th percentile (0 < p ≤ 1) of
// sorted: the smallest sample such that at least p of all samples are at
// or below it. It returns 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// A small epsilon keeps 0.99×100 from becoming 99.00000000000001.
	rank := int(math.Ceil(p*float64(len(sorted)) - 1e-9))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Median returns the median of xs (the mean of the two middle values for
// an even count), or 0 for none. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Ratio returns a/b, and false when b is not a positive number (no
// reference to compare with).
func Ratio(a, b float64) (float64, bool) {
	if !(b > 0) || math.IsInf(b, 0) {
		return 0, false
	}
	return a / b, true
}

// ms expresses d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Load is what one closed-loop load level measured.
type Load struct {
	OK      int64           // requests acknowledged
	Errors  int64           // requests refused or failed
	Elapsed time.Duration   // from the first request to the last answer
	Lats    []time.Duration // latency of every acknowledged request, sorted
}

// Rate is acknowledged requests per second of Elapsed.
func (l Load) Rate() float64 {
	if l.Elapsed <= 0 {
		return 0
	}
	return float64(l.OK) / l.Elapsed.Seconds()
}

// P returns the p-th percentile latency in milliseconds.
func (l Load) P(p float64) float64 { return ms(Percentile(l.Lats, p)) }

// merge is l and m measured one after the other: their requests and
// their times added up, their latencies together.
func (l Load) merge(m Load) Load {
	lats := append(slices.Clone(l.Lats), m.Lats...)
	slices.Sort(lats)
	return Load{OK: l.OK + m.OK, Errors: l.Errors + m.Errors, Elapsed: l.Elapsed + m.Elapsed, Lats: lats}
}
