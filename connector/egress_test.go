package connector

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/egress"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/phone"
)

var (
	// loopback is the policy of the test world's webhook receivers and
	// verification (127.0.0.0/8 allowed explicitly).
	loopback = egress.New(egress.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	// mediaSite is the policy of its media links: 127.0.0.1 only, so a
	// media server on 127.0.0.2 stands for an internal address.
	mediaSite = egress.New(egress.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
)

// site serves handler on ip (any loopback address) and counts requests.
func site(t *testing.T, ip string, handler http.HandlerFunc) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		handler(w, r)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), &hits
}

func png(t *testing.T, n int) http.HandlerFunc {
	data := pngBytes(t, n)
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(data)
	}
}

// TestFetchLinkPolicy: media links obey the egress policy at every hop,
// at most 3 redirects, and the message type's size limit.
func TestFetchLinkPolicy(t *testing.T) {
	ctx := context.Background()
	r := &run{c: New(Deps{Egress: mediaSite}, Config{})}
	ok, _ := site(t, "127.0.0.1", png(t, 1000))
	inside, insideHits := site(t, "127.0.0.2", png(t, 1000))
	redirect := func(to string) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) { http.Redirect(w, req, to, http.StatusFound) }
	}
	toInside, _ := site(t, "127.0.0.1", redirect(inside+"/x.png"))
	hops := ok + "/x.png"
	for range 3 {
		u, _ := site(t, "127.0.0.1", redirect(hops))
		hops = u + "/"
	}
	tooMany, _ := site(t, "127.0.0.1", redirect(hops))
	big, _ := site(t, "127.0.0.1", png(t, 5_000_001))
	streamed, _ := site(t, "127.0.0.1", func(w http.ResponseWriter, _ *http.Request) {
		chunk := make([]byte, 64<<10)
		for i := 0; i < 100; i++ { // 6.5 MB without a Content-Length
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	sticker, _ := site(t, "127.0.0.1", png(t, 600_000))

	for _, tc := range []struct {
		name, link, kind string
		ok               bool
	}{
		{"allowed", ok, "image", true},
		{"three redirects", hops, "image", true},
		{"internal address", inside, "image", false},
		{"redirect to an internal address", toInside, "image", false},
		{"four redirects", tooMany, "image", false},
		{"image over 5 MB", big, "image", false},
		{"document of the same size", big, "document", true},
		{"streamed over the limit", streamed, "image", false},
		{"sticker over 500 KB", sticker, "sticker", false},
		{"image of 600 KB", sticker, "image", true},
	} {
		data, _, err := r.fetchLink(ctx, tc.link, tc.kind)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, errMedia)) {
			t.Errorf("%s: %d bytes, err %v", tc.name, len(data), err)
		}
	}
	if insideHits.Load() != 0 {
		t.Fatal("the internal media server was contacted")
	}
	// Without a policy nothing internal is reached.
	r = &run{c: New(Deps{}, Config{})}
	if _, _, err := r.fetchLink(ctx, ok, "image"); !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("default policy: %v", err)
	}
}

// TestRefusedLinkFailsBy131053: a media link the policy refuses is
// accepted (200 with a wamid), then fails by status webhook with 131053,
// as on Meta; the media server is never contacted.
func TestRefusedLinkFailsBy131053(t *testing.T) {
	rc := newReceiver()
	w := newWorld(t, nil, rc)
	p, err := w.relay.CreatePhone(context.Background(), "4915100000098", "Ida")
	if err != nil {
		t.Fatal(err)
	}
	// The consumer writes first: the customer-service window is open.
	var in phone.Message
	reach(t, func() (err error) {
		in, err = p.Send(context.Background(), "15550001000", network.Content{Type: network.ContentText, Text: &network.Text{Body: "hello"}})
		return err
	})
	nodetest.WaitFor(t, "inbound webhook", 30*time.Second, func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return rc.inbound[inboundWAMID(p.Number(), in.ID)] > 0
	})
	inside, hits := site(t, "127.0.0.2", png(t, 1000))
	code, out := w.do("POST", "/v21.0/3/messages", "tok-e2e", map[string]any{"messaging_product": "whatsapp",
		"to": p.Number(), "type": "image", "image": map[string]any{"link": inside + "/x.png"}})
	var resp struct{ Messages []struct{ ID string } }
	if code != 200 || json.Unmarshal(out, &resp) != nil || len(resp.Messages) != 1 {
		t.Fatalf("send: %d %s", code, out)
	}
	id := resp.Messages[0].ID
	nodetest.WaitFor(t, "failed status webhook", 30*time.Second, func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return rc.statuses[id]["failed"]
	})
	rc.mu.Lock()
	got := rc.errs[id]
	rc.mu.Unlock()
	if got != 131053 {
		t.Fatalf("failed with %d, want 131053", got)
	}
	if hits.Load() != 0 {
		t.Fatal("the internal media server was contacted")
	}
	if _, err := p.Message(id); err == nil {
		t.Fatal("the phone got the message")
	}
}
