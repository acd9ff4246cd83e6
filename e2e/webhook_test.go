package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// templateHook receives message_template_status_update events: it checks
// each signature independently, records template names, and can be held
// (every POST blocks until released) to play a receiver that is down.
type templateHook struct {
	srv       *httptest.Server
	secret    string
	held      chan struct{} // closed: answer POSTs
	inflight  atomic.Int64
	maxFlight atomic.Int64
	badSig    atomic.Int64
	mu        sync.Mutex
	names     map[string]int
}

func newTemplateHook(t *testing.T) *templateHook {
	h := &templateHook{held: make(chan struct{}), names: map[string]int{}}
	h.srv = hookServer(t, h.event)
	return h
}

// event handles one POSTed event (body b).
func (h *templateHook) event(w http.ResponseWriter, r *http.Request, b []byte) {
	n := h.inflight.Add(1)
	defer h.inflight.Add(-1)
	for m := h.maxFlight.Load(); n > m && !h.maxFlight.CompareAndSwap(m, n); m = h.maxFlight.Load() {
	}
	select {
	case <-h.held:
	case <-r.Context().Done():
		return
	}
	mac := hmac.New(sha256.New, []byte(h.secret))
	mac.Write(b)
	if r.Header.Get("X-Hub-Signature-256") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		h.badSig.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev struct {
		Entry []struct {
			Changes []struct {
				Field string
				Value struct {
					Name string `json:"message_template_name"`
				}
			}
		}
	}
	if json.Unmarshal(b, &ev) == nil && len(ev.Entry) == 1 && len(ev.Entry[0].Changes) == 1 &&
		ev.Entry[0].Changes[0].Field == "message_template_status_update" {
		h.mu.Lock()
		h.names[ev.Entry[0].Changes[0].Value.Name]++
		h.mu.Unlock()
	}
}

func (h *templateHook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.names)
}

// TestBlackBoxWebhooksReceiverDownAndLeaderKill: three real processes.
// While the business's receiver is down (it holds every POST), template
// creations — each of which queues a webhook — are all accepted without
// delay, and at most the per-endpoint limit of deliveries are open at
// once. Then the receiver comes back, the leader is killed with SIGKILL
// during delivery, more events are queued, and every acknowledged event
// reaches the receiver, correctly signed.
func TestBlackBoxWebhooksReceiverDownAndLeaderKill(t *testing.T) {
	nodes, token, leader, ten := hookCluster(t, "Hooks", "+15550007000")
	hook := newTemplateHook(t)
	hook.secret = ten.AppSecret
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	code, err := doJSON(ctx, "POST", leader.url("/v21.0/"+ten.WABAID+"/subscribed_apps"), ten.AccessToken,
		map[string]string{"override_callback_uri": hook.srv.URL, "verify_token": "verify-hooks-leader-kill"}, nil)
	cancel()
	if err != nil || code != 200 {
		t.Fatalf("subscribe: %d %v", code, err)
	}

	var created []string
	create := func(p *proc, i int) time.Duration {
		name := fmt.Sprintf("t%03d", i)
		start := time.Now()
		createTemplate(t, p, ten.AccessToken, ten.WABAID, name, "Hello")
		created = append(created, name)
		return time.Since(start)
	}
	// Receiver down: acceptance is unaffected.
	var lat []time.Duration
	for i := 0; i < 80; i++ {
		lat = append(lat, create(nodes[i%3], i))
	}
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100]
	t.Logf("template create with the receiver down: p50 %v, p99 %v", lat[len(lat)/2], p99)
	if p99 > time.Second {
		t.Fatalf("a down receiver slowed acceptance: p99 %v", p99)
	}
	waitFor(t, "deliveries pile up at the receiver", 10*time.Second, func() bool { return hook.inflight.Load() > 0 })
	if m := hook.maxFlight.Load(); m > 32 {
		t.Fatalf("%d concurrent deliveries to one endpoint (limit 32)", m)
	}

	// Receiver back; the leader dies mid-delivery; more events are queued.
	close(hook.held)
	waitFor(t, "some deliveries", 20*time.Second, func() bool { return hook.count() > 0 })
	leader.kill()
	var survivors []*proc
	for _, p := range nodes {
		if p != leader {
			survivors = append(survivors, p)
		}
	}
	newLeader := leaderProc(t, survivors, token)
	for i := 80; i < 100; i++ {
		create(newLeader, i)
	}
	waitFor(t, "every acknowledged event delivered", 60*time.Second, func() bool { return hook.count() == len(created) })
	hook.checkDelivered(t, created)
	// The delivery log shows every event of this business as delivered,
	// after at least one attempt that the receiver answered with 200.
	var log struct {
		Data []struct {
			WABAID     string `json:"waba_id"`
			State      string
			Attempts   int
			LastStatus string `json:"last_status"`
		}
	}
	waitFor(t, "delivery log", 10*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		code, err := doJSON(ctx, "GET", newLeader.url("/admin/v1/webhooks/outbox?state=delivered"), token, nil, &log)
		return err == nil && code == 200 && len(log.Data) >= len(created)
	})
	for _, e := range log.Data {
		if e.WABAID != ten.WABAID || e.State != "delivered" || e.Attempts < 1 || e.LastStatus != "200" {
			t.Fatalf("delivery log entry %+v: want waba %s, delivered after ≥1 attempt, last status 200", e, ten.WABAID)
		}
	}
}

// outboxRow is one row of GET /admin/v1/webhooks/outbox.
type outboxRow struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	Attempts   int    `json:"attempts"`
	LastStatus string `json:"last_status"`
}

// outbox reads the webhook delivery log of p (state: pending, all…).
func outbox(p *proc, token, state string) (map[string]outboxRow, error) {
	var page struct{ Data []outboxRow }
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, err := doJSON(ctx, "GET", p.url("/admin/v1/webhooks/outbox?state="+state), token, nil, &page)
	if err == nil && code != 200 {
		err = fmt.Errorf("status %d", code)
	}
	rows := map[string]outboxRow{}
	for _, r := range page.Data {
		rows[r.ID] = r
	}
	return rows, err
}

// TestBlackBoxWebhooksReceiverRefusesAcrossLeaderKill: three real
// processes. The business's receiver goes away — its port refuses
// connections — while template events are queued; each event is
// attempted and refused, the leader is killed with SIGKILL, the new
// leader keeps retrying (attempts grow while the receiver is still down),
// and when the receiver listens again on the same port every event
// reaches it, recorded delivered after more than one attempt.
func TestBlackBoxWebhooksReceiverRefusesAcrossLeaderKill(t *testing.T) {
	nodes, token, leader, ten := hookCluster(t, "Refused", "+15550008000")
	hook := &templateHook{secret: ten.AppSecret, held: make(chan struct{}), names: map[string]int{}}
	close(hook.held) // answers at once whenever it listens
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet { // subscription handshake
			_, _ = io.WriteString(w, r.URL.Query().Get("hub.challenge"))
			return
		}
		b, _ := io.ReadAll(r.Body)
		hook.event(w, r, b)
	})
	listen := func(addr string) (*http.Server, string) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("receiver listen on %s: %v", addr, err)
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		return srv, ln.Addr().String()
	}
	srv, addr := listen("127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	code, err := doJSON(ctx, "POST", leader.url("/v21.0/"+ten.WABAID+"/subscribed_apps"), ten.AccessToken,
		map[string]string{"override_callback_uri": "http://" + addr + "/hook", "verify_token": "v"}, nil)
	cancel()
	if err != nil || code != 200 {
		t.Fatalf("subscribe: %d %v", code, err)
	}
	// The receiver goes away: nothing listens on its port any more.
	_ = srv.Close()

	const events = 12
	var created []string
	for i := 0; i < events; i++ {
		name := fmt.Sprintf("refused_%02d", i)
		createTemplate(t, leader, ten.AccessToken, ten.WABAID, name, "Hello")
		created = append(created, name)
	}
	// Every event is attempted and refused (all are in the leader's
	// outbox: each creation was answered after its commit there).
	var ids []string
	waitFor(t, "every event refused once", 20*time.Second, func() bool {
		rows, err := outbox(leader, token, "pending")
		if err != nil {
			return false
		}
		if len(rows) != events {
			t.Fatalf("%d of %d events left the outbox while the receiver refused connections", events-len(rows), events)
		}
		ids = ids[:0]
		for id, r := range rows {
			if r.Attempts < 1 {
				return false
			}
			if r.LastStatus != "unreachable" {
				t.Fatalf("refused attempt recorded as %q", r.LastStatus)
			}
			ids = append(ids, id)
		}
		return true
	})
	before, err := outbox(leader, token, "pending")
	if err != nil {
		t.Fatal(err)
	}

	leader.kill()
	var survivors []*proc
	for _, p := range nodes {
		if p != leader {
			survivors = append(survivors, p)
		}
	}
	newLeader := leaderProc(t, survivors, token)
	// The new leader goes on retrying while the receiver still refuses.
	waitFor(t, "the new leader retries every event", 30*time.Second, func() bool {
		rows, err := outbox(newLeader, token, "pending")
		if err != nil {
			return false
		}
		if len(rows) != events {
			t.Fatalf("%d of %d events left the outbox while the receiver refused connections", events-len(rows), events)
		}
		for id, r := range rows {
			if r.Attempts <= before[id].Attempts {
				return false
			}
		}
		return true
	})
	if n := hook.count(); n != 0 {
		t.Fatalf("%d events reached a receiver that was not listening", n)
	}

	// The receiver is back on the same port.
	listen(addr)
	waitFor(t, "every event delivered", 60*time.Second, func() bool { return hook.count() == events })
	hook.checkDelivered(t, created)
	waitFor(t, "the delivery log shows every event delivered", 10*time.Second, func() bool {
		rows, err := outbox(newLeader, token, "all")
		if err != nil {
			return false
		}
		for _, id := range ids {
			if rows[id].State != "delivered" {
				return false
			}
		}
		return true
	})
	rows, _ := outbox(newLeader, token, "all")
	for _, id := range ids {
		if r := rows[id]; r.Attempts < 3 || r.LastStatus != "200" {
			t.Errorf("event %s delivered after %d attempts (last %q): want refused at least twice first", id, r.Attempts, r.LastStatus)
		}
	}
}

// hookTenant is a business created for a webhook test, with its app secret.
type hookTenant struct {
	tenantCreated
	AppSecret string `json:"app_secret"`
}

// hookCluster starts three nodes that may reach a receiver on 127.0.0.1
// and creates one business through the leader.
func hookCluster(t *testing.T, name, phone string) ([]*proc, string, *proc, hookTenant) {
	t.Helper()
	nodes, token := startCluster(t, "--egress-allow", "127.0.0.0/8") // receiver on 127.0.0.1
	leader := leaderProc(t, nodes, token)
	var ten hookTenant
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	code, err := doJSON(ctx, "POST", leader.url("/admin/v1/tenants"), token,
		map[string]string{"name": name, "phone": phone}, &ten)
	cancel()
	if err != nil || code != 200 {
		t.Fatalf("create tenant: %d %v", code, err)
	}
	return nodes, token, leader, ten
}

// checkDelivered: an event of every template in created reached the
// receiver, and every delivery carried a valid signature.
func (h *templateHook) checkDelivered(t *testing.T, created []string) {
	t.Helper()
	h.mu.Lock()
	for _, n := range created {
		if h.names[n] == 0 {
			t.Errorf("event of %s never delivered", n)
		}
	}
	h.mu.Unlock()
	if h.badSig.Load() != 0 {
		t.Fatalf("%d deliveries with a bad signature", h.badSig.Load())
	}
}
