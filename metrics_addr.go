package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/waedge/waedge/metrics"
)

// metricsFlags are serve's flags for the separate, unauthenticated
// metrics listener.
type metricsFlags struct {
	addr        *string
	allowRemote *bool
}

func addMetricsFlags(fs *flag.FlagSet, getenv func(string) string) *metricsFlags {
	return &metricsFlags{
		addr: fs.String("metrics-addr", envDefault(getenv, "metrics-addr", ""),
			"serve GET /metrics without a token on this address, e.g. 127.0.0.1:9090 (off when empty; the HTTP port serves /metrics to admin and operator tokens either way)"),
		allowRemote: fs.Bool("metrics-allow-remote", envDefault(getenv, "metrics-allow-remote", "") == "true",
			"allow --metrics-addr on a non-loopback address (the metrics carry no tokens or content, but do show traffic and cluster layout)"),
	}
}

// check refuses a non-loopback --metrics-addr unless it was allowed.
func (f *metricsFlags) check() error {
	if *f.addr == "" || *f.allowRemote {
		return nil
	}
	host, _, err := net.SplitHostPort(*f.addr)
	if err != nil {
		return fmt.Errorf("--metrics-addr %q: %w", *f.addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--metrics-addr %q: serves without authentication, so it must be a loopback address unless --metrics-allow-remote is set", *f.addr)
	}
	return nil
}

// serveMetrics listens on addr and serves m's /metrics without
// authentication; it returns what stops it.
func serveMetrics(addr string, m *metrics.Metrics, logger *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			logger.Warn("metrics server stopped", slog.Any("err", err))
		}
	}()
	logger.Info("serving metrics without authentication", slog.String("metrics_addr", ln.Addr().String()))
	return func() { _ = srv.Close() }, nil
}
