package relayclient

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/waedge/waedge/network"
)

func TestDialRejectsBadURLsAndDeadRelays(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens here any more
	cases := []struct {
		url     string
		invalid bool
	}{
		{"ftp://example.org", true},
		{"127.0.0.1:1", true},
		{dead, false},
		{"ws://" + ln.Addr().String(), false},
	}
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := Dial(ctx, c.url, Options{})
		cancel()
		if err == nil {
			t.Fatalf("Dial(%q) succeeded", c.url)
		}
		if errors.Is(err, network.ErrInvalid) != c.invalid {
			t.Fatalf("Dial(%q) = %v, invalid=%v", c.url, err, c.invalid)
		}
	}
}
