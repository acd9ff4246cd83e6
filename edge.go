package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/waedge/waedge/listener"
	"github.com/waedge/waedge/web"
)

// edgeFlags are the serve flags that bound what clients of the HTTP port
// can make a node spend, and the URL it hands out.
type edgeFlags struct {
	publicURL       *string
	maxConnsPerIP   *int
	maxBodyInFlight *string
}

func addEdgeFlags(fs *flag.FlagSet, getenv func(string) string) (*edgeFlags, error) {
	conns, err := strconv.Atoi(envDefault(getenv, "max-conns-per-ip", "256"))
	if err != nil {
		return nil, fmt.Errorf("WAEDGE_MAX_CONNS_PER_IP: %w", err)
	}
	return &edgeFlags{
		publicURL: fs.String("public-url", envDefault(getenv, "public-url", ""),
			"base URL clients reach this node's HTTP API at, used in every URL waedge hands out (media downloads, paging links); default http://<http-addr>"),
		maxConnsPerIP: fs.Int("max-conns-per-ip", conns,
			"open HTTP connections allowed from one client IP address (0: no cap)"),
		maxBodyInFlight: fs.String("max-body-in-flight", envDefault(getenv, "max-body-in-flight", "64MiB"),
			"request body bytes all HTTP requests together may hold in memory; beyond it requests get 503 with Retry-After"),
	}, nil
}

// edgeConfig is the checked form of edgeFlags.
type edgeConfig struct {
	publicURL       string
	maxConnsPerIP   int
	maxBodyInFlight int64
}

// check validates the flags; addr is the bound HTTP address the default
// public URL is derived from.
func (f *edgeFlags) check(addr net.Addr) (edgeConfig, error) {
	var c edgeConfig
	if *f.maxConnsPerIP < 0 {
		return c, errors.New("--max-conns-per-ip: want 0 (no cap) or more")
	}
	c.maxConnsPerIP = *f.maxConnsPerIP
	n, err := parseSize(*f.maxBodyInFlight)
	if err != nil || n < 4<<20 {
		return c, fmt.Errorf("--max-body-in-flight %q: want a size of at least 4MiB (one request's limit), e.g. 64MiB", *f.maxBodyInFlight)
	}
	c.maxBodyInFlight = n
	if c.publicURL, err = publicURL(*f.publicURL, addr); err != nil {
		return c, err
	}
	return c, nil
}

// publicURL checks --public-url, or derives it from the HTTP listener's
// address (an unspecified address becomes loopback).
func publicURL(v string, addr net.Addr) (string, error) {
	if v == "" {
		host, port, err := net.SplitHostPort(addr.String())
		if err != nil {
			return "", fmt.Errorf("HTTP address %s: %w", addr, err)
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
			if ip.To4() == nil {
				host = "::1"
			}
		}
		return "http://" + net.JoinHostPort(host, port), nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("--public-url %q: want an absolute http(s) URL without user, query or fragment, e.g. https://wa.example.com", v)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// parseSize reads a byte count with an optional KiB, MiB or GiB suffix.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSuffix(s, suffix), m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want a number of bytes, KiB, MiB or GiB", s)
	}
	return n * mult, nil
}

// guardHTTP wraps the HTTP listener: exhaustion pauses accepting instead
// of stopping the server, and one client IP gets at most the configured
// number of connections.
func guardHTTP(ln net.Listener, c edgeConfig, logger *slog.Logger) net.Listener {
	return listener.New(ln, listener.Config{Name: "http", Logger: logger, MaxConnsPerIP: c.maxConnsPerIP})
}

// webEdge copies the edge settings into the web layer's dependencies.
func (c edgeConfig) webEdge(d web.Deps) web.Deps {
	d.PublicURL = c.publicURL
	d.MaxBodyInFlight = c.maxBodyInFlight
	return d
}
