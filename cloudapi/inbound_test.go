package cloudapi

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestInboundShapes renders every inbound type of cloud-api.md §6.3 and
// compares it with the reference shape (the type-named object, plus
// from/id/timestamp/type).
func TestInboundShapes(t *testing.T) {
	const from, id, ts = "16505551234", "wamid.HBgL", int64(1749416383)
	base := func(typ string) InboundMessage { return InboundMessage{From: from, ID: id, Timestamp: ts, Type: typ} }
	cases := map[string]struct {
		msg  InboundMessage
		want string // the type-named object, as in §6.3
	}{
		"text": {func() InboundMessage {
			m := base("text")
			m.Text = &InboundText{Body: "Does it come in another color?"}
			return m
		}(), `{"body":"Does it come in another color?"}`},
		"image": {func() InboundMessage {
			m := base("image")
			m.Image = &InboundMedia{ID: "654", MimeType: "image/jpeg", SHA256: "4654+8g=", Caption: "hi"}
			return m
		}(), `{"id":"654","mime_type":"image/jpeg","sha256":"4654+8g=","caption":"hi"}`},
		"audio": {func() InboundMessage {
			m := base("audio")
			m.Audio = &InboundMedia{ID: "123", MimeType: "audio/ogg; codecs=opus", SHA256: "x", Voice: true}
			return m
		}(), `{"id":"123","mime_type":"audio/ogg; codecs=opus","sha256":"x","voice":true}`},
		"video": {func() InboundMessage {
			m := base("video")
			m.Video = &InboundMedia{ID: "1", MimeType: "video/mp4", SHA256: "x"}
			return m
		}(), `{"id":"1","mime_type":"video/mp4","sha256":"x"}`},
		"document": {func() InboundMessage {
			m := base("document")
			m.Document = &InboundMedia{ID: "1", MimeType: "application/pdf", SHA256: "x", Filename: "a.pdf"}
			return m
		}(), `{"id":"1","mime_type":"application/pdf","sha256":"x","filename":"a.pdf"}`},
		"sticker": {func() InboundMessage {
			m := base("sticker")
			m.Sticker = &InboundMedia{ID: "1", MimeType: "image/webp", SHA256: "x", Animated: true}
			return m
		}(), `{"id":"1","mime_type":"image/webp","sha256":"x","animated":true}`},
		"location": {func() InboundMessage {
			m := base("location")
			m.Location = &InboundLocation{Latitude: 37.46, Longitude: -122.21, Name: "HQ", Address: "a", URL: "u"}
			return m
		}(), `{"latitude":37.46,"longitude":-122.21,"name":"HQ","address":"a","url":"u"}`},
		"reaction": {func() InboundMessage {
			m := base("reaction")
			m.Reaction = &Reaction{MessageID: "wamid.x", Emoji: "😮"}
			return m
		}(), `{"message_id":"wamid.x","emoji":"😮"}`},
		"interactive": {func() InboundMessage {
			m := base("interactive")
			m.Interactive = &InboundInteractive{Type: "button_reply", ButtonReply: &ReplyChoice{ID: "yes", Title: "Yes"}}
			return m
		}(), `{"type":"button_reply","button_reply":{"id":"yes","title":"Yes"}}`},
		"button": {func() InboundMessage {
			m := base("button")
			m.Button = &InboundButton{Text: "Stop", Payload: "STOP"}
			return m
		}(), `{"text":"Stop","payload":"STOP"}`},
		"order": {func() InboundMessage {
			m := base("order")
			m.Order = &InboundOrder{CatalogID: "c", Text: "t", ProductItems: []ProductItem{{ProductRetailerID: "sku1", Quantity: 1, ItemPrice: 9.5, Currency: "USD"}}}
			return m
		}(), `{"catalog_id":"c","text":"t","product_items":[{"product_retailer_id":"sku1","quantity":1,"item_price":9.5,"currency":"USD"}]}`},
		"system": {func() InboundMessage {
			m := base("system")
			m.System = &InboundSystem{Body: "User changed number", WAID: "1555", Type: "customer_changed_number"}
			return m
		}(), `{"body":"User changed number","wa_id":"1555","type":"customer_changed_number"}`},
		"unsupported": {UnsupportedMessage(from, id, ts, "poll"), `{"type":"poll"}`},
	}
	for name, tc := range cases {
		n, err := InboundNotification("WABA", Metadata{DisplayPhoneNumber: "15550783881", PhoneNumberID: "106540352242922"}, "Sheena", tc.msg)
		if err != nil {
			t.Fatal(err)
		}
		body, err := MarshalASCII(n)
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			Object string
			Entry  []struct {
				ID      string
				Changes []struct {
					Field string
					Value struct {
						Contacts []struct {
							Profile struct{ Name string }
							WAID    string `json:"wa_id"`
						}
						Messages []map[string]any
					}
				}
			}
		}
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ch := env.Entry[0].Changes[0]
		msg := ch.Value.Messages[0]
		if env.Object != "whatsapp_business_account" || env.Entry[0].ID != "WABA" || ch.Field != "messages" ||
			ch.Value.Contacts[0].WAID != from || ch.Value.Contacts[0].Profile.Name != "Sheena" ||
			msg["from"] != from || msg["id"] != id || msg["timestamp"] != "1749416383" || msg["type"] != name {
			t.Fatalf("%s: envelope %s", name, body)
		}
		var want any
		_ = json.Unmarshal([]byte(tc.want), &want)
		if !reflect.DeepEqual(msg[name], want) {
			t.Fatalf("%s: got %v, want %v", name, msg[name], want)
		}
		if name == "unsupported" {
			errs, _ := msg["errors"].([]any)
			if len(errs) != 1 || errs[0].(map[string]any)["code"] != float64(131051) {
				t.Fatalf("unsupported errors: %v", msg["errors"])
			}
		}
	}
}
