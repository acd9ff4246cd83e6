package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/waedge/waedge/httptls"
)

// tlsFlags are serve's flags for TLS on the HTTP port.
type tlsFlags struct {
	cert, key *string
	auto      *bool
}

func addTLSFlags(fs *flag.FlagSet, getenv func(string) string) *tlsFlags {
	return &tlsFlags{
		cert: fs.String("tls-cert", envDefault(getenv, "tls-cert", ""),
			"PEM certificate (chain) of the HTTP port; with --tls-key the port speaks HTTPS only; re-read on SIGHUP"),
		key: fs.String("tls-key", envDefault(getenv, "tls-key", ""),
			"PEM private key of --tls-cert; re-read on SIGHUP"),
		auto: fs.Bool("tls-auto", envDefault(getenv, "tls-auto", "") == "true",
			"serve HTTPS with a self-signed certificate kept in <data-dir>/"+httptls.AutoDir+" (generated when missing; its SHA-256 fingerprint is logged; clients trust it with --ca-file <data-dir>/"+httptls.AutoDir+"/"+httptls.AutoCertFile+")"),
	}
}

// check validates the combination.
func (f *tlsFlags) check() error {
	if (*f.cert == "") != (*f.key == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if *f.auto && *f.cert != "" {
		return errors.New("--tls-auto and --tls-cert/--tls-key exclude each other")
	}
	return nil
}

func (f *tlsFlags) enabled() bool { return *f.auto || *f.cert != "" }

// startTLS loads (or, with --tls-auto, creates) the HTTP port's
// certificate, re-reads it on every SIGHUP until stop is called, and
// returns the server configuration.
func (f *tlsFlags) startTLS(dataDir string, httpAddr net.Addr, publicURL string, logger *slog.Logger) (*tls.Config, func(), error) {
	certFile, keyFile := *f.cert, *f.key
	if *f.auto {
		var err error
		certFile, keyFile, err = httptls.EnsureSelfSigned(filepath.Join(dataDir, httptls.AutoDir), autoHosts(httpAddr, publicURL), time.Now())
		if err != nil {
			return nil, nil, err
		}
	}
	r, err := httptls.NewReloader(certFile, keyFile)
	if err != nil {
		return nil, nil, err
	}
	logger.Info("HTTPS on the HTTP port", slog.String("cert_file", certFile), slog.Bool("self_signed", *f.auto),
		slog.String("sha256_fingerprint", r.Fingerprint()), slog.Time("not_after", r.NotAfter()))
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				if err := r.Reload(); err != nil {
					logger.Error("TLS certificate not reloaded; still serving the previous one", slog.Any("err", err))
					continue
				}
				logger.Info("TLS certificate reloaded", slog.String("sha256_fingerprint", r.Fingerprint()),
					slog.Time("not_after", r.NotAfter()))
			case <-done:
				return
			}
		}
	}()
	stop := func() {
		signal.Stop(hup)
		close(done)
	}
	return r.ServerConfig(), stop, nil
}

// autoHosts are the names a self-signed certificate covers: loopback, the
// listen address (every local address when unspecified is not knowable, so
// the host name), and the public URL's host.
func autoHosts(addr net.Addr, publicURL string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if host, _, err := net.SplitHostPort(addr.String()); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			if h, err := os.Hostname(); err == nil {
				hosts = append(hosts, h)
			}
		} else {
			hosts = append(hosts, host)
		}
	}
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
		hosts = append(hosts, u.Hostname())
	}
	return hosts
}

// httpsURL turns the derived default public URL into https (an explicit
// --public-url is kept as given).
func httpsURL(u string) string { return "https://" + strings.TrimPrefix(u, "http://") }
