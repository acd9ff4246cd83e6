package relay

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/waedge/waedge/phone"
)

// Main runs `relay --addr ADDR --data-dir DIR` until ctx is cancelled. It parses its own flags,
// logs to stderr, prints the listening URL and where the API token is (never the token) to stdout
// and returns a process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8088", "listen address (host:port)")
	dataDir := fs.String("data-dir", "relay-data", "directory for relay.db, blobs, hosted phones and relay.token (the API token, created at first start)")
	noSync := fs.Bool("no-sync", false, "do not fsync relay.db and hosted-phones.db (a crash may lose the last writes); for benchmarks on one machine")
	verbose := fs.Bool("v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "relay: unexpected arguments %q\n", fs.Args())
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	phone.SetupSignalLogging(logger) // hosted phones run libsignal in this process

	r, err := New(Config{DataDir: *dataDir, NoSync: *noSync}, logger)
	if err != nil {
		fmt.Fprintf(stderr, "relay: %v\n", err)
		return 1
	}
	defer r.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "relay: %v\n", err)
		return 1
	}
	logger.Info("relay API token", "token_file", r.TokenPath())
	fmt.Fprintf(stdout, "relay listening on http://%s\nAPI token file: %s (pass it to waedge sandbox phone with --relay-token-file)\n", ln.Addr(), r.TokenPath())
	if err := r.Serve(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "relay: %v\n", err)
		return 1
	}
	return 0
}
