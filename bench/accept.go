package bench

import (
	"context"
	"fmt"
	"time"
)

// runAccept measures POST /{phone-number-id}/messages accepted per
// second: for each --senders level, that many clients each send one
// template message at a time (sender s through node s mod nodes) for
// --duration; with --baseline, the bare reference then runs at the same
// concurrency for the same duration. The bench's own nodes run with
// --network off: acceptance alone, no connector marking each message to
// an unknown consumer failed.
func runAccept(ctx context.Context, o Options, pr *progress, emit func(Result)) error {
	c, biz, err := openWithBusiness(ctx, o, pr, networkOff(), nil)
	if err != nil {
		return err
	}
	defer c.close()
	var bare *bareRaft
	if o.Baseline {
		pr.note("starting the bare reference (3 hashicorp/raft nodes in this process)")
		if bare, err = startBare(ctx, 3); err != nil {
			return fmt.Errorf("bare reference: %w", err)
		}
		defer bare.close()
	}
	for _, n := range o.Senders {
		r := Result{Scenario: "accept"}
		r.add("senders", n)
		s := newSender(c, biz, n)
		marks := c.elections()
		cpu0 := c.cpuTime()
		var cnt counter
		done := pr.run(fmt.Sprintf("accept  senders=%-4d", n), o.Duration, &cnt)
		l := closedLoop(ctx, n, o.Duration, &cnt, func(ctx context.Context, sender int, seq int64) error {
			return cnt.note(s.send(ctx, sender%len(c.urls), seq))
		})
		done()
		s.close()
		cnt.report(pr)
		addLoad(&r, "accepted_per_s", l)
		r.add("cpu_us_per_msg", cpuPerOp(cpu0, c.cpuTime(), l.OK))
		c.addMemory(&r)
		if c.owned() {
			r.add("elections", c.elections()-marks)
		}
		if bare != nil {
			var bc counter
			done := pr.run(fmt.Sprintf("bare    senders=%-4d", n), o.Duration, &bc)
			bl := bare.run(ctx, n, o.Duration, &bc)
			done()
			bc.report(pr)
			addBaseline(&r, l.Rate(), bl)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		emit(r)
	}
	return nil
}

// addLoad adds a load level's figures under rateKey.
func addLoad(r *Result, rateKey string, l Load) {
	r.add("duration_s", l.Elapsed.Seconds())
	r.add(rateKey, l.Rate())
	r.add("p50_ms", l.P(0.50))
	r.add("p99_ms", l.P(0.99))
	r.add("errors", l.Errors)
}

// addBaseline adds the bare reference's figures and the ratio of rate to
// its rate.
func addBaseline(r *Result, rate float64, bl Load) {
	r.add("baseline_per_s", bl.Rate())
	r.add("baseline_p50_ms", bl.P(0.50))
	r.add("baseline_p99_ms", bl.P(0.99))
	r.add("baseline_errors", bl.Errors)
	if q, ok := Ratio(rate, bl.Rate()); ok {
		r.add("ratio", q)
	} else {
		r.add("ratio", nil)
	}
}

// cpuPerOp is the nodes' CPU time between two cpuTime readings per
// acknowledged operation, in µs (nil when either reading failed or
// nothing was acknowledged).
func cpuPerOp(from, to time.Duration, ops int64) any {
	if from < 0 || to < 0 || ops <= 0 {
		return nil
	}
	return float64((to - from).Microseconds()) / float64(ops)
}
