package cloudapi

import (
	"strings"
	"testing"
)

// carouselCard is one card of an interactive carousel; action is the
// card's action object.
func carouselCard(i int, action string) string {
	return `{"card_index":` + string(rune('0'+i)) + `,"type":"cta_url","header":{"type":"image","image":{"link":"https://x.com/` +
		string(rune('a'+i)) + `.jpg"}},"body":{"text":"Card"},"action":` + action + `}`
}

const (
	ctaAction   = `{"name":"cta_url","parameters":{"display_text":"Buy","url":"https://x.com/buy"}}`
	quickAction = `{"buttons":[{"type":"quick_reply","quick_reply":{"id":"more","title":"Learn more"}}]}`
)

func carousel(cards ...string) string {
	return msg(`"type":"interactive","interactive":{"type":"carousel","body":{"text":"Our picks"},"action":{"cards":[` +
		strings.Join(cards, ",") + `]}}`)
}

// sendShapes are requests Meta accepts that earlier versions refused:
// upper-case enum values (Meta's Postman collection), the older date_time
// component fields, coordinates as strings, interactive carousels, and
// the exact requests heyoo (github.com/Neurotech-HQ/heyoo,
// heyoo/__init__.py) builds.
var sendShapes = map[string]string{
	"postman upper-case template": msg(`"type":"template","template":{"name":"t","language":{"code":"en_US"},"components":[
	  {"type":"HEADER","parameters":[{"type":"IMAGE","image":{"link":"https://x.com/a.jpg"}}]},
	  {"type":"BODY","parameters":[{"type":"TEXT","text":"Ana"}]},
	  {"type":"BUTTON","sub_type":"CATALOG","index":0,"parameters":[{"type":"ACTION","action":{"thumbnail_product_retailer_id":"sku1"}}]}]}`),
	"date_time components": templateParam("body", `{"type":"date_time","date_time":{"fallback_value":"February 25, 1977",
	  "day_of_week":5,"year":1977,"month":2,"day_of_month":25,"hour":15,"minute":33,"calendar":"GREGORIAN"}}`),
	"date_time timestamp":   templateParam("body", `{"type":"date_time","date_time":{"fallback_value":"now","timestamp":1485470276}}`),
	"location as strings":   msg(`"type":"location","location":{"latitude":"-23.564","longitude":" -46.654 ","name":"HQ"}`),
	"template location str": templateParam("header", `{"type":"location","location":{"latitude":"37.48","longitude":"-122.15"}}`),
	"carousel cta_url":      carousel(carouselCard(0, ctaAction), carouselCard(1, ctaAction)),
	"carousel quick reply":  carousel(carouselCard(0, quickAction), carouselCard(1, quickAction), carouselCard(2, quickAction)),
	"carousel video by id": carousel(`{"card_index":0,"header":{"type":"video","video":{"id":"123"}},"action":`+quickAction+`}`,
		carouselCard(1, quickAction)),
	// heyoo send_message, send_template, send_location, send_image (caption None → null).
	"heyoo text": `{"messaging_product":"whatsapp","recipient_type":"individual","to":"5511999999999","type":"text",
	  "text":{"preview_url":true,"body":"Hello World"}}`,
	"heyoo template": `{"messaging_product":"whatsapp","recipient_type":"individual","to":"5511999999999","type":"template",
	  "template":{"name":"hello_world","language":{"code":"en_US"},"components":[]}}`,
	"heyoo location": `{"messaging_product":"whatsapp","to":"5511999999999","type":"location",
	  "location":{"latitude":"-23.564","longitude":"-46.654","name":"My Location","address":"Rua dois, 123"}}`,
	"heyoo image": `{"messaging_product":"whatsapp","recipient_type":"individual","to":"5511999999999","type":"image",
	  "image":{"link":"https://i.imgur.com/Fh7XVYY.jpeg","caption":null}}`,
}

func TestSendShapes(t *testing.T) {
	for name, body := range sendShapes {
		if _, err := ParseSend([]byte(body)); err != nil {
			t.Errorf("%s: rejected: %v", name, err)
		}
	}
}

func TestUpperCaseEnumsNormalized(t *testing.T) {
	r, err := ParseSend([]byte(sendShapes["postman upper-case template"]))
	if err != nil {
		t.Fatal(err)
	}
	c := r.Template.Components
	if c[0].Type != "header" || c[0].Parameters[0].Type != "image" || c[1].Type != "body" || c[2].SubType != "catalog" {
		t.Fatalf("not normalized: %+v", c)
	}
	if refs := r.MediaRefs(); len(refs) != 0 { // a link is no media id
		t.Fatalf("refs %+v", refs)
	}
	if err := r.Template.MatchParams(PositionalParams(1, 0)); err != nil {
		t.Fatalf("upper-case BODY parameters not counted: %v", err)
	}
}

func TestCoordinatesAsStrings(t *testing.T) {
	r, err := ParseSend([]byte(sendShapes["location as strings"]))
	if err != nil {
		t.Fatal(err)
	}
	if *r.Location.Latitude != -23.564 || *r.Location.Longitude != -46.654 {
		t.Fatalf("got %v, %v", *r.Location.Latitude, *r.Location.Longitude)
	}
}

func TestCarouselMediaRefs(t *testing.T) {
	r, err := ParseSend([]byte(sendShapes["carousel video by id"]))
	if err != nil {
		t.Fatal(err)
	}
	refs := r.MediaRefs()
	if len(refs) != 1 || refs[0].Field != "interactive.action.cards[0].header.video" || refs[0].Kind != "video" {
		t.Fatalf("refs %+v", refs)
	}
}

func TestSendShapeErrors(t *testing.T) {
	other := `{"card_index":1,"type":"cta_url","header":{"type":"image","image":{"link":"https://x.com/b.jpg"}},"action":`
	for _, tc := range []struct {
		name, body string
		want
	}{
		// Meta matches keys exactly: "TO" is not "to".
		{"upper-case key", `{"messaging_product":"whatsapp","TO":"15551234567","text":{"body":"x"}}`, want{100, `Unexpected key "TO" in the request body`}},
		{"capitalised nested key", msg(`"text":{"Body":"x"}`), want{100, `Unexpected key "Body" on param "text"`}},
		{"folded key", msg(`"type":"location","location":{"latitude":1,"longitude":2,"Name":"x"}`), want{100, `Unexpected key "Name" on param "location"`}},
		{"escaped upper-case key", `{"messaging_product":"whatsapp","\u0054O":"15551234567","text":{"body":"x"}}`, want{100, `Unexpected key "TO"`}},
		{"latitude not a number", msg(`"type":"location","location":{"latitude":"north","longitude":1}`), want{100, "location.latitude must be a number"}},
		{"latitude string out of range", msg(`"type":"location","location":{"latitude":"91","longitude":1}`), want{131009, "location.latitude must be between -90 and 90"}},
		{"latitude bool", msg(`"type":"location","location":{"latitude":true,"longitude":1}`), want{100, "location.latitude must be a number"}},
		{"date_time month", templateParam("body", `{"type":"date_time","date_time":{"fallback_value":"x","month":13}}`), want{131009, "date_time.month must be between 1 and 12"}},
		{"date_time calendar", templateParam("body", `{"type":"date_time","date_time":{"fallback_value":"x","calendar":"JULIAN"}}`), want{131009, "date_time.calendar"}},
		{"date_time unknown key", templateParam("body", `{"type":"date_time","date_time":{"fallback_value":"x","week":1}}`), want{100, `Unexpected key "week"`}},
		{"upper-case unknown component", msg(`"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"FOOTER"}]}`), want{100, `type "footer" is not supported`}},
		{"carousel one card", carousel(carouselCard(0, ctaAction)), want{131009, "cards must hold 2 to 10 cards"}},
		{"carousel eleven cards", carousel(strings.Repeat(carouselCard(0, ctaAction)+",", 10) + carouselCard(0, ctaAction)), want{131009, "cards must hold 2 to 10"}},
		{"carousel index", carousel(carouselCard(0, ctaAction), carouselCard(2, ctaAction)), want{131009, "cards[1].card_index must be 1"}},
		{"carousel no index", carousel(carouselCard(0, ctaAction), `{"header":{"type":"image","image":{"link":"https://x.com/b.jpg"}},"action":`+ctaAction+`}`), want{131008, "cards[1].card_index is required"}},
		{"carousel mixed actions", carousel(carouselCard(0, ctaAction), carouselCard(1, quickAction)), want{131009, "every card must have the same action"}},
		{"carousel button counts", carousel(carouselCard(0, quickAction), carouselCard(1, `{"buttons":[{"type":"quick_reply","quick_reply":{"id":"a","title":"A"}},{"type":"quick_reply","quick_reply":{"id":"b","title":"B"}}]}`)), want{131009, "every card must have the same action"}},
		{"carousel text header", carousel(carouselCard(0, ctaAction), `{"card_index":1,"header":{"type":"text","text":"x"},"action":`+ctaAction+`}`), want{131009, "cards[1].header.type must be image or video"}},
		{"carousel no header", carousel(carouselCard(0, ctaAction), `{"card_index":1,"action":`+ctaAction+`}`), want{131008, "cards[1].header is required"}},
		{"carousel message header", msg(`"type":"interactive","interactive":{"type":"carousel","header":{"type":"text","text":"h"},"body":{"text":"b"},"action":{"cards":[` + carouselCard(0, ctaAction) + `,` + carouselCard(1, ctaAction) + `]}}`), want{100, "not supported on a carousel"}},
		{"carousel card body", carousel(carouselCard(0, ctaAction), other+ctaAction+`,"body":{"text":"`+rep("x", 161)+`"}}`), want{131009, "cards[1].body.text must be at most 160"}},
		{"carousel cta url", carousel(carouselCard(0, ctaAction), other+`{"name":"cta_url","parameters":{"display_text":"Buy","url":"ftp://x"}}}`), want{131009, "cards[1].action.parameters.url must be an http(s) URL"}},
		{"carousel reply button", carousel(carouselCard(0, quickAction), other+`{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}}]}}`), want{131009, "buttons[0].type must be quick_reply"}},
		{"carousel duplicate ids", carousel(carouselCard(0, quickAction), other+`{"buttons":[{"type":"quick_reply","quick_reply":{"id":"a","title":"A"}},{"type":"quick_reply","quick_reply":{"id":"a","title":"B"}}]}}`), want{131009, "quick_reply.id must be unique"}},
		{"quick_reply on a button message", interactive("button", "", "b", `{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"},"quick_reply":{"id":"a","title":"A"}}]}`), want{100, "quick_reply belongs to a carousel"}},
	} {
		_, err := ParseSend([]byte(tc.body))
		checkErr(t, tc.name, err, tc.want)
	}
}

func TestPlainKeys(t *testing.T) {
	for body, want := range map[string]bool{
		`{"to":"x","text":{"body":"Hello \"World\": X"}}`: true,
		`{"to":"X: y"}`:             true,
		`{"TO":"x"}`:                false,
		`{"a" : {"b_1" :"C"}}`:      true,
		`{"a":{"B" :1}}`:            false,
		`{"a":["X",{"k\u0041":1}]}`: false,
		`{"a":"\\","b":"Q"}`:        true,
		`{"a":"\\"  ,"Q":1}`:        false,
		`["A","B"]`:                 true,
	} {
		if got := plainKeys([]byte(body)); got != want {
			t.Errorf("%s: got %v", body, got)
		}
	}
}
