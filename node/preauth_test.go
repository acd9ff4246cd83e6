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

// TestPreAuthConnectionCap: while maxPreAuth unauthenticated connections
// sit on the join protocol without a word, a further connection gets no
// TLS answer (it waits for a slot, holding only its socket); once they are
// gone, strangers and members are served again.
func TestPreAuthConnectionCap(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n := startNode(t, cfg)
	waitFor(t, "ready", 10*time.Second, n.Ready)

	// Join connections that never send their request hold a slot for the
	// join read timeout (10 s).
	silent := make([]net.Conn, 0, maxPreAuth)
	for range maxPreAuth {
		silent = append(silent, strangerConn(t, cfg.ClusterAddr, hdrJoin))
	}
	waitFor(t, "the silent connections to hold every slot", 5*time.Second, func() bool { return len(n.mux.preAuth) == maxPreAuth })

	raw, err := net.Dial("tcp", cfg.ClusterAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	extra := tls.Client(raw, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a stranger
	_ = extra.SetDeadline(time.Now().Add(time.Second))
	if err := extra.Handshake(); err == nil {
		t.Fatalf("a TLS handshake was served while %d unauthenticated connections held the port", maxPreAuth)
	}

	for _, c := range silent {
		_ = c.Close()
	}
	waitFor(t, "slots given back", 10*time.Second, func() bool { return len(n.mux.preAuth) == 0 })
	late := strangerConn(t, cfg.ClusterAddr, hdrJoin) // completes its handshake
	_ = late.Close()
	waitFor(t, "a member RPC after the flood", 15*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := n.pool.call(ctx, cfg.ClusterAddr, &rpcRequest{Op: "propose", Cmds: [][]byte{noop(t)}})
		return err == nil && resp.ErrKind == ""
	})
}
