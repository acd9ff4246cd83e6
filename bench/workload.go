package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// business is the tenant the bench sends from.
type business struct {
	BusinessID    string `json:"business_id"`
	WABAID        string `json:"waba_id"`
	PhoneNumberID string `json:"phone_number_id"`
	AccessToken   string `json:"access_token"`
	AppSecret     string `json:"app_secret"`
	Phone         string `json:"-"` // the business number, digits only
}

// benchTemplate is the template every bench send uses: one body
// parameter, filled with benchText. Templates need no open 24-hour
// window, so a send to any consumer number is accepted.
const benchTemplate = "bench_message"

// benchText pads a send to about the bare reference's 300-byte message.
var benchText = strings.Repeat("waedge bench message ", 13)[:270]

// newBusiness creates a tenant with a fresh random phone number (so runs
// against a --target cluster never collide), an approved template, and
// limits lifted for the measurement: the platform's 80 msg/s per number,
// the pair rate, and the messaging-limit tier (the bench writes to a
// million distinct consumers). It returns once every node accepts a send.
func newBusiness(ctx context.Context, c *cluster) (business, error) {
	var b business
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	phone := fmt.Sprintf("+1555%07d", binary.BigEndian.Uint64(rnd[:])%10_000_000)
	if err := c.call(ctx, "POST", c.urls[0]+"/admin/v1/tenants", c.token,
		map[string]string{"name": "waedge bench", "phone": phone}, &b); err != nil {
		return b, fmt.Errorf("create tenant: %w", err)
	}
	b.Phone = strings.TrimPrefix(phone, "+")
	if err := c.call(ctx, "POST", c.urls[0]+"/v21.0/"+b.WABAID+"/message_templates", b.AccessToken, map[string]any{
		"name": benchTemplate, "language": "en", "category": "UTILITY",
		"components": []any{map[string]string{"type": "BODY", "text": "{{1}}"}}}, nil); err != nil {
		return b, fmt.Errorf("create template: %w", err)
	}
	if err := c.call(ctx, "POST", c.urls[0]+"/admin/v1/phones/"+b.PhoneNumberID+"/limits", c.token,
		map[string]int{"throughput_mps": 100_000, "pair_per_minute": 100_000}, nil); err != nil {
		return b, fmt.Errorf("lift limits: %w", err)
	}
	if err := c.call(ctx, "POST", c.urls[0]+"/admin/v1/phones/"+b.PhoneNumberID+"/tier", c.token,
		map[string]string{"tier": "TIER_UNLIMITED"}, nil); err != nil {
		return b, fmt.Errorf("lift tier: %w", err)
	}
	s := newSender(c, b, 4)
	for i := range c.urls {
		var last error
		err := poll(ctx, 30*time.Second, "node "+c.urls[i]+" to accept sends", func() (bool, error) {
			last = s.send(ctx, i, int64(i))
			return last == nil, nil
		})
		if err != nil {
			return b, fmt.Errorf("%w (last: %v)", err, last)
		}
	}
	return b, nil
}

// networkOff is the flag of scenarios that need no network: they measure
// acceptance alone, without the leader marking each message to an unknown
// consumer failed.
func networkOff() []string { return []string{"--network", "off"} }

// openWithBusiness opens the cluster (extra flags and environment for
// the nodes the bench starts) and creates the business to send from.
func openWithBusiness(ctx context.Context, o Options, pr *progress, extra, env []string) (*cluster, business, error) {
	c, err := openCluster(ctx, o, pr, extra, env)
	if err != nil {
		return nil, business{}, err
	}
	biz, err := newBusiness(ctx, c)
	if err != nil {
		c.close()
		return nil, business{}, err
	}
	return c, biz, nil
}

// sender posts template messages of business b.
type sender struct {
	c      *cluster
	b      business
	client *http.Client // https:// targets
	// fast holds one fasthttp client per node for http:// targets (the
	// bench's own cluster): the load generator shares the machine's cores
	// with the nodes, and net/http's client cost ~80 µs of CPU per request
	// there (its per-connection read and write goroutines, a request and
	// header maps built per request) — CPU the nodes could not have.
	fast  []*fasthttp.HostClient
	paths []string // per node: the messages endpoint's URL
}

// maxConnsPerNode keeps the bench under a node's per-address connection
// limit (serve's --max-conns-per-ip, 256 by default).
const maxConnsPerNode = 200

// newSender returns a sender with connections for conns concurrent
// requests per node.
//
// Connections to one node are capped below a node's default per-address
// limit (--max-conns-per-ip 256): requests are spread over the nodes in
// turn, but a slower node collects more of them in flight, and a
// connection past the limit is closed at once (an "EOF" error, counted
// against waedge although it is the bench's own excess).
func newSender(c *cluster, b business, conns int) *sender {
	s := &sender{c: c, b: b}
	perNode := min(conns, maxConnsPerNode)
	for _, u := range c.urls {
		s.paths = append(s.paths, u+"/v21.0/"+b.PhoneNumberID+"/messages")
		host, ok := strings.CutPrefix(u, "http://")
		if !ok {
			continue
		}
		s.fast = append(s.fast, &fasthttp.HostClient{
			Addr: host, MaxConns: perNode, MaxConnWaitTimeout: 30 * time.Second,
			MaxResponseBodySize: 64 << 10, NoDefaultUserAgentHeader: true,
			MaxIdleConnDuration: 10 * time.Second, // well inside the node's 60 s idle timeout
		})
	}
	if len(s.fast) != len(c.urls) { // some target is https: net/http for all
		s.fast = nil
		tr := &http.Transport{MaxIdleConns: conns * len(c.urls), MaxIdleConnsPerHost: conns,
			MaxConnsPerHost: perNode, DisableCompression: true, TLSClientConfig: c.tls}
		s.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	return s
}

func (s *sender) close() {
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	for _, hc := range s.fast {
		hc.CloseIdleConnections()
	}
}

// send posts one message, to consumer seq (a million distinct consumers),
// through node i; anything but 200 is an error.
func (s *sender) send(ctx context.Context, i int, seq int64) error {
	return s.post(ctx, i, `{"messaging_product":"whatsapp","to":"`+fmt.Sprintf("49170%07d", seq%1_000_000)+
		`","type":"template","template":{"name":"`+benchTemplate+`","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"`+
		benchText+`"}]}]}}`)
}

// post sends one message request body through node i.
func (s *sender) post(ctx context.Context, i int, body string) error {
	if s.fast != nil {
		return s.postFast(ctx, i, body)
	}
	req, err := http.NewRequestWithContext(ctx, "POST", s.paths[i], strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.b.AccessToken)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		s.c.noteStatus(resp.StatusCode)
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("send: %d %s", resp.StatusCode, b)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// postFast is post over node i's fasthttp client, bounded by ctx's
// deadline and 30 s (the net/http client's timeout).
func (s *sender) postFast(ctx context.Context, i int, body string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(s.paths[i])
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set("Authorization", "Bearer "+s.b.AccessToken)
	req.SetBodyString(body)
	if err := s.fast[i].DoDeadline(req, resp, deadline); err != nil {
		return err
	}
	if code := resp.StatusCode(); code != 200 {
		s.c.noteStatus(code)
		b := resp.Body()
		return fmt.Errorf("send: %d %s", code, b[:min(len(b), 512)])
	}
	return nil
}
