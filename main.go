// Command waedge runs the WhatsApp Business Cloud API on the business's own
// premises: a Raft cluster of waedge nodes holding the Signal sessions and
// the sealed messages of the business's phone numbers.
//
//	waedge serve      run a node (bootstraps a one-node cluster on first start)
//	waedge cluster …  inspect and change cluster membership (admin API client)
//	waedge tenant …   create and list businesses (admin API client)
//	waedge backup     write an encrypted backup of the running cluster
//	waedge restore    build a new cluster's data dir from a backup
//	waedge bench      measure throughput, latency and failover against bare Raft
//	waedge version    print the version
package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/waedge/waedge/bench"
	"github.com/waedge/waedge/cli"
	"github.com/waedge/waedge/connector"
	"github.com/waedge/waedge/console"
	"github.com/waedge/waedge/egress"
	"github.com/waedge/waedge/embed"
	"github.com/waedge/waedge/keyring"
	"github.com/waedge/waedge/messages"
	"github.com/waedge/waedge/metrics"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/node"
	"github.com/waedge/waedge/phone"
	"github.com/waedge/waedge/relay"
	"github.com/waedge/waedge/relay/relayclient"
	"github.com/waedge/waedge/retention"
	"github.com/waedge/waedge/seal"
	"github.com/waedge/waedge/signalstore"
	"github.com/waedge/waedge/web"
	"github.com/waedge/waedge/webhook"
	"github.com/waedge/waedge/webhookecho"
)

// Set with -ldflags "-X main.version=… -X main.commit=…"; otherwise
// buildVersion reads the VCS data the Go toolchain recorded.
var (
	version = "dev"
	commit  = "none"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr, getenv, false)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprint(stderr, "usage: waedge config check [--config FILE] [serve flags]\n")
			return 2
		}
		return serve(args[2:], stdout, stderr, getenv, true)
	case "relay", "phone":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if args[0] == "relay" {
			return relay.Main(ctx, args[1:], stdout, stderr)
		}
		return phone.Main(ctx, args[1:], stdout, stderr)
	case "sandbox":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return relay.SandboxMain(ctx, args[1:], stdout, stderr, getenv, defaultRelayTokenFile(getenv))
	case "backup":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return cli.RunBackup(ctx, args[1:], stdout, stderr, getenv)
	case "restore":
		return cli.RunRestore(args[1:], stdout, stderr, getenv, time.Now)
	case "cluster", "tenant", "audit", "billing", "stats", "webhooks", "console":
		if args[0] == "cluster" && len(args) > 1 && args[1] == "recover" {
			return clusterRecover(args[2:], stdout, stderr, getenv)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return cli.Run(ctx, args, stdout, stderr, getenv)
	case "webhook-echo":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return webhookecho.Main(ctx, args[1:], stdout, stderr, getenv)
	case "bench":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return bench.Main(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionLine())
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "waedge: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: waedge <command> [flags]

commands:
  serve                         run a node (first start bootstraps a one-node cluster)
  cluster status                show the cluster as this node sees it
  cluster join-token [--ttl D]  mint a single-use join token
  cluster remove NODE_ID        remove a node and revoke its certificate
  cluster transfer-leadership   hand leadership to another node
  cluster recover --data-dir D --yes [--voters ID=ADDR,…]
                                after losing a quorum for good: make a stopped survivor the seed
                                of a working cluster (offline; docs/disaster-recovery.md)
  tenant create --name N --phone +E164
  tenant list
  tenant retention PHONE_NUMBER_ID --hours N
                                keep the number's messages N hours (1 to 720, default 720)
  tenant admin-token BUSINESS_ID
                                mint a business admin token (shown once)
  audit list [--limit N] [--after CURSOR]
                                admin actions, oldest first
  tenant tier PHONE_NUMBER_ID --tier T
                                set the messaging-limit tier (TIER_250 … TIER_UNLIMITED)
  billing export --month YYYY-MM [--business ID] [--format csv|json]
                                the month's bill: delivered template messages × rate card
  stats show [--business ID] [--phone ID] [--from D] [--to D]
                                message counters per day (counts only)
  console setup-link            a one-time link that creates a console admin (the
                                web console is at <public-url>/console/)
  console invite --role R [--business ID]
                                a one-time link that creates a console user with role R
  webhooks log [--state pending|delivered|dropped|all] [--limit N]
  webhooks retry BUSINESS_ID [--events ID,ID] | webhooks test BUSINESS_ID [--waba ID]
                                the webhook delivery log (attempts, last status; no bodies)
  webhook-echo --verify-token T --app-secret S [--listen 127.0.0.1:9000]
                                a tiny webhook receiver: answers the handshake, checks each
                                event's signature, prints signed events (one JSON per line)
  relay --addr A --data-dir D   run the sandbox network relay (routes ciphertext only; its API
                                token is written to D/relay.token)
  phone --relay URL --number N --name NAME --business NUMBER
                                a simulated consumer phone chatting in the terminal
  sandbox phone create|send|inbox|sent|read|typing|report-spam|block|unblock|stop-marketing|resume-marketing|list
                                drive phones hosted by the sandbox relay (JSON output; token from
                                --relay-token-file, default the embedded sandbox's relay.token)
  backup --out FILE (--passphrase-file P | --key-file K) [--horizon 24h]
                                write an encrypted backup of the running cluster
  restore --in FILE (--passphrase-file P | --key-file K) --data-dir DIR [--master-key-file K]
                                build a new cluster's data dir from a backup
  tenant verification-codes BUSINESS_ID
                                the codes request_code "sent" to the business's numbers
  tenant consumer-export BUSINESS_ID WA_ID
  tenant consumer-erase BUSINESS_ID WA_ID
                                export (JSON) or erase what is stored about one consumer
  bench accept|failover|webhooks|e2e|expiry|retained [--baseline] [--json]
                                measure a cluster of its own (or --target URLs)
  config check [--config FILE] [serve flags]
                                validate serve's settings and print them (secrets masked)
  version                       print the version

Run 'waedge serve -h' for the node's flags. Every flag can also be set as WAEDGE_<FLAG>
(upper case, dashes as underscores), e.g. WAEDGE_DATA_DIR.
`)
}

// envDefault returns the WAEDGE_* value for flag name, or def.
func envDefault(getenv func(string) string, name, def string) string {
	if v := getenv("WAEDGE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); v != "" {
		return v
	}
	return def
}

// serve runs a node; with checkOnly it validates the configuration and
// prints it (waedge config check) instead.
func serve(args []string, stdout, stderr io.Writer, getenv func(string) string, checkOnly bool) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf, err := loadConfigFile(args, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "waedge serve: %v\n", err)
		return 2
	}
	envOnly := getenv
	getenv = cf.Getenv(getenv) // flag > environment > file > default
	fs.String("config", getenv("WAEDGE_CONFIG"), "TOML (or .yaml/.yml) file of serve settings, keyed by flag name; flags and WAEDGE_* variables override it")
	str := func(name, def, help string) *string {
		return fs.String(name, envDefault(getenv, name, def), help)
	}
	dataDir := str("data-dir", defaultDataDir, "directory for this node's state")
	sandboxDir := str("sandbox-dir", "", "directory of the embedded sandbox relay (its phones, queues, blobs and relay.token); default: --data-dir with .sandbox appended, a sibling")
	httpAddr := str("http-addr", "127.0.0.1:8080", "address of the HTTP API, admin API and web console (<public-url>/console/)")
	clusterAddr := str("cluster-addr", "127.0.0.1:8081", "address for Raft and node-to-node RPC (mutual TLS)")
	advertise := str("advertise-addr", "", "cluster address peers dial, when it differs from --cluster-addr")
	join := str("join", "", "comma-separated cluster addresses of members to join")
	joinToken := str("join-token", "", "join token from 'waedge cluster join-token'")
	logLevel := str("log-level", "info", "debug, info, warn or error")
	logFormat := str("log-format", "auto", "json, text, or auto (text on a terminal)")
	masterKeyFile := str("master-key-file", "", "file holding the cluster key-encryption key (32 bytes, hex or base64); default: generated at bootstrap and received when joining")
	networkURL := str("network", "", "network the business numbers are reached on: empty runs the embedded sandbox relay (see --relay-addr); relay://HOST:PORT (or an http(s) URL) uses a shared sandbox relay; off disables the network")
	relayTokenFile := str("relay-token-file", "", "file holding the API token of the shared sandbox relay named by --network: lets the console's Sandbox page create and drive that relay's hosted phones (the token never leaves this node)")
	relayAddr := str("relay-addr", "127.0.0.1:8089", "listen address of the embedded sandbox relay (its phone API and WebSocket), when --network is empty")
	pprofAddr := str("pprof-addr", "", "serve Go profiling (net/http/pprof) on this address, e.g. 127.0.0.1:6060; off when empty")
	expiryInterval := str("expiry-interval", "1m", "how often the leader expires what is past retention")
	expiryYield := str("expiry-yield", strconv.FormatFloat(retention.DefaultYield, 'g', -1, 64), "after each expire command that left work, the leader pauses this many times the command's apply time, so expiry takes at most 1/(1+N) of the state machine's time (0: no pause; up to 100)")
	marketingCap := str("marketing-cap", "off", "default limit of marketing template messages from one business to one consumer per rolling window, as N/DURATION (e.g. 2/24h; window at most 720h); a send over it is accepted and fails with 131049 by status webhook. off (the default, as Meta publishes no number) or per business through the admin API; give every node the same value")
	egressAllow := str("egress-allow", "", "CIDR ranges (comma-separated) that webhook callbacks and media links may reach although they are internal (loopback, private, link-local…), e.g. 10.20.0.0/16; this node's own addresses stay refused")
	edgeF, err := addEdgeFlags(fs, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "waedge serve: %v\n", err)
		return 2
	}
	metricsF := addMetricsFlags(fs, getenv)
	gcF := addGCFlags(fs, getenv)
	tlsF := addTLSFlags(fs, getenv)
	raftHeartbeat := str("raft-heartbeat-timeout", node.DefaultHeartbeatTimeout.String(), "a follower that hears nothing from the leader this long (randomised up to 2×) starts an election")
	raftElection := str("raft-election-timeout", node.DefaultElectionTimeout.String(), "how long a candidate waits for votes before it tries again (not shorter than the heartbeat timeout)")
	raftLease := str("raft-lease-timeout", node.DefaultLeaderLeaseTimeout.String(), "a leader that cannot reach a quorum this long steps down (not longer than the heartbeat timeout)")
	proposeInFlight := str("propose-in-flight", strconv.Itoa(node.DefaultMaxInFlight), "batches of writes each node keeps in flight towards the leader at once; writes that arrive meanwhile queue and form the next batch")
	raftPipeline := str("raft-pipeline-depth", strconv.Itoa(node.DefaultMaxRPCsInFlight), "AppendEntries the leader keeps outstanding per follower (1: no pipelining)")
	raftCommit := str("raft-commit-timeout", node.DefaultCommitTimeout.String(), "with no new entries, the leader tells followers the commit index after this long (randomised up to 2×); a write forwarded by a follower waits for it")
	raftLogCache := str("raft-log-cache", strconv.Itoa(node.DefaultLogCacheSize), "recent Raft log entries kept in memory for replication")
	fsmCheckpoint := str("fsm-checkpoint-every", strconv.Itoa(node.DefaultFSMCheckpointEvery), "the state machine fsyncs once per this many applied Raft entries instead of at every commit (the Raft log is fsynced either way); 0 fsyncs every commit")
	fsmCheckpointBytes := str("fsm-checkpoint-bytes", fmt.Sprintf("%dMiB", node.DefaultFSMCheckpointBytes>>20), "with checkpoints, the state machine also fsyncs once its commits since the last fsync wrote this much (bounds what one fsync flushes, which the Raft log's fsyncs would queue behind), e.g. 4MiB")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "waedge serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := checkConfigKeys(cf, fs); err != nil {
		fmt.Fprintf(stderr, "waedge serve: %v\n", err)
		return 2
	}
	logger, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "waedge serve: %v\n", err)
		return 2
	}
	if err := tlsF.check(); err != nil {
		fmt.Fprintf(stderr, "waedge serve: %v\n", err)
		return 2
	}
	if err := metricsF.check(); err != nil {
		fmt.Fprintf(stderr, "waedge serve: %v\n", err)
		return 2
	}
	if err := gcF.apply(!checkOnly); err != nil {
		fmt.Fprintf(stderr, "waedge serve: %v\n", err)
		return 2
	}
	allow, err := egress.ParseAllow(*egressAllow)
	if err != nil {
		fmt.Fprintf(stderr, "waedge serve: --egress-allow: %v\n", err)
		return 2
	}
	mktCap, err := messages.ParseMarketingCap(*marketingCap)
	if err != nil {
		fmt.Fprintf(stderr, "waedge serve: --marketing-cap: %v\n", err)
		return 2
	}
	checkpointEvery, err := strconv.Atoi(*fsmCheckpoint)
	if err != nil || checkpointEvery < 0 {
		fmt.Fprintf(stderr, "waedge serve: --fsm-checkpoint-every %q: want a number of entries (0: fsync every commit)\n", *fsmCheckpoint)
		return 2
	}
	checkpointBytes, err := parseSize(*fsmCheckpointBytes)
	if err != nil || checkpointBytes < 64<<10 {
		fmt.Fprintf(stderr, "waedge serve: --fsm-checkpoint-bytes %q: want a size of at least 64KiB, e.g. 4MiB\n", *fsmCheckpointBytes)
		return 2
	}
	expiryEvery, err := time.ParseDuration(*expiryInterval)
	if err != nil || expiryEvery < 10*time.Millisecond {
		fmt.Fprintf(stderr, "waedge serve: --expiry-interval %q: want a duration of at least 10ms\n", *expiryInterval)
		return 2
	}
	yield, err := parseExpiryYield(*expiryYield)
	if err != nil {
		fmt.Fprintf(stderr, "waedge serve: --expiry-yield %q: %v\n", *expiryYield, err)
		return 2
	}
	var tuning [3]int
	for i, f := range []struct{ name, v string }{{"propose-in-flight", *proposeInFlight},
		{"raft-pipeline-depth", *raftPipeline}, {"raft-log-cache", *raftLogCache}} {
		if tuning[i], err = strconv.Atoi(f.v); err != nil || tuning[i] < 1 || tuning[i] > 1<<20 {
			fmt.Fprintf(stderr, "waedge serve: --%s %q: want a whole number from 1\n", f.name, f.v)
			return 2
		}
	}
	commitTimeout, err := time.ParseDuration(*raftCommit)
	if err != nil || commitTimeout < time.Millisecond || commitTimeout > time.Second {
		fmt.Fprintf(stderr, "waedge serve: --raft-commit-timeout %q: want a duration from 1ms to 1s\n", *raftCommit)
		return 2
	}
	var raftTimeouts [3]time.Duration
	for i, f := range []struct{ name, v string }{{"raft-heartbeat-timeout", *raftHeartbeat},
		{"raft-election-timeout", *raftElection}, {"raft-lease-timeout", *raftLease}} {
		if raftTimeouts[i], err = time.ParseDuration(f.v); err != nil || raftTimeouts[i] < 5*time.Millisecond {
			fmt.Fprintf(stderr, "waedge serve: --%s %q: want a duration of at least 5ms\n", f.name, f.v)
			return 2
		}
	}
	if checkOnly {
		addr, err := checkHTTPAddr(*httpAddr)
		if err == nil {
			_, err = edgeF.check(addr)
		}
		if err != nil {
			fmt.Fprintf(stderr, "waedge config check: %v\n", err)
			return 2
		}
		printEffectiveConfig(stdout, fs, cf, envOnly)
		return 0
	}
	clock := &testClock{}
	if getenv("WAEDGE_TEST_CLOCK") == "1" {
		clock.enabled = true
		logger.Warn("test clock enabled (WAEDGE_TEST_CLOCK=1): POST /admin/v1/debug/clock can move this process's time forward; never use this in production")
	}
	if !seal.Enabled() {
		logger.Error("this binary was built with -tags waedge_noseal: message content is stored UNSEALED; it exists only to benchmark sealing, never use it with real data")
	}
	ver, rev := buildVersion()
	logger.Info("starting waedge", slog.String("version", ver), slog.String("commit", rev),
		slog.String("go", runtime.Version()), slog.String("data_dir", *dataDir),
		slog.String("http_addr", *httpAddr), slog.String("cluster_addr", *clusterAddr),
		slog.String("advertise_addr", *advertise), slog.String("join", *join))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *pprofAddr != "" {
		startPprof(*pprofAddr, logger)
	}
	// Bind the HTTP port first so a port clash fails before any state changes.
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		logger.Error("cannot listen on HTTP address", slog.Any("err", err))
		return 1
	}
	edge, err := edgeF.check(ln.Addr())
	if err != nil {
		_ = ln.Close()
		fmt.Fprintf(stderr, "waedge serve: %v\n", err)
		return 2
	}
	ln = guardHTTP(ln, edge, logger)
	if tlsF.enabled() {
		if *edgeF.publicURL == "" {
			edge.publicURL = httpsURL(edge.publicURL)
		}
		cfg, stopTLS, err := tlsF.startTLS(*dataDir, ln.Addr(), edge.publicURL, logger)
		if err != nil {
			_ = ln.Close()
			logger.Error("cannot set up TLS on the HTTP port", slog.Any("err", err))
			return 1
		}
		defer stopTLS()
		ln = tls.NewListener(ln, cfg)
	}
	var masterKey []byte
	if v := getenv("WAEDGE_MASTER_KEY"); v != "" || *masterKeyFile != "" {
		if v == "" {
			b, err := os.ReadFile(*masterKeyFile)
			if err != nil {
				_ = ln.Close()
				logger.Error("cannot read master key file", slog.Any("err", err))
				return 1
			}
			v = string(b)
		}
		k, err := keyring.ParseKEK(v)
		if err != nil {
			_ = ln.Close()
			logger.Error("invalid master key", slog.Any("err", err))
			return 1
		}
		masterKey = k[:]
	}
	var joins []string
	for _, j := range strings.Split(*join, ",") {
		if j = strings.TrimSpace(j); j != "" {
			joins = append(joins, j)
		}
	}
	n, err := node.New(ctx, node.Config{
		DataDir:       *dataDir,
		ClusterAddr:   *clusterAddr,
		AdvertiseAddr: *advertise,
		Join:          joins,
		JoinToken:     *joinToken,
		MasterKey:     masterKey,
		Logger:        logger,
		Version:       memberVersion(),

		HeartbeatTimeout:   raftTimeouts[0],
		ElectionTimeout:    raftTimeouts[1],
		LeaderLeaseTimeout: raftTimeouts[2],
		FSMCheckpointEvery: cmp.Or(checkpointEvery, -1),
		FSMCheckpointBytes: checkpointBytes,
		MaxInFlight:        tuning[0],
		MaxRPCsInFlight:    tuning[1],
		LogCacheSize:       tuning[2],
		CommitTimeout:      commitTimeout,
	})
	if err != nil {
		_ = ln.Close()
		logger.Error("cannot start node", slog.Any("err", err))
		return 1
	}
	// Requests made for tenants (webhooks, media links) never reach this
	// node's or its members' listeners, nor internal ranges not allowed.
	own := &ownAddrs{}
	own.add(ln.Addr().String(), *clusterAddr, *advertise, *pprofAddr)
	egressPolicy := newEgress(allow, own, n.Raft)
	// One sealer per process: it holds the node's keyring, which expiry
	// empties of destroyed keys.
	sealer := seal.New(n, n.KEK(), clock.Now)
	n.OnDataKeysDestroyed(sealer.Forget)
	mets := metrics.New(n, metrics.BuildInfo{Version: ver, Commit: rev, GoVersion: runtime.Version()}, 0)
	if *metricsF.addr != "" {
		stopMetrics, err := serveMetrics(*metricsF.addr, mets, logger)
		if err != nil {
			_ = ln.Close()
			_ = n.Close()
			logger.Error("cannot serve metrics", slog.Any("err", err))
			return 1
		}
		defer stopMetrics()
	}
	n.RegisterWorker("webhooks", webhook.New(mets.Counting(n), webhook.Config{Open: sealer.Open, Now: clock.Now, Egress: egressPolicy},
		logger.With(slog.String("component", "webhooks"))).Run)
	expiry := retention.New(mets.Counting(n), retention.Config{Interval: expiryEvery, Yield: yield, ApplyTime: n.LastExpireApply}, logger.With(slog.String("component", "retention")), clock.Now)
	n.RegisterWorker("retention", expiry.Run)
	var debugClock func(time.Duration) time.Time
	if clock.enabled {
		debugClock = func(d time.Duration) time.Time {
			now := clock.advance(d)
			expiry.Kick()
			return now
		}
	}
	if *sandboxDir == "" {
		*sandboxDir = defaultSandboxDir(*dataDir)
	}
	if _, err := os.Stat(filepath.Join(*dataDir, "relay")); err == nil {
		logger.Warn("the embedded sandbox no longer lives in the data dir; the old one is unused and holds simulated phones' messages in clear: delete it",
			slog.String("old_dir", filepath.Join(*dataDir, "relay")), slog.String("sandbox_dir", *sandboxDir))
	}
	stopNetwork, err := startNetwork(ctx, n, sealer, *networkURL, *relayAddr, *sandboxDir, clock.Now, logger, egressPolicy, own)
	if err != nil {
		_ = ln.Close()
		_ = n.Close()
		logger.Error("cannot start the network", slog.Any("err", err))
		return 1
	}
	defer stopNetwork()
	var sandbox *web.SandboxRelay
	switch {
	case *networkURL == "": // the embedded sandbox: the console may drive its phones
		sandbox = &web.SandboxRelay{BaseURL: "http://" + *relayAddr, TokenFile: filepath.Join(*sandboxDir, relay.TokenFileName)}
	case *networkURL != "off" && *relayTokenFile != "": // a shared relay whose token the operator gave
		sandbox = &web.SandboxRelay{BaseURL: networkBase(*networkURL), TokenFile: *relayTokenFile}
	}
	accounts := console.New(console.Config{Cluster: n, Now: clock.Now, Logger: logger.With(slog.String("component", "console")),
		PublicURL: edge.publicURL})
	app := web.New(edge.webEdge(web.Deps{
		Accounts:       accounts,
		Sandbox:        sandbox,
		Cluster:        n,
		Logger:         logger.With(slog.String("component", "web")),
		Console:        embed.Console(),
		RequestTimeout: 30 * time.Second,
		Now:            clock.Now,
		Sealer:         sealer,
		DebugClock:     debugClock,
		Identities:     connector.Identities{FSM: n.FSM(), Sealer: sealer},
		MarketingCap:   mktCap,
		Egress:         egressPolicy,
		Metrics:        mets,
		HSTS:           tlsF.enabled(),
	}))
	httpErr := make(chan error, 1)
	go func() { httpErr <- app.Listener(ln) }()
	logger.Info("waedge is serving", slog.String("http_addr", ln.Addr().String()), slog.String("public_url", edge.publicURL),
		slog.String("node_id", n.ID()))
	go announceConsole(ctx, n, accounts, *dataDir, edge.publicURL, logger)

	code := 0
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-httpErr:
		logger.Error("HTTP server stopped", slog.Any("err", err))
		code = 1
	}
	if err := app.ShutdownWithTimeout(10 * time.Second); err != nil {
		logger.Warn("HTTP shutdown", slog.Any("err", err))
	}
	if err := n.Close(); err != nil {
		logger.Warn("node shutdown", slog.Any("err", err))
	}
	return code
}

// defaultDataDir is serve's --data-dir default.
const defaultDataDir = "./waedge-data"

// defaultSandboxDir is where the embedded sandbox relay of a node with
// dataDir lives: a sibling, so the data dir holds only the node's sealed
// state (hosted phones keep their chats in clear, as phones do).
func defaultSandboxDir(dataDir string) string { return filepath.Clean(dataDir) + ".sandbox" }

// defaultRelayTokenFile is the embedded sandbox's token file as `waedge
// serve` with the same environment would place it.
func defaultRelayTokenFile(getenv func(string) string) string {
	dir := getenv("WAEDGE_SANDBOX_DIR")
	if dir == "" {
		dir = defaultSandboxDir(envDefault(getenv, "data-dir", defaultDataDir))
	}
	return filepath.Join(dir, relay.TokenFileName)
}

// startNetwork connects the cluster to the network its business numbers
// are reached on: the leader runs the connector (package connector) against
// a sandbox relay — embedded in this process (its state in sandboxDir)
// unless networkURL names a shared one. It returns what stops the embedded
// relay.
func startNetwork(ctx context.Context, n *node.Node, sealer *seal.Sealer, networkURL, relayAddr, sandboxDir string,
	now func() time.Time, logger *slog.Logger, egressPolicy *egress.Policy, own *ownAddrs) (func(), error) {
	if networkURL == "off" {
		return func() {}, nil
	}
	signalstore.SetupLogging(logger.With(slog.String("component", "libsignal")))
	stop := func() {}
	base := networkBase(networkURL)
	if networkURL == "" {
		rl, err := relay.New(relay.Config{DataDir: sandboxDir}, logger.With(slog.String("component", "relay")))
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", relayAddr)
		if err != nil {
			_ = rl.Close()
			return nil, fmt.Errorf("embedded relay: %w", err)
		}
		base = "http://" + ln.Addr().String()
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := rl.Serve(ctx, ln); err != nil {
				logger.Warn("embedded relay stopped", slog.Any("err", err))
			}
		}()
		stop = func() {
			_ = rl.Close()
			<-done
		}
		logger.Info("embedded sandbox relay", slog.String("url", base), slog.String("sandbox_dir", sandboxDir),
			slog.String("token_file", rl.TokenPath()))
	}
	own.addURL(base) // a shared relay's phone API is internal too
	clog := logger.With(slog.String("component", "connector"))
	conn := connector.New(connector.Deps{
		Cluster: n,
		Sealer:  sealer,
		Logger:  clog,
		Now:     now,
		Egress:  egressPolicy,
		Dial: func(ctx context.Context, signer network.Signer) (network.Network, error) {
			return relayclient.Dial(ctx, base, relayclient.Options{Signer: signer, Logger: clog})
		},
	}, connector.Config{})
	n.RegisterWorker("network", conn.Run)
	return stop, nil
}

// networkBase is the HTTP base URL of a shared relay named by --network
// (relay://HOST:PORT, or an http(s) URL as it is).
func networkBase(networkURL string) string {
	if rest, ok := strings.CutPrefix(networkURL, "relay://"); ok {
		return "http://" + rest
	}
	return networkURL
}

// testClock is the process's clock: time.Now, moved forward by advance
// only when the test clock is enabled (WAEDGE_TEST_CLOCK=1), so black-box
// tests can reach retention without sleeping. Every component that decides
// by time (web, sealer, webhooks, expiry) reads it.
type testClock struct {
	enabled bool
	offset  atomic.Int64 // nanoseconds
}

// Now is the current time of the process.
func (c *testClock) Now() time.Time {
	return time.Now().Add(time.Duration(c.offset.Load()))
}

// advance moves the clock forward by d and returns the new time.
func (c *testClock) advance(d time.Duration) time.Time {
	if !c.enabled {
		return c.Now()
	}
	c.offset.Add(int64(d))
	return c.Now()
}

// startPprof serves the Go profiler on addr (operators and benchmarks).
func startPprof(addr string, logger *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Warn("pprof server not started", slog.Any("err", err))
		return
	}
	// The bound address: with port 0 (one flag for every node of a bench
	// cluster) this line is how to find each node's profiler.
	logger.Info("pprof serving", slog.String("addr", ln.Addr().String()))
	go func() {
		if err := srv.Serve(ln); err != nil {
			logger.Warn("pprof server stopped", slog.Any("err", err))
		}
	}()
}

// newLogger builds the process logger: JSON unless writing to a terminal.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "auto", "":
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				return slog.New(slog.NewTextHandler(w, opts)), nil
			}
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want json, text or auto", format)
	}
}

// parseExpiryYield reads --expiry-yield as retention.Config.Yield: a number
// from 0 to 100, where 0 (no pause) becomes the config's negative value
// (its zero takes the default).
func parseExpiryYield(v string) (float64, error) {
	y, err := strconv.ParseFloat(v, 64)
	if err != nil || !(y >= 0 && y <= 100) {
		return 0, errors.New("want a number from 0 to 100")
	}
	if y == 0 {
		return -1, nil
	}
	return y, nil
}
