package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBlackBoxLimitsThroughOneNode: a client pinned to one follower of a
// three-process cluster gets Meta's whole budgets — the pair burst of 45
// messages to one consumer (then 131056), and 80 messages per second for
// the number (then 130429) within ±10 % — not a third of each.
func TestBlackBoxLimitsThroughOneNode(t *testing.T) {
	nodes, admin := startCluster(t)
	leader := leaderProc(t, nodes, admin)
	follower := anotherThan(nodes, leader)
	// Templates reach consumers without a window; the messaging-limit tier
	// (distinct consumers a day) is not under test.
	ten := templateSender(t, leader, admin, "Limits", "+15550140000", "limits_probe")
	waitFor(t, "the follower to see the template approved", 10*time.Second, func() bool {
		var list struct{ Data []struct{ Status string } }
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		code, err := doJSON(ctx, "GET", follower.url("/v21.0/"+ten.WABAID+"/message_templates?name=limits_probe"), ten.AccessToken, nil, &list)
		return err == nil && code == 200 && len(list.Data) == 1 && list.Data[0].Status == "APPROVED"
	})
	url := follower.url("/v21.0/" + ten.PhoneNumberID + "/messages")
	// send answers 0 for an accepted message, else the Graph error code.
	send := func(to string) int {
		body := `{"messaging_product":"whatsapp","to":"` + to + `","type":"template","template":{"name":"limits_probe","language":{"code":"en"}}}`
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+ten.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Errorf("send: %v", err)
			return -1
		}
		defer resp.Body.Close()
		var env struct {
			Error struct{ Code int } `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || (resp.StatusCode == 200) != (env.Error.Code == 0) {
			t.Errorf("send: %d %v", resp.StatusCode, err)
			return -1
		}
		return env.Error.Code
	}

	// Pair: 60 at once to one consumer; 45 accepted (one more per 6 s the
	// burst took), the rest 131056.
	start := time.Now()
	codes := make(chan int, 60)
	var wg sync.WaitGroup
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); codes <- send("15557000001") }()
	}
	wg.Wait()
	close(codes)
	elapsed := time.Since(start)
	counts := map[int]int{}
	for c := range codes {
		counts[c]++
	}
	if extra := int(elapsed / (6 * time.Second)); counts[0] < 45 || counts[0] > 45+extra+1 || counts[131056] != 60-counts[0] {
		t.Fatalf("pair burst through one node in %v: %v (want 45 accepted, the rest 131056)", elapsed, counts)
	}

	// Throughput: more than 80 msg/s offered to distinct consumers for 4 s.
	const window = 4 * time.Second
	var accepted, limited, seq atomic.Int64
	start = time.Now()
	for w := 0; w < 48; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < window {
				switch send(fmt.Sprintf("1555800%04d", seq.Add(1))) {
				case 0:
					accepted.Add(1)
				case 130429:
					limited.Add(1)
				default:
					t.Error("unexpected answer")
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed = time.Since(start)
	if limited.Load() == 0 {
		t.Fatalf("%d sends in %v were all accepted: the node could not offer more than the limit, nothing measured", accepted.Load(), elapsed)
	}
	// 80 a second, plus at most one second of burst (less what the pair
	// test spent moments before).
	low, high := 0.9*80*elapsed.Seconds(), 1.1*(80+80*elapsed.Seconds())
	if got := float64(accepted.Load()); got < low || got > high {
		t.Fatalf("throughput through one node: %.0f accepted in %v, want %.0f…%.0f (%d refused with 130429)", got, elapsed, low, high, limited.Load())
	}
	t.Logf("throughput through one node: %d accepted in %v (%.1f/s after the burst), %d refused", accepted.Load(), elapsed,
		(float64(accepted.Load())-80)/elapsed.Seconds(), limited.Load())
}

// anotherThan returns a node of nodes other than p.
func anotherThan(nodes []*proc, p *proc) *proc {
	for _, n := range nodes {
		if n != p {
			return n
		}
	}
	return nil
}
