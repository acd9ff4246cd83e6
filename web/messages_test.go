package web_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/keyring"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/web"
)

// openWindow records an inbound message from waID, as the network layer
// will (issue 4), so the 24-hour window is open.
func (h *harness) openWindow(phoneID, waID string, at time.Time) string {
	h.t.Helper()
	var key [16]byte
	binary.BigEndian.PutUint64(key[:8], uint64(at.UnixNano()))
	copy(key[8:], h.sealer.ConsumerRef(phoneID, waID)) // distinct per consumer
	wamid := "wamid.in-" + waID + "-" + at.Format("150405.000")
	cmd, _ := raftfsm.EncodeCommand(raftfsm.CmdRecordInbound, raftfsm.RecordInbound{
		Key: key[:], IDRef: raftfsm.MessageIDRef(wamid), PhoneNumberID: phoneID,
		PeerRef: h.sealer.ConsumerRef(phoneID, waID), Type: "text",
		Content: []byte("x"), ReceivedAt: at.UnixMilli()})
	if r, err := h.c.Propose(context.Background(), cmd); err != nil || r.Err != nil {
		h.t.Fatalf("record inbound: %v %v", err, r.Err)
	}
	return wamid
}

func TestSendMessages(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550001000")
	b := h.createTenant("+15550002000")
	send := a["phone_number_id"]
	url := "/v21.0/" + send + "/messages"
	h.openWindow(send, "15551234567", time.Now().Add(-time.Hour))

	bodies := map[string]string{
		"text":        `{"messaging_product":"whatsapp","to":"+1 555 123 4567","type":"text","text":{"body":"Olá 👍"}}`,
		"image":       `{"messaging_product":"whatsapp","to":"15551234567","type":"image","image":{"link":"https://x.com/a.jpg","caption":"c"}}`,
		"location":    `{"messaging_product":"whatsapp","to":"15551234567","type":"location","location":{"latitude":1,"longitude":2}}`,
		"interactive": `{"messaging_product":"whatsapp","to":"15551234567","type":"interactive","interactive":{"type":"button","body":{"text":"ok?"},"action":{"buttons":[{"type":"reply","reply":{"id":"y","title":"Yes"}}]}}}`,
		"reaction":    `{"messaging_product":"whatsapp","to":"15551234567","type":"reaction","reaction":{"message_id":"wamid.X","emoji":"😀"}}`,
	}
	for name, body := range bodies {
		code, out := h.do("POST", url, a["access_token"], body)
		if code != 200 {
			t.Fatalf("%s: %d %s", name, code, out)
		}
		var resp struct {
			MessagingProduct string `json:"messaging_product"`
			Contacts         []struct {
				Input string `json:"input"`
				WAID  string `json:"wa_id"`
			} `json:"contacts"`
			Messages []struct{ ID string } `json:"messages"`
		}
		if err := json.Unmarshal(out, &resp); err != nil || len(resp.Messages) != 1 || !strings.HasPrefix(resp.Messages[0].ID, "wamid.") ||
			resp.Contacts[0].WAID != "15551234567" || resp.MessagingProduct != "whatsapp" {
			t.Fatalf("%s: response %s", name, out)
		}
		m, err := h.c.FSM().MessageByID(resp.Messages[0].ID)
		if err != nil || m.Status != "accepted" || m.Direction != raftfsm.DirectionOut ||
			m.PeerRef != h.sealer.ConsumerRef(send, "15551234567") {
			t.Fatalf("%s: stored %+v %v", name, m, err)
		}
		// The consumer's number is stored only sealed, bound to the message.
		if peer, err := h.sealer.Open(raftfsm.PeerAAD(resp.Messages[0].ID), m.PeerSealed); err != nil || string(peer) != "15551234567" {
			t.Fatalf("%s: sealed peer %q %v", name, peer, err)
		}
		// Stored sealed: no plaintext, and it opens only bound to its own id.
		if strings.Contains(string(m.Content), `"type"`) {
			t.Fatalf("%s: content stored in plaintext", name)
		}
		pt, err := h.sealer.Open([]byte(resp.Messages[0].ID), m.Content)
		if err != nil {
			t.Fatalf("%s: open sealed content: %v", name, err)
		}
		if c, err := cloudapi.DecodeContent(pt); err != nil || c.Type != name {
			t.Fatalf("%s: content %+v %v", name, c, err)
		}
		if _, err := h.sealer.Open([]byte("wamid.other"), m.Content); err == nil {
			t.Fatalf("%s: sealed content opens under another id", name)
		}
	}
	stored := h.c.FSM().MessageCount()

	// Rejections store nothing.
	for _, tc := range []struct {
		name, token, url, body string
		status, code           int
	}{
		{"invalid body", a["access_token"], url, `{"messaging_product":"whatsapp","to":"15551234567","type":"text"}`, 400, 131008},
		{"recipient is sender", a["access_token"], url, `{"messaging_product":"whatsapp","to":"+15550001000","text":{"body":"hi"}}`, 400, 131021},
		{"other business's number", b["access_token"], url, bodies["text"], 400, 100},
		{"missing number", a["access_token"], "/v21.0/123456789/messages", bodies["text"], 400, 100},
		{"no token", "", url, bodies["text"], 401, 190},
	} {
		code, out := h.do("POST", tc.url, tc.token, tc.body)
		if code != tc.status || decodeEnvelope(t, out).Error.Code != tc.code {
			t.Fatalf("%s: %d %s", tc.name, code, out)
		}
	}
	if n := h.c.FSM().MessageCount(); n != stored {
		t.Fatalf("rejected requests stored %d messages", n-stored)
	}
	// Outside the window a free-form send is accepted, as by Meta, and
	// fails at once (reported by a 131047 status webhook).
	acceptedFailed := func(name, to string) {
		t.Helper()
		code, out := h.do("POST", url, a["access_token"], `{"messaging_product":"whatsapp","to":"`+to+`","text":{"body":"hi"}}`)
		var r cloudapi.SendResponse
		if code != 200 || json.Unmarshal(out, &r) != nil || len(r.Messages) != 1 {
			t.Fatalf("%s: %d %s", name, code, out)
		}
		if m, err := h.c.FSM().MessageByID(r.Messages[0].ID); err != nil || m.Status != raftfsm.StatusFailed {
			t.Fatalf("%s: stored %+v, %v", name, m, err)
		}
	}
	acceptedFailed("window never opened", "15559999999")

	// Templates need no open window, but must exist and be approved.
	code, out := h.do("POST", url, a["access_token"], `{"messaging_product":"whatsapp","to":"15559999999","type":"template","template":{"name":"hello","language":{"code":"en_US"}}}`)
	if code != 404 || decodeEnvelope(t, out).Error.Code != 132001 {
		t.Fatalf("unknown template: %d %s", code, out)
	}
	h.createTemplate(a["access_token"], a["waba_id"], "hello", "en_US", "Hello there")
	code, out = h.do("POST", url, a["access_token"], `{"messaging_product":"whatsapp","to":"15559999999","type":"template","template":{"name":"hello","language":{"code":"en_US"}}}`)
	if code != 200 || !strings.Contains(string(out), `"message_status":"accepted"`) {
		t.Fatalf("template: %d %s", code, out)
	}

	// A window older than 24 hours is closed.
	h.openWindow(send, "15557777777", time.Now().Add(-25*time.Hour))
	acceptedFailed("expired window", "15557777777")

	// Mark as read: only messages received by this number.
	in := h.openWindow(send, "15556666666", time.Now())
	code, out = h.do("POST", url, a["access_token"], `{"messaging_product":"whatsapp","status":"read","message_id":"`+in+`","typing_indicator":{"type":"text"}}`)
	if code != 200 || string(out) != `{"success":true}` {
		t.Fatalf("mark read: %d %s", code, out)
	}
	if m, _ := h.c.FSM().MessageByID(in); m.Status != "read" {
		t.Fatalf("status %q", m.Status)
	}
	code, out = h.do("POST", "/v21.0/"+b["phone_number_id"]+"/messages", b["access_token"], `{"messaging_product":"whatsapp","status":"read","message_id":"`+in+`"}`)
	if code != 400 || decodeEnvelope(t, out).Error.Code != 131009 {
		t.Fatalf("foreign mark read: %d %s", code, out)
	}

	// A foreign phone id answers exactly like a missing one.
	_, foreign := h.do("POST", url, b["access_token"], bodies["text"])
	_, missing := h.do("POST", "/v21.0/999999999999/messages", b["access_token"], bodies["text"])
	ef, em := decodeEnvelope(t, foreign), decodeEnvelope(t, missing)
	if ef.Error.Code != em.Error.Code || ef.Error.Message != em.Error.Message ||
		strings.ReplaceAll(ef.Error.ErrorData.Details, send, "ID") != strings.ReplaceAll(em.Error.ErrorData.Details, "999999999999", "ID") {
		t.Fatalf("foreign vs missing:\n%s\n%s", foreign, missing)
	}
}

// staticIdentities knows one consumer's identity hash.
type staticIdentities map[string]string

func (s staticIdentities) IdentityHash(phoneNumberID, waID string) (string, bool) {
	h, ok := s[phoneNumberID+"/"+waID]
	return h, ok
}

// TestRecipientIdentityKeyHash: a send naming a stale identity hash is
// refused with 137000 and stores nothing; the current hash, or none, goes.
func TestRecipientIdentityKeyHash(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550001000")
	pn := a["phone_number_id"]
	h.app = web.New(web.Deps{Cluster: h.c, Sealer: h.sealer,
		Identities: staticIdentities{pn + "/15551234567": "aaaabbbbccccdddd"}})
	h.openWindow(pn, "15551234567", time.Now().Add(-time.Hour))
	body := func(hash string) string {
		return `{"messaging_product":"whatsapp","to":"15551234567","recipient_identity_key_hash":"` + hash +
			`","type":"text","text":{"body":"hi"}}`
	}
	before := h.c.FSM().MessageCount()
	code, out := h.do("POST", "/v21.0/"+pn+"/messages", a["access_token"], body("0000000000000000"))
	if code != 400 || decodeEnvelope(t, out).Error.Code != 137000 {
		t.Fatalf("stale hash: %d %s", code, out)
	}
	if h.c.FSM().MessageCount() != before {
		t.Fatal("a refused send stored a message")
	}
	if code, out := h.do("POST", "/v21.0/"+pn+"/messages", a["access_token"], body("aaaabbbbccccdddd")); code != 200 {
		t.Fatalf("current hash: %d %s", code, out)
	}
}

// TestSendFlowLocationRequestAndTemplateParams drives interactive flow
// and location_request_message messages and template currency and
// date_time parameters through POST /messages: accepted ones are stored
// as sent, malformed ones answer their exact status and code and store
// nothing.
func TestSendFlowLocationRequestAndTemplateParams(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550020000")
	pn, tok := a["phone_number_id"], a["access_token"]
	url := "/v21.0/" + pn + "/messages"
	h.openWindow(pn, "15551234567", time.Now().Add(-time.Minute))
	h.createTemplate(tok, a["waba_id"], "invoice", "en_US", "Total {{1}} due {{2}}")
	msg := func(payload string) string {
		return `{"messaging_product":"whatsapp","to":"15551234567",` + payload + `}`
	}
	flow := func(header, action string) string {
		return msg(`"type":"interactive","interactive":{"type":"flow",` + header + `"body":{"text":"Sign up"},"action":` + action + `}`)
	}
	flowAction := func(params string) string { return `{"name":"flow","parameters":{` + params + `}}` }
	const flowOK = `"flow_message_version":"3","flow_id":"123","flow_token":"opaque","flow_cta":"Start"`
	locReq := func(interactive string) string {
		return msg(`"type":"interactive","interactive":{"type":"location_request_message",` + interactive + `}`)
	}
	invoice := func(params string) string {
		return msg(`"type":"template","template":{"name":"invoice","language":{"code":"en_US"},"components":[` + params + `]}`)
	}
	body := func(params string) string { return `{"type":"body","parameters":[` + params + `]}` }
	const (
		currencyOK = `{"type":"currency","currency":{"fallback_value":"$10.00","code":"USD","amount_1000":10000}}`
		dateOK     = `{"type":"date_time","date_time":{"fallback_value":"June 1"}}`
	)

	// Accepted: stored with the content as sent.
	for _, tc := range []struct {
		name, body string
		check      func(c *cloudapi.SendRequest) bool
	}{
		{"flow", flow(`"header":{"type":"text","text":"Welcome"},"footer":{"text":"Acme"},`, flowAction(flowOK+
			`,"flow_action":"navigate","flow_action_payload":{"screen":"WELCOME","data":{"k":"v"}}`)),
			func(c *cloudapi.SendRequest) bool {
				return c.Interactive.Type == "flow" && strings.Contains(string(c.Interactive.Action.Parameters), `"flow_token":"opaque"`) &&
					strings.Contains(string(c.Interactive.Action.Parameters), `"screen":"WELCOME"`)
			}},
		{"flow by name, draft, data_exchange", flow("", flowAction(
			`"flow_message_version":"3","flow_name":"signup","flow_cta":"Go","flow_action":"data_exchange","mode":"draft"`)),
			func(c *cloudapi.SendRequest) bool { return c.Interactive.Type == "flow" }},
		{"location request", locReq(`"body":{"text":"Where are you?"},"action":{"name":"send_location"}`),
			func(c *cloudapi.SendRequest) bool {
				return c.Interactive.Type == "location_request_message" && c.Interactive.Action.Name == "send_location" &&
					c.Interactive.Body.Text == "Where are you?"
			}},
		{"currency and date_time", invoice(body(currencyOK + "," + dateOK)),
			func(c *cloudapi.SendRequest) bool {
				ps := c.Template.Components[0].Parameters
				return len(ps) == 2 && ps[0].Currency != nil && *ps[0].Currency.Amount1000 == 10000 && ps[0].Currency.Code == "USD" &&
					ps[0].Currency.FallbackValue == "$10.00" && ps[1].DateTime != nil && ps[1].DateTime.FallbackValue == "June 1"
			}},
	} {
		code, out := h.do("POST", url, tok, tc.body)
		var resp struct{ Messages []struct{ ID string } }
		if code != 200 || json.Unmarshal(out, &resp) != nil || len(resp.Messages) != 1 {
			t.Fatalf("%s: %d %s", tc.name, code, out)
		}
		m, err := h.c.FSM().MessageByID(resp.Messages[0].ID)
		if err != nil || m.Status != "accepted" {
			t.Fatalf("%s: stored %+v %v", tc.name, m, err)
		}
		pt, err := h.sealer.Open([]byte(resp.Messages[0].ID), m.Content)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := cloudapi.DecodeContent(pt); err != nil || !tc.check(c) {
			t.Fatalf("%s: stored content %s %v", tc.name, pt, err)
		}
	}

	// Refused: exact status and code, nothing stored.
	stored := h.c.FSM().MessageCount()
	for _, tc := range []struct {
		name, body   string
		status, code int
	}{
		{"flow: no parameters", flow("", `{"name":"flow"}`), 400, 131008},
		{"flow: no action", msg(`"type":"interactive","interactive":{"type":"flow","body":{"text":"x"}}`), 400, 131008},
		{"flow: no body", msg(`"type":"interactive","interactive":{"type":"flow","action":` + flowAction(flowOK) + `}`), 400, 131008},
		{"flow: no version", flow("", flowAction(`"flow_id":"123","flow_cta":"Start"`)), 400, 131008},
		{"flow: no flow id or name", flow("", flowAction(`"flow_message_version":"3","flow_cta":"Start"`)), 400, 131008},
		{"flow: no cta", flow("", flowAction(`"flow_message_version":"3","flow_id":"123"`)), 400, 131008},
		{"flow: cta too long", flow("", flowAction(`"flow_message_version":"3","flow_id":"123","flow_cta":"123456789012345678901"`)), 400, 131009},
		{"flow: emoji in cta", flow("", flowAction(`"flow_message_version":"3","flow_id":"123","flow_cta":"Start 🚀"`)), 400, 131009},
		{"flow: unknown flow_action", flow("", flowAction(flowOK+`,"flow_action":"jump"`)), 400, 131009},
		{"flow: unknown mode", flow("", flowAction(flowOK+`,"mode":"live"`)), 400, 131009},
		{"flow: wrong action name", flow("", `{"name":"cta_url","parameters":{`+flowOK+`}}`), 400, 131009},
		{"flow: image header", flow(`"header":{"type":"image","image":{"link":"https://x.com/a.jpg"}},`, flowAction(flowOK)), 400, 131009},
		{"flow: parameters not an object", flow("", `{"name":"flow","parameters":"x"}`), 400, 100},
		{"flow: flow_id a number", flow("", flowAction(`"flow_message_version":"3","flow_id":123,"flow_cta":"Start"`)), 400, 100},
		{"location request: no action name", locReq(`"body":{"text":"Where?"},"action":{}`), 400, 131009},
		{"location request: wrong action name", locReq(`"body":{"text":"Where?"},"action":{"name":"send_address"}`), 400, 131009},
		{"location request: no action", locReq(`"body":{"text":"Where?"}`), 400, 131008},
		{"location request: no body", locReq(`"action":{"name":"send_location"}`), 400, 131008},
		{"location request: unknown key", locReq(`"body":{"text":"Where?"},"action":{"name":"send_location","radius":5}`), 400, 100},
		{"currency: no object", invoice(body(`{"type":"currency"},` + dateOK)), 400, 131008},
		{"currency: no amount", invoice(body(`{"type":"currency","currency":{"fallback_value":"$1","code":"USD"}},` + dateOK)), 400, 131008},
		{"currency: no fallback", invoice(body(`{"type":"currency","currency":{"code":"USD","amount_1000":1}},` + dateOK)), 400, 131008},
		{"currency: no code", invoice(body(`{"type":"currency","currency":{"fallback_value":"$1","amount_1000":1}},` + dateOK)), 400, 131008},
		{"currency: lowercase code", invoice(body(`{"type":"currency","currency":{"fallback_value":"$1","code":"usd","amount_1000":1}},` + dateOK)), 400, 131009},
		{"currency: amount a string", invoice(body(`{"type":"currency","currency":{"fallback_value":"$1","code":"USD","amount_1000":"1"}},` + dateOK)), 400, 100},
		{"currency: in the header", invoice(`{"type":"header","parameters":[` + currencyOK + `]},` + body(currencyOK+","+dateOK)), 400, 100},
		{"date_time: no object", invoice(body(currencyOK + `,{"type":"date_time"}`)), 400, 131008},
		{"date_time: no fallback", invoice(body(currencyOK + `,{"type":"date_time","date_time":{}}`)), 400, 131008},
		{"date_time: unknown key", invoice(body(currencyOK + `,{"type":"date_time","date_time":{"fallback_value":"x","week":1}}`)), 400, 100},
		{"date_time: day_of_week out of range", invoice(body(currencyOK + `,{"type":"date_time","date_time":{"fallback_value":"x","day_of_week":8}}`)), 400, 131009},
		{"currency alone: count mismatch", invoice(body(currencyOK)), 400, 132000},
	} {
		code, out := h.do("POST", url, tok, tc.body)
		if code != tc.status || decodeEnvelope(t, out).Error.Code != tc.code {
			t.Fatalf("%s: %d %s, want %d code %d", tc.name, code, out, tc.status, tc.code)
		}
	}
	if n := h.c.FSM().MessageCount(); n != stored {
		t.Fatalf("refused sends stored %d messages", n-stored)
	}
}

// rawContains reports whether any key or value of any bucket of the state
// machine holds s (in clear or hex).
func rawContains(t *testing.T, h *harness, s string) bool {
	t.Helper()
	needles := [][]byte{[]byte(s), []byte(hex.EncodeToString([]byte(s)))}
	found := false
	err := h.c.FSM().View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				for _, n := range needles {
					if bytes.Contains(k, n) || bytes.Contains(v, n) {
						found = true
					}
				}
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestCallbackDataSealedAtRest: biz_opaque_callback_data reaches the
// state machine only sealed under the message's data key (bound to the
// wamid), never in clear.
func TestCallbackDataSealedAtRest(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550001000")
	pn := a["phone_number_id"]
	h.openWindow(pn, "15551234567", time.Now().Add(-time.Hour))
	const callback = "invoice-5521-callback-marker"
	code, out := h.do("POST", "/v21.0/"+pn+"/messages", a["access_token"], `{"messaging_product":"whatsapp","to":"15551234567",`+
		`"biz_opaque_callback_data":"`+callback+`","type":"text","text":{"body":"hi"}}`)
	if code != 200 {
		t.Fatalf("send: %d %s", code, out)
	}
	var resp struct{ Messages []struct{ ID string } }
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.Messages) != 1 {
		t.Fatalf("response %s", out)
	}
	if rawContains(t, h, callback) {
		t.Fatal("the callback data is stored in clear")
	}
	wamid := resp.Messages[0].ID
	m, err := h.c.FSM().MessageByID(wamid)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := h.sealer.Open(raftfsm.CallbackAAD(wamid), m.CallbackSealed); err != nil || string(pt) != callback {
		t.Fatalf("sealed callback data: %q %v", pt, err)
	}
	if _, err := h.sealer.Open(raftfsm.CallbackAAD("wamid.other"), m.CallbackSealed); err == nil {
		t.Fatal("the callback data opens bound to another message")
	}
	mid, _ := keyring.KeyID(m.CallbackSealed)
	cid, _ := keyring.KeyID(m.Content)
	if mid != cid {
		t.Fatalf("callback data under key %d, content under %d", mid, cid)
	}
}
