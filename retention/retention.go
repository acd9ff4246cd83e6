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
	// Budget bounds the deletions of one command (default 1,000).
	Budget int
	// MaxCommandsPerRun bounds the commands of one run, so a huge backlog
	// is worked off over several runs (default 10,000).
	MaxCommandsPerRun int
	// Yield is how long the worker waits after an expire command that left
	// work, as a multiple of the time the command took (default 1: expiry
	// takes at most about half of the state machine's apply time, so sends
	// interleave with a long run instead of queueing behind it; capped at
	// one second per pause). A negative value disables pausing.
	Yield float64
}

// defaultBudget is the worker's deletions per command: small commands
// keep the wait of a send queued behind one short (BENCHMARKS.md).
const defaultBudget = 1000

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
		cfg.Yield = 1
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
	return &Worker{p: p, cfg: cfg, logger: logger, now: now, kick: make(chan struct{}, 1)}
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
		if _, err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
			w.logger.Warn("expiry run failed", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-w.kick:
		}
	}
}

// RunOnce proposes CmdExpire, with one "now" for the whole run, until the
// state machine reports nothing more to do (or MaxCommandsPerRun).
func (w *Worker) RunOnce(ctx context.Context) (Run, error) {
	var run Run
	now := w.now().UnixMilli()
	start := time.Now()
	for run.Commands < w.cfg.MaxCommandsPerRun {
		began := time.Now()
		cmd, err := raftfsm.EncodeCommand(raftfsm.CmdExpire, raftfsm.Expire{Now: now, Budget: w.cfg.Budget})
		if err != nil {
			return run, err
		}
		v, err := raftfsm.Outcome(w.p.Propose(ctx, cmd))
		if err != nil {
			return run, fmt.Errorf("%w: %w", ErrExpire, err)
		}
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
		if w.cfg.Yield > 0 {
			pause := min(time.Duration(float64(time.Since(began))*w.cfg.Yield), time.Second)
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return run, ctx.Err()
			case <-t.C:
			}
		}
	}
	if run.Deleted > 0 || run.DestroyedKeys > 0 {
		w.logger.Info("expiry run", slog.Int("deleted", run.Deleted), slog.Int("data_keys_destroyed", run.DestroyedKeys),
			slog.Int("commands", run.Commands), slog.Bool("more", run.More), slog.Duration("took", time.Since(start)))
	}
	return run, nil
}
