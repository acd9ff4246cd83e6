package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// runFailover measures, --rounds times, the time from kill -9 of the
// leader to the next acknowledged write: a light open-loop load (a send
// every 10 ms from each of --senders clients, each send its own request)
// runs against the nodes that will survive; the figure is the completion
// time of the first send that *started* after the kill and was answered
// 200 (an earlier send may have been committed before the kill), measured
// from the kill. The killed node is restarted between rounds and the
// cluster waits until it is ready again.
func runFailover(ctx context.Context, o Options, pr *progress, emit func(Result)) error {
	if err := ownClusterOnly(o, "failover kills nodes"); err != nil {
		return err
	}
	if o.Nodes < 3 {
		return errors.New("failover needs --nodes 3 or more (a quorum must survive)")
	}
	c, biz, err := openWithBusiness(ctx, o, pr, networkOff(), nil)
	if err != nil {
		return err
	}
	defer c.close()
	s := newSender(c, biz, 16)
	defer s.close()
	var rounds []float64
	var sendErrors int64
	for round := 1; round <= o.Rounds; round++ {
		li, err := c.leader(ctx, 30*time.Second)
		if err != nil {
			return err
		}
		var survivors []int
		for i := range c.nodes {
			if i != li {
				survivors = append(survivors, i)
			}
		}
		took, errs, err := killLeader(ctx, c, s, li, survivors, o.Senders[0])
		sendErrors += errs
		if err != nil {
			return fmt.Errorf("round %d: %w", round, err)
		}
		rounds = append(rounds, ms(took))
		pr.note("failover round %d/%d: killed %s, next acknowledged write after %.0f ms", round, o.Rounds, c.nodes[li].name, ms(took))
		// Bring the killed node back before the next round.
		if err := c.nodes[li].start(); err != nil {
			return err
		}
		if err := c.waitReady(ctx, li, 60*time.Second); err != nil {
			return err
		}
	}
	r := Result{Scenario: "failover"}
	r.add("rounds", len(rounds))
	r.add("median_ms", Median(rounds))
	r.add("min_ms", minOf(rounds))
	r.add("max_ms", maxOf(rounds))
	r.add("rounds_ms", rounds)
	r.add("errors", sendErrors)
	emit(r)
	return nil
}

// killLeader kills node li while writers send to the survivors and
// returns the time to the first acknowledged write started after the
// kill, and how many sends failed meanwhile.
func killLeader(ctx context.Context, c *cluster, s *sender, li int, survivors []int, writers int) (time.Duration, int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu     sync.Mutex
		killed time.Time // zero until the killed process is gone
		signal time.Time // when SIGKILL was sent
		first  time.Duration
		errs   int64
		wg     sync.WaitGroup
	)
	acked := make(chan struct{})
	var once sync.Once
	seq := int64(0)
	for w := range writers {
		wg.Go(func() {
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for k := 0; ; k++ {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				mu.Lock()
				seq++
				n, at := seq, time.Now()
				after := !killed.IsZero() && !at.Before(killed)
				mu.Unlock()
				node := survivors[(w+k)%len(survivors)]
				wg.Go(func() {
					sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
					defer scancel()
					if err := s.send(sctx, node, n); err != nil {
						if ctx.Err() == nil {
							mu.Lock()
							errs++
							mu.Unlock()
						}
						return
					}
					if after {
						once.Do(func() {
							mu.Lock()
							first = time.Since(signal)
							mu.Unlock()
							close(acked)
						})
					}
				})
			}
		})
	}
	// A second of load before the kill, so the kill lands mid-stream.
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	// Measured from the signal; only sends that start once the process is
	// gone count, so none of them can have been committed by it.
	mu.Lock()
	signal = time.Now()
	c.nodes[li].kill()
	killed = time.Now()
	mu.Unlock()
	var err error
	select {
	case <-acked:
	case <-time.After(60 * time.Second):
		err = errors.New("no write acknowledged within 60 s of the kill")
	case <-ctx.Done():
		err = ctx.Err()
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return first, errs, err
}

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func maxOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
