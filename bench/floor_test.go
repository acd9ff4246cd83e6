package bench

import (
	"testing"
	"time"
)

// TestFloorReferences runs both floors (the bare cluster with a state
// machine that stores nothing, clients on the leader; and the same with
// the clients spread over the nodes, followers forwarding and waiting for
// their own apply) for a short while: every write is acknowledged, none
// fails, and the figures the accept scenario reports are positive.
func TestFloorReferences(t *testing.T) {
	for _, kind := range []refKind{{noop: true}, {noop: true, forward: true, waedgeRaft: true}} {
		fl, err := startBare(t.Context(), 3, kind)
		if err != nil {
			t.Fatal(err)
		}
		var c counter
		var l Load
		if kind.forward {
			l, err = fl.runSpread(t.Context(), 6, 700*time.Millisecond, &c)
		} else {
			l = fl.run(t.Context(), 6, 700*time.Millisecond, &c)
		}
		fl.close()
		if err != nil {
			t.Fatalf("%+v: %v", kind, err)
		}
		if l.Errors != 0 || l.OK == 0 {
			t.Fatalf("%+v: %d acknowledged, %d failed (first: %v)", kind, l.OK, l.Errors, c.first.Load())
		}
		t.Logf("%+v: %.0f/s p50 %.1f ms p99 %.1f ms", kind, l.Rate(), l.P(0.5), l.P(0.99))
		var r Result
		addFloor(&r, "floor", 100, 50, l)
		for _, k := range []string{"floor_per_s", "floor_p50_ms", "floor_p99_ms", "ratio_floor", "floor_over_bare"} {
			if v, _ := r.get(k).(float64); !(v > 0) {
				t.Errorf("%s = %v, want > 0", k, r.get(k))
			}
		}
	}
}
