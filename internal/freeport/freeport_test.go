package freeport

import (
	"net"
	"testing"
)

func TestAddrNeverRepeatsAndIsBindable(t *testing.T) {
	seen := map[string]bool{}
	for range 300 {
		a := Addr(t)
		if seen[a] {
			t.Fatalf("address %s handed out twice", a)
		}
		seen[a] = true
	}
	ln, err := net.Listen("tcp", Addr(t))
	if err != nil {
		t.Fatalf("a fresh address cannot be bound: %v", err)
	}
	_ = ln.Close()
}
