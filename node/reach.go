package node

import (
	"bufio"
	"net"
	"sync"
	"time"

	"github.com/waedge/waedge/cluster"
)

// probeTimeout bounds one reachability probe: a member that does not
// complete a mutual-TLS handshake within it is reported unreachable.
const probeTimeout = 750 * time.Millisecond

// probeFresh is how long a probe's result is reused: every open console
// asks for the status each second, and a member is dialled at most this
// often however many ask.
const probeFresh = 500 * time.Millisecond

// probeCache keeps the latest probe of each member address.
type probeCache struct {
	mu      sync.Mutex
	last    map[string]probeResult
	refused map[string]time.Time // members that refused the version request
}

type probeResult struct {
	at      time.Time
	ok      bool
	rtt     time.Duration
	version string // "" when the member could not tell
}

// probeMembers sets Reachable on every member: this node itself is
// reachable; any other member is if it completes a mutual-TLS handshake on
// its cluster address (then the connection is closed before any request,
// which the peer drops silently). A process that was kill -9'd refuses the
// connection at once, a lost host times out, so the status shows a dead
// member within a second instead of listing it as a healthy voter until
// Raft notices.
func (n *Node) probeMembers(ms []cluster.Member) {
	if n.pool == nil {
		return
	}
	var wg sync.WaitGroup
	for i := range ms {
		if ms[i].ID == n.id {
			ms[i].Reachable = true
			ms[i].Version = n.version()
			continue
		}
		wg.Add(1)
		go func(m *cluster.Member) {
			defer wg.Done()
			r := n.probe(m.Address)
			m.Reachable = r.ok
			switch {
			case !r.ok:
				m.Reachability = reachUnreachable // whatever Raft last saw
			case m.Reachability == reachUnknown:
				m.Reachability = reachable
			}
			if r.ok {
				m.ProbeRTT = r.rtt.Round(100 * time.Microsecond).String()
				m.Version = r.version
			}
		}(&ms[i])
	}
	wg.Wait()
}

// askVersion asks a member on a fresh RPC connection for its binary
// version ("" when it does not answer by deadline, or is too old to know
// the request: its refusal does not make it unreachable).
// refused reports a member that answered with an error: an older binary,
// which logs every unknown request, so it is not asked again for a while.
func askVersion(c net.Conn, deadline time.Time) (version string, refused bool) {
	_ = c.SetDeadline(deadline)
	w := bufio.NewWriter(c)
	if writeFrame(w, &rpcRequest{Op: "version"}) != nil {
		return "", false
	}
	var resp rpcResponse
	if readFrameMax(bufio.NewReader(c), &resp, maxJoinFrame) != nil {
		return "", false
	}
	return resp.Version, resp.ErrKind != ""
}

// versionRetry is how long a member that refused the version request is
// not asked again.
const versionRetry = time.Minute

// version is this node's binary version as reported to its peers.
func (n *Node) version() string {
	if n.cfg.Version == "" {
		return "unknown"
	}
	return n.cfg.Version
}

// probe returns a fresh enough result for addr, dialling when there is none.
func (n *Node) probe(addr string) probeResult {
	n.probes.mu.Lock()
	r, ok := n.probes.last[addr]
	n.probes.mu.Unlock()
	if ok && time.Since(r.at) < probeFresh {
		return r
	}
	start := time.Now()
	r = probeResult{at: start}
	if c, err := dialTLS(addr, n.pool.tls, hdrRPC, probeTimeout); err == nil {
		r.ok, r.rtt = true, time.Since(start)
		n.probes.mu.Lock()
		skip := time.Since(n.probes.refused[addr]) < versionRetry
		n.probes.mu.Unlock()
		if !skip {
			v, refused := askVersion(c, start.Add(probeTimeout))
			r.version = v
			if refused {
				n.probes.mu.Lock()
				if n.probes.refused == nil || len(n.probes.refused) > 64 {
					n.probes.refused = map[string]time.Time{}
				}
				n.probes.refused[addr] = time.Now()
				n.probes.mu.Unlock()
			}
		}
		_ = c.Close()
	}
	n.probes.mu.Lock()
	if n.probes.last == nil || len(n.probes.last) > 64 {
		n.probes.last = map[string]probeResult{} // members come and go; never grows
	}
	n.probes.last[addr] = r
	n.probes.mu.Unlock()
	return r
}
