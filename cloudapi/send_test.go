package cloudapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/waedge/waedge/graph"
)

const to = `"messaging_product":"whatsapp","to":"+1 (555) 123-4567"`

// valid holds one request per supported message shape. The payloads are
// docs/cloud-api.md §2.2 and §2.4 verbatim, wrapped in the common envelope.
var valid = map[string]string{
	"text":             `{` + to + `,"type":"text","text":{"body":"See https://example.com","preview_url":true}}`,
	"text default":     `{` + to + `,"text":{"body":"hi"}}`,
	"image by id":      `{` + to + `,"type":"image","image":{"id":"1234567890","caption":"look"}}`,
	"audio voice":      `{` + to + `,"type":"audio","audio":{"link":"https://x.com/a.ogg","voice":true}}`,
	"video":            `{` + to + `,"type":"video","video":{"link":"https://x.com/v.mp4","caption":"c"}}`,
	"document":         `{` + to + `,"type":"document","document":{"link":"https://example.com/inv.pdf","caption":"Invoice","filename":"inv.pdf"}}`,
	"sticker":          `{` + to + `,"type":"sticker","sticker":{"id":"987654321"}}`,
	"location":         `{` + to + `,"type":"location","location":{"latitude":37.48,"longitude":-122.15,"name":"HQ","address":"1 Main St"}}`,
	"reaction":         `{` + to + `,"type":"reaction","reaction":{"message_id":"wamid.HBgL…","emoji":"👍"}}`,
	"reaction removal": `{` + to + `,"type":"reaction","reaction":{"message_id":"wamid.HBgL…","emoji":""}}`,
	"contacts": `{` + to + `,"type":"contacts","contacts":[{"name":{"formatted_name":"Ana Ruiz","first_name":"Ana"},
  "phones":[{"phone":"+1 555 123 4567","type":"WORK","wa_id":"15551234567"}],
  "emails":[{"email":"ana@x.com","type":"WORK"}],"org":{"company":"X"},"urls":[{"url":"https://x.com","type":"WORK"}],
  "addresses":[{"street":"1 Main","city":"SF","country_code":"US","type":"WORK"}],"birthday":"1990-01-31"}]}`,
	"buttons": `{` + to + `,"type":"interactive","interactive":{"type":"button",
  "header":{"type":"text","text":"Order #42"},"body":{"text":"Confirm?"},"footer":{"text":"Shop"},
  "action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}},
                       {"type":"reply","reply":{"id":"no","title":"No"}}]}}}`,
	"buttons image header": `{` + to + `,"type":"interactive","interactive":{"type":"button",
  "header":{"type":"image","image":{"link":"https://x.com/a.jpg"}},"body":{"text":"Confirm?"},
  "action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}}]}}}`,
	"list": `{` + to + `,"type":"interactive","interactive":{"type":"list","header":{"type":"text","text":"Menu"},"body":{"text":"Pick"},
  "action":{"button":"Options","sections":[{"title":"Pizzas","rows":[{"id":"p1","title":"Margherita","description":"Classic"}]}]}}}`,
	"cta_url": `{` + to + `,"type":"interactive","interactive":{"type":"cta_url","body":{"text":"Track it"},
  "action":{"name":"cta_url","parameters":{"display_text":"Open","url":"https://x.com/t/42"}}}}`,
	"flow": `{` + to + `,"type":"interactive","interactive":{"type":"flow","body":{"text":"Sign up"},
  "action":{"name":"flow","parameters":{"flow_message_version":"3","flow_id":"123","flow_token":"opaque",
    "flow_cta":"Start","flow_action":"navigate","flow_action_payload":{"screen":"WELCOME","data":{"k":"v"}}}}}}`,
	"location request": `{` + to + `,"type":"interactive","interactive":{"type":"location_request_message","body":{"text":"Where are you?"},
  "action":{"name":"send_location"}}}`,
	"product": `{` + to + `,"type":"interactive","interactive":{"type":"product","body":{"text":"Look"},
  "action":{"catalog_id":"1","product_retailer_id":"sku1"}}}`,
	"product_list": `{` + to + `,"type":"interactive","interactive":{"type":"product_list","header":{"type":"text","text":"Shop"},"body":{"text":"Pick"},
  "action":{"catalog_id":"1","sections":[{"title":"Pizzas","product_items":[{"product_retailer_id":"sku1"}]}]}}}`,
	"catalog_message": `{` + to + `,"type":"interactive","interactive":{"type":"catalog_message","body":{"text":"Our shop"},
  "action":{"name":"catalog_message","parameters":{"thumbnail_product_retailer_id":"sku1"}}}}`,
	"template": `{` + to + `,"type":"template","template":{
  "name":"order_update","language":{"code":"en_US","policy":"deterministic"},
  "components":[
    {"type":"header","parameters":[{"type":"image","image":{"link":"https://x.com/a.jpg"}}]},
    {"type":"body","parameters":[{"type":"text","text":"Ana"},
       {"type":"currency","currency":{"fallback_value":"$10.00","code":"USD","amount_1000":10000}},
       {"type":"date_time","date_time":{"fallback_value":"June 1"}}]},
    {"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"STOP"}]},
    {"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"abc123"}]}]}}`,
	"template header kinds": `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"pt_BR"},
  "components":[{"type":"header","parameters":[{"type":"location","location":{"latitude":1,"longitude":2,"name":"HQ"}}]},
    {"type":"button","sub_type":"copy_code","index":0,"parameters":[{"type":"coupon_code","coupon_code":"SAVE10"}]},
    {"type":"button","sub_type":"flow","index":"1","parameters":[{"type":"action","action":{"flow_token":"t"}}]}]}}`,
	"named params": `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},
  "components":[{"type":"body","parameters":[{"type":"text","parameter_name":"first_name","text":"Ana"}]}]}}`,
	"reply context":    `{` + to + `,"context":{"message_id":"wamid.X"},"type":"text","text":{"body":"re"},"biz_opaque_callback_data":"order-42"}`,
	"individual":       `{` + to + `,"recipient_type":"individual","recipient_identity_key_hash":"abc","text":{"body":"x"}}`,
	"mark read":        `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.HBgL…"}`,
	"mark read typing": `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.HBgL…","typing_indicator":{"type":"text"}}`,
}

func TestValidRequests(t *testing.T) {
	for name, body := range valid {
		t.Run(name, func(t *testing.T) {
			r, err := ParseSend([]byte(body))
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if r.IsMarkRead() {
				if r.MessageID != "wamid.HBgL…" {
					t.Fatalf("message_id %q", r.MessageID)
				}
				return
			}
			if r.WAID() != "15551234567" || r.To != "+1 (555) 123-4567" {
				t.Fatalf("wa_id %q, to %q", r.WAID(), r.To)
			}
			if r.MessageType() == "" || len(r.payloads()) != 1 || r.payloads()[0] != r.MessageType() {
				t.Fatalf("type %q, payloads %v", r.MessageType(), r.payloads())
			}
		})
	}
}

// code, status and a details fragment that names the field.
type want struct {
	code   int
	detail string
}

func checkErr(t *testing.T, name string, err error, w want) {
	t.Helper()
	g := graph.As(err)
	if g == nil {
		t.Errorf("%s: accepted (err %v)", name, err)
		return
	}
	status := map[int]int{100: 400, 131008: 400, 131009: 400}[w.code]
	if g.Code != w.code || g.Status != status || !strings.Contains(g.Details, w.detail) {
		t.Errorf("%s: got %d/%d %q, want %d/%d containing %q", name, g.Code, g.Status, g.Details, w.code, status, w.detail)
	}
}

func TestInvalidRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want
	}{
		{"not json", `{`, want{100, "JSON"}},
		{"empty", ``, want{131008, "messaging_product"}},
		{"array", `[]`, want{100, "JSON object"}},
		{"two objects", `{"messaging_product":"whatsapp"} {}`, want{100, "one JSON object"}},
		{"no product", `{"to":"15551234567","text":{"body":"x"}}`, want{131008, "messaging_product is required"}},
		{"wrong product", `{"messaging_product":"sms","to":"15551234567","text":{"body":"x"}}`, want{100, "messaging_product must be whatsapp"}},
		{"no to", `{"messaging_product":"whatsapp","text":{"body":"x"}}`, want{131008, "to is required"}},
		{"bsuid only", `{"messaging_product":"whatsapp","recipient":"US.123","text":{"body":"x"}}`, want{131009, "recipient"}},
		{"bad to", `{"messaging_product":"whatsapp","to":"12ab5678901","text":{"body":"x"}}`, want{131009, "to must be"}},
		{"unknown type", `{` + to + `,"type":"hologram"}`, want{100, `type "hologram"`}},
		{"type mismatch", `{` + to + `,"type":"image","text":{"body":"x"}}`, want{100, "carries text"}},
		{"two payloads", `{` + to + `,"type":"text","text":{"body":"x"},"image":{"id":"1"}}`, want{100, "image, text"}},
		{"text missing", `{` + to + `,"type":"text"}`, want{131008, "text is required"}},
		{"empty body", `{` + to + `,"text":{"body":" "}}`, want{131008, "text.body is required"}},
		{"media neither", `{` + to + `,"type":"image","image":{"caption":"c"}}`, want{131008, "image.id or image.link"}},
		{"media both", `{` + to + `,"type":"image","image":{"id":"1","link":"https://x.com/a"}}`, want{100, "image: give either id or link"}},
		{"media bad link", `{` + to + `,"type":"image","image":{"link":"ftp://x"}}`, want{131009, "image.link"}},
		{"media bad id", `{` + to + `,"type":"video","video":{"id":"abc"}}`, want{131009, "video.id"}},
		{"caption on audio", `{` + to + `,"type":"audio","audio":{"id":"1","caption":"c"}}`, want{100, "audio.caption"}},
		{"caption on sticker", `{` + to + `,"type":"sticker","sticker":{"id":"1","caption":"c"}}`, want{100, "sticker.caption"}},
		{"filename on image", `{` + to + `,"type":"image","image":{"id":"1","filename":"a"}}`, want{100, "image.filename"}},
		{"voice on video", `{` + to + `,"type":"video","video":{"id":"1","voice":true}}`, want{100, "video.voice"}},
		{"location no lat", `{` + to + `,"type":"location","location":{"longitude":1}}`, want{131008, "location.latitude"}},
		{"location no long", `{` + to + `,"type":"location","location":{"latitude":1}}`, want{131008, "location.longitude"}},
		{"location lat range", `{` + to + `,"type":"location","location":{"latitude":91,"longitude":1}}`, want{131009, "location.latitude"}},
		{"location long range", `{` + to + `,"type":"location","location":{"latitude":1,"longitude":-181}}`, want{131009, "location.longitude"}},
		{"contacts empty", `{` + to + `,"type":"contacts","contacts":[]}`, want{131008, "contacts"}},
		{"contact no name", `{` + to + `,"type":"contacts","contacts":[{"name":{}}]}`, want{131008, "contacts[0].name.formatted_name"}},
		{"interactive missing", `{` + to + `,"type":"interactive"}`, want{131008, "interactive is required"}},
		{"interactive no type", `{` + to + `,"type":"interactive","interactive":{"body":{"text":"b"},"action":{}}}`, want{131008, "interactive.type"}},
		{"interactive bad type", `{` + to + `,"type":"interactive","interactive":{"type":"carousel3d","body":{"text":"b"},"action":{}}}`, want{100, `interactive.type "carousel3d"`}},
		{"interactive no body", `{` + to + `,"type":"interactive","interactive":{"type":"button","action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}}]}}}`, want{131008, "interactive.body.text"}},
		{"interactive no action", `{` + to + `,"type":"interactive","interactive":{"type":"button","body":{"text":"b"}}}`, want{131008, "interactive.action"}},
		{"button not reply", `{` + to + `,"type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"url","reply":{"id":"a","title":"A"}}]}}}`, want{131009, "buttons[0].type"}},
		{"button no id", `{` + to + `,"type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"title":"A"}}]}}}`, want{131008, "buttons[0].reply.id"}},
		{"header no type", `{` + to + `,"type":"interactive","interactive":{"type":"button","header":{"text":"h"},"body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}}]}}}`, want{131008, "interactive.header.type"}},
		{"list no button", `{` + to + `,"type":"interactive","interactive":{"type":"list","body":{"text":"b"},"action":{"sections":[{"rows":[{"id":"1","title":"t"}]}]}}}`, want{131008, "interactive.action.button"}},
		{"list no rows", `{` + to + `,"type":"interactive","interactive":{"type":"list","body":{"text":"b"},"action":{"button":"B","sections":[{"title":"s"}]}}}`, want{131008, "sections[0].rows"}},
		{"list dup rows", `{` + to + `,"type":"interactive","interactive":{"type":"list","body":{"text":"b"},"action":{"button":"B","sections":[{"rows":[{"id":"1","title":"t"},{"id":"1","title":"u"}]}]}}}`, want{131009, "rows[1].id must be unique"}},
		{"cta no url", `{` + to + `,"type":"interactive","interactive":{"type":"cta_url","body":{"text":"b"},"action":{"name":"cta_url","parameters":{"display_text":"Open"}}}}`, want{131008, "parameters.url"}},
		{"cta bad url", `{` + to + `,"type":"interactive","interactive":{"type":"cta_url","body":{"text":"b"},"action":{"name":"cta_url","parameters":{"display_text":"Open","url":"javascript:x"}}}}`, want{131009, "parameters.url"}},
		{"cta no params", `{` + to + `,"type":"interactive","interactive":{"type":"cta_url","body":{"text":"b"},"action":{"name":"cta_url"}}}`, want{131008, "interactive.action.parameters"}},
		{"flow no version", `{` + to + `,"type":"interactive","interactive":{"type":"flow","body":{"text":"b"},"action":{"name":"flow","parameters":{"flow_id":"1","flow_cta":"Go"}}}}`, want{131008, "flow_message_version"}},
		{"flow bad action", `{` + to + `,"type":"interactive","interactive":{"type":"flow","body":{"text":"b"},"action":{"name":"flow","parameters":{"flow_message_version":"3","flow_id":"1","flow_cta":"Go","flow_action":"jump"}}}}`, want{131009, "flow_action"}},
		{"location request bad name", `{` + to + `,"type":"interactive","interactive":{"type":"location_request_message","body":{"text":"b"},"action":{"name":"x"}}}`, want{131009, "interactive.action.name"}},
		{"product_list no header", `{` + to + `,"type":"interactive","interactive":{"type":"product_list","body":{"text":"b"},"action":{"catalog_id":"1"}}}`, want{131008, "interactive.header"}},
		{"template missing", `{` + to + `,"type":"template"}`, want{131008, "template is required"}},
		{"template no name", `{` + to + `,"type":"template","template":{"language":{"code":"en"}}}`, want{131008, "template.name"}},
		{"template no language", `{` + to + `,"type":"template","template":{"name":"t"}}`, want{131008, "template.language.code"}},
		{"template bad policy", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en","policy":"fallback"}}}`, want{131009, "template.language.policy"}},
		{"template bad component", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"footer"}]}}`, want{100, `template.components[0].type "footer"`}},
		{"template text param missing", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text"}]}]}}`, want{131008, "template.components[0].parameters[0].text"}},
		{"template param no type", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"text":"x"}]}]}}`, want{131008, "parameters[0].type"}},
		{"template param wrong place", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"image","image":{"id":"1"}}]}]}}`, want{100, "parameters[0].type \"image\" is not allowed in a body"}},
		{"template button no sub_type", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"button","index":"0"}]}}`, want{131008, "template.components[0].sub_type"}},
		{"template button bad sub_type", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"button","sub_type":"teleport","index":"0"}]}}`, want{131009, "sub_type"}},
		{"template button no index", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"button","sub_type":"url"}]}}`, want{131008, "template.components[0].index"}},
		{"template button bad index", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"button","sub_type":"url","index":"x"}]}}`, want{131009, "template.components[0].index"}},
		{"template button index object", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"button","sub_type":"url","index":{}}]}}`, want{131009, "template.components[0].index"}},
		{"currency no amount", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"currency","currency":{"code":"USD","fallback_value":"$1"}}]}]}}`, want{131008, "parameters[0].currency.amount_1000"}},
		{"currency bad code", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"currency","currency":{"code":"usd","fallback_value":"$1","amount_1000":1}}]}]}}`, want{131009, "parameters[0].currency.code"}},
		{"date_time empty", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"date_time","date_time":{}}]}]}}`, want{131008, "parameters[0].date_time.fallback_value"}},
		{"payload empty", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload"}]}]}}`, want{131008, "parameters[0].payload"}},
		{"header media both", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"header","parameters":[{"type":"document","document":{"id":"1","link":"https://x.com/d"}}]}]}}`, want{100, "parameters[0].document: give either id or link"}},
		{"param name upper", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","parameter_name":"First","text":"x"}]}]}}`, want{131009, "parameters[0].parameter_name"}},
		{"reaction missing", `{` + to + `,"type":"reaction"}`, want{131008, "reaction is required"}},
		{"reaction no id", `{` + to + `,"type":"reaction","reaction":{"emoji":"👍"}}`, want{131008, "reaction.message_id"}},
		{"reaction text", `{` + to + `,"type":"reaction","reaction":{"message_id":"wamid.X","emoji":"ok"}}`, want{131009, "reaction.emoji"}},
		{"context without id", `{` + to + `,"context":{},"text":{"body":"x"}}`, want{131008, "context.message_id"}},
		{"read without id", `{"messaging_product":"whatsapp","status":"read"}`, want{131008, "message_id"}},
		{"read bad typing", `{"messaging_product":"whatsapp","status":"read","message_id":"x","typing_indicator":{"type":"audio"}}`, want{131009, "typing_indicator.type"}},
		{"read with message", `{"messaging_product":"whatsapp","status":"read","message_id":"x","text":{"body":"x"}}`, want{100, "mark-as-read"}},
		{"typing without read", `{` + to + `,"text":{"body":"x"},"typing_indicator":{"type":"text"}}`, want{100, "typing_indicator"}},
		{"bad status", `{"messaging_product":"whatsapp","status":"delivered","message_id":"x"}`, want{100, "status must be read"}},
		{"group recipient", `{` + to + `,"recipient_type":"group","text":{"body":"x"}}`, want{131009, "recipient_type"}},
	} {
		_, err := ParseSend([]byte(tc.body))
		checkErr(t, tc.name, err, tc.want)
	}
}

func TestWrongJSONTypes(t *testing.T) {
	for _, tc := range []struct {
		name, body, detail string
	}{
		{"to number", `{"messaging_product":"whatsapp","to":15551234567,"text":{"body":"x"}}`, "to must be a string, not number"},
		{"product bool", `{"messaging_product":true}`, "messaging_product must be a string"},
		{"body number", `{` + to + `,"text":{"body":42}}`, "text.body must be a string"},
		{"text string", `{` + to + `,"text":"hello"}`, "text must be an object"},
		{"preview string", `{` + to + `,"text":{"body":"x","preview_url":"yes"}}`, "text.preview_url must be a boolean"},
		{"latitude word", `{` + to + `,"type":"location","location":{"latitude":"north","longitude":1}}`, "location.latitude must be a number"},
		{"contacts object", `{` + to + `,"type":"contacts","contacts":{"name":{"formatted_name":"A"}}}`, "contacts must be an array"},
		{"buttons object", `{` + to + `,"type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":{"buttons":{}}}}`, "interactive.action.buttons must be an array"},
		{"amount string", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"currency","currency":{"fallback_value":"$1","code":"USD","amount_1000":"10"}}]}]}}`, "currency.amount_1000 must be an integer"},
		{"amount fraction", `{` + to + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"currency","currency":{"fallback_value":"$1","code":"USD","amount_1000":1.5}}]}]}}`, "currency.amount_1000 must be an integer"},
		{"voice string", `{` + to + `,"type":"audio","audio":{"id":"1","voice":"true"}}`, "audio.voice must be a boolean"},
		{"flow id number", `{` + to + `,"type":"interactive","interactive":{"type":"flow","body":{"text":"b"},"action":{"name":"flow","parameters":{"flow_message_version":"3","flow_id":123,"flow_cta":"Go"}}}}`, "interactive.action.parameters.flow_id must be a string"},
		{"flow params array", `{` + to + `,"type":"interactive","interactive":{"type":"flow","body":{"text":"b"},"action":{"name":"flow","parameters":[1]}}}`, "interactive.action.parameters must be an object"},
	} {
		_, err := ParseSend([]byte(tc.body))
		checkErr(t, tc.name, err, want{100, tc.detail})
	}
}

func TestUnexpectedKey(t *testing.T) {
	for _, tc := range []struct {
		name, body, detail string
	}{
		{"top level", `{` + to + `,"text":{"body":"x"},"colour":"red"}`, `Unexpected key "colour" in the request body`},
		{"camel case", `{` + to + `,"text":{"body":"x","previewUrl":true}}`, `Unexpected key "previewUrl" on param "text"`},
		{"template language", `{` + to + `,"type":"template","template":{"name":"t","language":{"policystring":"deterministic","code":"en"}}}`, `Unexpected key "policystring" on param "template.language"`},
		{"in array", `{` + to + `,"type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}},{"type":"reply","reply":{"id":"b","label":"B"}}]}}}`, `Unexpected key "label" on param "interactive.action.buttons[1].reply"`},
		{"mark read", `{"messaging_product":"whatsapp","status":"read","message_id":"x","typing":{}}`, `Unexpected key "typing"`},
	} {
		_, err := ParseSend([]byte(tc.body))
		checkErr(t, tc.name, err, want{100, tc.detail})
	}
}

// rep repeats s n times.
func rep(s string, n int) string { return strings.Repeat(s, n) }

func msg(rest string) string {
	return `{"messaging_product":"whatsapp","to":"15551234567",` + rest + `}`
}

func interactive(typ, header, body, action string) string {
	h := ""
	if header != "" {
		h = `"header":` + header + `,`
	}
	return msg(`"type":"interactive","interactive":{"type":"` + typ + `",` + h + `"body":{"text":"` + body + `"},"action":` + action + `}`)
}

func buttons(n int, title string) string {
	var b []string
	for i := range n {
		b = append(b, fmt.Sprintf(`{"type":"reply","reply":{"id":"b%d","title":"%s%d"}}`, i, title, i))
	}
	return `{"buttons":[` + strings.Join(b, ",") + `]}`
}

func listAction(label string, sections, rowsPerSection int, row func(i int) string) string {
	var ss []string
	k := 0
	for s := range sections {
		var rows []string
		for range rowsPerSection {
			rows = append(rows, row(k))
			k++
		}
		ss = append(ss, fmt.Sprintf(`{"title":"S%d","rows":[%s]}`, s, strings.Join(rows, ",")))
	}
	return `{"button":"` + label + `","sections":[` + strings.Join(ss, ",") + `]}`
}

func simpleRow(i int) string { return fmt.Sprintf(`{"id":"r%d","title":"t"}`, i) }

func flowAction(cta string) string {
	return `{"name":"flow","parameters":{"flow_message_version":"3","flow_id":"1","flow_cta":"` + cta + `"}}`
}

func templateParam(component, param string) string {
	return msg(`"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"` + component + `","parameters":[` + param + `]}]}`)
}

// TestLimits violates every limit of docs/cloud-api.md §2.3 one at a time: the
// body built with n = limit passes, n = limit+1 fails with 131009 and a
// details text naming the field.
func TestLimits(t *testing.T) {
	okButtons := buttons(1, "T")
	for _, tc := range []struct {
		name   string
		limit  int
		build  func(n int) string
		detail string
	}{
		{"text.body", 4096, func(n int) string { return msg(`"text":{"body":"` + rep("x", n) + `"}`) }, "text.body must be at most 4096"},
		{"text.body counts characters", 4096, func(n int) string { return msg(`"text":{"body":"` + rep("ç", n) + `"}`) }, "text.body"},
		{"caption", 1024, func(n int) string { return msg(`"type":"image","image":{"id":"1","caption":"` + rep("c", n) + `"}`) }, "image.caption"},
		{"biz_opaque_callback_data", 512, func(n int) string {
			return msg(`"text":{"body":"x"},"biz_opaque_callback_data":"` + rep("d", n) + `"`)
		}, "biz_opaque_callback_data"},
		{"to digits", 15, func(n int) string {
			return `{"messaging_product":"whatsapp","to":"+` + rep("1", n) + `","text":{"body":"x"}}`
		}, "to must be"},
		{"interactive body", 1024, func(n int) string { return interactive("button", "", rep("b", n), okButtons) }, "interactive.body.text"},
		{"interactive header", 60, func(n int) string {
			return interactive("button", `{"type":"text","text":"`+rep("h", n)+`"}`, "b", okButtons)
		}, "interactive.header.text"},
		{"interactive footer", 60, func(n int) string {
			return msg(`"type":"interactive","interactive":{"type":"button","body":{"text":"b"},"footer":{"text":"` + rep("f", n) + `"},"action":` + okButtons + `}`)
		}, "interactive.footer.text"},
		{"reply buttons", 3, func(n int) string { return interactive("button", "", "b", buttons(n, "T")) }, "interactive.action.buttons must hold 1 to 3"},
		{"reply button title", 20, func(n int) string {
			return interactive("button", "", "b", `{"buttons":[{"type":"reply","reply":{"id":"a","title":"`+rep("t", n)+`"}}]}`)
		}, "interactive.action.buttons[0].reply.title"},
		{"reply button id", 256, func(n int) string {
			return interactive("button", "", "b", `{"buttons":[{"type":"reply","reply":{"id":"`+rep("i", n)+`","title":"T"}}]}`)
		}, "interactive.action.buttons[0].reply.id"},
		{"list button label", 20, func(n int) string { return interactive("list", "", "b", listAction(rep("L", n), 1, 1, simpleRow)) }, "interactive.action.button must"},
		{"list sections", 10, func(n int) string { return interactive("list", "", "b", listAction("L", n, 1, simpleRow)) }, "interactive.action.sections must hold 1 to 10"},
		{"list rows", 10, func(n int) string { return interactive("list", "", "b", listAction("L", 1, n, simpleRow)) }, "at most 10 rows"},
		{"list section title", 24, func(n int) string {
			return interactive("list", "", "b", `{"button":"L","sections":[{"title":"`+rep("s", n)+`","rows":[{"id":"1","title":"t"}]}]}`)
		}, "interactive.action.sections[0].title"},
		{"list row id", 200, func(n int) string {
			return interactive("list", "", "b", listAction("L", 1, 1, func(int) string { return `{"id":"` + rep("i", n) + `","title":"t"}` }))
		}, "interactive.action.sections[0].rows[0].id"},
		{"list row title", 24, func(n int) string {
			return interactive("list", "", "b", listAction("L", 1, 1, func(int) string { return `{"id":"1","title":"` + rep("t", n) + `"}` }))
		}, "interactive.action.sections[0].rows[0].title"},
		{"list row description", 72, func(n int) string {
			return interactive("list", "", "b", listAction("L", 1, 1, func(int) string { return `{"id":"1","title":"t","description":"` + rep("d", n) + `"}` }))
		}, "interactive.action.sections[0].rows[0].description"},
		{"cta display text", 20, func(n int) string {
			return interactive("cta_url", "", "b", `{"name":"cta_url","parameters":{"display_text":"`+rep("o", n)+`","url":"https://x.com"}}`)
		}, "interactive.action.parameters.display_text"},
		{"flow cta", 20, func(n int) string { return interactive("flow", "", "b", flowAction(rep("c", n))) }, "interactive.action.parameters.flow_cta"},
		{"template body param", 32768, func(n int) string {
			return templateParam("body", `{"type":"text","text":"`+rep("p", n)+`"}`)
		}, "template.components[0].parameters[0].text"},
		{"template header param", 60, func(n int) string {
			return templateParam("header", `{"type":"text","text":"`+rep("p", n)+`"}`)
		}, "template.components[0].parameters[0].text must be at most 60"},
		{"parameter_name", 20, func(n int) string {
			return templateParam("body", `{"type":"text","parameter_name":"`+rep("n", n)+`","text":"x"}`)
		}, "template.components[0].parameters[0].parameter_name"},
		{"contacts", 257, func(n int) string {
			return msg(`"type":"contacts","contacts":[` + strings.TrimSuffix(rep(`{"name":{"formatted_name":"A"}},`, n), ",") + `]`)
		}, "contacts must hold at most 257"},
	} {
		if _, err := ParseSend([]byte(tc.build(tc.limit))); err != nil {
			t.Errorf("%s: at the limit (%d) rejected: %v", tc.name, tc.limit, err)
		}
		_, err := ParseSend([]byte(tc.build(tc.limit + 1)))
		checkErr(t, tc.name+" over the limit", err, want{131009, tc.detail})
	}
}

// TestRules covers §2.3 rules that are not lengths.
func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want
	}{
		{"no buttons", interactive("button", "", "b", buttons(0, "T")), want{131009, "interactive.action.buttons must hold 1 to 3"}},
		{"duplicate button ids", interactive("button", "", "b", `{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}},{"type":"reply","reply":{"id":"a","title":"B"}}]}`), want{131009, "buttons[1].reply.id must be unique"}},
		{"duplicate button titles", interactive("button", "", "b", `{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}},{"type":"reply","reply":{"id":"b","title":"A"}}]}`), want{131009, "buttons[1].reply.title must be unique"}},
		{"untitled sections", interactive("list", "", "b", `{"button":"L","sections":[{"rows":[{"id":"1","title":"t"}]},{"title":"B","rows":[{"id":"2","title":"t"}]}]}`), want{131008, "interactive.action.sections[0].title"}},
		{"rows across sections", interactive("list", "", "b", listAction("L", 2, 6, simpleRow)), want{131009, "at most 10 rows"}},
		{"flow cta emoji", interactive("flow", "", "b", flowAction("Go 👉")), want{131009, "flow_cta must not contain emoji"}},
		{"flow cta empty", interactive("flow", "", "b", flowAction("")), want{131008, "flow_cta"}},
		{"list image header", interactive("list", `{"type":"image","image":{"id":"1"}}`, "b", listAction("L", 1, 1, simpleRow)), want{131009, "interactive.header of a list message must be text"}},
		{"cta image header", interactive("cta_url", `{"type":"image","image":{"id":"1"}}`, "b", `{"name":"cta_url","parameters":{"display_text":"o","url":"https://x.com"}}`), want{131009, "interactive.header of a cta_url message must be text"}},
		{"flow video header", interactive("flow", `{"type":"video","video":{"id":"1"}}`, "b", flowAction("Go")), want{131009, "interactive.header of a flow message must be text"}},
		{"product_list document header", interactive("product_list", `{"type":"document","document":{"id":"1"}}`, "b", `{"catalog_id":"1"}`), want{131009, "interactive.header of a product_list message must be text"}},
		{"header unknown type", interactive("button", `{"type":"gif"}`, "b", buttons(1, "T")), want{100, `interactive.header.type "gif"`}},
		{"to too short", `{"messaging_product":"whatsapp","to":"1234567","text":{"body":"x"}}`, want{131009, "to must be"}},
	} {
		_, err := ParseSend([]byte(tc.body))
		checkErr(t, tc.name, err, tc.want)
	}
	// The emoji rule applies to the flow CTA only: a button title may hold emoji.
	if _, err := ParseSend([]byte(interactive("button", "", "b", `{"buttons":[{"type":"reply","reply":{"id":"a","title":"Yes 👍"}}]}`))); err != nil {
		t.Errorf("emoji button title: %v", err)
	}
}

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"+1 (555) 123-4567": "15551234567", "15551234567": "15551234567", "+49.30.1234567": "49301234567",
		"12345678": "12345678", "1234567": "", "123456789012345": "123456789012345",
		"1234567890123456": "", "+1555abc4567": "", "": "", "+": "", "１２３４５６７８９": "",
	} {
		if got := NormalizePhone(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestSendResponse(t *testing.T) {
	for _, tc := range []struct {
		body, want string
	}{
		{valid["text"], `{"messaging_product":"whatsapp","contacts":[{"input":"+1 (555) 123-4567","wa_id":"15551234567"}],"messages":[{"id":"wamid.X"}]}`},
		{valid["template"], `{"messaging_product":"whatsapp","contacts":[{"input":"+1 (555) 123-4567","wa_id":"15551234567"}],"messages":[{"id":"wamid.X","message_status":"accepted"}]}`},
	} {
		r, err := ParseSend([]byte(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(NewSendResponse(r, "wamid.X"))
		if err != nil || string(got) != tc.want {
			t.Errorf("got %s (%v), want %s", got, err, tc.want)
		}
	}
	if b, _ := json.Marshal(Success()); string(b) != `{"success":true}` {
		t.Errorf("success %s", b)
	}
}

func TestMessageContentDropsRouting(t *testing.T) {
	r, err := ParseSend([]byte(valid["reply context"]))
	if err != nil {
		t.Fatal(err)
	}
	c := r.MessageContent()
	if c.To != "" || c.MessagingProduct != "" || c.BizOpaqueCallbackData != "" || c.Type != "text" ||
		c.Context == nil || c.Context.MessageID != "wamid.X" || r.To == "" {
		t.Fatalf("content %+v, request %+v", c, r)
	}
	if !reflect.DeepEqual(c.Text, r.Text) {
		t.Fatal("text changed")
	}
}

func FuzzParseSend(f *testing.F) {
	for _, b := range valid {
		f.Add(b)
	}
	f.Add(`{"messaging_product":"whatsapp","to":"15551234567","type":"interactive","interactive":{"type":"flow","action":{"parameters":1}}}`)
	f.Add(`{"messaging_product":"whatsapp","to":"15551234567","type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"button","sub_type":"url","index":1e400}]}}`)
	f.Add(`{"messaging_product":"whatsapp","to":"15551234567","text":{"body":"x","zz":[{"a":{}}]}}`)
	f.Add(`[{"messaging_product":1}]`)
	f.Fuzz(func(t *testing.T, body string) {
		r, err := ParseSend([]byte(body))
		if err != nil {
			if g := graph.As(err); g == nil || g.Details == "" {
				t.Fatalf("not a Graph error with details: %v", err)
			}
			return
		}
		// Whatever is accepted is storable and decodes back to the same content.
		c, err := EncodeContent(r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeContent(c)
		if err != nil {
			t.Fatal(err)
		}
		if !r.IsMarkRead() && back.MessageType() != r.MessageType() {
			t.Fatalf("type %q → %q", r.MessageType(), back.MessageType())
		}
	})
}

func BenchmarkParseSendText(b *testing.B) {
	body := []byte(valid["text"])
	b.ReportAllocs()
	for b.Loop() {
		r, err := ParseSend(body)
		if err != nil || r.WAID() == "" {
			b.Fatal(err)
		}
	}
}

// decodeBoth decodes body with the fast decoder and with decodeStrict.
func decodeBoth(body []byte) (fast SendRequest, fastOK bool, strict SendRequest, strictErr error) {
	fastOK = decodeSendFast(body, &fast)
	strictErr = decodeStrict(body, &strict)
	return
}

// TestFastSendTakesCommonShapes: the shapes the bench and most clients
// send go through the fast decoder and decode as decodeStrict decodes
// them; the others fall back to it.
func TestFastSendTakesCommonShapes(t *testing.T) {
	fast := []string{"text", "text default", "image by id", "audio voice", "video", "document", "sticker", "reaction", "reaction removal"}
	for _, name := range fast {
		f, ok, s, err := decodeBoth([]byte(valid[name]))
		if !ok || err != nil || !reflect.DeepEqual(f, s) {
			t.Errorf("%s: fast %v, strict err %v, equal %v", name, ok, err, reflect.DeepEqual(f, s))
		}
	}
	for _, body := range []string{
		`{"messaging_product":"whatsapp","to":"491700000042","type":"template","template":{"name":"bench_message","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"waedge bench"}]}]}}`,
		`{"messaging_product":"whatsapp","status":"read","message_id":"wamid.x","typing_indicator":{"type":"text"}}`,
		` {"messaging_product":"whatsapp","to":"1555","context":{"message_id":"wamid.q"},"text":{"body":"line\nbreak \u00e9 \"q\""}} ` + "\n",
		`{"messaging_product":"whatsapp","to":"1555","type":"template","template":{"name":"t","language":{"code":"en","policy":"deterministic"},"components":[]}}`,
		`{"messaging_product":"whatsapp","to":"1555","text":{}}`,
		`{"messaging_product":"whatsapp","to":"1555","text":{"body":"ünïcødé 👍"}}`,
	} {
		f, ok, s, err := decodeBoth([]byte(body))
		if !ok || err != nil || !reflect.DeepEqual(f, s) {
			t.Errorf("%s: fast %v, strict err %v\nfast   %+v\nstrict %+v", body, ok, err, f, s)
		}
	}
	for _, body := range []string{
		valid["location"], valid["contacts"], valid["buttons"], valid["template"],
		`{"messaging_product":"whatsapp","TO":"1555","text":{"body":"x"}}`,
		`{"messaging_product":"whatsapp","to":"1555","to":"1666","text":{"body":"x"}}`,
		`{"messaging_product":"whatsapp","to":null,"text":{"body":"x"}}`,
		`{"messaging_product":"whatsapp","to":15551234567,"text":{"body":"x"}}`,
		`{"messaging_product":"whatsapp","to":"1555","text":{"body":"x"}} {}`,
		`{"messaging_product":"whatsapp","to":"1555","text":{"body":"x","preview_url":"yes"}}`,
		"{\"messaging_product\":\"whatsapp\",\"to\":\"1555\",\"text\":{\"body\":\"\xff\"}}",
		"{\"messaging_product\":\"whatsapp\",\"to\":\"1555\",\"text\":{\"body\":\"tab\there\"}}",
		`{"messaging_product":"whatsapp","to":"1555","text":{"body":"x"}`,
		`{"messaging_product":"whatsapp","to":"1555","text":{"body":"x"},}`,
		`{"messaging_product":"whatsapp","t\u006f":"1555","text":{"body":"x"}}`,
		``, `[]`, `{`,
	} {
		if _, ok, _, _ := decodeBoth([]byte(body)); ok {
			t.Errorf("%s: taken by the fast decoder", body)
		}
	}
}

// FuzzFastSendMatchesStrict: whatever the fast decoder accepts,
// decodeStrict accepts too and decodes to the same value; so ParseSend's
// answers (values and errors) are those of decodeStrict alone.
func FuzzFastSendMatchesStrict(f *testing.F) {
	for _, b := range valid {
		f.Add(b)
	}
	f.Add(`{"messaging_product":"whatsapp","to":"491700000042","type":"template","template":{"name":"bench_message","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"w\u00e9 \"b\""},{"type":"image","image":{"id":"1"}}]}]}}`)
	f.Add(`{"messaging_product":"whatsapp","status":"read","message_id":"wamid.x","typing_indicator":{"type":"text"}}`)
	f.Add(`{"messaging_product":"whatsapp","to":"1555","context":{"message_id":"q"},"text":{"body":"a\\b\/c\ud83d\ude00\ud800","preview_url":false}}`)
	f.Fuzz(func(t *testing.T, body string) {
		fast, ok, strict, err := decodeBoth([]byte(body))
		if err == nil {
			fastContentAgrees(t, "fuzzed", strict.MessageContent())
		}
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("fast decoder accepted what decodeStrict refuses (%v)", err)
		}
		if !reflect.DeepEqual(fast, strict) {
			t.Fatalf("fast %+v\nstrict %+v", fast, strict)
		}
	})
}

// fastContentAgrees reports (as a test error) where the fast content
// encoder and json.Marshal disagree about r; it returns whether the fast
// encoder took r.
func fastContentAgrees(t *testing.T, name string, r *SendRequest) bool {
	t.Helper()
	want, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := appendContentFast(nil, r)
	if ok && string(got) != string(want) {
		t.Errorf("%s:\nfast    %s\nMarshal %s", name, got, want)
	}
	return ok
}

// TestFastContentMatchesMarshal: stored content and the send response are
// the bytes json.Marshal writes, whichever encoder wrote them; the fast
// encoder takes the shapes the fast decoder reads and leaves the others.
func TestFastContentMatchesMarshal(t *testing.T) {
	taken := map[string]bool{"text": true, "text default": true, "image by id": true, "audio voice": true, "video": true,
		"document": true, "sticker": true, "reaction": true, "reaction removal": true, "named params": true,
		"reply context": true, "individual": true, "mark read": true, "mark read typing": true}
	for name, body := range valid {
		r, err := ParseSend([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ok := fastContentAgrees(t, name, r.MessageContent()); ok != taken[name] {
			t.Errorf("%s: fast encoder took it: %v", name, ok)
		}
		c, err := EncodeContent(r)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := encodeContent(contentOutbound, r.MessageContent()); string(c) != string(want) {
			t.Errorf("%s: EncodeContent %s, want %s", name, c, want)
		}
	}
	odd := "<a href=\"x\">&amp;</a> \\ \x00\x01\x1f\x7f \b\f\n\r\t \u2028\u2029 é 👍 \xff\xfe bad\xe2\x82 end"
	text := odd
	for _, r := range []*SendRequest{
		{Text: &Text{Body: odd, PreviewURL: true}, Context: &Context{}},
		{Type: "template", Template: &Template{Name: odd}},
		{Type: "template", Template: &Template{Name: "t", Language: &Language{Code: "en", Policy: odd},
			Components: []Component{{Type: "body", Parameters: []Parameter{{Type: "text", Text: &text}, {Type: "text", Text: new(string)},
				{Type: "image", Image: &Media{Link: odd}}, {Type: "payload", Payload: odd, ParameterName: "n", CouponCode: "c"}}},
				{Type: "button", SubType: "quick_reply", Parameters: []Parameter{}}, {}}}},
		{Status: "read", MessageID: odd, TypingIndicator: &TypingIndicator{}},
		{Reaction: &Reaction{}, Image: &Media{}, Audio: &Media{Voice: true}, Video: &Media{Caption: odd}, Document: &Media{Filename: odd}, Sticker: &Media{ID: "1"}},
		{MessagingProduct: "whatsapp", RecipientType: "individual", To: odd, Recipient: odd, BizOpaqueCallbackData: odd, RecipientIdentityKeyHash: odd},
	} {
		if !fastContentAgrees(t, "built", r) {
			t.Errorf("fast encoder refused %+v", r)
		}
	}
	for _, r := range []*SendRequest{
		{Location: &Location{}},
		{Template: &Template{Components: []Component{{Index: json.RawMessage(`1`)}}}},
		{Template: &Template{Components: []Component{{Parameters: []Parameter{{Currency: &Currency{}}}}}}},
	} {
		if fastContentAgrees(t, "other", r) {
			t.Errorf("fast encoder took %+v", r)
		}
	}
	for _, resp := range []SendResponse{
		NewSendResponse(&SendRequest{To: odd}, "wamid."+odd),
		NewSendResponse(&SendRequest{To: "+1 555", Type: "template"}, "wamid.x"),
		{},
	} {
		want, _ := json.Marshal(resp)
		if got := resp.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("response:\nfast    %s\nMarshal %s", got, want)
		}
	}
}

// benchTemplateSend is the body `waedge bench accept` sends.
var benchTemplateSend = []byte(`{"messaging_product":"whatsapp","to":"491700000042","type":"template","template":{"name":"bench_message",` +
	`"language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"` +
	strings.Repeat("waedge bench message ", 13)[:270] + `"}]}]}}`)

// BenchmarkSendCodec is what a send costs in this package: parse and
// validate the bench's template send, encode its stored content and the
// answer. The strict variant forces the reflective paths the fast ones
// replace, for comparison in one run.
func BenchmarkSendCodec(b *testing.B) {
	for _, strict := range []bool{false, true} {
		name := "fast"
		if strict {
			name = "strict"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var r *SendRequest
				if strict {
					r = new(SendRequest)
					if err := decodeStrict(benchTemplateSend, r); err != nil {
						b.Fatal(err)
					}
					if err := r.Validate(); err != nil {
						b.Fatal(err)
					}
				} else {
					var err error
					if r, err = ParseSend(benchTemplateSend); err != nil {
						b.Fatal(err)
					}
				}
				var c, resp []byte
				if strict {
					c, _ = encodeContent(contentOutbound, r.MessageContent())
					resp, _ = json.Marshal(NewSendResponse(r, "wamid.x"))
				} else {
					c, _ = EncodeContent(r)
					resp = NewSendResponse(r, "wamid.x").AppendJSON(nil)
				}
				if len(c) == 0 || len(resp) == 0 {
					b.Fatal("empty")
				}
			}
		})
	}
}
