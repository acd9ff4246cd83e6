// Package freeport hands tests loopback addresses that nothing listens on.
//
// Asking the kernel for port 0 and closing the listener again is racy in a
// way that matters here: a later request may be given the very same port,
// because it is free again. A process that starts waedge with an HTTP
// address and a relay address taken that way can then find both the same
// (CI saw exactly this). Addr therefore remembers every port it handed out in
// this process and never hands one out twice.
package freeport

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

// given is process-wide by necessity: uniqueness must hold across every test
// of a test binary, which share nothing else.
var (
	mu    sync.Mutex
	given = map[int]bool{}
)

// Addr returns "127.0.0.1:PORT" for a port that was free when asked and that
// no earlier call in this process returned.
func Addr(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	for range 1000 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if !given[port] {
			given[port] = true
			return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		}
	}
	t.Fatal("freeport: no unused loopback port after 1000 tries")
	return ""
}
