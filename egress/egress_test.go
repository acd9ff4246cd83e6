package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestInternalClasses(t *testing.T) {
	refused := []string{
		// IPv4
		"127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255",
		"192.168.0.1", "100.64.0.1", "100.127.255.255", "169.254.169.254", "169.254.0.1", "0.0.0.0",
		"0.1.2.3", "255.255.255.255", "224.0.0.1", "239.255.255.250", "240.0.0.1", "192.0.0.8",
		"198.18.0.1", "192.0.2.1",
		// IPv6
		"::", "::1", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0", "febf::1", "fec0::1",
		"ff02::1", "ff05::2", "2001:db8::1", "100::1",
		// IPv4-mapped, -compatible, NAT64 and 6to4 forms of internal IPv4
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:100.64.0.1",
		"::ffff:0.0.0.0", "::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b::a9fe:a9fe",
		"64:ff9b:1::1", "2002:7f00:1::1", "2002:a00:1::1", "2001:0:4136:e378::1",
	}
	public := []string{
		"8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "100.63.255.255",
		"192.169.0.1", "169.255.0.1", "11.0.0.1", "223.255.255.255",
		"2606:4700:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	}
	for _, s := range refused {
		if c := Internal(netip.MustParseAddr(s)); c == "" {
			t.Errorf("%s: not refused", s)
		}
	}
	for _, s := range public {
		if c := Internal(netip.MustParseAddr(s)); c != "" {
			t.Errorf("%s: refused as %s", s, c)
		}
	}
}

func TestCheckAllowAndOwn(t *testing.T) {
	allow, err := ParseAllow("10.0.0.0/8, 127.0.0.0/8,fd00::1")
	if err != nil {
		t.Fatal(err)
	}
	own := []string{"127.0.0.1:8080", "[::]:8081", "localhost:8089", "10.1.2.3:9000"}
	p := New(Config{Allow: allow, Own: func() []string { return own }})
	cases := []struct {
		dst string
		ok  bool
	}{
		{"10.1.2.3:443", true},
		{"[::ffff:10.0.0.1]:80", true},
		{"127.0.0.1:9999", true},
		{"127.0.0.2:8080", true}, // a listener on 127.0.0.1 does not answer there
		{"[fd00::1]:80", true},
		{"[fd00::2]:80", false},
		{"192.168.1.1:80", false},
		{"[::1]:80", false},
		{"8.8.8.8:443", true},
		// Own addresses, whatever Allow says.
		{"127.0.0.1:8080", false},
		{"[::ffff:127.0.0.1]:8080", false},
		{"0.0.0.0:8080", false},   // connecting to 0.0.0.0 reaches this host
		{"127.0.0.5:8081", false}, // a wildcard listener answers on every local address
		{"[::1]:8081", false},
		{"127.0.0.1:8089", false}, // localhost, resolved
		{"10.1.2.3:9000", false},
		{"10.1.2.4:9000", true},
	}
	for _, tc := range cases {
		err := p.Check(netip.MustParseAddrPort(tc.dst))
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrRefused)) {
			t.Errorf("%s: ok=%v, err %v", tc.dst, tc.ok, err)
		}
	}
	// Own is read at every check: membership changes apply at once.
	own = append(own, "127.0.0.1:9999")
	if err := p.Check(netip.MustParseAddrPort("127.0.0.1:9999")); !errors.Is(err, ErrRefused) {
		t.Errorf("a member added later is not refused: %v", err)
	}
}

func TestParseAllow(t *testing.T) {
	got, err := ParseAllow(" 10.1.2.3/8 ,::ffff:192.168.0.0/112, 127.0.0.1 ,,")
	if err != nil {
		t.Fatal(err)
	}
	want := "[10.0.0.0/8 ::ffff:192.168.0.0/112 127.0.0.1/32]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	// A mapped range admits the IPv4 addresses it maps.
	p := New(Config{Allow: got})
	if err := p.Check(netip.MustParseAddrPort("192.168.3.4:80")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "fe80::1%eth0", "10.0.0.0/8;"} {
		if _, err := ParseAllow(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// recorder is an HTTP server on a given loopback address that counts the
// requests it gets.
type recorder struct {
	addr string
	hits atomic.Int32
}

func listen(t *testing.T, ip string, h func(w http.ResponseWriter, r *http.Request)) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	rec := &recorder{addr: ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.hits.Add(1)
		h(w, r)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return rec
}

func ok(body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, body) }
}

func redirect(to string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) }
}

func get(c *http.Client, url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func prefixes(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	p, err := ParseAllow(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDialRefused: the client refuses internal destinations by default,
// whether given as addresses or as names resolving to them, and never
// connects to them.
func TestDialRefused(t *testing.T) {
	srv := listen(t, "127.0.0.1", ok("secret"))
	_, port, _ := net.SplitHostPort(srv.addr)
	c := New(Config{}).Client(ClientConfig{Timeout: 5 * time.Second})
	for _, u := range []string{
		"http://" + srv.addr + "/",
		"http://localhost:" + port + "/",
		"http://[::ffff:127.0.0.1]:" + port + "/",
		"http://0.0.0.0:" + port + "/",
	} {
		if _, _, err := get(c, u); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: err %v, want ErrRefused", u, err)
		}
	}
	if n := srv.hits.Load(); n != 0 {
		t.Fatalf("the internal server was contacted %d times", n)
	}
	// The same server, allow-listed, is reached.
	c = New(Config{Allow: prefixes(t, "127.0.0.0/8")}).Client(ClientConfig{Timeout: 5 * time.Second})
	if code, body, err := get(c, "http://localhost:"+port+"/"); err != nil || code != 200 || body != "secret" {
		t.Fatalf("allowed: %d %q %v", code, body, err)
	}
}

// TestOwnAddressRefusedEvenWhenAllowed: waedge's own listeners stay out of
// reach when the allow-list covers their range.
func TestOwnAddressRefusedEvenWhenAllowed(t *testing.T) {
	self := listen(t, "127.0.0.1", ok("node api"))
	other := listen(t, "127.0.0.1", ok("receiver"))
	p := New(Config{Allow: prefixes(t, "127.0.0.0/8"), Own: func() []string { return []string{self.addr} }})
	c := p.Client(ClientConfig{Timeout: 5 * time.Second})
	if _, _, err := get(c, "http://"+self.addr+"/"); !errors.Is(err, ErrRefused) {
		t.Fatalf("own address: err %v", err)
	}
	if code, _, err := get(c, "http://"+other.addr+"/"); err != nil || code != 200 {
		t.Fatalf("another port on the same address: %d %v", code, err)
	}
	if self.hits.Load() != 0 {
		t.Fatal("the node's own listener was contacted")
	}
}

func TestNoProxyFromEnvironment(t *testing.T) {
	c := New(Config{}).Client(ClientConfig{})
	if tr := c.Transport.(*http.Transport); tr.Proxy != nil {
		t.Fatal("the transport takes a proxy: the proxy would dial on its behalf, unchecked")
	}
}

// TestRedirects: each hop is checked again at dial time; at most the
// configured number of hops is followed; 0 follows none.
func TestRedirects(t *testing.T) {
	inside := listen(t, "127.0.0.2", ok("inside"))
	final := listen(t, "127.0.0.1", ok("media"))
	toInside := listen(t, "127.0.0.1", redirect("http://"+inside.addr+"/"))
	// chain[i] redirects to chain[i+1]; the last one to final.
	chain := make([]*recorder, 4)
	next := "http://" + final.addr + "/"
	for i := len(chain) - 1; i >= 0; i-- {
		chain[i] = listen(t, "127.0.0.1", redirect(next))
		next = "http://" + chain[i].addr + "/"
	}
	url := func(r *recorder) string { return "http://" + r.addr + "/" }

	media := New(Config{Allow: prefixes(t, "127.0.0.1/32")}).Client(ClientConfig{Timeout: 5 * time.Second, Redirects: 3})
	// An allowed hop redirecting to a refused one.
	if _, _, err := get(media, url(toInside)); !errors.Is(err, ErrRefused) {
		t.Errorf("redirect to a refused address: err %v", err)
	}
	if inside.hits.Load() != 0 {
		t.Error("the refused hop was contacted")
	}
	// Three redirects are followed, four are not.
	if code, body, err := get(media, url(chain[1])); err != nil || code != 200 || body != "media" {
		t.Errorf("3 redirects: %d %q %v", code, body, err)
	}
	final.hits.Store(0)
	if _, _, err := get(media, url(chain[0])); !errors.Is(err, ErrRefused) {
		t.Errorf("4 redirects: err %v", err)
	}
	if final.hits.Load() != 0 {
		t.Error("the fifth URL of a 4-redirect chain was fetched")
	}
	// A redirect to another scheme is refused.
	ftp := listen(t, "127.0.0.1", redirect("ftp://example.com/x"))
	if _, _, err := get(media, url(ftp)); !errors.Is(err, ErrRefused) {
		t.Errorf("redirect to ftp: err %v", err)
	}
	// With the second address allowed too, the chain through it works.
	both := New(Config{Allow: prefixes(t, "127.0.0.1/32,127.0.0.2/32")}).Client(ClientConfig{Timeout: 5 * time.Second, Redirects: 3})
	if code, body, err := get(both, url(toInside)); err != nil || code != 200 || body != "inside" {
		t.Errorf("allowed chain: %d %q %v", code, body, err)
	}
	// No redirects: the 3xx itself is the answer, the target is not asked.
	inside.hits.Store(0)
	hooks := New(Config{Allow: prefixes(t, "127.0.0.0/8")}).Client(ClientConfig{Timeout: 5 * time.Second})
	if code, _, err := get(hooks, url(toInside)); err != nil || code != http.StatusFound {
		t.Errorf("no-redirect client: %d %v", code, err)
	}
	if inside.hits.Load() != 0 {
		t.Error("the no-redirect client followed the redirect")
	}
}

func TestReadLimited(t *testing.T) {
	r := &countingReader{r: strings.NewReader(strings.Repeat("x", 1000))}
	if _, err := ReadLimited(r, 100); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err %v", err)
	}
	if r.n > 101 {
		t.Fatalf("read %d bytes for a 100-byte limit", r.n)
	}
	b, err := ReadLimited(strings.NewReader("12345"), 5)
	if err != nil || string(b) != "12345" {
		t.Fatalf("%q %v", b, err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// BenchmarkCheck is the cost the policy adds to each dial (own addresses
// as main.go passes them: a few literals).
func BenchmarkCheck(b *testing.B) {
	own := []string{"127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:8089", "10.0.0.2:8081", "10.0.0.3:8081"}
	p := New(Config{Allow: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}, Own: func() []string { return own }})
	dst := netip.MustParseAddrPort("93.184.216.34:443")
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Check(dst); err != nil {
			b.Fatal(err)
		}
	}
}
