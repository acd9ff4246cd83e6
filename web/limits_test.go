package web_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/web"
)

func TestRateLimits(t *testing.T) {
	h := newHarness(t)
	var clock atomic.Int64
	start := time.Now()
	clock.Store(start.UnixNano())
	h.app = web.New(web.Deps{Cluster: h.c, Sealer: h.sealer, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	a := h.createTenant("+15550011000")
	pn, tok := a["phone_number_id"], a["access_token"]
	send := func(to string) (int, int) {
		code, out := h.do("POST", "/v21.0/"+pn+"/messages", tok, `{"messaging_product":"whatsapp","to":"`+to+`","text":{"body":"x"}}`)
		if code == 200 {
			return code, 0
		}
		return code, decodeEnvelope(t, out).Error.Code
	}
	// Pair rate: a burst of 45 to one consumer, then 131056; others unaffected.
	h.openWindow(pn, "15551110000", start)
	for i := 0; i < 45; i++ {
		if code, gc := send("15551110000"); code != 200 {
			t.Fatalf("burst message %d: %d/%d", i, code, gc)
		}
	}
	if _, gc := send("15551110000"); gc != 131056 {
		t.Fatalf("pair limit: code %d", gc)
	}
	h.openWindow(pn, "15551110001", start)
	if code, gc := send("15551110001"); code != 200 {
		t.Fatalf("other consumer: %d/%d", code, gc)
	}
	// Six seconds later the pair may send one more.
	clock.Add(int64(6 * time.Second))
	if code, gc := send("15551110000"); code != 200 {
		t.Fatalf("after 6 s: %d/%d", code, gc)
	}

	// Throughput: lower the number's limit to 3 msg/s; the 4th message in the same instant gets 130429.
	if code, out := h.do("POST", "/admin/v1/phones/"+pn+"/limits", "admin-tok", `{"throughput_mps":3}`); code != 200 {
		t.Fatalf("set limits: %d %s", code, out)
	}
	clock.Add(int64(10 * time.Second))
	codes := []int{}
	for i := 0; i < 4; i++ {
		to := fmt.Sprintf("1555222000%d", i)
		h.openWindow(pn, to, time.Unix(0, clock.Load()))
		_, gc := send(to)
		codes = append(codes, gc)
	}
	if fmt.Sprint(codes) != "[0 0 0 130429]" {
		t.Fatalf("throughput: %v", codes)
	}
	if code, out := h.do("POST", "/admin/v1/phones/999/limits", "admin-tok", `{"throughput_mps":3}`); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("unknown phone: %d %s", code, out)
	}
}
