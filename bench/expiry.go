package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// defaultExpiring is how many messages the expiry scenario expires when
// --messages is not given.
const defaultExpiring = 1_000_000

// runExpiry measures sends while many messages expire. The nodes run with
// the test clock (WAEDGE_TEST_CLOCK=1); the business's retention is one
// hour. --messages messages are stored through the API (512 at a time),
// then the first --senders level runs for --duration (idle: nothing to
// expire). Then every node's clock moves two hours on, which makes every
// stored message past retention and starts the leader's expiry run; the
// same level runs again until the run is over (its "expiry run" line in
// the leader's log with more=false; the counts of deleted records of every
// "expiry run" line after the move are added up — a run that failed part
// way logs one too, with more=true — and reported as they are). Reported: both
// rates and p99s, their ratios, the time from the clock's move to the
// end of the run, and the nodes' CPU per idle send and per expired record.
func runExpiry(ctx context.Context, o Options, pr *progress, emit func(Result)) error {
	if err := ownClusterOnly(o, "expiry moves the nodes' test clock"); err != nil {
		return err
	}
	n := o.messagesOr(defaultExpiring)
	c, biz, err := openWithBusiness(ctx, o, pr, networkOff(), []string{"WAEDGE_TEST_CLOCK=1"})
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.call(ctx, "POST", c.urls[0]+"/admin/v1/phones/"+biz.PhoneNumberID+"/retention", c.token,
		map[string]int{"retention_hours": 1}, nil); err != nil {
		return fmt.Errorf("set retention: %w", err)
	}
	senders := o.Senders[0]
	stored, storeErrors, err := storeMessages(ctx, c, biz, n, pr)
	if err != nil {
		return err
	}
	s := newSender(c, biz, senders)
	defer s.close()
	send := func(cnt *counter) func(ctx context.Context, sender int, seq int64) error {
		return func(ctx context.Context, sender int, seq int64) error {
			return cnt.note(s.send(ctx, sender%len(c.urls), 2_000_000+seq))
		}
	}
	var ic counter
	done := pr.run(fmt.Sprintf("idle    senders=%-4d", senders), o.Duration, &ic)
	cpu0 := c.cpuTime()
	idle := closedLoop(ctx, senders, o.Duration, &ic, send(&ic))
	cpu1 := c.cpuTime()
	done()
	ic.report(pr)

	marks := c.logSizes()
	moved := time.Now()
	for _, u := range c.urls {
		if err := c.call(ctx, "POST", u+"/admin/v1/debug/clock", c.token, map[string]int{"advance_seconds": 7200}, nil); err != nil {
			return fmt.Errorf("advance the clock: %w", err)
		}
	}
	stop := make(chan struct{})
	var deleted int
	var finished time.Time
	var waitErr error
	go func() {
		defer close(stop)
		waitErr = poll(ctx, 2*time.Hour, "the expiry run", func() (bool, error) {
			d, end, ok := c.expiryRuns(marks)
			deleted, finished = d, end
			return ok, nil
		})
	}()
	var ec counter
	done = pr.run(fmt.Sprintf("expiry  senders=%-4d", senders), 0, &ec)
	during := closedLoopUntil(ctx, senders, stop, &ec, send(&ec))
	cpu2 := c.cpuTime()
	done()
	ec.report(pr)
	if waitErr != nil {
		return fmt.Errorf("%w (%d deleted)", waitErr, deleted)
	}
	r := Result{Scenario: "expiry"}
	r.add("senders", senders)
	r.add("stored", stored)
	r.add("deleted", deleted) // records, as the retention worker counts them
	r.add("idle_per_s", idle.Rate())
	r.add("idle_p99_ms", idle.P(0.99))
	r.add("during_per_s", during.Rate())
	r.add("during_p99_ms", during.P(0.99))
	if q, ok := Ratio(during.Rate(), idle.Rate()); ok {
		r.add("rate_ratio", q)
	} else {
		r.add("rate_ratio", nil)
	}
	if q, ok := Ratio(during.P(0.99), idle.P(0.99)); ok {
		r.add("p99_ratio", q)
	} else {
		r.add("p99_ratio", nil)
	}
	r.add("expiry_s", finished.Sub(moved).Seconds())
	// The nodes' CPU per idle send, and per expired record: their CPU
	// during expiry less what the sends of that time cost at the idle
	// rate per send (a figure that holds on a loaded machine, where the
	// rates do not).
	r.add("idle_cpu_us_per_msg", cpuPerOp(cpu0, cpu1, idle.OK))
	if perSend, ok := cpuPerOp(cpu0, cpu1, idle.OK).(float64); ok && cpu2 >= 0 && deleted > 0 {
		r.add("expiry_cpu_us_per_record", (float64((cpu2-cpu1).Microseconds())-perSend*float64(during.OK))/float64(deleted))
	} else {
		r.add("expiry_cpu_us_per_record", nil)
	}
	r.add("errors", idle.Errors+during.Errors)
	r.add("store_errors", storeErrors)
	c.addMemory(&r)
	emit(r)
	return nil
}

// logSizes marks where each node's log ends now.
func (c *cluster) logSizes() []int64 {
	out := make([]int64, len(c.nodes))
	for i, p := range c.nodes {
		if fi, err := os.Stat(p.logPath); err == nil {
			out[i] = fi.Size()
		}
	}
	return out
}

// expiryRuns reads the retention worker's "expiry run" lines written
// after marks: the records they report deleted, the time of the last
// line, and whether a run finished (more=false: nothing past retention
// was left for the run's "now").
func (c *cluster) expiryRuns(marks []int64) (deleted int, last time.Time, finished bool) {
	for i, p := range c.nodes {
		b, err := os.ReadFile(p.logPath)
		if err != nil || int64(len(b)) < marks[i] {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b[marks[i]:]))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if !bytes.Contains(sc.Bytes(), []byte(`"expiry run"`)) {
				continue
			}
			var l struct {
				Time    time.Time `json:"time"`
				Msg     string    `json:"msg"`
				Deleted int       `json:"deleted"`
				More    bool      `json:"more"`
			}
			if json.Unmarshal(sc.Bytes(), &l) != nil || l.Msg != "expiry run" {
				continue
			}
			deleted += l.Deleted
			if l.Time.After(last) {
				last = l.Time
			}
			if !l.More {
				finished = true
			}
		}
	}
	return deleted, last, finished
}
