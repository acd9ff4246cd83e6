package node

import (
	"sync"
	"time"

	"github.com/waedge/waedge/cluster"
)

// probeTimeout bounds one reachability probe: a member that does not
// complete a mutual-TLS handshake within it is reported unreachable.
const probeTimeout = 750 * time.Millisecond

// probeMembers sets Reachable on every member: this node itself is
// reachable; any other member is if it completes a mutual-TLS handshake on
// its cluster address now (then the connection is closed before any
// request, which the peer drops silently). A process that was kill -9'd
// refuses the connection at once, a lost host times out, so the status
// shows a dead member within a second instead of listing it as a healthy
// voter until Raft notices.
func (n *Node) probeMembers(ms []cluster.Member) {
	if n.pool == nil {
		return
	}
	var wg sync.WaitGroup
	for i := range ms {
		if ms[i].ID == n.id {
			ms[i].Reachable = true
			continue
		}
		wg.Add(1)
		go func(m *cluster.Member) {
			defer wg.Done()
			start := time.Now()
			c, err := dialTLS(m.Address, n.pool.tls, hdrRPC, probeTimeout)
			if err != nil {
				return
			}
			_ = c.Close()
			m.Reachable = true
			m.ProbeRTT = time.Since(start).Round(100 * time.Microsecond).String()
		}(&ms[i])
	}
	wg.Wait()
}
