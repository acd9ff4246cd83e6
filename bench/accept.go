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
		cpu0, self0 := c.cpuTime(), selfCPU()
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
		cpu1, self1 := c.cpuTime(), selfCPU()
		s.close()
		cnt.report(pr)
		addLoad(&r, "accepted_per_s", l)
		r.add("cpu_us_per_msg", cpuPerOp(cpu0, cpu1, l.OK))
		// The load generator shares the machine's cores with the nodes:
		// what it spends is what the nodes could not.
		r.add("bench_cpu_us_per_msg", cpuPerOp(self0, self1, l.OK))
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
			refs, err := runReferences(ctx, bare, n, o.Duration, pr)
			if err != nil {
				return err
			}
			addBaseline(&r, l.Rate(), refs[0].Load)
			// The bare reference's whole cost: its three nodes and its
			// clients, all in this process.
			r.add("baseline_cpu_us_per_msg", cpuPerOp(0, refs[0].cpu, refs[0].OK))
			addFloor(&r, "floor", l.Rate(), refs[0].Rate(), refs[1].Load)
			addFloor(&r, "floor_spread", l.Rate(), refs[0].Rate(), refs[2].Load)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		emit(r)
	}
	return nil
}

// runReferences measures, at senders, the bare reference, the Raft
// floor (the bare reference with a state machine that stores nothing,
// clients on the leader) and the spread floor (the same with waedge's Raft
// settings, clients spread over the nodes as the accept's senders are,
// followers forwarding), in that order. They take turns in slices of
// about a second (each slice starting with the next of the three), so a
// change in the load of a shared machine falls on all three alike and
// floor ÷ bare is not a comparison of two different moments. The floor
// clusters live for one level only. Each result carries the CPU this
// process spent in that reference's slices.
func runReferences(ctx context.Context, bare *bareRaft, senders int, d time.Duration, pr *progress) ([3]refLoad, error) {
	var out [3]refLoad
	floor, err := startBare(ctx, 3, refKind{noop: true})
	if err != nil {
		return out, fmt.Errorf("floor reference: %w", err)
	}
	defer floor.close()
	spread, err := startBare(ctx, 3, refKind{noop: true, forward: true, waedgeRaft: true})
	if err != nil {
		return out, fmt.Errorf("spread floor reference: %w", err)
	}
	defer spread.close()
	turns := max(1, min(8, int(d/time.Second)))
	slice := d / time.Duration(turns)
	labels := [3]string{"bare   ", "floor  ", "spread "}
	for i := range turns {
		for k := range 3 {
			ref := (i + k) % 3
			var c counter
			done := pr.run(fmt.Sprintf("%s senders=%-4d %d/%d", labels[ref], senders, i+1, turns), slice, &c)
			cpu0 := selfCPU()
			var l Load
			switch ref {
			case 0:
				l = bare.run(ctx, senders, slice, &c)
			case 1:
				l = floor.run(ctx, senders, slice, &c)
			default:
				l, err = spread.runSpread(ctx, senders, slice, &c)
			}
			done()
			out[ref].cpu += selfCPU() - cpu0
			if err != nil {
				return out, fmt.Errorf("spread floor reference: %w", err)
			}
			c.report(pr)
			out[ref].Load = out[ref].Load.merge(l)
			if err := ctx.Err(); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// refLoad is one reference's load over its slices and this process's CPU
// time in them.
type refLoad struct {
	Load
	cpu time.Duration
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
