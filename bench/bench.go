// Package bench is `waedge bench`: it measures a waedge cluster on the
// hardware it runs on — by default a cluster of real `waedge serve`
// processes of this very binary that it starts itself (temporary
// directories, loopback, fsync on), or a running cluster named by
// --target — and, with --baseline, the bare reference beside it in the
// same invocation, so every figure comes with the ratio to what the
// machine can do (DESIGN.md).
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Options is one invocation of the bench.
type Options struct {
	Scenario string
	Nodes    int
	Senders  []int
	Duration time.Duration
	Messages int
	Phones   int
	Rounds   int
	Targets  []string
	Token    string
	JSON     bool
	Baseline bool
	// Stages adds the mean of each waedge_commit_stage_seconds stage
	// over the level (accept).
	Stages    bool
	Binary    string
	ServeArgs []string
	Keep      bool
	// CAFile holds the certificates trusted for https:// --target URLs.
	CAFile string
}

// scenario runs one kind of measurement and returns its result lines;
// emit is called with each line as soon as it is measured.
type scenario struct {
	help    string
	senders string // default --senders
	run     func(ctx context.Context, o Options, pr *progress, emit func(Result)) error
}

func scenarios() map[string]scenario {
	return map[string]scenario{
		"accept":   {help: "POST /messages accepted per second, senders spread over the nodes", senders: "8,64,512", run: runAccept},
		"failover": {help: "kill -9 of the leader under a light write load → next acknowledged write (median of --rounds)", senders: "1", run: runFailover},
		"webhooks": {help: "webhook events delivered per second to a local receiver (--messages events, default 10,000)", senders: "64", run: runWebhooks},
		"e2e":      {help: "messages per second each way through real Signal with --phones hosted phones (--messages each way, default 10,000)", senders: "64", run: runE2E},
		"expiry":   {help: "sends while --messages messages (default 1,000,000) expire, against idle; time to expire them", senders: "32", run: runExpiry},
		"retained": {help: "accept rate with --messages retained messages (default 1,000,000) against the same cluster empty; bytes on disk per message", senders: "64", run: runRetained},
	}
}

// Main runs `waedge bench SCENARIO [flags]`: progress on stderr, the
// results on stdout (a table, or one JSON object per line with --json).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	all := scenarios()
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		usage(stderr, all)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return 0
		}
		return 2
	}
	sc, ok := all[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "waedge bench: unknown scenario %q\n", args[0])
		usage(stderr, all)
		return 2
	}
	o, err := parseOptions(args[0], sc.senders, args[1:], stderr, getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "waedge bench: %v\n", err)
		return 2
	}
	pr := newProgress(stderr)
	var results []Result
	emit := func(r Result) {
		results = append(results, r)
		if o.JSON {
			_ = writeJSON(stdout, []Result{r})
		}
	}
	runErr := sc.run(ctx, o, pr, emit)
	if !o.JSON && len(results) > 0 {
		_ = writeTable(stdout, results)
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "waedge bench %s: %v\n", o.Scenario, runErr)
		return 1
	}
	return 0
}

func usage(w io.Writer, all map[string]scenario) {
	fmt.Fprint(w, "usage: waedge bench SCENARIO [flags]\n\nscenarios:\n")
	for _, name := range []string{"accept", "failover", "webhooks", "e2e", "expiry", "retained"} {
		fmt.Fprintf(w, "  %-9s %s\n", name, all[name].help)
	}
	fmt.Fprint(w, "\nRun 'waedge bench accept -h' for the flags.\n")
}

func parseOptions(name, defSenders string, args []string, stderr io.Writer, getenv func(string) string) (Options, error) {
	o := Options{Scenario: name}
	fs := flag.NewFlagSet("bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.Nodes, "nodes", 3, "nodes of the cluster the bench starts")
	senders := fs.String("senders", defSenders, "comma-separated concurrency levels, each measured in turn")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long each level runs")
	fs.IntVar(&o.Messages, "messages", 0, "messages preloaded by expiry, retained and webhooks (0: the scenario's default)")
	fs.IntVar(&o.Phones, "phones", 1000, "hosted phones of the e2e scenario")
	fs.IntVar(&o.Rounds, "rounds", 5, "failover: leader kills measured (the median is reported)")
	target := fs.String("target", "", "comma-separated HTTP base URLs of a running cluster to measure instead of starting one")
	fs.StringVar(&o.Token, "token", getenv("WAEDGE_ADMIN_TOKEN"), "admin token of the --target cluster (env WAEDGE_ADMIN_TOKEN)")
	fs.StringVar(&o.CAFile, "ca-file", getenv("WAEDGE_CA_FILE"), "PEM certificate(s) to trust for https:// --target URLs (env WAEDGE_CA_FILE)")
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object per result line instead of a table")
	fs.BoolVar(&o.Baseline, "baseline", false, "also measure the bare reference in the same invocation and print the ratio")
	fs.BoolVar(&o.Stages, "stages", false, "accept: also print the mean time of each stage of a write (waedge_commit_stage_seconds) over the level, in ms")
	fs.StringVar(&o.Binary, "binary", "", "waedge binary the bench's nodes run (default: this one)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the bench's cluster directory (data and node logs) and print its path")
	serveArgs := fs.String("serve-args", "", "extra flags for every node the bench starts, space-separated (e.g. \"--raft-heartbeat-timeout 300ms\")")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, s := range strings.Split(*senders, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return o, fmt.Errorf("--senders %q: want positive integers separated by commas", *senders)
		}
		o.Senders = append(o.Senders, n)
	}
	if o.Nodes < 1 || o.Duration <= 0 || o.Rounds < 1 || o.Messages < 0 || o.Phones < 1 {
		return o, errors.New("--nodes, --duration, --rounds and --phones must be positive, --messages not negative")
	}
	for _, t := range strings.Split(*target, ",") {
		if t = strings.TrimSpace(t); t != "" {
			o.Targets = append(o.Targets, t)
		}
	}
	if len(o.Targets) > 0 && o.Token == "" {
		return o, errors.New("--target needs --token (the cluster's admin token)")
	}
	o.ServeArgs = strings.Fields(*serveArgs)
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("find this binary: %w", err)
		}
		o.Binary = exe
	}
	return o, nil
}

// openCluster starts the bench's own cluster, or connects to --target.
func openCluster(ctx context.Context, o Options, pr *progress, extra, env []string) (*cluster, error) {
	if len(o.Targets) > 0 {
		pr.note("measuring the running cluster at %s", strings.Join(o.Targets, ", "))
		return targetCluster(o.Targets, o.Token, o.CAFile)
	}
	pr.note("starting %d waedge nodes (%s)", o.Nodes, o.Binary)
	c, err := newCluster(o.Binary)
	if err != nil {
		return nil, err
	}
	c.keep = o.Keep
	if o.Keep {
		pr.note("keeping %s (node data and logs)", c.dir)
	}
	if err := c.startNodes(ctx, o.Nodes, append(append([]string(nil), extra...), o.ServeArgs...), env, pr); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// ownClusterOnly refuses --target for a scenario that needs a cluster the
// bench started (why says what it does to it).
func ownClusterOnly(o Options, why string) error {
	if len(o.Targets) > 0 {
		return fmt.Errorf("%s, so it runs only on a cluster the bench starts (no --target)", why)
	}
	return nil
}

// messagesOr is --messages, or def when it was not given.
func (o Options) messagesOr(def int) int {
	if o.Messages > 0 {
		return o.Messages
	}
	return def
}
