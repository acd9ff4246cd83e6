// Package retention runs expiry: a leader-only worker that, every
// Interval, proposes CmdExpire with the leader's "now" until the state
// machine reports nothing more to delete. Every replica applies the same
// deletions and key destructions (the cut-offs are derived inside Apply from
// that one "now"), then forgets the destroyed keys and compacts its own Raft
// log (package node).
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/waedge/waedge/raftfsm"
)

// Proposer replicates a command (the node).
type Proposer interface {
	Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error)
}

// Config tunes the worker; zero values take the defaults.
type Config struct {
	// Interval between expiry runs (default 1 minute).
	Interval time.Duration
	// Budget bounds the deletions of one command (default 1,000). With
	// ApplyTime it is only the first command's: later ones are sized to
	// TargetApply.
	Budget int
	// MaxCommandsPerRun bounds the commands of one run, so a huge backlog
	// is worked off over several runs (default 10,000).
	MaxCommandsPerRun int
	// Yield is how long the worker waits after an expire command that left
	// work, as a multiple of the time the command took to apply (with
	// ApplyTime; else of its round trip) — default 3: expiry takes at most
	// about a quarter of the state machine's apply time, so sends
	// interleave with a long run instead of queueing behind it (issue 12:
	// sends during expiry at ≥ 0.8× idle); capped at one second per
	// pause. A negative value disables pausing.
	Yield float64
	// ApplyTime, when set, reports how long this node's state machine
	// took to apply the latest CmdExpire (node.Node.LastExpireApply;
	// the worker runs on the leader, whose apply is done when Propose
	// returns). The worker then sizes each command so that its apply
	// takes about TargetApply at the median apply time per record of the
	// latest commands, and bases the pause on the apply time, not on the
	// round trip (which, under load, is mostly queueing behind sends and
	// says nothing about the command's own cost).
	ApplyTime func() time.Duration
	// TargetApply is the apply time a command is sized to with ApplyTime
	// (default 10 ms): the longest a send waits behind one.
	TargetApply time.Duration
}

// defaultBudget is the worker's deletions per command without ApplyTime,
// and its first command's with it: small commands keep the wait of a send
// queued behind one short (BENCHMARKS.md).
const defaultBudget = 1000

// retryAfter is how soon a failed run is retried (at most Interval).
const retryAfter = time.Second

// minBudget is the smallest command the adaptive sizing proposes: below
// it the fixed cost of a Raft round dominates.
const minBudget = 200

// defaultTargetApply is TargetApply's default: small commands, often, so
// that a send queued behind one waits little.
const defaultTargetApply = 10 * time.Millisecond

// DefaultYield is Yield's default (serve's --expiry-yield).
const DefaultYield = 3

// Run is what one expiry run did.
type Run struct {
	Commands      int
	Deleted       int
	DestroyedKeys int
	More          bool // stopped at MaxCommandsPerRun with work left
}

// Worker is the leader-only expiry worker.
type Worker struct {
	p      Proposer
	cfg    Config
	logger *slog.Logger
	now    func() time.Time
	kick   chan struct{}
	// wait pauses between commands (a timer; tests record the pauses).
	wait func(ctx context.Context, d time.Duration) error
}

// ErrExpire: a CmdExpire was not applied (not replicated, or rejected by
// the state machine).
var ErrExpire = errors.New("retention: expire command rejected")

// New returns a worker; register its Run with node.RegisterWorker. now is
// the clock (time.Now in production; tests inject one); a nil logger
// discards.
func New(p Proposer, cfg Config, logger *slog.Logger, now func() time.Time) *Worker {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Budget <= 0 {
		cfg.Budget = defaultBudget
	}
	if cfg.Yield == 0 {
		cfg.Yield = DefaultYield
	}
	if cfg.TargetApply <= 0 {
		cfg.TargetApply = defaultTargetApply
	}
	if cfg.MaxCommandsPerRun <= 0 {
		cfg.MaxCommandsPerRun = 10000
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Worker{p: p, cfg: cfg, logger: logger, now: now, kick: make(chan struct{}, 1), wait: sleep}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Kick asks a running worker for an expiry run now (tests and the debug
// clock; harmless on a follower, whose worker is not running).
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run expires every Interval until ctx ends (leadership lost or shutdown).
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		var retry <-chan time.Time
		if _, err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
			// RunOnce logged it; committed deletions stay, and the run
			// goes on soon rather than an Interval later.
			retry = time.After(min(retryAfter, w.cfg.Interval))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-w.kick:
		case <-retry:
		}
	}
}

// RunOnce proposes CmdExpire, with one "now" for the whole run, until the
// state machine reports nothing more to do (or MaxCommandsPerRun). A run
// that fails part way still reports (and logs) what its applied commands
// deleted: those deletions are committed, and the next run goes on from
// there.
func (w *Worker) RunOnce(ctx context.Context) (run Run, err error) {
	now := w.now().UnixMilli()
	start := time.Now()
	defer func() {
		if run.Deleted > 0 || run.DestroyedKeys > 0 || err != nil {
			attrs := []any{slog.Int("deleted", run.Deleted), slog.Int("data_keys_destroyed", run.DestroyedKeys),
				slog.Int("commands", run.Commands), slog.Bool("more", run.More || err != nil), slog.Duration("took", time.Since(start))}
			if err != nil {
				w.logger.Warn("expiry run", append(attrs, slog.Any("err", err))...)
				return
			}
			w.logger.Info("expiry run", attrs...)
		}
	}()
	budget := w.cfg.Budget
	var cost costEstimate
	for run.Commands < w.cfg.MaxCommandsPerRun {
		began := time.Now()
		cmd, err := raftfsm.EncodeCommand(raftfsm.CmdExpire, raftfsm.Expire{Now: now, Budget: budget})
		if err != nil {
			return run, err
		}
		v, err := raftfsm.Outcome(w.p.Propose(ctx, cmd))
		if err != nil {
			return run, fmt.Errorf("%w: %w", ErrExpire, err)
		}
		roundTrip := time.Since(began)
		r, err := raftfsm.DecodeExpireResult(v)
		if err != nil {
			return run, err
		}
		run.Commands++
		run.Deleted += r.Deleted
		run.DestroyedKeys += len(r.DestroyedKeys)
		if !r.More {
			run.More = false
			break
		}
		run.More = true
		// Without ApplyTime the pause follows the round trip, as before
		// there was a reading of the apply time.
		pause := time.Duration(float64(roundTrip) * w.cfg.Yield)
		var applied time.Duration
		if w.cfg.ApplyTime != nil {
			applied = w.cfg.ApplyTime()
		}
		if applied > 0 {
			cost.add(applied, r.Deleted)
			budget = nextBudget(budget, cost.perRecord(), w.cfg.TargetApply)
			// The round trip is not counted towards the pause: on a
			// loaded machine it is long, and counting it made expiry
			// faster at the sends' expense (BENCHMARKS.md, stop 20).
			pause = time.Duration(float64(applied) * w.cfg.Yield)
		}
		w.logger.Debug("expire command", slog.Int("deleted", r.Deleted), slog.Duration("applied", applied),
			slog.Duration("round_trip", roundTrip), slog.Int("next_budget", budget))
		if w.cfg.Yield > 0 && pause > 0 {
			if err := w.wait(ctx, min(pause, time.Second)); err != nil {
				return run, err
			}
		}
	}
	return run, nil
}

// costReadings is how many of the latest commands' apply times per record
// the worker's cost estimate is the median of.
const costReadings = 5

// costEstimate is the apply time per deleted record, from the latest
// costReadings commands: their median, so that one batch slowed by
// something else (a checkpoint's fsync, sends in the same batch, the
// process descheduled) does not shrink the next commands — with the
// latest reading alone the size swung between 200 and 4,000 records from
// one command to the next under load, and stayed far below the target.
type costEstimate struct {
	perRec []float64 // ns per record, oldest first
}

func (c *costEstimate) add(applied time.Duration, deleted int) {
	if deleted <= 0 {
		return
	}
	c.perRec = append(c.perRec, float64(applied)/float64(deleted))
	if len(c.perRec) > costReadings {
		c.perRec = c.perRec[1:]
	}
}

// perRecord is the median reading (the upper one of an even count); 0
// before the first.
func (c *costEstimate) perRecord() float64 {
	if len(c.perRec) == 0 {
		return 0
	}
	s := slices.Clone(c.perRec)
	slices.Sort(s)
	return s[len(s)/2]
}

// nextBudget sizes the next command so that it applies in about target at
// perRecord ns per record: at most twice the last budget (a run starts
// small and grows), at least minBudget, at most raftfsm.MaxExpireBudget.
func nextBudget(budget int, perRecord float64, target time.Duration) int {
	if perRecord <= 0 {
		return budget
	}
	next := int(float64(target) / perRecord)
	return max(minBudget, min(next, 2*budget, raftfsm.MaxExpireBudget))
}
