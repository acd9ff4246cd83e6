package relay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waedge/waedge/internal/syncbuf"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/phone"
)

// api calls the hosted-phone HTTP API and decodes the JSON answer into out (if not nil).
func api(t *testing.T, method, url string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	testTokens.Range(func(k, v any) bool {
		if strings.HasPrefix(url, k.(string)+"/") {
			req.Header.Set("Authorization", "Bearer "+v.(string))
		}
		return true
	})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, raw)
		}
	}
	return resp.StatusCode
}

type messages struct {
	Messages []phone.Message `json:"messages"`
}

func inbox(t *testing.T, base, number string) []phone.Message {
	var m messages
	if code := api(t, "GET", base+"/sandbox/phones/"+number+"/inbox", nil, &m); code != 200 {
		t.Fatalf("inbox status %d", code)
	}
	return m.Messages
}

func findMsg(msgs []phone.Message, id string) *phone.Message {
	for i := range msgs {
		if msgs[i].ID == id {
			return &msgs[i]
		}
	}
	return nil
}

const marker = "SECRET-PLAINTEXT-"

func TestHostedPhonesAPI(t *testing.T) {
	phone.SetupSignalLogging(nil)
	dir := t.TempDir()
	tap := &syncbuf.Buffer{} // everything the relay receives
	tr := startRelay(t, Config{DataDir: dir, Tap: tap})
	base := tr.url
	const a, b = "4915100002001", "4915100002002"

	for _, c := range []struct {
		body any
		want int
	}{
		{map[string]string{"number": a, "name": "Alice"}, 201},
		{map[string]string{"number": b, "name": "Bob"}, 201},
		{map[string]string{"number": a, "name": "Again"}, 409},
		{map[string]string{"number": "+49 151", "name": "x"}, 400},
		{"not an object", 400},
	} {
		if code := api(t, "POST", base+"/sandbox/phones", c.body, nil); code != c.want {
			t.Fatalf("create %v: status %d, want %d", c.body, code, c.want)
		}
	}
	var list struct {
		Phones []PhoneInfo `json:"phones"`
	}
	api(t, "GET", base+"/sandbox/phones", nil, &list)
	if len(list.Phones) != 2 || list.Phones[0].Number != a || list.Phones[0].Name != "Alice" || !list.Phones[0].Online {
		t.Fatalf("phones %+v", list.Phones)
	}

	// Every message type the API offers goes through end to end.
	img := bytes.Repeat([]byte(marker+"image"), 100)
	sends := []map[string]any{
		{"to": b, "type": "text", "text": marker + "hello Bob"},
		{"to": b, "type": "text", "text": map[string]string{"body": marker + "object form"}},
		{"to": b, "type": "image", "image": map[string]any{"data": img, "mime_type": "image/png", "caption": marker + "cap"}},
		{"to": b, "type": "location", "location": map[string]any{"latitude": 52.52, "longitude": 13.40, "name": marker + "Berlin"}},
		{"to": b, "type": "contacts", "contacts": []map[string]any{{"name": map[string]string{"formatted_name": marker + "Ann"}}}},
		{"to": b, "type": "button_reply", "button_reply": map[string]string{"id": "yes", "title": "Yes"}},
		{"to": b, "type": "list_reply", "list_reply": map[string]string{"id": "r1", "title": "Row 1"}},
	}
	var ids []string
	for _, s := range sends {
		var m phone.Message
		if code := api(t, "POST", base+"/sandbox/phones/"+a+"/send", s, &m); code != 200 {
			t.Fatalf("send %v: status %d", s["type"], code)
		}
		ids = append(ids, m.ID)
	}
	var react phone.Message
	if code := api(t, "POST", base+"/sandbox/phones/"+a+"/send", map[string]any{"to": b, "type": "reaction",
		"reaction": map[string]string{"message_id": ids[0], "emoji": "👍"}}, &react); code != 200 {
		t.Fatalf("reaction status %d", code)
	}
	ids = append(ids, react.ID)
	eventually(t, "all messages in Bob's inbox", func() bool { return len(inbox(t, base, b)) == len(ids) })
	got := inbox(t, base, b)
	wantTypes := []string{"text", "text", "image", "location", "contacts", "button_reply", "list_reply", "reaction"}
	for i, id := range ids {
		m := findMsg(got, id)
		if m == nil || m.Content.Type != wantTypes[i] || m.From != a || m.Status != phone.StatusReceived {
			t.Fatalf("message %d (%s) in inbox: %+v", i, wantTypes[i], m)
		}
	}
	if got[1].Content.Text.Body != marker+"object form" || got[7].Content.Reaction.MessageID != ids[0] {
		t.Fatal("content changed on the way")
	}
	req, _ := http.NewRequest("GET", base+"/sandbox/phones/"+b+"/media/"+ids[2], nil)
	req.Header.Set("Authorization", "Bearer "+tr.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	media, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(media, img) || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("media download: %d, %d bytes", resp.StatusCode, len(media))
	}

	// Receipts: delivered automatically, read on request.
	sent := func() []phone.Message {
		var m messages
		api(t, "GET", base+"/sandbox/phones/"+a+"/sent", nil, &m)
		return m.Messages
	}
	eventually(t, "delivered", func() bool { m := findMsg(sent(), ids[0]); return m != nil && m.Status == phone.StatusDelivered })
	if code := api(t, "POST", base+"/sandbox/phones/"+b+"/read", map[string]string{"message_id": ids[0]}, nil); code != 200 {
		t.Fatalf("read status %d", code)
	}
	eventually(t, "read", func() bool { m := findMsg(sent(), ids[0]); return m != nil && m.Status == phone.StatusRead })

	// Integrity: a business on the network gets the hosted phone's spam report and block.
	biz := newTestDevice(t, "15550002000", 2, network.RoleBusiness)
	bc := registered(t, tr.url, biz)
	for _, path := range []string{"report-spam", "block"} {
		if code := api(t, "POST", base+"/sandbox/phones/"+a+"/"+path, map[string]string{"business": biz.number}, nil); code != 200 {
			t.Fatalf("%s status %d", path, code)
		}
	}
	if s := recv(t, bc, network.DeliverySignal); s.Signal.Kind != network.SignalSpamReport || s.Signal.Consumer != a {
		t.Fatalf("signal %+v", s.Signal)
	}
	if s := recv(t, bc, network.DeliverySignal); s.Signal.Kind != network.SignalBlock {
		t.Fatalf("signal %+v", s.Signal)
	}

	// Errors.
	for _, c := range []struct {
		path string
		body any
		want int
	}{
		{"/sandbox/phones/4900000000/send", map[string]string{"to": b, "type": "text", "text": "x"}, 404},
		{"/sandbox/phones/" + a + "/send", map[string]string{"to": "4900000000", "type": "text", "text": "x"}, 422},
		{"/sandbox/phones/" + a + "/send", map[string]string{"to": b, "type": "poll"}, 400},
		{"/sandbox/phones/" + a + "/send", map[string]any{"to": b, "type": "image", "image": map[string]string{}}, 400},
		{"/sandbox/phones/" + a + "/send", map[string]any{"to": b, "type": "text", "text": 5}, 400},
		{"/sandbox/phones/" + a + "/read", map[string]string{"message_id": "nope"}, 404},
		{"/sandbox/phones/" + a + "/block", map[string]string{"business": "abc"}, 400},
		{"/sandbox/phones/" + a + "/report-spam", map[string]string{"business": "4900000000"}, 422},
	} {
		if code := api(t, "POST", base+c.path, c.body, nil); code != c.want {
			t.Errorf("POST %s: status %d, want %d", c.path, code, c.want)
		}
	}

	// The relay received many bytes, none of them plaintext; its database holds none either.
	if seen := tap.String(); len(seen) == 0 || strings.Contains(seen, marker) {
		t.Fatalf("tap saw %d bytes; plaintext present: %v", len(seen), strings.Contains(seen, marker))
	}

	// Restart: hosted phones come back with their sessions and messages.
	tr.stop()
	for _, f := range append([]string{filepath.Join(dir, "relay.db")}, globT(t, filepath.Join(dir, "blobs", "*"))...) {
		if data, _ := os.ReadFile(f); bytes.Contains(data, []byte(marker)) {
			t.Fatalf("%s contains plaintext", f)
		}
	}
	tr = startRelay(t, Config{DataDir: dir, Tap: tap})
	if len(inbox(t, tr.url, b)) != len(ids) {
		t.Fatal("hosted inbox lost across restart")
	}
	var m phone.Message
	if code := api(t, "POST", tr.url+"/sandbox/phones/"+b+"/send", map[string]any{"to": a, "type": "text", "text": "back"}, &m); code != 200 {
		t.Fatalf("send after restart: %d", code)
	}
	eventually(t, "reply after restart", func() bool { return findMsg(inbox(t, tr.url, a), m.ID) != nil })
	if strings.Contains(fmt.Sprint(inbox(t, tr.url, a)), phone.StatusUndecryptable) {
		t.Fatal("a message failed to decrypt after restart")
	}
}

func globT(t *testing.T, pattern string) []string {
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
