package bench

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// defaultRetained is how many messages the retained scenario stores when
// --messages is not given.
const defaultRetained = 1_000_000

// runRetained measures the accept rate of a cluster holding --messages
// retained messages against the same cluster empty: the first --senders
// level runs for --duration on the fresh cluster, then the messages are
// stored through the API (512 at a time), then the same level runs
// again. Bytes on disk per message are the growth of a node's data
// directory (Raft log and state machine files as they are on disk,
// averaged over the nodes) divided by the messages stored meanwhile.
func runRetained(ctx context.Context, o Options, pr *progress, emit func(Result)) error {
	if err := ownClusterOnly(o, "retained measures the nodes' data directories"); err != nil {
		return err
	}
	n := o.messagesOr(defaultRetained)
	c, biz, err := openWithBusiness(ctx, o, pr, networkOff(), nil)
	if err != nil {
		return err
	}
	defer c.close()
	senders := o.Senders[0]
	level := func(label string) (Load, error) {
		s := newSender(c, biz, senders)
		defer s.close()
		var cnt counter
		done := pr.run(label, o.Duration, &cnt)
		l := closedLoop(ctx, senders, o.Duration, &cnt, func(ctx context.Context, sender int, seq int64) error {
			return cnt.note(s.send(ctx, sender%len(c.urls), seq))
		})
		done()
		cnt.report(pr)
		return l, ctx.Err()
	}
	empty, err := level(fmt.Sprintf("empty   senders=%-4d", senders))
	if err != nil {
		return err
	}
	before, err := c.diskBytes()
	if err != nil {
		return err
	}
	stored, storeErrors, err := storeMessages(ctx, c, biz, n, pr)
	if err != nil {
		return err
	}
	after, err := c.diskBytes()
	if err != nil {
		return err
	}
	full, err := level(fmt.Sprintf("retained senders=%-4d", senders))
	if err != nil {
		return err
	}
	r := Result{Scenario: "retained"}
	r.add("senders", senders)
	r.add("retained", stored)
	r.add("empty_per_s", empty.Rate())
	r.add("empty_p99_ms", empty.P(0.99))
	r.add("retained_per_s", full.Rate())
	r.add("retained_p99_ms", full.P(0.99))
	if q, ok := Ratio(full.Rate(), empty.Rate()); ok {
		r.add("ratio", q)
	} else {
		r.add("ratio", nil)
	}
	r.add("disk_bytes_per_msg", float64(after-before)/float64(len(c.nodes))/float64(stored))
	r.add("errors", empty.Errors+full.Errors)
	r.add("store_errors", storeErrors)
	c.addMemory(&r)
	emit(r)
	return nil
}

// storeMessages sends n template messages, 512 at a time, counting
// failed sends instead of stopping, and waits until every node has
// applied what was stored. It returns how many were stored and failed.
func storeMessages(ctx context.Context, c *cluster, biz business, n int, pr *progress) (int, int64, error) {
	s := newSender(c, biz, 512)
	defer s.close()
	var cnt counter
	done := pr.run(fmt.Sprintf("store %d", n), 0, &cnt)
	err := forEach(ctx, n, 512, &cnt, func(ctx context.Context, i int) error {
		return s.send(ctx, i%len(c.urls), int64(i))
	})
	done()
	cnt.report(pr)
	if err != nil {
		return 0, 0, err
	}
	for i := range c.nodes {
		if err := c.waitReady(ctx, i, 10*time.Minute); err != nil {
			return 0, 0, err
		}
	}
	return int(cnt.ok.Load()), cnt.errors.Load(), nil
}

// diskBytes sums the Raft and state machine files of every node (the
// relay's and TLS files are not messages): their sizes on disk.
func (c *cluster) diskBytes() (int64, error) {
	var total int64
	for _, p := range c.nodes {
		err := filepath.WalkDir(p.dataDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".db")) || strings.Contains(path, string(filepath.Separator)+"relay"+string(filepath.Separator)) {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return total, nil
}
