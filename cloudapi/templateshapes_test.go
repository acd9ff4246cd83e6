package cloudapi

import (
	"encoding/json"
	"strings"
	"testing"
)

// tpl wraps components in a template definition of a category.
func tpl(category, components string, extra ...string) string {
	return `{"name":"t","language":"en_US","category":"` + category + `"` + strings.Join(extra, "") + `,"components":[` + components + `]}`
}

const (
	authBody   = `{"type":"body","add_security_recommendation":true}`
	authFooter = `{"type":"footer","code_expiration_minutes":5}`
	oneTap     = `{"type":"otp","otp_type":"one_tap","text":"Copy Code","autofill_text":"Autofill","supported_apps":[{"package_name":"com.example.app","signature_hash":"K8a/AINcGX7"}]}`
	urlButton2 = `{"type":"URL","text":"Shop","url":"https://x.com/shop/{{1}}","example":["https://x.com/shop/42"]}`
	cardOK     = `{"components":[{"type":"HEADER","format":"IMAGE","example":{"header_handle":["4::aW1n"]}},{"type":"BODY","text":"Card"},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"More"},` + urlButton2 + `]}]}`
	ltoOK      = `{"type":"HEADER","format":"IMAGE"},{"type":"LIMITED_TIME_OFFER","limited_time_offer":{"text":"Expiring!","has_expiration":true}},` +
		`{"type":"BODY","text":"Use code"},{"type":"BUTTONS","buttons":[{"type":"COPY_CODE","example":"SAVE10"},` + urlButton2 + `]}`
)

// templateShapes are definitions in Meta's shapes (its reference and the
// pages it links from …/message-templates): each must be accepted.
var templateShapes = map[string]string{
	"authentication copy code":      tpl("AUTHENTICATION", authBody+`,`+authFooter+`,{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE","text":"Copy Code"}]}`, `,"message_send_ttl_seconds":60`),
	"authentication one tap":        tpl("authentication", authBody+`,{"type":"buttons","buttons":[`+oneTap+`]}`),
	"authentication one tap legacy": tpl("AUTHENTICATION", `{"type":"BODY"},{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"ONE_TAP","package_name":"com.example.app","signature_hash":"K8a/AINcGX7"}]}`),
	"authentication zero tap":       tpl("AUTHENTICATION", authBody+`,`+authFooter+`,{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"ZERO_TAP","text":"Copy Code","autofill_text":"Autofill","zero_tap_terms_accepted":true,"supported_apps":[{"package_name":"com.example.app","signature_hash":"K8a/AINcGX7"}]}]}`, `,"message_send_ttl_seconds":900`),
	"limited time offer":            tpl("MARKETING", ltoOK),
	"flow button":                   tpl("MARKETING", `{"type":"BODY","text":"Sign up"},{"type":"BUTTONS","buttons":[{"type":"FLOW","text":"Open","flow_id":"1234","flow_action":"navigate","navigate_screen":"WELCOME","icon":"promotion"}]}`),
	"flow button by name":           tpl("UTILITY", `{"type":"BODY","text":"x"},{"type":"BUTTONS","buttons":[{"type":"FLOW","text":"Open","flow_name":"signup"}]}`),
	"flow button by json":           tpl("UTILITY", `{"type":"BODY","text":"x"},{"type":"BUTTONS","buttons":[{"type":"FLOW","text":"Open","flow_json":"{\"version\":\"5.0\",\"screens\":[]}"}]}`),
	"flow id number":                tpl("UTILITY", `{"type":"BODY","text":"x"},{"type":"BUTTONS","buttons":[{"type":"FLOW","text":"Open","flow_id":1234}]}`),
	"carousel":                      tpl("MARKETING", `{"type":"BODY","text":"Our picks {{1}}","example":{"body_text":[["today"]]}},{"type":"CAROUSEL","cards":[`+cardOK+`,`+cardOK+`]}`),
	"ttl utility":                   tpl("UTILITY", `{"type":"BODY","text":"x"}`, `,"message_send_ttl_seconds":43200`),
	"ttl marketing":                 tpl("MARKETING", `{"type":"BODY","text":"x"}`, `,"message_send_ttl_seconds":2592000`),
	"copy code marketing":           tpl("MARKETING", `{"type":"BODY","text":"x"},{"type":"BUTTONS","buttons":[{"type":"COPY_CODE","example":["SAVE10"]},{"type":"PHONE_NUMBER","text":"Call","phone_number":"+15551234567"}]}`),
	"sub category":                  tpl("UTILITY", `{"type":"BODY","text":"x"}`, `,"sub_category":"ORDER_STATUS","cta_url_link_tracking_opted_out":true`),
	// Definitions integrations send as written in their docs: all lower
	// case, a bare body (a reporter app's curl), and a zero-tap sample
	// (a BSP's API reference).
	"lower-case authentication": `{"name":"reporter_otp_en","category":"authentication","language":"en_US","message_send_ttl_seconds":600,
	  "components":[{"type":"body"},{"type":"footer","code_expiration_minutes":10},{"type":"buttons","buttons":[{"type":"otp","otp_type":"copy_code","text":"Copy code"}]}]}`,
	"zero tap sample": `{"name":"zero_tap_auth_template_one","language":"en_US","category":"authentication","message_send_ttl_seconds":60,
	  "components":[{"type":"body","add_security_recommendation":true},{"type":"footer","code_expiration_minutes":5},
	  {"type":"buttons","buttons":[{"type":"otp","otp_type":"zero_tap","text":"Copy Code","autofill_text":"Autofill","zero_tap_terms_accepted":true,
	  "supported_apps":[{"package_name":"app.pingtochat.com","signature_hash":"K8a/AINcGX7"}]}]}]}`,
}

func TestTemplateShapes(t *testing.T) {
	for name, body := range templateShapes {
		if _, _, err := ParseCreateTemplate([]byte(body)); err != nil {
			t.Errorf("%s: rejected: %v", name, err)
		}
	}
}

func TestAuthenticationTemplateText(t *testing.T) {
	r, params, err := ParseCreateTemplate([]byte(templateShapes["authentication copy code"]))
	if err != nil {
		t.Fatal(err)
	}
	if len(params.Body) != 1 || params.Named || len(params.Header) != 0 {
		t.Fatalf("params %+v: an authentication template takes the code", params)
	}
	b, _ := json.Marshal(r.Components)
	for _, want := range []string{`"text":"*{{1}}* is your verification code. For your security, do not share this code."`,
		`"text":"This code expires in 5 minutes."`, `"otp_type":"COPY_CODE"`, `"add_security_recommendation":true`, `"code_expiration_minutes":5`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("stored components %s lack %s", b, want)
		}
	}
	r, _, err = ParseCreateTemplate([]byte(tpl("AUTHENTICATION", `{"type":"BODY"},{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE"}]}`)))
	if err != nil || r.Components[0].Text != "*{{1}}* is your verification code." {
		t.Fatalf("without the recommendation: %v %q", err, r.Components[0].Text)
	}
}

func TestTemplateShapeErrors(t *testing.T) {
	body := `{"type":"BODY","text":"x"}`
	buttons := func(b string) string { return body + `,{"type":"BUTTONS","buttons":[` + b + `]}` }
	otp := func(b string) string { return authBody + `,{"type":"BUTTONS","buttons":[` + b + `]}` }
	card := func(header, buttons string) string {
		return `{"components":[{"type":"HEADER","format":"` + header + `"},{"type":"BODY","text":"c"},{"type":"BUTTONS","buttons":[` + buttons + `]}]}`
	}
	qr := `{"type":"QUICK_REPLY","text":"More"}`
	for _, tc := range []struct {
		name, body string
		want
	}{
		{"auth body text", tpl("AUTHENTICATION", `{"type":"BODY","text":"Your code is {{1}}"},{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE"}]}`), want{100, "text is fixed"}},
		{"auth header", tpl("AUTHENTICATION", `{"type":"HEADER","format":"TEXT","text":"x"},`+otp(`{"type":"OTP","otp_type":"COPY_CODE"}`)), want{100, `"HEADER" is not supported in an authentication template`}},
		{"auth no button", tpl("AUTHENTICATION", authBody), want{131008, "an OTP button"}},
		{"auth quick reply", tpl("AUTHENTICATION", otp(qr)), want{131009, "exactly one OTP button"}},
		{"auth two buttons", tpl("AUTHENTICATION", otp(`{"type":"OTP","otp_type":"COPY_CODE"},{"type":"OTP","otp_type":"COPY_CODE"}`)), want{131009, "exactly one OTP button"}},
		{"auth no otp_type", tpl("AUTHENTICATION", otp(`{"type":"OTP"}`)), want{131008, "otp_type is required"}},
		{"auth otp_type", tpl("AUTHENTICATION", otp(`{"type":"OTP","otp_type":"TWO_TAP"}`)), want{131009, "otp_type must be COPY_CODE, ONE_TAP or ZERO_TAP"}},
		{"one tap no apps", tpl("AUTHENTICATION", otp(`{"type":"OTP","otp_type":"ONE_TAP"}`)), want{131008, "supported_apps is required"}},
		{"one tap hash", tpl("AUTHENTICATION", otp(`{"type":"OTP","otp_type":"ONE_TAP","supported_apps":[{"package_name":"a.b","signature_hash":"short"}]}`)), want{131009, "signature_hash must be the app's 11-character"}},
		{"one tap six apps", tpl("AUTHENTICATION", otp(`{"type":"OTP","otp_type":"ONE_TAP","supported_apps":[`+strings.TrimSuffix(strings.Repeat(`{"package_name":"a.b","signature_hash":"K8a/AINcGX7"},`, 6), ",")+`]}`)), want{131009, "at most 5 apps"}},
		{"zero tap terms", tpl("AUTHENTICATION", otp(`{"type":"OTP","otp_type":"ZERO_TAP","supported_apps":[{"package_name":"a.b","signature_hash":"K8a/AINcGX7"}]}`)), want{131009, "zero_tap_terms_accepted must be true"}},
		{"copy code apps", tpl("AUTHENTICATION", otp(`{"type":"OTP","otp_type":"COPY_CODE","supported_apps":[{"package_name":"a.b","signature_hash":"K8a/AINcGX7"}]}`)), want{100, "COPY_CODE button takes text only"}},
		{"expiration 91", tpl("AUTHENTICATION", authBody+`,{"type":"FOOTER","code_expiration_minutes":91},`+strings.TrimPrefix(otp(`{"type":"OTP","otp_type":"COPY_CODE"}`), authBody+`,`)), want{131009, "code_expiration_minutes must be between 1 and 90"}},
		{"auth ttl", tpl("AUTHENTICATION", otp(`{"type":"OTP","otp_type":"COPY_CODE"}`), `,"message_send_ttl_seconds":901`), want{131009, "between 30 and 900"}},
		{"utility ttl", tpl("UTILITY", body, `,"message_send_ttl_seconds":29`), want{131009, "between 30 and 43200"}},
		{"marketing ttl", tpl("MARKETING", body, `,"message_send_ttl_seconds":3600`), want{131009, "between 43200 and 2592000"}},
		{"security outside auth", tpl("UTILITY", `{"type":"BODY","text":"x","add_security_recommendation":true}`), want{100, "belong to AUTHENTICATION templates"}},
		{"otp outside auth", tpl("UTILITY", buttons(`{"type":"OTP","otp_type":"COPY_CODE"}`)), want{100, "OTP buttons belong to AUTHENTICATION"}},
		{"url no example", tpl("UTILITY", buttons(`{"type":"URL","text":"Go","url":"https://x.com/{{1}}"}`)), want{131008, "example"}},
		{"url param in the middle", tpl("UTILITY", buttons(`{"type":"URL","text":"Go","url":"https://x.com/{{1}}/a","example":["x"]}`)), want{131009, "at its end"}},
		{"url scheme", tpl("UTILITY", buttons(`{"type":"URL","text":"Go","url":"ftp://x.com"}`)), want{131009, "http(s) URL"}},
		{"phone button", tpl("UTILITY", buttons(`{"type":"PHONE_NUMBER","text":"Call","phone_number":"call me"}`)), want{131009, "phone_number must be a phone number"}},
		{"copy code example", tpl("MARKETING", buttons(`{"type":"COPY_CODE","example":"SIXTEEN_CHARS_XX"}`)), want{131009, "1 to 15 characters"}},
		{"quick reply text", tpl("MARKETING", buttons(`{"type":"QUICK_REPLY"}`)), want{131008, "text is required"}},
		{"flow two refs", tpl("UTILITY", buttons(`{"type":"FLOW","text":"Open","flow_id":"1","flow_name":"x"}`)), want{131009, "exactly one of flow_id, flow_name and flow_json"}},
		{"flow none", tpl("UTILITY", buttons(`{"type":"FLOW","text":"Open"}`)), want{131009, "exactly one of flow_id"}},
		{"flow action", tpl("UTILITY", buttons(`{"type":"FLOW","text":"Open","flow_id":"1","flow_action":"JUMP"}`)), want{131009, "NAVIGATE or DATA_EXCHANGE"}},
		{"flow icon", tpl("UTILITY", buttons(`{"type":"FLOW","text":"Open","flow_id":"1","icon":"STAR"}`)), want{131009, "DOCUMENT, PROMOTION or REVIEW"}},
		{"flow json", tpl("UTILITY", buttons(`{"type":"FLOW","text":"Open","flow_json":"{nope"}`)), want{131009, "flow_json must be a Flow's JSON"}},
		{"flow id bool", tpl("UTILITY", buttons(`{"type":"FLOW","text":"Open","flow_id":true}`)), want{100, "flow_id must be a string or a number"}},
		{"lto utility", tpl("UTILITY", ltoOK), want{131009, "limited-time offers are MARKETING"}},
		{"lto text", tpl("MARKETING", strings.Replace(ltoOK, "Expiring!", "Seventeen chars!!", 1)), want{131009, "text must be at most 16"}},
		{"lto no url", tpl("MARKETING", `{"type":"LIMITED_TIME_OFFER","limited_time_offer":{"text":"Now"}},`+body), want{131008, "a URL button"}},
		{"lto expiring no code", tpl("MARKETING", `{"type":"LIMITED_TIME_OFFER","limited_time_offer":{"text":"Now","has_expiration":true}},`+buttons(urlButton2)), want{131008, "a COPY_CODE button"}},
		{"lto footer", tpl("MARKETING", ltoOK+`,{"type":"FOOTER","text":"f"}`), want{131009, "no FOOTER"}},
		{"lto object elsewhere", tpl("MARKETING", `{"type":"BODY","text":"x","limited_time_offer":{"text":"Now"}}`), want{100, "belongs to a LIMITED_TIME_OFFER"}},
		{"carousel one card", tpl("MARKETING", body+`,{"type":"CAROUSEL","cards":[`+cardOK+`]}`), want{131009, "2 to 10 cards"}},
		{"carousel eleven", tpl("MARKETING", body+`,{"type":"CAROUSEL","cards":[`+strings.TrimSuffix(strings.Repeat(cardOK+",", 11), ",")+`]}`), want{131009, "2 to 10 cards"}},
		{"carousel text header", tpl("MARKETING", body+`,{"type":"CAROUSEL","cards":[`+card("TEXT", qr)+`,`+card("IMAGE", qr)+`]}`), want{131009, "cards[0].HEADER.format must be IMAGE or VIDEO"}},
		{"carousel mixed formats", tpl("MARKETING", body+`,{"type":"CAROUSEL","cards":[`+card("IMAGE", qr)+`,`+card("VIDEO", qr)+`]}`), want{131009, "cards[1].HEADER.format must be IMAGE"}},
		{"carousel mixed buttons", tpl("MARKETING", body+`,{"type":"CAROUSEL","cards":[`+card("IMAGE", qr)+`,`+card("IMAGE", urlButton2)+`]}`), want{131009, "cards[1].BUTTONS must be QUICK_REPLY"}},
		{"carousel three buttons", tpl("MARKETING", body+`,{"type":"CAROUSEL","cards":[`+card("IMAGE", qr+","+qr+","+qr)+`,`+card("IMAGE", qr)+`]}`), want{131009, "1 to 2 buttons"}},
		{"carousel no buttons", tpl("MARKETING", body+`,{"type":"CAROUSEL","cards":[{"components":[{"type":"HEADER","format":"IMAGE"}]},`+cardOK+`]}`), want{131008, "cards[0].BUTTONS is required"}},
		{"carousel with header", tpl("MARKETING", `{"type":"HEADER","format":"TEXT","text":"h"},`+body+`,{"type":"CAROUSEL","cards":[`+cardOK+`,`+cardOK+`]}`), want{131009, "a BODY and the CAROUSEL only"}},
		{"carousel card body", tpl("MARKETING", body+`,{"type":"CAROUSEL","cards":[`+strings.Replace(cardOK, `"Card"`, `"`+rep("x", 161)+`"`, 1)+`,`+cardOK+`]}`), want{131009, "at most 160"}},
		{"unknown button key", tpl("UTILITY", buttons(`{"type":"QUICK_REPLY","text":"x","colour":"red"}`)), want{100, `Unexpected key "colour"`}},
		{"upper-case key", `{"NAME":"t","language":"en_US","category":"UTILITY","components":[` + body + `]}`, want{100, `Unexpected key "NAME"`}},
	} {
		_, _, err := ParseCreateTemplate([]byte(tc.body))
		checkErr(t, tc.name, err, tc.want)
	}
}

func TestHelloWorldIsValid(t *testing.T) {
	h := HelloWorld()
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	r, params, err := ParseCreateTemplate(b)
	if err != nil {
		t.Fatalf("Meta's hello_world does not pass waedge's own validation: %v", err)
	}
	if r.Name != "hello_world" || r.Language != "en_US" || r.Category != "UTILITY" || len(params.Body)+len(params.Header) != 0 {
		t.Fatalf("%+v %+v", r, params)
	}
}
