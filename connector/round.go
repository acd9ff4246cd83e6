package connector

import (
	"context"
	"fmt"

	"github.com/waedge/waedge/raftfsm"
)

// Rounds (issue 12, item 4). The connector's workers finish Signal
// operations and status batches one pair or one receipt at a time; a
// round collects everything finished while the previous round was being
// replicated and commits it as ONE CmdSignalRoundV2 (CmdSignalRound in
// the binary encoding). Each worker still waits
// for its own part's outcome before anything of it moves (invariant 3):
// the pair's shard is blocked until then, so a round never holds two
// operations of one pair. Under load a round carries many parts; idle,
// a part is committed alone at once (no added latency).

// roundPart is one piece of work waiting for a round: a Signal operation
// or a status batch, and where its outcome goes.
type roundPart struct {
	commit   *raftfsm.SignalCommit
	statuses *raftfsm.MessageStatuses
	done     chan partOutcome // buffered: the round never blocks on a reader
}

// partOutcome is a part's Result (its own domain error) and the round's
// replication error (the part may or may not have been applied).
type partOutcome struct {
	res raftfsm.Result
	err error
}

// roundBytes bounds a round's estimated encoded size, well under the
// node's command size limit (node.Config.MaxCommandSize, 1 MiB by
// default): a round that large would be refused as a whole, every time.
const roundBytes = 512 << 10

// rounder groups parts into rounds and proposes each round as one command.
type rounder struct {
	propose  func(ctx context.Context, cmd []byte) (raftfsm.Result, error)
	in       chan *roundPart
	maxParts int
	maxBytes int
}

func newRounder(propose func(ctx context.Context, cmd []byte) (raftfsm.Result, error), maxParts int) *rounder {
	return &rounder{propose: propose, in: make(chan *roundPart, maxParts), maxParts: maxParts, maxBytes: roundBytes}
}

// size estimates a part's share of the encoded round (an upper bound for
// the byte fields; a fixed allowance for the small ones).
func (p *roundPart) size() int {
	n := 64
	if c := p.commit; c != nil {
		for _, w := range c.Writes {
			n += len(w.Key) + len(w.Value) + 16
		}
		for _, e := range c.Expect {
			n += len(e.Key) + 16
		}
		for _, o := range c.Outbound {
			n += len(o.MessageKey) + len(o.Sealed) + 16
		}
		if in := c.Inbound; in != nil {
			n += len(in.Key) + len(in.IDRef) + len(in.IDSealed) + len(in.PeerRef) + len(in.PeerSealed) + len(in.Type) +
				len(in.Content) + len(in.NetworkID) + len(c.InboundHash) + 128
			n += eventSize(in.Event)
		}
		for _, u := range c.Failed {
			n += len(u.IDRef) + len(u.Status) + 32 + eventSize(u.Event)
		}
	}
	if s := p.statuses; s != nil {
		for _, u := range s.Updates {
			n += len(u.IDRef) + len(u.Status) + 32 + eventSize(u.Event)
		}
		n += 24 * (len(s.SentKeys) + len(s.ReadsDone))
	}
	return n
}

func eventSize(e *raftfsm.OutboxEvent) int {
	if e == nil {
		return 0
	}
	return len(e.Key) + len(e.Body) + len(e.WABAID) + len(e.BusinessID) + len(e.PhoneNumberID) + len(e.LastStatus) + 96
}

// run commits rounds until ctx ends. Several run loops may share one
// rounder: rounds then overlap in replication (safe, since no pair has
// parts in two rounds at once).
func (rd *rounder) run(ctx context.Context) {
	var carry *roundPart // the part that did not fit the previous round
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case <-ctx.Done():
				return
			case first = <-rd.in:
			}
		}
		parts, size := []*roundPart{first}, first.size()
	collect:
		for len(parts) < rd.maxParts {
			select {
			case p := <-rd.in:
				ps := p.size()
				if size+ps > rd.maxBytes {
					carry = p
					break collect
				}
				size += ps
				parts = append(parts, p)
			default:
				break collect
			}
		}
		rd.commit(ctx, parts)
	}
}

// commit proposes one round and hands every part its outcome. Commits come
// first in the command, then status batches, each in arrival order.
func (rd *rounder) commit(ctx context.Context, parts []*roundPart) {
	var round raftfsm.SignalRound
	order := make([]*roundPart, 0, len(parts))
	for _, p := range parts {
		if p.commit != nil {
			round.Commits = append(round.Commits, *p.commit)
			order = append(order, p)
		}
	}
	for _, p := range parts {
		if p.commit == nil {
			round.Statuses = append(round.Statuses, *p.statuses)
			order = append(order, p)
		}
	}
	outs, err := rd.propose1(ctx, &round)
	for i, p := range order {
		if err != nil {
			p.done <- partOutcome{err: err}
			continue
		}
		p.done <- partOutcome{res: raftfsm.Result{Err: outs[i]}}
	}
}

func (rd *rounder) propose1(ctx context.Context, round *raftfsm.SignalRound) ([]error, error) {
	res, err := rd.propose(ctx, raftfsm.EncodeSignalRound(*round))
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		return nil, fmt.Errorf("signal round refused: %w", res.Err)
	}
	return raftfsm.RoundOutcomes(res.Value, round.Parts())
}

// submit queues p for the next round and waits for its outcome. A ctx that
// ends first reports ctx's error: the part may still be committed (as
// with any proposal whose outcome is unknown).
func (rd *rounder) submit(ctx context.Context, p *roundPart) (raftfsm.Result, error) {
	p.done = make(chan partOutcome, 1)
	select {
	case rd.in <- p:
	case <-ctx.Done():
		return raftfsm.Result{}, ctx.Err()
	}
	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
		return raftfsm.Result{}, ctx.Err()
	}
}

// commitSignal commits one Signal operation in the next round, with the
// contract of raftfsm.Outcome on a proposal of its own: nil when it was
// applied; a domain sentinel (ErrVersion: redo from fresh state) when it
// was refused and wrote nothing; any other error when its outcome is not
// known (it may have been applied).
func (r *run) commitSignal(ctx context.Context, sc raftfsm.SignalCommit) error {
	return roundErr(r.rounds.submit(ctx, &roundPart{commit: &sc}))
}

// commitStatuses commits one status batch in the next round.
func (r *run) commitStatuses(ctx context.Context, c raftfsm.MessageStatuses) error {
	return roundErr(r.rounds.submit(ctx, &roundPart{statuses: &c}))
}

// roundErr folds a part's outcome into one error, as raftfsm.Outcome does
// for a proposal.
func roundErr(res raftfsm.Result, err error) error {
	_, err = raftfsm.Outcome(res, err)
	return err
}
