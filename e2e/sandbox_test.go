package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// rawHook records every webhook event body (one event per POST).
type rawHook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []hookEvent
}

// hookEvent is the part of a messages-field event the tests look at.
type hookEvent struct {
	Messages []struct {
		ID       string
		Type     string
		Text     struct{ Body string }
		Contacts []struct {
			Name struct {
				FormattedName string `json:"formatted_name"`
			}
			Phones []struct{ Phone string }
		}
	}
	Statuses []struct {
		ID, Status string
		Errors     []struct{ Code int }
	}
}

func newRawHook(t *testing.T) *rawHook {
	h := &rawHook{}
	h.srv = hookServer(t, func(_ http.ResponseWriter, _ *http.Request, b []byte) {
		var n struct {
			Entry []struct{ Changes []struct{ Value hookEvent } }
		}
		if json.Unmarshal(b, &n) == nil && len(n.Entry) == 1 && len(n.Entry[0].Changes) == 1 {
			h.mu.Lock()
			h.events = append(h.events, n.Entry[0].Changes[0].Value)
			h.mu.Unlock()
		}
	})
	return h
}

// find reports whether some event satisfies ok.
func (h *rawHook) find(ok func(hookEvent) bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.ContainsFunc(h.events, ok)
}

// status reports whether a status webhook of wamid reached the hook.
func (h *rawHook) status(wamid, status string) bool {
	return h.find(func(e hookEvent) bool {
		return slices.ContainsFunc(e.Statuses, func(s struct {
			ID, Status string
			Errors     []struct{ Code int }
		}) bool {
			return s.ID == wamid && s.Status == status
		})
	})
}

// relayAddrOf is the --relay-addr of a node running the embedded sandbox.
func relayAddrOf(t *testing.T, p *proc) string {
	i := slices.Index(p.args, "--relay-addr")
	if i < 0 {
		t.Fatal("node has no embedded relay")
	}
	return p.args[i+1]
}

// TestBlackBoxEmbeddedSandbox runs the README's command — `waedge serve`
// with no network configured, so its relay runs in-process — and drives a
// hosted phone with every `waedge sandbox phone` verb: text and a contact
// card reach the business's webhook, the business's reply reaches the
// phone, the phone's read receipt becomes a read status, spam reports and
// blocks are counted for the business, and once blocked the business's
// messages fail with 131026.
func TestBlackBoxEmbeddedSandbox(t *testing.T) {
	solo := newProc(t, "solo")
	solo.start()
	solo.waitReady(20 * time.Second)
	token := solo.adminToken()
	relay := relayAddrOf(t, solo)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var ten tenantCreated
	if code, err := doJSON(ctx, "POST", solo.url("/admin/v1/tenants"), token,
		map[string]string{"name": "Solo", "phone": "+15550008000"}, &ten); err != nil || code != 200 {
		t.Fatalf("create tenant: %d %v", code, err)
	}
	hook := newRawHook(t)
	if code, err := doJSON(ctx, "POST", solo.url("/v21.0/"+ten.WABAID+"/subscribed_apps"), ten.AccessToken,
		map[string]string{"override_callback_uri": hook.srv.URL, "verify_token": "verify-embedded-sandbox"}, nil); err != nil || code != 200 {
		t.Fatalf("subscribe: %d %v", code, err)
	}
	const business, consumer = "15550008000", "4915200000001"
	consumerNumber(t, consumer, "+15551112222") // the consumer and the contact card's number
	sandbox(t, relay, nil, "create", "--number", consumer, "--name", "Ana")
	send := func(args ...string) {
		t.Helper()
		waitFor(t, "the phone reaches the business", 30*time.Second, func() bool {
			_, _, err := cli(t, append([]string{"sandbox", "phone", "send", "--relay", "http://" + relay,
				"--number", consumer, "--to", business}, args...)...)
			return err == nil
		})
	}
	send("--text", "embedded hello")
	waitFor(t, "text webhook", 30*time.Second, func() bool {
		return hook.find(func(e hookEvent) bool { return len(e.Messages) == 1 && e.Messages[0].Text.Body == "embedded hello" })
	})
	// The business marks it read with a typing indicator: both reach the phone.
	var inWamid string
	hook.find(func(e hookEvent) bool {
		if len(e.Messages) == 1 && e.Messages[0].Text.Body == "embedded hello" {
			inWamid = e.Messages[0].ID
		}
		return inWamid != ""
	})
	if code, err := doJSON(ctx, "POST", solo.url("/v21.0/"+ten.PhoneNumberID+"/messages"), ten.AccessToken,
		map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": inWamid,
			"typing_indicator": map[string]string{"type": "text"}}, nil); err != nil || code != 200 {
		t.Fatalf("mark read: %d %v", code, err)
	}
	waitFor(t, "the phone sees its message read and the business typing", 30*time.Second, func() bool {
		var sent inbox
		sandbox(t, relay, &sent, "sent", "--number", consumer)
		var in struct{ Typing map[string]int64 }
		sandbox(t, relay, &in, "inbox", "--number", consumer)
		return len(sent.Messages) == 1 && sent.Messages[0].Status == "read" && in.Typing[business] > 0
	})
	send("--type", "contacts", "--contact-name", "Ann Lee", "--contact-phone", "+15551112222")
	waitFor(t, "contacts webhook", 30*time.Second, func() bool {
		return hook.find(func(e hookEvent) bool {
			return len(e.Messages) == 1 && e.Messages[0].Type == "contacts" && len(e.Messages[0].Contacts) == 1 &&
				e.Messages[0].Contacts[0].Name.FormattedName == "Ann Lee" && len(e.Messages[0].Contacts[0].Phones) == 1 &&
				e.Messages[0].Contacts[0].Phones[0].Phone == "+15551112222"
		})
	})

	apiSend := func(text string) string {
		t.Helper()
		var resp struct{ Messages []struct{ ID string } }
		code, err := doJSON(ctx, "POST", solo.url("/v21.0/"+ten.PhoneNumberID+"/messages"), ten.AccessToken,
			map[string]any{"messaging_product": "whatsapp", "to": consumer, "type": "text", "text": map[string]string{"body": text}}, &resp)
		if err != nil || code != 200 || len(resp.Messages) != 1 {
			t.Fatalf("send %q: %d %v", text, code, err)
		}
		return resp.Messages[0].ID
	}
	wamid := apiSend("thanks Ana")
	var phoneID string
	waitFor(t, "the phone receives the reply", 30*time.Second, func() bool {
		var in inbox
		sandbox(t, relay, &in, "inbox", "--number", consumer)
		for _, m := range in.Messages {
			if m.Content.Text.Body == "thanks Ana" {
				phoneID = m.ID
				return true
			}
		}
		return false
	})
	waitFor(t, "delivered status", 30*time.Second, func() bool { return hook.status(wamid, "delivered") })
	sandbox(t, relay, nil, "read", "--number", consumer, "--message", phoneID)
	waitFor(t, "read status", 30*time.Second, func() bool { return hook.status(wamid, "read") })
	sandbox(t, relay, nil, "typing", "--number", consumer, "--to", business)

	// Integrity signals: counted for the business, nothing about the consumer.
	sandbox(t, relay, nil, "report-spam", "--number", consumer, "--business", business)
	sandbox(t, relay, nil, "block", "--number", consumer, "--business", business)
	waitFor(t, "spam report and block counted", 30*time.Second, func() bool {
		var out struct {
			Data []struct {
				Kind  string
				Count int
			}
		}
		code, err := doJSON(ctx, "GET", solo.url("/admin/v1/integrity?phone="+ten.PhoneNumberID), token, nil, &out)
		if err != nil || code != 200 {
			return false
		}
		got := map[string]int{}
		for _, r := range out.Data {
			got[r.Kind] += r.Count
		}
		return got["spam_report"] == 1 && got["block"] == 1
	})
	blocked := apiSend("are you still there?")
	waitFor(t, "a blocked consumer's message fails", 30*time.Second, func() bool {
		return hook.find(func(e hookEvent) bool {
			return len(e.Statuses) == 1 && e.Statuses[0].ID == blocked && e.Statuses[0].Status == "failed" &&
				len(e.Statuses[0].Errors) == 1 && e.Statuses[0].Errors[0].Code == 131026
		})
	})
}
