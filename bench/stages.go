package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// commitStages are the stages of waedge_commit_stage_seconds, in the
// order of a write's life (node/DESIGN.md, "Where a write's time goes").
var commitStages = []string{"queue", "forward", "serve_forwarded", "raft_apply", "wait_applied", "log_store", "fsm_apply"}

// stageTotals is, per stage, the time (s) and count summed over nodes.
type stageTotals map[string][2]float64

// stageTotals reads waedge_commit_stage_seconds from every node's
// metrics and adds them up.
func (c *cluster) stageTotals(ctx context.Context) (stageTotals, error) {
	t := stageTotals{}
	for _, u := range c.urls {
		text, err := c.metrics(ctx, u)
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(text, "\n") {
			name, rest, ok := strings.Cut(line, `{stage="`)
			if !ok {
				continue
			}
			var at int
			switch name {
			case "waedge_commit_stage_seconds_sum":
			case "waedge_commit_stage_seconds_count":
				at = 1
			default:
				continue
			}
			stage, val, ok := strings.Cut(rest, `"} `)
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err != nil {
				return nil, fmt.Errorf("metrics line %q: %w", line, err)
			}
			s := t[stage]
			s[at] += v
			t[stage] = s
		}
	}
	return t, nil
}

// addStages adds, per stage, the mean time (ms) of the events between two
// readings: stage_NAME_ms (nil when the stage did not occur), and the
// forwarded share of the writes.
func addStages(r *Result, from, to stageTotals) {
	for _, s := range commitStages {
		dt, dn := to[s][0]-from[s][0], to[s][1]-from[s][1]
		if dn > 0 {
			r.add("stage_"+s+"_ms", dt/dn*1000)
		} else {
			r.add("stage_"+s+"_ms", nil)
		}
	}
}
