// Package egress is the one policy for every HTTP request waedge makes on a
// tenant's behalf (webhook verification and deliveries, media links): the
// address actually dialed — after DNS, for every redirect hop — must not be
// inside the operator's network or waedge itself, unless the operator
// allowed its range.
package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrRefused marks a destination the policy refuses (wrapped with the
// reason; never shown to tenants, who get one uniform error).
var ErrRefused = errors.New("egress: destination refused")

// ErrTooLarge: a response body exceeded its limit.
var ErrTooLarge = errors.New("egress: response too large")

// Resolver resolves host names (net.DefaultResolver fits).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a Policy; the zero value refuses every internal range
// and allows nothing extra.
type Config struct {
	// Allow admits these ranges although a refused class covers them (a
	// receiver on the business's private network; tests on 127.0.0.1).
	Allow []netip.Prefix
	// Own lists the "host:port" addresses waedge itself listens on (this
	// node's HTTP, cluster and relay addresses, its cluster members'). It is
	// called at every dial, so membership changes apply at once. These are
	// refused even when Allow covers them. A host of "" or 0.0.0.0/[::]
	// means every local address; names are resolved (cached briefly).
	Own func() []string
	// Resolver resolves names in Own (default net.DefaultResolver).
	Resolver Resolver
	// DialTimeout bounds one TCP connect (default 10 s).
	DialTimeout time.Duration
}

// Policy decides which addresses may be dialed and builds HTTP clients that
// only dial those.
type Policy struct {
	cfg Config

	mu    sync.Mutex
	names map[string]resolved // Own names → addresses
}

type resolved struct {
	addrs []netip.Addr
	until time.Time
}

// nameTTL is how long a resolved Own name is trusted.
const nameTTL = 30 * time.Second

// New returns the policy for cfg.
func New(cfg Config) *Policy {
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	allow := make([]netip.Prefix, len(cfg.Allow))
	for i, p := range cfg.Allow {
		if p.Addr().Is4In6() && p.Bits() >= 96 { // ::ffff:10.0.0.0/104 is 10.0.0.0/8
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		allow[i] = p.Masked()
	}
	cfg.Allow = allow
	return &Policy{cfg: cfg, names: map[string]resolved{}}
}

// ParseAllow reads a comma-separated list of CIDR ranges or single
// addresses (as given to --egress-allow).
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			if p.Addr().Zone() != "" {
				return nil, fmt.Errorf("egress allow %q: zones are not supported", f)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("egress allow %q: want a CIDR range (10.0.0.0/8) or an address", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Check reports whether dst may be dialed: nil, or an error wrapping
// ErrRefused that names the reason.
func (p *Policy) Check(dst netip.AddrPort) error {
	ip := dst.Addr().Unmap().WithZone("")
	if p.isOwn(ip, dst.Port()) {
		return fmt.Errorf("%w: %s is an address waedge listens on", ErrRefused, netip.AddrPortFrom(ip, dst.Port()))
	}
	for _, a := range p.cfg.Allow {
		if a.Contains(ip) {
			return nil
		}
	}
	if class := Internal(ip); class != "" {
		return fmt.Errorf("%w: %s is %s (see --egress-allow)", ErrRefused, ip, class)
	}
	return nil
}

// control is the dialer's hook: it sees the address about to be connected,
// after name resolution, for every connection attempt.
func (p *Policy) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q", ErrRefused, address)
	}
	return p.Check(ap)
}

// DialContext dials like net.Dialer, refusing what Check refuses.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: p.cfg.DialTimeout, KeepAlive: 30 * time.Second, Control: p.control}
	return d.DialContext(ctx, network, addr)
}

// ClientConfig shapes one HTTP client of the policy.
type ClientConfig struct {
	// Timeout bounds a whole request, body included (0: none; use a
	// context deadline instead).
	Timeout time.Duration
	// Redirects is how many redirects are followed; 0 follows none (the
	// 3xx response is returned as it is).
	Redirects int
	// IdleConnsPerHost keeps this many idle connections per host (default 2).
	IdleConnsPerHost int
}

// Client returns an HTTP client whose every connection passes Check. It
// uses no proxy (a proxy from the environment would dial on its behalf,
// unchecked) and follows redirects only to http(s), at most cc.Redirects.
func (p *Policy) Client(cc ClientConfig) *http.Client {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           p.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		MaxIdleConnsPerHost:   cc.IdleConnsPerHost,
		MaxIdleConns:          max(100, 16*cc.IdleConnsPerHost),
	}
	return &http.Client{Transport: tr, Timeout: cc.Timeout, CheckRedirect: checkRedirect(cc.Redirects)}
}

func checkRedirect(limit int) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if limit == 0 {
			return http.ErrUseLastResponse
		}
		if len(via) > limit {
			return fmt.Errorf("%w: more than %d redirects", ErrRefused, limit)
		}
		if s := req.URL.Scheme; s != "http" && s != "https" {
			return fmt.Errorf("%w: redirect to scheme %q", ErrRefused, s)
		}
		return nil
	}
}

// ReadLimited reads r to its end, but never more than limit+1 bytes:
// ErrTooLarge when it holds more than limit.
func ReadLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
	}
	return b, nil
}

// isOwn reports whether ip:port is one of waedge's own listen addresses.
func (p *Policy) isOwn(ip netip.Addr, port uint16) bool {
	if p.cfg.Own == nil {
		return false
	}
	var local []netip.Addr // this host's addresses, looked up when needed
	isLocal := func(a netip.Addr) bool {
		if a.IsLoopback() || a.IsUnspecified() {
			return true
		}
		if local == nil {
			local = localAddrs()
		}
		for _, l := range local {
			if l == a {
				return true
			}
		}
		return false
	}
	want := strconv.Itoa(int(port))
	for _, hp := range p.cfg.Own() {
		host, ps, err := net.SplitHostPort(hp)
		if err != nil || ps != want {
			continue
		}
		for _, o := range p.resolve(host) {
			switch {
			case o == ip:
				return true
			case o.IsUnspecified() && isLocal(ip): // a wildcard listener answers on every local address
				return true
			case ip.IsUnspecified() && isLocal(o): // connecting to 0.0.0.0 reaches this host
				return true
			}
		}
	}
	return false
}

// resolve turns an Own host into addresses ("" is the wildcard).
func (p *Policy) resolve(host string) []netip.Addr {
	if host == "" {
		return []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap().WithZone("")}
	}
	now := time.Now()
	p.mu.Lock()
	r, ok := p.names[host]
	p.mu.Unlock()
	if ok && now.Before(r.until) {
		return r.addrs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs, _ := p.cfg.Resolver.LookupNetIP(ctx, "ip", host)
	for i := range addrs {
		addrs[i] = addrs[i].Unmap().WithZone("")
	}
	p.mu.Lock()
	p.names[host] = resolved{addrs: addrs, until: now.Add(nameTTL)}
	p.mu.Unlock()
	return addrs
}

// localAddrs lists this host's interface addresses.
func localAddrs() []netip.Addr {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return []netip.Addr{}
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}
