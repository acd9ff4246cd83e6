package node

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Worker is a task that runs only while this node leads. Its ctx is
// cancelled when leadership is lost or the node closes; a Worker that
// returns an error is restarted after a short back-off while leadership
// lasts.
type Worker func(ctx context.Context) error

type namedWorker struct {
	name string
	fn   Worker
}

// workerSet starts the registered workers when this node becomes leader —
// after a Raft barrier, so every earlier entry is applied — and stops them
// when it steps down.
type workerSet struct {
	n  *Node
	mu sync.Mutex
	ws []namedWorker
	// running state, guarded by mu
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped chan struct{}
	once    sync.Once
}

func newWorkerSet(n *Node) *workerSet {
	return &workerSet{n: n, stopped: make(chan struct{})}
}

// RegisterWorker adds a leader-only worker. It starts at once if this node
// already leads.
func (n *Node) RegisterWorker(name string, w Worker) {
	s := n.workers
	s.mu.Lock()
	defer s.mu.Unlock()
	nw := namedWorker{name: name, fn: w}
	s.ws = append(s.ws, nw)
	if s.ctx != nil {
		s.start(s.ctx, nw)
	}
}

func (s *workerSet) run() {
	defer s.n.bg.Done()
	leaderCh := s.n.raft.LeaderCh()
	for {
		select {
		case isLeader := <-leaderCh:
			if isLeader {
				s.becomeLeader()
			} else {
				s.stepDown()
			}
		case <-s.stopped:
			s.stepDown()
			return
		}
	}
}

func (s *workerSet) becomeLeader() {
	// Apply everything committed in earlier terms before any worker looks at
	// the state (invariant 3: a new leader never acts on stale sessions).
	for {
		// The barrier's future is never answered if Raft shuts down under
		// it, so wait for it alongside the node's stop signal.
		errCh := make(chan error, 1)
		go func() { errCh <- s.n.raft.Barrier(30 * time.Second).Error() }()
		var err error
		select {
		case err = <-errCh:
		case <-s.stopped:
			return
		}
		if err == nil {
			break
		}
		if s.n.raft.State() != raft.Leader {
			return
		}
		s.n.logger.Warn("leader barrier failed; retrying", slog.Any("err", err))
		select {
		case <-s.stopped:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx != nil {
		return
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, w := range s.ws {
		s.start(s.ctx, w)
	}
	s.n.logger.Info("leader workers started", slog.Int("workers", len(s.ws)))
}

// start runs w until ctx ends; called with mu held.
func (s *workerSet) start(ctx context.Context, w namedWorker) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			err := w.fn(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				s.n.logger.Error("leader worker failed; restarting", slog.String("worker", w.name), slog.Any("err", err))
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}()
}

func (s *workerSet) stepDown() {
	s.mu.Lock()
	cancel := s.cancel
	s.ctx, s.cancel = nil, nil
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	s.wg.Wait()
	s.n.logger.Info("leader workers stopped")
}

// caughtUp reports whether this node, as leader, has applied everything
// committed in earlier terms (its leadership barrier completed).
func (s *workerSet) caughtUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctx != nil
}

func (s *workerSet) stop() {
	s.once.Do(func() { close(s.stopped) })
}
