package webhook

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/raftfsm"
)

// TestStatusesOfAMessageArriveInOrder: 200 messages, each with sent,
// delivered and read queued back to back, to a receiver that answers
// after a random delay and fails some attempts: every message's statuses
// arrive sent < delivered < read, each once, while deliveries of
// different messages overlap.
func TestStatusesOfAMessageArriveInOrder(t *testing.T) {
	const messages = 200
	var (
		mu          sync.Mutex
		seen        = map[string][]string{} // wamid → statuses in arrival order
		open, peak  atomic.Int64
		failedFirst sync.Map
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := open.Add(1)
		defer open.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		body, _ := io.ReadAll(r.Body)
		var v struct {
			Entry []struct {
				Changes []struct {
					Value struct {
						Statuses []struct{ ID, Status string }
					}
				}
			}
		}
		if err := json.Unmarshal(body, &v); err != nil || len(v.Entry) == 0 || len(v.Entry[0].Changes[0].Value.Statuses) != 1 {
			t.Errorf("unexpected body %s (%v)", body, err)
			return
		}
		st := v.Entry[0].Changes[0].Value.Statuses[0]
		time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond) // a receiver's work, not synchronisation
		// Every fifth message's "sent" fails once: the later statuses must wait.
		if st.Status == "sent" && hashMod(st.ID, 5) == 0 {
			if _, again := failedFirst.LoadOrStore(st.ID, true); !again {
				w.WriteHeader(503)
				return
			}
		}
		mu.Lock()
		seen[st.ID] = append(seen[st.ID], st.Status)
		mu.Unlock()
	}))
	defer srv.Close()
	d := setup(t, srv.URL)
	ctx := context.Background()
	md := cloudapi.Metadata{DisplayPhoneNumber: "15550001000", PhoneNumberID: "3"}
	seq := uint64(0)
	key := func() []byte {
		seq++
		var k [16]byte
		binary.BigEndian.PutUint64(k[:8], uint64(time.Now().UnixNano()))
		binary.BigEndian.PutUint64(k[8:], seq)
		return k[:]
	}
	event := func(st cloudapi.Status) *raftfsm.OutboxEvent {
		b, err := cloudapi.MarshalASCII(cloudapi.StatusNotification("2", md, st))
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := d.sealer.Seal(ctx, raftfsm.WebhookAAD("2"), b)
		if err != nil {
			t.Fatal(err)
		}
		return &raftfsm.OutboxEvent{Key: key(), Body: sealed, CreatedAt: time.Now().UnixMilli()}
	}
	disp := New(d, Config{Egress: loopback, BaseBackoff: 20 * time.Millisecond, Poll: 5 * time.Millisecond, Open: d.sealer.Open}, nil)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = disp.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()
	d.must(t, raftfsm.CmdSetPhoneLimits, raftfsm.SetPhoneLimits{PhoneNumberID: "3", ThroughputMPS: 100000})
	now := time.Now()
	for i := 0; i < messages; i++ {
		wamid := fmt.Sprintf("wamid.order.%03d", i)
		ref := raftfsm.MessageIDRef(wamid)
		d.must(t, raftfsm.CmdAcceptMessage, raftfsm.AcceptMessage{Key: key(), IDRef: ref, PhoneNumberID: "3", BusinessID: "1",
			PeerRef: fmt.Sprint("peer", i), Type: "text", CreatedAt: now.UnixMilli()})
		ev := cloudapi.StatusEvent{MessageID: wamid, RecipientID: "15551234567", At: now.Unix()}
		var ups []raftfsm.StatusUpdate
		for _, s := range []struct {
			name string
			st   cloudapi.Status
		}{{raftfsm.StatusSent, cloudapi.SentStatus(ev)}, {raftfsm.StatusDelivered, cloudapi.DeliveredStatus(ev)}, {raftfsm.StatusRead, cloudapi.ReadStatus(ev)}} {
			ups = append(ups, raftfsm.StatusUpdate{IDRef: ref, Status: s.name, At: now.UnixMilli(), Event: event(s.st)})
		}
		d.must(t, raftfsm.CmdMessageStatuses, raftfsm.MessageStatuses{PhoneNumberID: "3", Updates: ups})
	}
	waitFor(t, "outbox emptied", 60*time.Second, func() bool {
		ev, _ := d.FSM().Outbox(0)
		return len(ev) == 0
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != messages {
		t.Fatalf("%d messages' statuses arrived, want %d", len(seen), messages)
	}
	for id, sts := range seen {
		if fmt.Sprint(sts) != "[sent delivered read]" {
			t.Fatalf("%s: statuses arrived as %v", id, sts)
		}
	}
	if peak.Load() < 2 {
		t.Fatalf("at most %d delivery at once: different messages must go out in parallel", peak.Load())
	}
}

func hashMod(s string, m int) int {
	h := 0
	for _, c := range s {
		h = h*31 + int(c)
	}
	return (h%m + m) % m
}
