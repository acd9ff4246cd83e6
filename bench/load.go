package bench

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// counter is what a running load reports to the progress line, and the
// first error it met (to say why requests failed).
type counter struct {
	ok, errors atomic.Int64
	first      atomic.Pointer[error]
}

// note keeps the first error and returns err unchanged.
func (c *counter) note(err error) error {
	if err != nil {
		c.first.CompareAndSwap(nil, &err)
	}
	return err
}

// report prints the first error when any request failed.
func (c *counter) report(pr *progress) {
	if e := c.first.Load(); e != nil {
		pr.note("  %d requests failed; the first: %v", c.errors.Load(), *e)
	}
}

// closedLoop runs senders goroutines, each issuing one request at a time
// through do(ctx, sender, seq) (seq numbers every request of the run from
// 1) until duration has passed since the start. A request that started
// before the deadline is waited for and counted; Elapsed runs from the
// start to the last answer, so the rate is exactly acknowledged requests
// over the wall time they took.
func closedLoop(ctx context.Context, senders int, duration time.Duration, c *counter,
	do func(ctx context.Context, sender int, seq int64) error) Load {
	stop := make(chan struct{})
	t := time.AfterFunc(duration, func() { close(stop) })
	defer t.Stop()
	return closedLoopUntil(ctx, senders, stop, c, do)
}

// closedLoopUntil is closedLoop until stop is closed.
func closedLoopUntil(ctx context.Context, senders int, stop <-chan struct{}, c *counter,
	do func(ctx context.Context, sender int, seq int64) error) Load {
	var (
		seq  atomic.Int64
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
	)
	start := time.Now()
	running := func() bool {
		select {
		case <-stop:
			return false
		default:
			return ctx.Err() == nil
		}
	}
	for s := range senders {
		wg.Go(func() {
			local := make([]time.Duration, 0, 1024)
			for running() {
				t0 := time.Now()
				if err := do(ctx, s, seq.Add(1)); err != nil {
					c.errors.Add(1)
					continue
				}
				local = append(local, time.Since(t0))
				c.ok.Add(1)
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(lats)
	return Load{OK: int64(len(lats)), Errors: c.errors.Load(), Elapsed: time.Since(start), Lats: lats}
}
