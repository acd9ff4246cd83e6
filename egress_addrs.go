package main

import (
	"net/netip"
	"net/url"
	"strings"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/waedge/waedge/egress"
)

// ownAddrs lists the addresses this process listens on (HTTP, cluster,
// relay, profiler), which the egress policy refuses even inside an allowed
// range.
type ownAddrs struct {
	mu    sync.Mutex
	addrs []string
}

func (o *ownAddrs) add(addrs ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, a := range addrs {
		if a != "" {
			o.addrs = append(o.addrs, a)
		}
	}
}

// addURL adds the host:port of a URL such as the shared relay's.
func (o *ownAddrs) addURL(raw string) {
	u, err := url.Parse(strings.Replace(raw, "relay://", "http://", 1))
	if err != nil || u.Host == "" {
		return
	}
	host := u.Host
	if u.Port() == "" {
		host += map[bool]string{true: ":443", false: ":80"}[u.Scheme == "https"]
	}
	o.add(host)
}

// newEgress builds the egress policy: allow is --egress-allow; the refused
// own addresses are this process's plus the cluster members' addresses from
// the Raft configuration, read at each dial so membership changes apply.
func newEgress(allow []netip.Prefix, own *ownAddrs, r func() *raft.Raft) *egress.Policy {
	return egress.New(egress.Config{Allow: allow, Own: func() []string {
		own.mu.Lock()
		out := append([]string(nil), own.addrs...)
		own.mu.Unlock()
		if rf := r(); rf != nil {
			if f := rf.GetConfiguration(); f.Error() == nil {
				for _, s := range f.Configuration().Servers {
					out = append(out, string(s.Address))
				}
			}
		}
		return out
	}})
}
