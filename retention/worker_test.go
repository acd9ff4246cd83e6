package retention_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waedge/waedge/internal/syncbuf"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/raftfsm/fsmtest"
	"github.com/waedge/waedge/retention"
)

// expiring is a one-node state machine with n inbound messages of a
// one-hour-retention number, two hours before now: 2n records to expire
// (each message and its 24-hour window).
func expiring(t *testing.T, n int, now time.Time) *fsmtest.Direct {
	t.Helper()
	d := fsmtest.Open(t)
	d.MustPropose(t, raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "1", BusinessName: "B",
		WABAID: "2", PhoneNumberID: "3", DisplayPhoneNumber: "+15550001000", AppID: "4", AppSecret: "s",
		TokenID: "t", TokenHash: sha256.Sum256([]byte("tok"))})
	d.MustPropose(t, raftfsm.CmdSetRetention, raftfsm.SetRetention{PhoneNumberID: "3", Hours: 1})
	at := now.Add(-2 * time.Hour).UnixMilli()
	var cmds [][]byte
	for i := range n {
		key := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(at)*1e6), uint64(i))
		c, err := raftfsm.EncodeCommand(raftfsm.CmdRecordInbound, raftfsm.RecordInbound{Key: key,
			IDRef: raftfsm.MessageIDRef(fmt.Sprint("wamid.", i)), PhoneNumberID: "3", PeerRef: fmt.Sprint("ref-", i),
			Type: "text", Content: []byte("c"), ReceivedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	rs, err := d.ProposeEntry(cmds)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	return d
}

// failAfter lets the first n proposals through, then fails.
type failAfter struct {
	d *fsmtest.Direct
	n int
}

var errLost = errors.New("quorum lost")

func (f *failAfter) Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error) {
	if f.n == 0 {
		return raftfsm.Result{}, errLost
	}
	f.n--
	return f.d.Propose(ctx, cmd)
}

// TestFailedRunReportsWhatItDeleted: a run whose third command fails has
// still deleted what its first two commands did; it says so in its result
// and in its "expiry run" log line (which `waedge bench expiry` adds up),
// and the next run deletes the rest. Before, such a run logged only its
// failure, so a later run's "more=false" line reported a fraction of what
// expired (BENCHMARKS.md, "Unexplained").
func TestFailedRunReportsWhatItDeleted(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	d := expiring(t, 50, now)
	logs := &syncbuf.Buffer{}
	p := &failAfter{d: d, n: 2}
	w := retention.New(p, retention.Config{Budget: 10, Yield: -1}, slog.New(slog.NewJSONHandler(logs, nil)), func() time.Time { return now })
	run, err := w.RunOnce(context.Background())
	if !errors.Is(err, retention.ErrExpire) || !errors.Is(err, errLost) {
		t.Fatalf("run error %v", err)
	}
	if run.Commands != 2 || run.Deleted != 20 || !run.More {
		t.Fatalf("failed run %+v, want 2 commands, 20 deleted, more", run)
	}
	if got := d.FSM().MessageCount(); got != 30 {
		t.Fatalf("%d messages left after the failed run, want 30 (messages go first)", got)
	}
	p.n = 1000
	again, err := w.RunOnce(context.Background())
	if err != nil || again.More {
		t.Fatalf("second run %+v: %v", again, err)
	}
	if got := d.FSM().MessageCount(); got != 0 {
		t.Fatalf("%d messages left", got)
	}
	var logged []int
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var e struct {
			Msg     string `json:"msg"`
			Deleted int    `json:"deleted"`
			More    bool   `json:"more"`
			Err     string `json:"err"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if e.Msg == "expiry run" {
			logged = append(logged, e.Deleted)
			if e.More != (e.Err != "") {
				t.Errorf("line %q: more must be set exactly on the failed run", l)
			}
		}
	}
	if want := []int{20, again.Deleted}; !slices.Equal(logged, want) {
		t.Fatalf("logged deletions %v, want %v", logged, want)
	}
	if run.Deleted+again.Deleted != 100 {
		t.Fatalf("deleted %d + %d records, want 100", run.Deleted, again.Deleted)
	}
}

// TestBudgetFollowsApplyTime: with ApplyTime the worker sizes each command
// so that it applies in about TargetApply: a command applying in a fifth
// of the target lets the next one double (no more at a step), one
// applying in four times the target cuts the next to a quarter, never
// below 200 records.
func TestBudgetFollowsApplyTime(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name    string
		applied time.Duration
		want    []int
	}{
		{"fast", 5 * time.Millisecond, []int{300, 600, 1200, 2400}},
		{"slow", 100 * time.Millisecond, []int{1000, 250, 200, 200}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := expiring(t, 3000, now).KeepProposals()
			w := retention.New(d, retention.Config{Budget: c.want[0], Yield: -1, TargetApply: 25 * time.Millisecond,
				ApplyTime: func() time.Duration { return c.applied }, MaxCommandsPerRun: len(c.want)}, nil, func() time.Time { return now })
			run, err := w.RunOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var budgets []int
			for _, p := range d.Proposals() {
				typ, payload, err := raftfsm.DecodeCommand(p)
				if err != nil || typ != raftfsm.CmdExpire {
					t.Fatalf("proposal %x: %v %v", p, typ, err)
				}
				var e raftfsm.Expire
				if err := raftfsm.DecodePayload(payload, &e); err != nil {
					t.Fatal(err)
				}
				budgets = append(budgets, e.Budget)
			}
			if !slices.Equal(budgets, c.want) {
				t.Fatalf("budgets %v, want %v", budgets, c.want)
			}
			sum := 0
			for _, b := range budgets {
				sum += b
			}
			if run.Deleted != sum {
				t.Fatalf("deleted %d, want the budgets' sum %d", run.Deleted, sum)
			}
		})
	}
}

// TestLastExpireApplyIsReported: the node reports how long its latest
// batch holding a CmdExpire took to apply, which is what the worker sizes
// by; batches without one leave it alone.
func TestLastExpireApplyIsReported(t *testing.T) {
	n := nodetest.Cluster(t, 1)[0]
	if got := n.LastExpireApply(); got != 0 {
		t.Fatalf("before any expiry: %v", got)
	}
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	w := retention.New(n, retention.Config{ApplyTime: n.LastExpireApply}, nil, func() time.Time { return now })
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := n.LastExpireApply()
	if got <= 0 || got > time.Minute {
		t.Fatalf("LastExpireApply %v", got)
	}
	propose(t, n, raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "1", BusinessName: "B",
		WABAID: "2", PhoneNumberID: "3", DisplayPhoneNumber: "+15550001000", AppID: "4", AppSecret: "s",
		TokenID: "t", TokenHash: sha256.Sum256([]byte("tok"))})
	if again := n.LastExpireApply(); again != got {
		t.Fatalf("a batch without CmdExpire changed it: %v → %v", got, again)
	}
}

// costed is a proposer whose commands apply at perRecord per deleted
// record, except those listed in spikes (by 0-based command number),
// which take spike whatever their size (a checkpoint's fsync or a
// descheduled process in the same batch); it notes each command's budget.
type costed struct {
	d         *fsmtest.Direct
	perRecord time.Duration
	spikes    map[int]bool
	spike     time.Duration
	latency   time.Duration // added to every round trip
	budgets   []int
	applied   time.Duration
}

func (c *costed) Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error) {
	_, payload, err := raftfsm.DecodeCommand(cmd)
	if err != nil {
		return raftfsm.Result{}, err
	}
	var e raftfsm.Expire
	if err := raftfsm.DecodePayload(payload, &e); err != nil {
		return raftfsm.Result{}, err
	}
	res, err := c.d.Propose(ctx, cmd)
	if err != nil {
		return res, err
	}
	r, err := raftfsm.DecodeExpireResult(res.Value)
	if err != nil {
		return res, err
	}
	c.applied = time.Duration(r.Deleted) * c.perRecord
	if c.spikes[len(c.budgets)] {
		c.applied = c.spike
	}
	c.budgets = append(c.budgets, e.Budget)
	if c.latency > 0 {
		time.Sleep(c.latency) // a slow round trip, not synchronisation
	}
	return res, nil
}

// TestOneSlowBatchDoesNotShrinkCommands: the worker sizes commands by the
// median apply time per record of the latest ones, so a single slow batch
// (here the fourth, 50 ms for 2,000 records where they take 10 ms) leaves
// the next commands at the target's size; with the latest reading alone
// the next one had 400 records and the size took three commands to come
// back.
func TestOneSlowBatchDoesNotShrinkCommands(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	d := expiring(t, 6000, now)
	p := &costed{d: d, perRecord: 5 * time.Microsecond, spikes: map[int]bool{3: true}, spike: 50 * time.Millisecond}
	w := retention.New(p, retention.Config{Budget: 500, Yield: -1, TargetApply: 10 * time.Millisecond,
		ApplyTime: func() time.Duration { return p.applied }, MaxCommandsPerRun: 7}, nil, func() time.Time { return now })
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []int{500, 1000, 2000, 2000, 2000, 2000, 2000}; !slices.Equal(p.budgets, want) {
		t.Fatalf("budgets %v, want %v", p.budgets, want)
	}
	// A lasting change (from the fourth command on, twice the cost) is
	// followed once it is most of the latest five readings: from the
	// seventh.
	d2 := expiring(t, 7500, now)
	p2 := &costed{d: d2, perRecord: 5 * time.Microsecond, spikes: map[int]bool{3: true, 4: true, 5: true, 6: true, 7: true}, spike: 20 * time.Millisecond}
	w2 := retention.New(p2, retention.Config{Budget: 2000, Yield: -1, TargetApply: 10 * time.Millisecond,
		ApplyTime: func() time.Duration { return p2.applied }, MaxCommandsPerRun: 8}, nil, func() time.Time { return now })
	if _, err := w2.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []int{2000, 2000, 2000, 2000, 2000, 2000, 1000, 1000}; !slices.Equal(p2.budgets, want) {
		t.Fatalf("budgets %v, want %v", p2.budgets, want)
	}
}

// TestPauseFollowsTheApplyTime: after a command that held the apply path
// for A, the worker pauses Yield × A, however long the round trip was (a
// variant that counted the round trip beyond A towards the pause made
// expiry faster on a loaded machine at the sends' expense, BENCHMARKS.md
// stop 20).
func TestPauseFollowsTheApplyTime(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	d := expiring(t, 3000, now)
	// 1,000 records a command at 10 µs each, a round trip of more than
	// 60 ms.
	p := &costed{d: d, perRecord: 10 * time.Microsecond, latency: 60 * time.Millisecond}
	w := retention.New(p, retention.Config{Budget: 1000, Yield: 3, TargetApply: 10 * time.Millisecond,
		ApplyTime: func() time.Duration { return p.applied }}, nil, func() time.Time { return now })
	var pauses []time.Duration
	retention.RecordPauses(w, &pauses)
	run, err := w.RunOnce(context.Background())
	if err != nil || run.More || run.Deleted != 6000 {
		t.Fatalf("run %+v: %v", run, err)
	}
	// 6,000 records in commands of 1,000: a pause after each of the six
	// that ran out of budget (the seventh finds nothing).
	want := slices.Repeat([]time.Duration{30 * time.Millisecond}, 6)
	if !slices.Equal(pauses, want) {
		t.Fatalf("pauses %v, want %v (budgets %v)", pauses, want, p.budgets)
	}
}
