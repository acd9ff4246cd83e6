package web_test

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/waedge/waedge/metrics"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/raftfsm/fsmtest"
	"github.com/waedge/waedge/seal"
	"github.com/waedge/waedge/web"
)

// acceptCounter is a cluster whose accepts are counted and answered as
// committed without being applied, so that a benchmark measures what a
// send costs on the node before it reaches Raft; every other command
// (tenants, templates, data keys) applies as usual.
type acceptCounter struct {
	*fakeCluster
	accepted atomic.Int64
}

func (c *acceptCounter) Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error) {
	if t, _, err := raftfsm.DecodeCommand(cmd); err == nil && (t == raftfsm.CmdAcceptMessageV2 || t == raftfsm.CmdAcceptMessage) {
		c.accepted.Add(1)
		return raftfsm.Result{}, nil
	}
	return c.fakeCluster.Propose(ctx, cmd)
}

// sendPathFixture is the web app as `waedge serve` builds it (metrics,
// a logger at Info) over one tenant with the bench's template, and the
// request `waedge bench accept` sends.
func sendPathFixture(tb testing.TB) (fasthttp.RequestHandler, *fasthttp.Request, *acceptCounter) {
	tb.Helper()
	c := &acceptCounter{fakeCluster: &fakeCluster{Direct: fsmtest.Open(tb)}}
	c.ready.Store(true)
	const at = 1_767_225_600_000
	d := c.Direct
	d.MustPropose(tb, raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "1001", BusinessName: "biz", WABAID: "2001",
		WABAName: "waba", PhoneNumberID: "3001", DisplayPhoneNumber: "+15551234567", VerifiedName: "biz", AppID: "4001",
		AppSecret: "secret", TokenID: "tok", TokenHash: sha256.Sum256([]byte("bench-token")), CreatedAt: at})
	d.MustPropose(tb, raftfsm.CmdSubmitTemplate, raftfsm.SubmitTemplate{Template: raftfsm.Template{ID: "77", WABAID: "2001",
		BusinessID: "1001", Name: "bench_message", Language: "en", Category: "UTILITY",
		Components: []byte(`[{"type":"BODY","text":"Hi {{1}}"}]`), BodyParams: 1, ParameterFormat: "POSITIONAL", CreatedAt: at}})
	app := web.New(web.Deps{Cluster: c, Sealer: seal.New(c, testKEK(), nil), Egress: loopback,
		Logger:  slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Metrics: metrics.New(nil, metrics.BuildInfo{}, 0)})
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI("/v21.0/3001/messages")
	req.Header.SetContentType("application/json")
	req.Header.Set("Authorization", "Bearer bench-token")
	req.SetBodyString(`{"messaging_product":"whatsapp","to":"491700000042","type":"template","template":{"name":"bench_message",` +
		`"language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"` +
		strings.Repeat("waedge bench message ", 13)[:270] + `"}]}]}}`)
	return app.Handler(), &req, c
}

// BenchmarkSendPath measures one POST /{phone-number-id}/messages as the
// bench sends it, through the whole middleware chain, up to the proposal
// (not replicated, not applied): CPU and allocations per request.
func BenchmarkSendPath(b *testing.B) {
	h, req, c := sendPathFixture(b)
	benchRequests(b, h, req, 200)
	if got := c.accepted.Load(); got != int64(b.N)+1 {
		b.Fatalf("accepted %d, want %d", got, b.N+1)
	}
}

// BenchmarkSendPathUnauthenticated is the same request with a token the
// cluster does not know: what a caller without a token makes a node
// spend (answered 401 from the headers, the body never read).
func BenchmarkSendPathUnauthenticated(b *testing.B) {
	h, req, c := sendPathFixture(b)
	req.Header.Set("Authorization", "Bearer not-a-token")
	benchRequests(b, h, req, 401)
	if got := c.accepted.Load(); got != 0 {
		b.Fatalf("accepted %d, want 0", got)
	}
}

// benchRequests serves req b.N times (after one warm-up), each answered
// with status, and reports allocations and process CPU per request.
func benchRequests(b *testing.B, h fasthttp.RequestHandler, req *fasthttp.Request, status int) {
	var ctx fasthttp.RequestCtx
	run := func() {
		ctx.Init(req, nil, nil)
		h(&ctx)
		if ctx.Response.StatusCode() != status {
			b.Fatalf("send: %d %s, want %d", ctx.Response.StatusCode(), ctx.Response.Body(), status)
		}
		ctx.Response.Reset()
		ctx.ResetUserValues() // as fasthttp does between requests
	}
	run() // data keys, first-use allocations
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for range b.N {
		run()
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the process's user+system CPU time (ns), all threads (the
// garbage collector's included): on a shared machine, CPU per request is
// what can be compared, not wall time.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// TestSendPathFixture keeps the benchmark's request a valid, accepted send.
func TestSendPathFixture(t *testing.T) {
	h, req, c := sendPathFixture(t)
	var ctx fasthttp.RequestCtx
	ctx.Init(req, nil, nil)
	h(&ctx)
	if ctx.Response.StatusCode() != 200 || !strings.Contains(string(ctx.Response.Body()), `"wamid.`) || c.accepted.Load() != 1 {
		t.Fatalf("send: %d %s (accepted %d)", ctx.Response.StatusCode(), ctx.Response.Body(), c.accepted.Load())
	}
}
