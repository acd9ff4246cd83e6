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
		if bare, err = startBare(ctx, 3, refKind{}); err != nil {
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
		var st0 stageTotals
		if o.Stages {
			if st0, err = c.stageTotals(ctx); err != nil {
				return fmt.Errorf("stages: %w", err)
			}
		}
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
		if o.Stages {
			st, err := c.stageTotals(ctx)
			if err != nil {
				return fmt.Errorf("stages: %w", err)
			}
			addStages(&r, st0, st)
		}
		if bare != nil {
			var bc counter
			done := pr.run(fmt.Sprintf("bare    senders=%-4d", n), o.Duration, &bc)
			bl := bare.run(ctx, n, o.Duration, &bc)
			done()
			bc.report(pr)
			addBaseline(&r, l.Rate(), bl)
			if err := runFloors(ctx, &r, n, o.Duration, pr, l.Rate(), bl.Rate()); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		emit(r)
	}
	return nil
}

// runFloors measures the Raft floor (the bare reference with a state
// machine that stores nothing, clients on the leader) and the spread
// floor (the same with waedge's Raft settings, clients spread over the
// nodes as the accept's senders are, followers forwarding) at senders,
// and adds their figures to r. Each floor cluster lives for one level
// only, so its idle work (the spread floor's commit-timeout appends) does
// not load the machine while the others run.
func runFloors(ctx context.Context, r *Result, senders int, d time.Duration, pr *progress, rate, bareRate float64) error {
	for _, f := range []struct {
		name, key string
		kind      refKind
	}{
		{"floor  ", "floor", refKind{noop: true}},
		{"spread ", "floor_spread", refKind{noop: true, forward: true, waedgeRaft: true}},
	} {
		fl, err := startBare(ctx, 3, f.kind)
		if err != nil {
			return fmt.Errorf("%s reference: %w", f.key, err)
		}
		var fc counter
		done := pr.run(fmt.Sprintf("%s senders=%-4d", f.name, senders), d, &fc)
		var l Load
		if f.kind.forward {
			l, err = fl.runSpread(ctx, senders, d, &fc)
		} else {
			l = fl.run(ctx, senders, d, &fc)
		}
		done()
		fl.close()
		if err != nil {
			return fmt.Errorf("%s reference: %w", f.key, err)
		}
		fc.report(pr)
		addFloor(r, f.key, rate, bareRate, l)
	}
	return nil
}

// addFloor adds a floor's figures under key (rate, p50, p99, errors) and
// the ratios of rate to it and of it to the bare reference.
func addFloor(r *Result, key string, rate, bareRate float64, l Load) {
	r.add(key+"_per_s", l.Rate())
	r.add(key+"_p50_ms", l.P(0.50))
	r.add(key+"_p99_ms", l.P(0.99))
	r.add(key+"_errors", l.Errors)
	for _, q := range []struct {
		key  string
		a, b float64
	}{
		{"ratio_" + key, rate, l.Rate()},
		{key + "_over_bare", l.Rate(), bareRate},
	} {
		if v, ok := Ratio(q.a, q.b); ok {
			r.add(q.key, v)
		} else {
			r.add(q.key, nil)
		}
	}
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
