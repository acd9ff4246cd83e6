package cloudapi

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/waedge/waedge/graph"
)

// TestMarshalStatusNotificationIsMarshalASCII checks the hand-written
// encoder byte for byte against MarshalASCII over every optional field
// (callback data, conversation with and without expiry, pricing with and
// without type, billable or not, one and two errors with and without href)
// and every escaping case a string can need.
func TestMarshalStatusNotificationIsMarshalASCII(t *testing.T) {
	strs := []string{"", "plain", `quote"d`, `back\slash`, "tab\tnl\ncr\r", "\x00\x1f\x7f", "<html>&amp;",
		"ünïcødé", "emoji 😀", "line\u2028sep\u2029", "bad\xffutf8", "ctl\x01\x08\x0c"}
	base := StatusEvent{MessageID: "wamid.HBgLMTU1NTA", RecipientID: "16505551234", At: 1700000000}
	var events []StatusEvent
	for _, s := range strs {
		e := base
		e.CallbackData = s
		events = append(events, e)
		e = base
		e.MessageID, e.RecipientID = s, s
		e.Billing = &Billing{ConversationID: s, Origin: s, PricingType: s, Category: s, Billable: len(s)%2 == 0}
		events = append(events, e)
	}
	for _, b := range []*Billing{
		nil,
		{ConversationID: "c1", Origin: "service", PricingType: "free_customer_service", Category: "service"},
		{ConversationID: "c2", ConversationExpiry: 1700086400, Origin: "utility", Billable: true, PricingType: "regular", Category: "utility"},
		{Origin: "marketing", Billable: true, Category: "marketing"},
	} {
		e := base
		e.Billing = b
		events = append(events, e)
	}
	errs := [][]*graph.Error{nil, {{Code: 131026, Title: "Message undeliverable", Details: "x"}},
		{{Code: 1, Title: "a\"b", Details: "ü"}, {Code: -3, Title: "", Details: ""}}}
	mds := []Metadata{md, {DisplayPhoneNumber: "1\"5", PhoneNumberID: "ü"}}
	n := 0
	for _, e := range events {
		for _, m := range mds {
			for _, waba := range []string{"102290129340398", "w\\a"} {
				sts := []Status{SentStatus(e), DeliveredStatus(e), ReadStatus(e)}
				for _, er := range errs {
					sts = append(sts, FailedStatus(e, er...))
				}
				st := SentStatus(e)
				st.Errors = []WebhookError{{Code: 2, Title: "t", Message: "m", ErrorData: ErrorData{Details: "d"}}} // no href
				sts = append(sts, st)
				for _, st := range sts {
					want, err := MarshalASCII(StatusNotification(waba, m, st))
					if err != nil {
						t.Fatal(err)
					}
					if got := MarshalStatusNotification(waba, m, st); !bytes.Equal(got, want) {
						t.Fatalf("status %+v:\n got %s\nwant %s", st, got, want)
					}
					n++
				}
			}
		}
	}
	if n < 500 {
		t.Fatalf("only %d cases", n)
	}
}

// BenchmarkStatusNotification compares the reflective and the
// hand-written encoding of a delivered status with billing.
func BenchmarkStatusNotification(b *testing.B) {
	st := DeliveredStatus(StatusEvent{MessageID: "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA", RecipientID: "16505551234",
		At: 1700000000, Billing: &Billing{ConversationID: "8f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e", Origin: "service",
			PricingType: "free_customer_service", Category: "service"}})
	b.Run("reflect", func(b *testing.B) {
		for b.Loop() {
			if _, err := MarshalASCII(StatusNotification("102290129340398", md, st)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			MarshalStatusNotification("102290129340398", md, st)
		}
	})
}

// TestMarshalMessageNotificationIsMarshalASCII checks plain text messages
// (with and without a contact, with empty optional fields, every escaping
// case) and messages that take the fallback, byte for byte.
func TestMarshalMessageNotificationIsMarshalASCII(t *testing.T) {
	strs := []string{"", "plain", `quote"d`, `back\slash`, "tab\tnl\n", "\x00\x1f\x7f", "<b>&</b>", "ünï 😀",
		"line\u2028sep", "bad\xffutf8"}
	var msgs []InboundMessage
	for _, s := range strs {
		msgs = append(msgs, TextMessage("16505551234", "wamid.x", 1700000000, s),
			InboundMessage{From: s, ID: s, Timestamp: s, Type: "text", Text: &InboundText{Body: s}},
			InboundMessage{Type: "text", Text: &InboundText{Body: s}})
	}
	ctx := TextMessage("16505551234", "wamid.y", 1700000000, "reply")
	ctx.Context = &InboundContext{From: "15550783881", ID: "wamid.z"}
	ident := TextMessage("16505551234", "wamid.y", 1700000000, "hi")
	ident.Identity = &Identity{CreatedTimestamp: 1, Hash: "h"}
	msgs = append(msgs, ctx, ident, InboundMessage{Type: "text"}, // no text object: the fallback
		InboundMessage{Type: "unsupported", Unsupported: &Unsupported{}})
	contacts := []WebhookContact{{}, {Profile: Profile{Name: "Ana"}, WAID: "16505551234"}, {Profile: Profile{Name: "ü\"x"}}}
	fast := 0
	for _, m := range msgs {
		for _, c := range contacts {
			want, err := MarshalASCII(MessageNotification("102290129340398", md, c, m))
			if err != nil {
				t.Fatal(err)
			}
			got, err := MarshalMessageNotification("102290129340398", md, c, m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("message %+v contact %+v:\n got %s\nwant %s", m, c, got, want)
			}
			if plainText(&m) {
				fast++
			}
		}
	}
	if fast < 3*len(strs)*len(contacts) {
		t.Fatalf("only %d cases took the direct path", fast)
	}
}

// TestPlainTextCoversInboundMessage fails when InboundMessage gains a
// field: plainText (the direct encoder's guard) must then be taught it.
func TestPlainTextCoversInboundMessage(t *testing.T) {
	const known = 24 // the fields plainText and MarshalMessageNotification look at
	if n := reflect.TypeOf(InboundMessage{}).NumField(); n != known {
		t.Fatalf("InboundMessage has %d fields, plainText knows %d: teach plainText and MarshalMessageNotification the new ones", n, known)
	}
}
