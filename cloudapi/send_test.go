package cloudapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/waedge/waedge/graph"
)

const to = `"messaging_product":"whatsapp","to":"+1 (555) 123-4567"`

// valid holds one request per supported message shape, taken from the wire
// reference (cloud-api.md §2.2 and §2.4).
var valid = map[string]string{
	"text":             `{` + to + `,"type":"text","text":{"body":"See https://example.com","preview_url":true}}`,
	"text default":     `{` + to + `,"text":{"body":"hi"}}`,
	"image by id":      `{` + to + `,"type":"image","image":{"id":"1234567890","caption":"look"}}`,
	"audio voice":      `{` + to + `,"type":"audio","audio":{"link":"https://x.com/a.ogg","voice":true}}`,
	"video":            `{` + to + `,"type":"video","video":{"link":"https://x.com/v.mp4","caption":"c"}}`,
	"document":         `{` + to + `,"type":"document","document":{"link":"https://example.com/inv.pdf","caption":"Invoice","filename":"inv.pdf"}}`,
	"sticker":          `{` + to + `,"type":"sticker","sticker":{"id":"987654321"}}`,
	"location":         `{` + to + `,"type":"location","location":{"latitude":37.48,"longitude":-122.15,"name":"HQ","address":"1 Main St"}}`,
	"reaction":         `{` + to + `,"type":"reaction","reaction":{"message_id":"wamid.HBgL","emoji":"👍"}}`,
	"reaction removal": `{` + to + `,"type":"reaction","reaction":{"message_id":"wamid.HBgL","emoji":""}}`,
	"contacts": `{` + to + `,"type":"contacts","contacts":[{"name":{"formatted_name":"Ana Ruiz","first_name":"Ana"},
  "phones":[{"phone":"+1 555 123 4567","type":"WORK","wa_id":"15551234567"}],
  "emails":[{"email":"ana@x.com","type":"WORK"}],"org":{"company":"X"},"urls":[{"url":"https://x.com","type":"WORK"}],
  "addresses":[{"street":"1 Main","city":"SF","country_code":"US","type":"WORK"}],"birthday":"1990-01-31"}]}`,
	"buttons": `{` + to + `,"type":"interactive","interactive":{"type":"button",
  "header":{"type":"text","text":"Order #42"},"body":{"text":"Confirm?"},"footer":{"text":"Shop"},
  "action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}},
                       {"type":"reply","reply":{"id":"no","title":"No"}}]}}}`,
	"list": `{` + to + `,"type":"interactive","interactive":{"type":"list","header":{"type":"text","text":"Menu"},"body":{"text":"Pick"},
  "action":{"button":"Options","sections":[{"title":"Pizzas","rows":[{"id":"p1","title":"Margherita","description":"Classic"}]}]}}}`,
	"cta_url": `{` + to + `,"type":"interactive","interactive":{"type":"cta_url","body":{"text":"Track it"},
  "action":{"name":"cta_url","parameters":{"display_text":"Open","url":"https://x.com/t/42"}}}}`,
	"flow": `{` + to + `,"type":"interactive","interactive":{"type":"flow","body":{"text":"Sign up"},
  "action":{"name":"flow","parameters":{"flow_message_version":"3","flow_id":"123","flow_token":"opaque",
    "flow_cta":"Start","flow_action":"navigate","flow_action_payload":{"screen":"WELCOME","data":{"k":"v"}}}}}}`,
	"location request": `{` + to + `,"type":"interactive","interactive":{"type":"location_request_message","body":{"text":"Where are you?"},
  "action":{"name":"send_location"}}}`,
	"template": `{` + to + `,"type":"template","template":{
  "name":"order_update","language":{"code":"en_US","policy":"deterministic"},
  "components":[
    {"type":"header","parameters":[{"type":"image","image":{"link":"https://x.com/a.jpg"}}]},
    {"type":"body","parameters":[{"type":"text","text":"Ana"},
       {"type":"currency","currency":{"fallback_value":"$10.00","code":"USD","amount_1000":10000}},
       {"type":"date_time","date_time":{"fallback_value":"June 1"}}]},
    {"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"STOP"}]},
    {"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"abc123"}]}]}}`,
	"named params": `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},
  "components":[{"type":"body","parameters":[{"type":"text","parameter_name":"first_name","text":"Ana"}]}]}}`,
	"reply context":    `{` + to + `,"context":{"message_id":"wamid.X"},"type":"text","text":{"body":"re"},"biz_opaque_callback_data":"order-42"}`,
	"mark read":        `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.HBgL"}`,
	"mark read typing": `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.HBgL","typing_indicator":{"type":"text"}}`,
}

func TestValidRequests(t *testing.T) {
	for name, body := range valid {
		r, err := ParseSend([]byte(body))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !r.IsMarkRead() && r.WAID() != "15551234567" {
			t.Errorf("%s: wa_id %q", name, r.WAID())
		}
		c, err := EncodeContent(r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeContent(c)
		if err != nil || back.Type != r.MessageContent().Type || back.To != "" || back.BizOpaqueCallbackData != "" {
			t.Errorf("%s: content round trip: %+v %v", name, back, err)
		}
	}
}

func TestInvalidRequests(t *testing.T) {
	long := strings.Repeat("x", 4097)
	for _, tc := range []struct {
		name   string
		body   string
		code   int
		status int
		detail string
	}{
		{"not json", `{`, 100, 400, "JSON"},
		{"empty", ``, 131008, 400, "messaging_product"},
		{"two objects", `{"messaging_product":"whatsapp"} {}`, 100, 400, "one JSON object"},
		{"no product", `{"to":"15551234567","text":{"body":"x"}}`, 131008, 400, "messaging_product"},
		{"wrong product", `{"messaging_product":"sms","to":"15551234567","text":{"body":"x"}}`, 100, 400, "whatsapp"},
		{"unknown key", `{` + to + `,"text":{"body":"x"},"colour":"red"}`, 100, 400, "colour"},
		{"wrong json type", `{` + to + `,"text":{"body":42}}`, 100, 400, "text.body"},
		{"no to", `{"messaging_product":"whatsapp","text":{"body":"x"}}`, 131008, 400, "to"},
		{"bad to", `{"messaging_product":"whatsapp","to":"12ab","text":{"body":"x"}}`, 131009, 400, "to"},
		{"short to", `{"messaging_product":"whatsapp","to":"123","text":{"body":"x"}}`, 131009, 400, "to"},
		{"unknown type", `{` + to + `,"type":"hologram"}`, 100, 400, "hologram"},
		{"type mismatch", `{` + to + `,"type":"image","text":{"body":"x"}}`, 100, 400, "text"},
		{"two payloads", `{` + to + `,"type":"text","text":{"body":"x"},"image":{"id":"1"}}`, 100, 400, "only one"},
		{"text missing", `{` + to + `,"type":"text"}`, 131008, 400, "text"},
		{"empty body", `{` + to + `,"text":{"body":" "}}`, 131008, 400, "text.body"},
		{"body too long", `{` + to + `,"text":{"body":"` + long + `"}}`, 131009, 400, "4096"},
		{"media neither", `{` + to + `,"type":"image","image":{"caption":"c"}}`, 131008, 400, "image.id"},
		{"media both", `{` + to + `,"type":"image","image":{"id":"1","link":"https://x.com/a"}}`, 100, 400, "either id or link"},
		{"media bad link", `{` + to + `,"type":"image","image":{"link":"ftp://x"}}`, 131009, 400, "image.link"},
		{"caption on audio", `{` + to + `,"type":"audio","audio":{"id":"1","caption":"c"}}`, 100, 400, "caption"},
		{"filename on image", `{` + to + `,"type":"image","image":{"id":"1","filename":"a"}}`, 100, 400, "filename"},
		{"location no lat", `{` + to + `,"type":"location","location":{"longitude":1}}`, 131008, 400, "latitude"},
		{"location range", `{` + to + `,"type":"location","location":{"latitude":91,"longitude":1}}`, 131009, 400, "latitude"},
		{"contacts empty", `{` + to + `,"type":"contacts","contacts":[]}`, 131008, 400, "contacts"},
		{"contact no name", `{` + to + `,"type":"contacts","contacts":[{"name":{}}]}`, 131008, 400, "formatted_name"},
		{"4 buttons", `{` + to + `,"type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":{"buttons":[` +
			strings.Repeat(`{"type":"reply","reply":{"id":"a","title":"A"}},`, 3) + `{"type":"reply","reply":{"id":"d","title":"D"}}]}}}`, 131009, 400, "1 to 3"},
		{"dup buttons", `{` + to + `,"type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}},{"type":"reply","reply":{"id":"a","title":"B"}}]}}}`, 131009, 400, "unique"},
		{"button title long", `{` + to + `,"type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"` + strings.Repeat("t", 21) + `"}}]}}}`, 131009, 400, "title"},
		{"interactive no body", `{` + to + `,"type":"interactive","interactive":{"type":"button","action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}}]}}}`, 131008, 400, "body.text"},
		{"list 11 rows", `{` + to + `,"type":"interactive","interactive":{"type":"list","body":{"text":"b"},"action":{"button":"B","sections":[{"title":"s","rows":[` +
			strings.TrimSuffix(strings.Repeat(`{"id":"ID","title":"t"},`, 11), ",") + `]}]}}}`, 131009, 400, "unique"},
		{"list sections untitled", `{` + to + `,"type":"interactive","interactive":{"type":"list","body":{"text":"b"},"action":{"button":"B","sections":[{"rows":[{"id":"1","title":"t"}]},{"rows":[{"id":"2","title":"t"}]}]}}}`, 131008, 400, "title"},
		{"header text long", `{` + to + `,"type":"interactive","interactive":{"type":"list","header":{"type":"text","text":"` + strings.Repeat("h", 61) + `"},"body":{"text":"b"},"action":{"button":"B","sections":[{"rows":[{"id":"1","title":"t"}]}]}}}`, 131009, 400, "header.text"},
		{"image header on list", `{` + to + `,"type":"interactive","interactive":{"type":"list","header":{"type":"image","image":{"id":"1"}},"body":{"text":"b"},"action":{"button":"B","sections":[{"rows":[{"id":"1","title":"t"}]}]}}}`, 131009, 400, "must be text"},
		{"flow cta long", `{` + to + `,"type":"interactive","interactive":{"type":"flow","body":{"text":"b"},"action":{"name":"flow","parameters":{"flow_message_version":"3","flow_id":"1","flow_cta":"` + strings.Repeat("c", 21) + `"}}}}`, 131009, 400, "flow_cta"},
		{"bad interactive type", `{` + to + `,"type":"interactive","interactive":{"type":"carousel3d","body":{"text":"b"},"action":{}}}`, 100, 400, "carousel3d"},
		{"template no name", `{` + to + `,"type":"template","template":{"language":{"code":"en"}}}`, 131008, 400, "template.name"},
		{"template no language", `{` + to + `,"type":"template","template":{"name":"t"}}`, 131008, 400, "language"},
		{"template text param missing", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text"}]}]}}`, 131008, 400, "parameters[0].text"},
		{"template header text long", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"header","parameters":[{"type":"text","text":"` + strings.Repeat("h", 61) + `"}]}]}}`, 131009, 400, "60"},
		{"template bad param name", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","parameter_name":"First","text":"x"}]}]}}`, 131009, 400, "parameter_name"},
		{"template button no index", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"button","sub_type":"url"}]}}`, 131008, 400, "index"},
		{"currency incomplete", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"currency","currency":{"code":"USD"}}]}]}}`, 131008, 400, "currency"},
		{"reaction no id", `{` + to + `,"type":"reaction","reaction":{"emoji":"x"}}`, 131008, 400, "message_id"},
		{"callback data long", `{` + to + `,"text":{"body":"x"},"biz_opaque_callback_data":"` + strings.Repeat("d", 513) + `"}`, 131009, 400, "biz_opaque"},
		{"context without id", `{` + to + `,"context":{},"text":{"body":"x"}}`, 131008, 400, "context.message_id"},
		{"read without id", `{"messaging_product":"whatsapp","status":"read"}`, 131008, 400, "message_id"},
		{"bad status", `{"messaging_product":"whatsapp","status":"delivered","message_id":"x"}`, 100, 400, "read"},
		{"group recipient", `{` + to + `,"recipient_type":"group","text":{"body":"x"}}`, 131009, 400, "recipient_type"},
	} {
		_, err := ParseSend([]byte(tc.body))
		g := graph.As(err)
		if g == nil {
			t.Errorf("%s: accepted (err %v)", tc.name, err)
			continue
		}
		if g.Code != tc.code || g.Status != tc.status || !strings.Contains(g.Details, tc.detail) {
			t.Errorf("%s: got %d/%d %q, want %d/%d containing %q", tc.name, g.Code, g.Status, g.Details, tc.code, tc.status, tc.detail)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"+1 (555) 123-4567": "15551234567", "15551234567": "15551234567", "+49.30.1234567": "49301234567",
		"123": "", "+1555abc4567": "", "1234567890123456": "",
	} {
		if got := NormalizePhone(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func FuzzParseSend(f *testing.F) {
	for _, b := range valid {
		f.Add(b)
	}
	f.Add(`{"messaging_product":"whatsapp","to":"1","type":"interactive","interactive":{"type":"flow","action":{"parameters":1}}}`)
	f.Fuzz(func(t *testing.T, body string) {
		r, err := ParseSend([]byte(body))
		if err != nil {
			if graph.As(err) == nil {
				t.Fatalf("non-Graph error: %v", err)
			}
			return
		}
		if _, err := EncodeContent(r); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkParseSendText(b *testing.B) {
	body := []byte(valid["text"])
	for i := 0; i < b.N; i++ {
		if _, err := ParseSend(body); err != nil {
			b.Fatal(err)
		}
	}
	_ = fmt.Sprint()
}
