package relay

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/phone"
)

// TestHostedPhonesDropMessagesAfter30Days: hosted phones keep their chats 30 days (the relay's
// retention), like the relay's own queues: a sweep at day 31 deletes the day-0 message on both
// sides and keeps the day-20 one; the conversation goes on afterwards. The clock is injected.
func TestHostedPhonesDropMessagesAfter30Days(t *testing.T) {
	phone.SetupSignalLogging(nil)
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	tr := startRelay(t, Config{DataDir: t.TempDir(), Now: now})
	const a, b = "4915100005001", "4915100005002"
	for _, n := range []string{a, b} {
		if code := api(t, "POST", tr.url+"/sandbox/phones", map[string]string{"number": n, "name": "P"}, nil); code != 201 {
			t.Fatalf("create %s: %d", n, code)
		}
	}
	send := func(text string) phone.Message {
		t.Helper()
		var m phone.Message
		if code := api(t, "POST", tr.url+"/sandbox/phones/"+a+"/send", map[string]any{"to": b, "type": "text", "text": text}, &m); code != 200 {
			t.Fatalf("send: %d", code)
		}
		eventually(t, "received", func() bool { return findMsg(inbox(t, tr.url, b), m.ID) != nil })
		return m
	}
	sent := func() []phone.Message {
		var m messages
		api(t, "GET", tr.url+"/sandbox/phones/"+a+"/sent", nil, &m)
		return m.Messages
	}
	old := send("day 0")
	offset.Add(int64(20 * 24 * time.Hour))
	young := send("day 20")
	offset.Add(int64(11 * 24 * time.Hour))
	tr.Sweep()
	for who, msgs := range map[string][]phone.Message{"inbox": inbox(t, tr.url, b), "sent": sent()} {
		if findMsg(msgs, old.ID) != nil || findMsg(msgs, young.ID) == nil || len(msgs) != 1 {
			t.Fatalf("%s after the day-31 sweep: %+v", who, msgs)
		}
	}
	p, _ := tr.Phone(b)
	if _, err := p.Message(old.ID); err == nil {
		t.Fatal("the expired message is still reachable by id")
	}
	next := send("day 31")
	if m := findMsg(inbox(t, tr.url, b), next.ID); m == nil || m.Status != phone.StatusReceived {
		t.Fatalf("message after the sweep: %+v", m)
	}
}
