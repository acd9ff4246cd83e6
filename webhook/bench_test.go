package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/seal"
)

// BenchmarkDispatch measures webhook delivery to a local receiver on a
// 3-node in-process cluster: 5,000 queued events drained by the leader's
// dispatcher (64 concurrent deliveries), each attempt's outcome replicated.
// Run with -benchtime=1x. cpu-µs/event is the process's CPU time per
// event delivered.
func BenchmarkDispatch(b *testing.B) {
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received.Add(1)
	}))
	defer srv.Close()
	nodes := nodetest.Cluster(b, 3)
	leader := nodetest.Leader(b, nodes)
	prop := func(typ raftfsm.CommandType, p any) {
		cmd, _ := raftfsm.EncodeCommand(typ, p)
		res, err := leader.Propose(context.Background(), cmd)
		if err != nil || res.Err != nil {
			b.Fatal(err, res.Err)
		}
	}
	prop(raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "1", BusinessName: "B", WABAID: "2",
		PhoneNumberID: "3", DisplayPhoneNumber: "+15550001000", AppID: "4", AppSecret: "s", TokenID: "t",
		TokenHash: sha256.Sum256([]byte("tok"))})
	prop(raftfsm.CmdSetSubscription, raftfsm.SetSubscription{WABAID: "2", BusinessID: "1", AppID: "4", CallbackURL: srv.URL})
	const total = 5000
	body, _ := cloudapi.MarshalASCII(cloudapi.InboundTextNotification("2", cloudapi.Metadata{PhoneNumberID: "3"}, "15551234567", "A", "wamid.x", 1, "hi"))
	sl := seal.New(leader, leader.KEK(), nil)
	sealed, err := sl.Seal(context.Background(), raftfsm.WebhookAAD("2"), body)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < total; i++ {
		var key [16]byte
		binary.BigEndian.PutUint64(key[:8], uint64(i+1))
		prop(raftfsm.CmdRecordInbound, raftfsm.RecordInbound{Key: key[:], IDRef: raftfsm.MessageIDRef(fmt.Sprint("wamid.", i)), PhoneNumberID: "3",
			PeerRef: sl.ConsumerRef("3", "15551234567"), Type: "text", ReceivedAt: 1, Event: &raftfsm.OutboxEvent{Key: key[:], Body: sealed, CreatedAt: 1}})
	}
	b.ResetTimer()
	if path := os.Getenv("WAEDGE_BENCH_CPUPROFILE"); path != "" { // the drain only, not the setup
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	start, cpu0 := time.Now(), cpuTime()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cp := &countingProposer{Proposer: leader}
	go func() { _ = New(cp, Config{Egress: loopback, PerEndpoint: 64, Open: sl.Open}, nil).Run(ctx) }()
	nodetest.WaitFor(b, "outbox drained", 120*time.Second, func() bool {
		ev, _ := leader.FSM().Outbox(1)
		return len(ev) == 0
	})
	el, cpu := time.Since(start), cpuTime()-cpu0
	b.ReportMetric(float64(received.Load())/el.Seconds(), "events/s")
	// CPU time of the whole process (three nodes, the dispatcher and the
	// receiver) per event: what a loaded machine does not distort.
	b.ReportMetric(float64(cpu.Microseconds())/float64(received.Load()), "cpu-µs/event")
	// Outcomes share Raft rounds: events per replicated command.
	b.ReportMetric(float64(received.Load())/float64(max(cp.n.Load(), 1)), "events/command")
}

// countingProposer counts the commands a dispatcher proposes.
type countingProposer struct {
	Proposer
	n atomic.Int64
}

func (c *countingProposer) Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error) {
	c.n.Add(1)
	return c.Proposer.Propose(ctx, cmd)
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
