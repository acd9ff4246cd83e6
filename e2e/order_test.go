package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBlackBoxStatusOrderUnder1000Sends: 1,000 concurrent sends (48 open at
// a time, under the node's per-IP connection cap) to ten
// sandbox phones, every one then read by its phone: the receiver sees each
// message's statuses exactly as sent, delivered, read — never a later
// status before an earlier one — while deliveries of different messages
// overlap. Before, with 32 deliveries open per endpoint, delivered
// overtook sent for 9 of 16 messages in one run.
func TestBlackBoxStatusOrderUnder1000Sends(t *testing.T) {
	const phones, perPhone = 10, 100
	solo, admin, relay := startSolo(t, "order")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var ten tenantCreated
	if code, err := doJSON(ctx, "POST", solo.url("/admin/v1/tenants"), admin, map[string]string{"name": "Order", "phone": "+15550150000"}, &ten); err != nil || code != 200 {
		t.Fatalf("create tenant: %d %v", code, err)
	}
	// Limits are not under test: 1,000 messages at once, 100 per consumer.
	if code, err := doJSON(ctx, "POST", solo.url("/admin/v1/phones/"+ten.PhoneNumberID+"/limits"), admin,
		map[string]int{"throughput_mps": 100000, "pair_burst": 1000, "pair_per_minute": 100000}, nil); err != nil || code != 200 {
		t.Fatalf("limits: %d %v", code, err)
	}
	var mu sync.Mutex
	seen := map[string][]string{} // wamid → statuses in arrival order
	open, peak := 0, 0
	hook := hookServer(t, func(_ http.ResponseWriter, _ *http.Request, b []byte) {
		var n struct {
			Entry []struct {
				Changes []struct {
					Value struct{ Statuses []struct{ ID, Status string } }
				}
			}
		}
		mu.Lock()
		open++
		peak = max(peak, open)
		mu.Unlock()
		time.Sleep(time.Millisecond) // a receiver's work, so deliveries can overlap (not synchronisation)
		mu.Lock()
		defer mu.Unlock()
		open--
		if json.Unmarshal(b, &n) == nil && len(n.Entry) == 1 && len(n.Entry[0].Changes) == 1 {
			for _, s := range n.Entry[0].Changes[0].Value.Statuses {
				seen[s.ID] = append(seen[s.ID], s.Status)
			}
		}
	})
	if code, err := doJSON(ctx, "POST", solo.url("/v21.0/"+ten.WABAID+"/subscribed_apps"), ten.AccessToken,
		map[string]string{"override_callback_uri": hook.URL, "verify_token": "order"}, nil); err != nil || code != 200 {
		t.Fatalf("subscribe: %d %v", code, err)
	}
	tokenBytes, err := os.ReadFile(relay.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	relayToken := strings.TrimSpace(string(tokenBytes))
	phoneAPI := func(path string, body any) int {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+relay.addr+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+relayToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	numbers := make([]string, phones)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("49152000100%02d", i)
		if code := phoneAPI("/sandbox/phones", map[string]string{"number": numbers[i], "name": "P"}); code != 201 {
			t.Fatalf("create phone: %d", code)
		}
		// The consumer writes first: free-form replies need the window.
		waitFor(t, "the phone reaches the business", 30*time.Second, func() bool {
			return phoneAPI("/sandbox/phones/"+numbers[i]+"/send", map[string]any{"to": "15550150000", "type": "text", "text": "hi"}) == 200
		})
	}
	send := func(to string) (string, error) {
		var out struct{ Messages []struct{ ID string } }
		code, err := doJSON(ctx, "POST", solo.url("/v21.0/"+ten.PhoneNumberID+"/messages"), ten.AccessToken, map[string]any{
			"messaging_product": "whatsapp", "to": to, "type": "text", "text": map[string]string{"body": "order"}}, &out)
		if err != nil || code != 200 || len(out.Messages) != 1 {
			return "", fmt.Errorf("send: %d %v", code, err)
		}
		return out.Messages[0].ID, nil
	}
	// Wait until every phone's window is open (its text reached the business).
	waitFor(t, "every window open", 60*time.Second, func() bool {
		for _, n := range numbers {
			if _, err := send(n); err != nil {
				return false
			}
		}
		return true
	})
	mu.Lock()
	seen = map[string][]string{} // only the 1,000 below count
	mu.Unlock()
	wamids := make([][]string, phones)
	var wg sync.WaitGroup
	var sendErr error
	var errMu sync.Mutex
	slots := make(chan struct{}, 48) // under the node's per-IP connection cap
	for i := range numbers {
		wamids[i] = make([]string, perPhone)
		for j := 0; j < perPhone; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				slots <- struct{}{}
				id, err := send(numbers[i])
				<-slots
				errMu.Lock()
				defer errMu.Unlock()
				if err != nil && sendErr == nil {
					sendErr = err
				}
				wamids[i][j] = id
			}()
		}
	}
	wg.Wait()
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	has := func(id, status string) bool {
		for _, s := range seen[id] {
			if s == status {
				return true
			}
		}
		return false
	}
	all := func(status string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, ids := range wamids {
				for _, id := range ids {
					if !has(id, status) {
						return false
					}
				}
			}
			return true
		}
	}
	waitFor(t, "every message delivered", 5*time.Minute, all("delivered"))
	for i, ids := range wamids {
		for _, id := range ids {
			if code := phoneAPI("/sandbox/phones/"+numbers[i]+"/read", map[string]string{"message_id": id}); code != 200 {
				t.Fatalf("read: %d", code)
			}
		}
	}
	waitFor(t, "every message read", 3*time.Minute, all("read"))
	mu.Lock()
	defer mu.Unlock()
	for _, ids := range wamids {
		for _, id := range ids {
			if got := strings.Join(seen[id], " "); got != "sent delivered read" {
				t.Fatalf("%s: statuses arrived as %q", id, got)
			}
		}
	}
	if peak < 2 {
		t.Fatalf("at most %d delivery open at once: different messages must go out in parallel", peak)
	}
	t.Logf("1,000 messages, every one sent < delivered < read; up to %d deliveries open at once", peak)
}

// startSolo starts a one-node cluster with its embedded sandbox whose
// webhooks may reach a receiver on 127.0.0.1; it returns the node, its
// admin token and its sandbox relay.
func startSolo(t *testing.T, name string) (*proc, string, sandboxRelay) {
	t.Helper()
	solo := newProc(t, name, "--egress-allow", "127.0.0.0/8") // receiver on 127.0.0.1
	solo.start()
	solo.waitReady(20 * time.Second)
	return solo, solo.adminToken(), sandboxOf(t, solo)
}
