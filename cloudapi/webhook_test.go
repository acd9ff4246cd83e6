package cloudapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/waedge/waedge/graph"
)

var md = Metadata{DisplayPhoneNumber: "15550783881", PhoneNumberID: "106540352242922"}

// escapeIndependently is a second, deliberately naive implementation of
// ensure_ascii: every non-ASCII rune becomes UTF-16 units as \uxxxx.
func escapeIndependently(b []byte) []byte {
	var out bytes.Buffer
	for _, r := range string(b) {
		if r < utf8.RuneSelf {
			out.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&out, `\u%04x`, u)
		}
	}
	return out.Bytes()
}

// compact returns the compact form of a JSON text from docs/cloud-api.md.
func compact(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestMarshalASCIIAndSignature(t *testing.T) {
	const text = "Olá ção 👍 中文"
	n := InboundTextNotification("1001", md, "15551234567", "Zoë <b>&", "wamid.X", 1749416383, text)
	body, err := MarshalASCII(n)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range body {
		if c >= 0x80 {
			t.Fatalf("non-ASCII byte at %d in %s", i, body)
		}
	}
	for _, want := range []string{`Ol\u00e1 \u00e7\u00e3o \ud83d\udc4d \u4e2d\u6587`, `Zo\u00eb <b>&`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("body lacks %s: %s", want, body)
		}
	}
	// Same bytes as an independent escaper applied to Go's own encoding.
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(n); err != nil {
		t.Fatal(err)
	}
	if want := escapeIndependently(bytes.TrimSpace(plain.Bytes())); !bytes.Equal(body, want) {
		t.Fatalf("escaping differs:\n got %s\nwant %s", body, want)
	}
	// The receiver's view: json.Unmarshal gives back the accents and emoji.
	var back struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Contacts []struct {
						Profile struct{ Name string }
					}
					Messages []struct {
						Timestamp string
						Text      struct{ Body string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(body, &back); err != nil {
		t.Fatal(err)
	}
	v := back.Entry[0].Changes[0].Value
	if v.Messages[0].Text.Body != text || v.Contacts[0].Profile.Name != "Zoë <b>&" || v.Messages[0].Timestamp != "1749416383" {
		t.Fatalf("round trip: %+v", v)
	}
	// Independent HMAC over the exact bytes.
	m := hmac.New(sha256.New, []byte("app-secret"))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if got := Sign("app-secret", body); got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	for _, tc := range []struct {
		name, secret, header string
		body                 []byte
		ok                   bool
	}{
		{"valid", "app-secret", want, body, true},
		{"upper-case hex", "app-secret", "sha256=" + strings.ToUpper(want[7:]), body, true},
		{"other secret", "other", want, body, false},
		{"changed body", "app-secret", want, append(bytes.Clone(body), ' '), false},
		{"unescaped body", "app-secret", want, bytes.TrimSpace(plain.Bytes()), false},
		{"no prefix", "app-secret", want[7:], body, false},
		{"sha1 prefix", "app-secret", "sha1=" + want[7:], body, false},
		{"truncated", "app-secret", want[:len(want)-2], body, false},
		{"not hex", "app-secret", "sha256=zz", body, false},
		{"empty", "app-secret", "", body, false},
	} {
		if got := VerifySignature(tc.secret, tc.body, tc.header); got != tc.ok {
			t.Errorf("%s: VerifySignature = %v", tc.name, got)
		}
	}
}

func TestMarshalASCIIEdges(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{"plain", `"plain"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"\x00\t\n", `"\u0000\t\n"`},
		{"bad \xff utf8", `"bad \ufffd utf8"`},
		{"𝄞", `"\ud834\udd1e"`},
		{"https://x.com/a?b=1&c=2", `"https://x.com/a?b=1&c=2"`},
		{map[string]any{"é": 1}, `{"\u00e9":1}`},
	} {
		got, err := MarshalASCII(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("%q: got %s (%v), want %s", tc.in, got, err, tc.want)
		}
	}
	if _, err := MarshalASCII(func() {}); err == nil {
		t.Error("a func marshalled")
	}
}

// TestGoldenInboundText compares with docs/cloud-api.md §6.2 byte for byte
// (after compacting the example and escaping it as Meta does).
func TestGoldenInboundText(t *testing.T) {
	const golden = `{"object":"whatsapp_business_account","entry":[{"id":"<WABA-ID>","changes":[{"field":"messages","value":{
  "messaging_product":"whatsapp",
  "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
  "contacts":[{"profile":{"name":"Sheena"},"wa_id":"16505551234"}],
  "messages":[{"from":"16505551234","id":"wamid.HBgL…","timestamp":"1749416383","type":"text",
               "text":{"body":"Does it come in another color?"}}]}}]}]}`
	got, err := MarshalASCII(InboundTextNotification("<WABA-ID>", md, "16505551234", "Sheena", "wamid.HBgL…", 1749416383,
		"Does it come in another color?"))
	if err != nil {
		t.Fatal(err)
	}
	if want := escapeIndependently(compact(t, golden)); !bytes.Equal(got, want) {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}

// TestGoldenDeliveredStatus compares with docs/cloud-api.md §6.4; waedge bills
// per message, so the example's pricing_model CBP becomes PMP.
func TestGoldenDeliveredStatus(t *testing.T) {
	const status = `{"id":"wamid.HBgN…","status":"delivered","timestamp":"1750857384","recipient_id":"5516992318222",
 "biz_opaque_callback_data":"order-42",
 "conversation":{"id":"a75d17ad06104c51166f948319b03c6a","expiration_timestamp":"1750943820","origin":{"type":"service"}},
 "pricing":{"billable":true,"pricing_model":"CBP","category":"service"}}`
	golden := `{"object":"whatsapp_business_account","entry":[{"id":"1001","changes":[{"field":"messages","value":{` +
		`"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},` +
		`"statuses":[` + strings.Replace(status, `"CBP"`, `"PMP"`, 1) + `]}}]}]}`
	st := DeliveredStatus(StatusEvent{MessageID: "wamid.HBgN…", RecipientID: "5516992318222", At: 1750857384,
		CallbackData: "order-42", Billing: &Billing{ConversationID: "a75d17ad06104c51166f948319b03c6a",
			ConversationExpiry: 1750943820, Origin: "service", Billable: true, Category: "service"}})
	got, err := MarshalASCII(StatusNotification("1001", md, st))
	if err != nil {
		t.Fatal(err)
	}
	if want := escapeIndependently(compact(t, golden)); !bytes.Equal(got, want) {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}

// inboundSamples builds one message per inbound type of docs/cloud-api.md §6.3.
func inboundSamples() map[string]InboundMessage {
	const from, id, at = "16505551234", "wamid.IN", int64(1749416383)
	return map[string]InboundMessage{
		"text":     TextMessage(from, id, at, "Does it come in another color?"),
		"image":    ImageMessage(from, id, at, InboundMedia{ID: "654…", MimeType: "image/jpeg", SHA256: "4654+8g=", Caption: "hi"}),
		"audio":    AudioMessage(from, id, at, InboundMedia{ID: "123…", MimeType: "audio/ogg; codecs=opus", SHA256: "…", Voice: true}),
		"video":    VideoMessage(from, id, at, InboundMedia{ID: "77", MimeType: "video/mp4", SHA256: "v=", Caption: "clip"}),
		"document": DocumentMessage(from, id, at, InboundMedia{ID: "78", MimeType: "application/pdf", SHA256: "d=", Filename: "inv.pdf"}),
		"sticker":  StickerMessage(from, id, at, InboundMedia{ID: "…", MimeType: "image/webp", SHA256: "…", Animated: true}),
		"location": LocationMessage(from, id, at, InboundLocation{Latitude: 37.46, Longitude: -122.21, Name: "HQ", Address: "…", URL: "…"}),
		"contacts": ContactsMessage(from, id, at, []Contact{{Name: ContactName{FormattedName: "Ana Ruiz", FirstName: "Ana"},
			Phones: []ContactPhone{{Phone: "+1 555 123 4567", Type: "WORK", WAID: "15551234567"}}}}),
		"reaction":     ReactionMessage(from, id, at, "wamid.…", "😮"),
		"unreaction":   ReactionMessage(from, id, at, "wamid.…", ""),
		"button_reply": ButtonReplyMessage(from, id, at, "yes", "Yes"),
		"list_reply":   ListReplyMessage(from, id, at, Row{ID: "p1", Title: "Margherita", Description: "Classic"}),
		"nfm_reply":    FlowReplyMessage(from, id, at, "flow", "Sent", `{"flow_token":"…"}`),
		"button":       ButtonMessage(from, id, at, "Stop", "STOP"),
		"order": OrderMessage(from, id, at, Order{CatalogID: "…", Text: "…",
			ProductItems: []OrderProductItem{{ProductRetailerID: "sku1", Quantity: 1, ItemPrice: 9.5, Currency: "USD"}}}),
		"system":          SystemMessage(from, id, at, System{Body: "User changed number", WAID: "1555…", Type: "customer_changed_number"}),
		"unsupported":     UnsupportedMessage(from, id, at, "poll"),
		"request_welcome": RequestWelcomeMessage(from, id, at),
		"edit":            EditMessage(from, id, at, "wamid.ORIG", TextMessage(from, id, at, "fixed typo")),
		"revoke":          RevokeMessage(from, id, at, "wamid.ORIG"),
		"with context": TextMessage(from, id, at, "re").WithContext(InboundContext{From: "15550783881", ID: "wamid.OUT",
			ReferredProduct: &ReferredProduct{CatalogID: "c", ProductRetailerID: "sku1"}}),
		"with referral": TextMessage(from, id, at, "ad").WithReferral(Referral{SourceURL: "https://fb.me/x", SourceID: "1",
			SourceType: "ad", Headline: "H", MediaType: "image", ImageURL: "https://x/i.jpg", CTWAClid: "clid",
			WelcomeMessage: &WelcomeMessage{Text: "Hi"}}),
		"with identity": TextMessage(from, id, at, "id").WithIdentity(Identity{Acknowledged: true, CreatedTimestamp: 1602532300000, Hash: "Sjvjlx8G6Z0="}),
	}
}

// TestInboundShapes compares each builder's output with the examples of
// docs/cloud-api.md §6.3 (verbatim; from/id/timestamp are added by the envelope
// of every message and checked separately).
func TestInboundShapes(t *testing.T) {
	examples := map[string]string{
		"image":           `{"type":"image","image":{"id":"654…","mime_type":"image/jpeg","sha256":"4654+8g=","caption":"hi"}}`,
		"audio":           `{"type":"audio","audio":{"id":"123…","mime_type":"audio/ogg; codecs=opus","sha256":"…","voice":true}}`,
		"sticker":         `{"type":"sticker","sticker":{"id":"…","mime_type":"image/webp","sha256":"…","animated":true}}`,
		"location":        `{"type":"location","location":{"latitude":37.46,"longitude":-122.21,"name":"HQ","address":"…","url":"…"}}`,
		"reaction":        `{"type":"reaction","reaction":{"message_id":"wamid.…","emoji":"😮"}}`,
		"unreaction":      `{"type":"reaction","reaction":{"message_id":"wamid.…"}}`,
		"button_reply":    `{"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"yes","title":"Yes"}}}`,
		"list_reply":      `{"type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"p1","title":"Margherita","description":"Classic"}}}`,
		"nfm_reply":       `{"type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{"name":"flow","body":"Sent","response_json":"{\"flow_token\":\"…\"}"}}}`,
		"button":          `{"type":"button","button":{"text":"Stop","payload":"STOP"}}`,
		"order":           `{"type":"order","order":{"catalog_id":"…","text":"…","product_items":[{"product_retailer_id":"sku1","quantity":1,"item_price":9.5,"currency":"USD"}]}}`,
		"system":          `{"type":"system","system":{"body":"User changed number","wa_id":"1555…","type":"customer_changed_number"}}`,
		"unsupported":     `{"type":"unsupported","unsupported":{"type":"poll"},"errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown","error_data":{"details":"Message type is currently not supported."}}]}`,
		"text":            `{"type":"text","text":{"body":"Does it come in another color?"}}`,
		"request_welcome": `{"type":"request_welcome"}`,
		"edit":            `{"type":"edit","edit":{"original_message_id":"wamid.ORIG","message":{"type":"text","text":{"body":"fixed typo"}}}}`,
		"revoke":          `{"type":"revoke","revoke":{"original_message_id":"wamid.ORIG"}}`,
		"video":           `{"type":"video","video":{"id":"77","mime_type":"video/mp4","sha256":"v=","caption":"clip"}}`,
		"document":        `{"type":"document","document":{"id":"78","mime_type":"application/pdf","sha256":"d=","filename":"inv.pdf"}}`,
		"contacts":        `{"type":"contacts","contacts":[{"name":{"formatted_name":"Ana Ruiz","first_name":"Ana"},"phones":[{"phone":"+1 555 123 4567","type":"WORK","wa_id":"15551234567"}]}]}`,
		"with context":    `{"type":"text","text":{"body":"re"},"context":{"from":"15550783881","id":"wamid.OUT","referred_product":{"catalog_id":"c","product_retailer_id":"sku1"}}}`,
		"with referral": `{"type":"text","text":{"body":"ad"},"referral":{"source_url":"https://fb.me/x","source_id":"1","source_type":"ad",
			"headline":"H","media_type":"image","image_url":"https://x/i.jpg","ctwa_clid":"clid","welcome_message":{"text":"Hi"}}}`,
		"with identity": `{"type":"text","text":{"body":"id"},"identity":{"acknowledged":true,"created_timestamp":1602532300000,"hash":"Sjvjlx8G6Z0="}}`,
	}
	samples := inboundSamples()
	if len(samples) != len(examples) {
		t.Fatalf("%d samples, %d examples", len(samples), len(examples))
	}
	for name, m := range samples {
		body, err := MarshalASCII(MessageNotification("1001", md, WebhookContact{Profile: Profile{Name: "Sheena"}, WAID: m.From}, m))
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			Entry []struct {
				Changes []struct {
					Field string
					Value struct {
						Contacts []WebhookContact
						Messages []map[string]any
					}
				}
			}
		}
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ch := env.Entry[0].Changes[0]
		if ch.Field != "messages" || len(ch.Value.Messages) != 1 || len(ch.Value.Contacts) != 1 {
			t.Fatalf("%s: envelope %s", name, body)
		}
		got := ch.Value.Messages[0]
		if got["from"] != "16505551234" || got["id"] != "wamid.IN" || got["timestamp"] != "1749416383" {
			t.Errorf("%s: from/id/timestamp %v", name, got)
		}
		delete(got, "from")
		delete(got, "id")
		delete(got, "timestamp")
		var want map[string]any
		if err := json.Unmarshal([]byte(examples[name]), &want); err != nil {
			t.Fatalf("%s example: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", name, got, want)
		}
	}
}

func TestStatusBuilders(t *testing.T) {
	ev := StatusEvent{MessageID: "wamid.OUT", RecipientID: "15551234567", At: 1750857384, CallbackData: "cb",
		Billing: &Billing{ConversationID: "conv", Origin: "utility", Billable: true, PricingType: "regular", Category: "utility"}}
	contact := WebhookContact{Profile: Profile{Name: "Ana"}, WAID: "15551234567"}
	for _, tc := range []struct {
		st       Status
		status   string
		priced   bool
		contacts int
	}{
		{SentStatus(ev), "sent", true, 1},
		{DeliveredStatus(ev), "delivered", true, 1},
		{ReadStatus(ev), "read", true, 1},
		{FailedStatus(ev, ErrReEngagement), "failed", false, 0},
	} {
		body, err := MarshalASCII(StatusNotification("1001", md, tc.st, contact))
		if err != nil {
			t.Fatal(err)
		}
		var n struct {
			Entry []struct {
				Changes []struct {
					Value struct {
						Contacts []WebhookContact
						Statuses []map[string]any
					}
				}
			}
		}
		if err := json.Unmarshal(body, &n); err != nil {
			t.Fatal(err)
		}
		v := n.Entry[0].Changes[0].Value
		st := v.Statuses[0]
		if st["status"] != tc.status || st["id"] != "wamid.OUT" || st["timestamp"] != "1750857384" ||
			st["recipient_id"] != "15551234567" || st["biz_opaque_callback_data"] != "cb" || len(v.Contacts) != tc.contacts {
			t.Errorf("%s: %s", tc.status, body)
		}
		_, hasConv := st["conversation"]
		_, hasPricing := st["pricing"]
		_, hasErrors := st["errors"]
		if hasConv != tc.priced || hasPricing != tc.priced || hasErrors == tc.priced {
			t.Errorf("%s: conversation %v pricing %v errors %v: %s", tc.status, hasConv, hasPricing, hasErrors, body)
		}
		if tc.priced {
			p := st["pricing"].(map[string]any)
			if p["pricing_model"] != "PMP" || p["type"] != "regular" || p["category"] != "utility" || p["billable"] != true {
				t.Errorf("%s pricing %v", tc.status, p)
			}
			if c := st["conversation"].(map[string]any); c["id"] != "conv" || c["expiration_timestamp"] != nil {
				t.Errorf("%s conversation %v", tc.status, c)
			}
		}
	}
	// The failed status's error object (docs/cloud-api.md §1.5).
	got, _ := json.Marshal(FailedStatus(ev, ErrReEngagement).Errors)
	want := `[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message","error_data":{"details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]`
	if string(got) != want {
		t.Errorf("errors\n got %s\nwant %s", got, want)
	}
	if ev.Billing == nil {
		t.Error("FailedStatus changed its argument")
	}
}

func TestErrorsNotification(t *testing.T) {
	n := ErrorsNotification("1001", md, WebhookErrorOf(graph.ErrInternal.With("try again")))
	b, err := MarshalASCII(n)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"object":"whatsapp_business_account","entry":[{"id":"1001","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"errors":[{"code":131000,"title":"Something went wrong","message":"Something went wrong","error_data":{"details":"try again"},"href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]}}]}]}`
	if string(b) != want {
		t.Fatalf("\n got %s\nwant %s", b, want)
	}
}

// TestTemplateStatusGolden compares with docs/cloud-api.md §4's example.
func TestTemplateStatusGolden(t *testing.T) {
	const golden = `{"object":"whatsapp_business_account","entry":[{"id":"<waba-id>","time":1751247548,"changes":[{
  "field":"message_template_status_update","value":{"event":"REJECTED","message_template_id":1689556908129835,
  "message_template_name":"abandoned_cart","message_template_language":"en","reason":"INVALID_FORMAT",
  "message_template_category":"MARKETING","rejection_info":{"reason":"…","recommendation":"…"}}}]}]}`
	got, err := MarshalASCII(TemplateStatusNotification("<waba-id>", 1751247548, TemplateStatusUpdate{
		Event: "REJECTED", MessageTemplateID: 1689556908129835, MessageTemplateName: "abandoned_cart",
		MessageTemplateLanguage: "en", Reason: "INVALID_FORMAT", MessageTemplateCategory: "MARKETING",
		RejectionInfo: &RejectionInfo{Reason: "…", Recommendation: "…"}}))
	if err != nil {
		t.Fatal(err)
	}
	if want := escapeIndependently(compact(t, golden)); !bytes.Equal(got, want) {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	approved, _ := json.Marshal(TemplateStatusNotification("1", 2, TemplateStatusUpdate{Event: "APPROVED"}).Entry[0].Changes[0].Value)
	if !strings.Contains(string(approved), `"reason":"NONE"`) {
		t.Errorf("empty reason not NONE: %s", approved)
	}
}

func TestQualityNotification(t *testing.T) {
	got, err := MarshalASCII(QualityNotification("1001", 1700000000, QualityUpdate{DisplayPhoneNumber: "15550783881",
		Event: "THROUGHPUT_UPGRADE", CurrentLimit: "TIER_UNLIMITED"}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"object":"whatsapp_business_account","entry":[{"id":"1001","time":1700000000,"changes":[{"field":"phone_number_quality_update","value":{"display_phone_number":"15550783881","event":"THROUGHPUT_UPGRADE","current_limit":"TIER_UNLIMITED"}}]}]}`
	if string(got) != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}

func TestVerifyChallenge(t *testing.T) {
	q := func(mode, token, challenge string) url.Values {
		return url.Values{"hub.mode": {mode}, "hub.verify_token": {token}, "hub.challenge": {challenge}}
	}
	for _, tc := range []struct {
		name   string
		query  url.Values
		token  string
		want   string
		wantOK bool
	}{
		{"match", q("subscribe", "tok", "1158201444"), "tok", "1158201444", true},
		{"wrong token", q("subscribe", "nope", "1"), "tok", "", false},
		{"token prefix", q("subscribe", "to", "1"), "tok", "", false},
		{"wrong mode", q("unsubscribe", "tok", "1"), "tok", "", false},
		{"no challenge", q("subscribe", "tok", ""), "tok", "", false},
		{"empty configured token", q("subscribe", "", "1"), "", "", false},
		{"nothing", url.Values{}, "tok", "", false},
	} {
		got, ok := VerifyChallenge(tc.query, tc.token)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: got %q %v", tc.name, got, ok)
		}
	}
}

func TestChallengeURL(t *testing.T) {
	u, err := ChallengeURL("https://example.com/hook?x=1", "tok en&", "123")
	if err != nil {
		t.Fatal(err)
	}
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	// The receiver's side of the handshake accepts what waedge sends.
	if c, ok := VerifyChallenge(p.Query(), "tok en&"); !ok || c != "123" || p.Query().Get("x") != "1" || p.Host != "example.com" {
		t.Fatalf("url %s", u)
	}
	for _, bad := range []string{"ftp://x", "/relative", "https://", "::"} {
		if _, err := ChallengeURL(bad, "t", "c"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func BenchmarkMarshalASCIIStatus(b *testing.B) {
	n := StatusNotification("1001", md, DeliveredStatus(StatusEvent{MessageID: NewWAMID("15551234567", true, [9]byte{1}),
		RecipientID: "15551234567", At: 1750857384, CallbackData: "pedido-42 ✓",
		Billing: &Billing{ConversationID: "a75d17ad06104c51166f948319b03c6a", Origin: "service", Billable: true, Category: "service"}}))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MarshalASCII(n); err != nil {
			b.Fatal(err)
		}
	}
}
