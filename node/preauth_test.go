package node

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"
)

// strangerConn opens a TLS connection to the cluster port without a client
// certificate, as anyone on the network can, and writes hdr.
func strangerConn(t *testing.T, addr string, hdr byte) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the attacker does not check
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Write([]byte{hdr}); err != nil {
		t.Fatal(err)
	}
	return c
}

// closedWithin reports whether the server closes c within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestOversizedJoinFrame: a join request (read before any authentication)
// that announces more than 64 KiB closes the connection, and nothing of
// the announced size is allocated: ten connections announcing 64 MiB
// each allocate less than 8 MiB in the whole process.
func TestOversizedJoinFrame(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n := startNode(t, cfg)
	waitFor(t, "ready", 10*time.Second, n.Ready)

	var conns []*tls.Conn
	for range 10 {
		conns = append(conns, strangerConn(t, cfg.ClusterAddr, hdrJoin))
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, c := range conns {
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], maxFrame)
		if _, err := c.Write(hdr[:]); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range conns {
		if !closedWithin(c, 5*time.Second) {
			t.Fatalf("connection %d announcing a 64 MiB join request is still open", i)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Fatalf("ten oversized join frames allocated %d bytes", grew)
	}

	// Just over the limit is refused too; the limit is what a join needs.
	c := strangerConn(t, cfg.ClusterAddr, hdrJoin)
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], maxJoinFrame+1)
	_, _ = c.Write(hdr[:])
	if !closedWithin(c, 5*time.Second) {
		t.Fatal("a join frame one byte over the limit was not refused")
	}
}

// TestPreAuthConnectionCap: connections that never finish the TLS
// handshake hold at most maxPreAuth slots; the ones beyond are closed at
// once (not after the handshake timeout), and members are served again
// once the flood is gone.
func TestPreAuthConnectionCap(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n := startNode(t, cfg)
	waitFor(t, "ready", 10*time.Second, n.Ready)

	const flood = maxPreAuth + 40
	conns := make([]net.Conn, 0, flood)
	for range flood {
		c, err := net.Dial("tcp", cfg.ClusterAddr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	closedEarly := 0
	deadline := time.Now().Add(handshakeTimeout / 2)
	for _, c := range conns {
		if closedWithin(c, max(time.Until(deadline), time.Millisecond)) {
			closedEarly++
		}
	}
	for _, c := range conns {
		_ = c.Close()
	}
	if closedEarly < flood-maxPreAuth {
		t.Fatalf("%d of %d silent connections closed before the handshake timeout, want at least %d", closedEarly, flood, flood-maxPreAuth)
	}
	if closedEarly > flood-maxPreAuth+10 {
		t.Fatalf("%d of %d silent connections closed early: the cap is lower than %d", closedEarly, flood, maxPreAuth)
	}
	waitFor(t, "a member RPC after the flood", 15*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := n.pool.call(ctx, cfg.ClusterAddr, &rpcRequest{Op: "propose", Cmds: [][]byte{noop(t)}})
		return err == nil && resp.ErrKind == ""
	})
}
