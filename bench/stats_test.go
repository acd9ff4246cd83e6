package bench

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	ms := func(n int) []time.Duration {
		d := make([]time.Duration, n)
		for i := range d {
			d[i] = time.Duration(i+1) * time.Millisecond // 1 ms … n ms
		}
		return d
	}
	for _, c := range []struct {
		n    int
		p    float64
		want time.Duration
	}{
		{0, 0.5, 0},
		{1, 0.5, 1 * time.Millisecond},
		{1, 0.99, 1 * time.Millisecond},
		{2, 0.5, 1 * time.Millisecond},
		{4, 0.5, 2 * time.Millisecond},
		{5, 0.5, 3 * time.Millisecond},
		{100, 0.50, 50 * time.Millisecond},
		{100, 0.99, 99 * time.Millisecond}, // not the maximum
		{1000, 0.99, 990 * time.Millisecond},
		{101, 0.99, 100 * time.Millisecond},
		{100, 1, 100 * time.Millisecond},
	} {
		if got := Percentile(ms(c.n), c.p); got != c.want {
			t.Errorf("Percentile(1..%d ms, %v) = %v, want %v", c.n, c.p, got, c.want)
		}
	}
}

func TestMedianAndRatio(t *testing.T) {
	in := []float64{900, 1200, 700, 1100, 1000}
	if m := Median(in); m != 1000 {
		t.Errorf("median of odd count = %v, want 1000", m)
	}
	if in[0] != 900 {
		t.Error("Median reordered its input")
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median of even count = %v, want 2.5", m)
	}
	if m := Median(nil); m != 0 {
		t.Errorf("median of nothing = %v", m)
	}
	if r, ok := Ratio(1300, 6500); !ok || math.Abs(r-0.2) > 1e-12 {
		t.Errorf("Ratio(1300, 6500) = %v %v, want 0.2", r, ok)
	}
	for _, b := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, ok := Ratio(1, b); ok {
			t.Errorf("Ratio(1, %v) claims a ratio", b)
		}
	}
}

func TestLoadRate(t *testing.T) {
	l := Load{OK: 500, Elapsed: 2 * time.Second, Lats: []time.Duration{time.Millisecond, 3 * time.Millisecond}}
	if l.Rate() != 250 {
		t.Errorf("rate %v, want 250", l.Rate())
	}
	if l.P(0.99) != 3 {
		t.Errorf("p99 %v ms, want 3", l.P(0.99))
	}
	if (Load{}).Rate() != 0 {
		t.Error("rate of an empty load is not 0")
	}
}

func TestResultJSONKeepsOrderAndNulls(t *testing.T) {
	r := Result{Scenario: "accept"}
	r.add("senders", 64)
	r.add("accepted_per_s", 1234.56789)
	r.add("peak_rss_mb", nil)
	r.add("ratio", math.NaN())
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"scenario":"accept","senders":64,"accepted_per_s":1234.568,"peak_rss_mb":null,"ratio":null}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestLoadMerge(t *testing.T) {
	a := Load{OK: 2, Errors: 1, Elapsed: time.Second, Lats: []time.Duration{1, 5}}
	b := Load{OK: 3, Elapsed: 2 * time.Second, Lats: []time.Duration{2, 3, 9}}
	m := Load{}.merge(a).merge(b)
	if m.OK != 5 || m.Errors != 1 || m.Elapsed != 3*time.Second || !slices.Equal(m.Lats, []time.Duration{1, 2, 3, 5, 9}) {
		t.Fatalf("merged %+v", m)
	}
	if r := m.Rate(); r < 1.666 || r > 1.667 {
		t.Errorf("rate %v, want 5/3", r)
	}
	if !slices.Equal(a.Lats, []time.Duration{1, 5}) {
		t.Errorf("merge changed its input: %v", a.Lats)
	}
}
