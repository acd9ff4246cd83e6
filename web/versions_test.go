package web_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// versionCase is a call given without the version prefix, made once with
// a version and once without. fresh: prep runs again for the second call
// (the call consumes or creates its object); otherwise the second call
// repeats the first request (prepared again only to re-read its body).
type versionCase struct {
	prep  func(w *permWorld) request
	fresh bool
}

// versionCases are the calls of every Graph route, keyed as app.GetRoutes
// reports it.
func versionCases() map[string][]versionCase {
	node := "/:node<regex(^[0-9]{1,32}$)>"
	pn := func(w *permWorld) string { return "/" + w.a["phone_number_id"] }
	waba := func(w *permWorld) string { return "/" + w.a["waba_id"] }
	template := func(w *permWorld) string {
		return w.createTemplate(w.a["access_token"], w.a["waba_id"], fmt.Sprintf("v_%d", w.next()), "en", "Hi")
	}
	subscribe := func(w *permWorld) request {
		return jsonReq(waba(w)+"/subscribed_apps", `{"override_callback_uri":"`+w.hook+`","verify_token":"v"}`)
	}
	// at is a request to path with PN and WABA standing for A's ids.
	at := func(path, body string) func(*permWorld) request {
		return func(w *permWorld) request {
			return jsonReq(strings.NewReplacer("PN", w.a["phone_number_id"], "WABA", w.a["waba_id"]).Replace(path), body)
		}
	}
	return map[string][]versionCase{
		"GET " + node: {
			{prep: at("/PN?fields=status,quality_rating", "")},
			{prep: at("/WABA", "")},
			{prep: func(w *permWorld) request { return jsonReq("/"+template(w), "") }},
			{prep: func(w *permWorld) request { return jsonReq("/"+w.media(), "") }},
			{prep: at("/999999999999999", "")}, // missing: the same error
			{prep: at("/PN?fields=a(", "")},    // malformed: the same error
		},
		"DELETE " + node: {{fresh: true, prep: func(w *permWorld) request { return jsonReq("/"+w.media(), "") }}},
		"POST " + node:   {{prep: at("/PN", `{"pin":"123456"}`)}},
		"POST " + node + "/media": {{fresh: true, prep: func(w *permWorld) request {
			body, n, ct := multipartBody([]part{field("messaging_product", "whatsapp"), file("text/plain", []byte("x"), 100)})
			return request{path: pn(w) + "/media", body: body, size: n, ctype: ct}
		}}},
		"POST " + node + "/messages": {
			{fresh: true, prep: func(w *permWorld) request {
				name := fmt.Sprintf("send_%d", w.next())
				w.createTemplate(w.a["access_token"], w.a["waba_id"], name, "en", "Hi")
				return jsonReq(pn(w)+"/messages", `{"messaging_product":"whatsapp","to":"15551234567","type":"template","template":{"name":"`+name+`","language":{"code":"en"}}}`)
			}},
			// Outside the window: the same 131047 (another consumer, so
			// the pair rate of the sends above does not interfere).
			{prep: at("/PN/messages", `{"messaging_product":"whatsapp","to":"15557654321","text":{"body":"hi"}}`)},
		},
		"POST " + node + "/subscribed_apps": {{fresh: true, prep: subscribe}},
		"GET " + node + "/subscribed_apps":  {{prep: at("/WABA/subscribed_apps", "")}},
		"DELETE " + node + "/subscribed_apps": {{fresh: true, prep: func(w *permWorld) request {
			r := subscribe(w)
			if code, out := w.send("POST", "/v21.0"+r.path, w.a["access_token"], &r); code != 200 {
				w.t.Fatalf("subscribe: %d %s", code, out)
			}
			return jsonReq(waba(w)+"/subscribed_apps", "")
		}}},
		"GET " + node + "/phone_numbers":               {{prep: at("/WABA/phone_numbers?limit=1&fields=id,status", "")}},
		"GET " + node + "/template_analytics":          {{prep: func(w *permWorld) request { return jsonReq(w.templateAnalyticsPath(), "") }}},
		"POST " + node + "/register":                   {{prep: at("/PN/register", `{"messaging_product":"whatsapp","pin":"123456"}`)}},
		"POST " + node + "/deregister":                 {{prep: at("/PN/deregister", `{"messaging_product":"whatsapp"}`)}},
		"GET " + node + "/whatsapp_business_profile":   {{prep: at("/PN/whatsapp_business_profile", "")}},
		"POST " + node + "/whatsapp_business_profile":  {{prep: at("/PN/whatsapp_business_profile", `{"messaging_product":"whatsapp","about":"hello"}`)}},
		"POST " + node + "/conversational_automation":  {{prep: at("/PN/conversational_automation", `{"enable_welcome_message":true}`)}},
		"GET " + node + "/whatsapp_commerce_settings":  {{prep: at("/PN/whatsapp_commerce_settings", "")}},
		"POST " + node + "/whatsapp_commerce_settings": {{prep: at("/PN/whatsapp_commerce_settings", `{"is_cart_enabled":true}`)}},
		"GET " + node + "/settings":                    {{prep: at("/PN/settings", "")}},
		"POST " + node + "/settings":                   {{prep: at("/PN/settings", `{"calling":{"status":"ENABLED"}}`)}},
		"GET " + node + "/message_qrdls":               {{prep: at("/PN/message_qrdls", "")}},
		"GET " + node + "/message_qrdls/:code": {{prep: func(w *permWorld) request {
			return jsonReq(pn(w)+"/message_qrdls/"+w.sharedQR(), "")
		}}},
		"POST " + node + "/message_qrdls": {{prep: func(w *permWorld) request {
			return jsonReq(pn(w)+"/message_qrdls", `{"code":"`+w.sharedQR()+`","prefilled_message":"Hi"}`)
		}}},
		"DELETE " + node + "/message_qrdls": {{fresh: true, prep: func(w *permWorld) request {
			return jsonReq(pn(w)+"/message_qrdls?code_id="+w.qrCode(), "")
		}}},
		"DELETE " + node + "/message_qrdls/:code": {{fresh: true, prep: func(w *permWorld) request {
			return jsonReq(pn(w)+"/message_qrdls/"+w.qrCode(), "")
		}}},
		"POST " + node + "/uploads": {{prep: func(w *permWorld) request {
			return jsonReq("/"+w.a["app_id"]+"/uploads?file_length=8&file_type=image/png", "")
		}}},
		`GET /upload\::session`: {{prep: func(w *permWorld) request {
			r := w.uploadSession(8)
			r.path = strings.TrimPrefix(r.path, "/v21.0")
			return r
		}}},
		`POST /upload\::session`: {{fresh: true, prep: func(w *permWorld) request {
			r := w.uploadSession(8)
			r.path = strings.TrimPrefix(r.path, "/v21.0")
			r.body, r.size = strings.NewReader("\x89PNG\r\n\x1a\n"), 8
			r.header = map[string]string{"file_offset": "0"}
			return r
		}}},
		"POST " + node + "/request_code": {{fresh: true, prep: func(w *permWorld) request {
			w.pendingCode("")
			return jsonReq(pn(w)+"/request_code?code_method=VOICE&language=de", "")
		}}},
		"POST " + node + "/verify_code": {{fresh: true, prep: func(w *permWorld) request {
			w.pendingCode("246801")
			return jsonReq(pn(w)+"/verify_code?code=246801", "")
		}}},
		"POST " + node + "/official_business_account": {{fresh: true, prep: func(w *permWorld) request {
			w.resetOBA()
			return jsonReq(pn(w)+"/official_business_account", `{"business_website_url":"https://a.example","primary_country_of_operation":"US","primary_language":"en_US"}`)
		}}},
		"GET " + node + "/block_users":    {{prep: at("/PN/block_users", "")}},
		"POST " + node + "/block_users":   {{prep: at("/PN/block_users", `{"messaging_product":"whatsapp","block_users":[{"user":"+15551230000"}]}`)}},
		"DELETE " + node + "/block_users": {{prep: at("/PN/block_users", `{"messaging_product":"whatsapp","block_users":[{"user":"+15551230000"}]}`)}},
		"POST " + node + "/subscriptions": {{prep: func(w *permWorld) request {
			return jsonReq("/"+w.a["app_id"]+"/subscriptions", `{"object":"whatsapp_business_account","callback_url":"`+w.hook+`","verify_token":"v"}`)
		}}},
		"GET " + node + "/subscriptions":    {{prep: func(w *permWorld) request { return jsonReq("/"+w.a["app_id"]+"/subscriptions", "") }}},
		"DELETE " + node + "/subscriptions": {{prep: func(w *permWorld) request { return jsonReq("/"+w.a["app_id"]+"/subscriptions", "") }}},
		"GET /oauth/access_token": {{prep: func(w *permWorld) request {
			return jsonReq("/oauth/access_token?grant_type=client_credentials&client_id="+w.a["app_id"]+"&client_secret="+w.a["app_secret"], "")
		}}},
		"GET " + node + "/message_templates": {{prep: func(w *permWorld) request {
			template(w)
			template(w)
			return jsonReq(waba(w)+"/message_templates?limit=1&fields=name", "") // paging links keep the caller's path
		}}},
		"POST " + node + "/message_templates": {{fresh: true, prep: func(w *permWorld) request {
			return jsonReq(waba(w)+"/message_templates", fmt.Sprintf(`{"name":"new_%d","language":"en","category":"UTILITY","components":[{"type":"BODY","text":"x"}]}`, w.next()))
		}}},
		"DELETE " + node + "/message_templates": {{fresh: true, prep: func(w *permWorld) request {
			name := fmt.Sprintf("gone_%d", w.next())
			w.createTemplate(w.a["access_token"], w.a["waba_id"], name, "en", "Hi")
			return jsonReq(waba(w)+"/message_templates?name="+name, "")
		}}},
	}
}

// volatile matches what legitimately differs between two equal calls:
// fresh Graph ids and wamids, a media URL's expiry and signature, trace
// ids, and cursors over fresh names.
var volatile = regexp.MustCompile(`wamid\.[A-Za-z0-9+/=_-]+|[0-9]{12,}|exp=[0-9]+(&|\\u0026)sig=[0-9a-f]+|"fbtrace_id":"[^"]*"|upload:[A-Za-z0-9_-]+\?sig=[0-9a-f]+|4::[A-Za-z0-9+/=]+:[0-9]+:[0-9a-f]+`)

// TestUnversionedPaths: every Cloud API route answers a call without the
// /vNN.N prefix exactly as the same call with it (status and body, but for
// fresh ids; paging links keep the path form the caller used). The media
// download URL and the QR image URL are not Graph paths: waedge hands
// them out whole.
func TestUnversionedPaths(t *testing.T) {
	w := newPermWorld(t)
	cases := versionCases()
	seen := map[string]bool{}
	for _, r := range w.app.GetRoutes(true) {
		key := r.Method + " " + r.Path
		if r.Method == "HEAD" || strings.HasPrefix(r.Path, "/admin/") || r.Path == "/healthz" || r.Path == "/readyz" || r.Path == "/openapi.json" ||
			strings.HasPrefix(r.Path, "/v1/media/download/") || strings.HasPrefix(r.Path, "/v1/qr/") ||
			strings.HasPrefix(r.Path, "/v1/profile_picture/") {
			continue
		}
		calls, ok := cases[key]
		if !ok {
			t.Errorf("route %s has no unversioned-path case", key)
			continue
		}
		seen[key] = true
		for i, vc := range calls {
			for _, version := range []string{"/v21.0", "/v25.0"} {
				vr := vc.prep(w)
				vcode, vbody := w.send(r.Method, version+vr.path, w.a["access_token"], &vr)
				ur := vr
				if vc.fresh || vr.body != nil {
					ur = vc.prep(w)
				}
				ucode, ubody := w.send(r.Method, ur.path, w.a["access_token"], &ur)
				norm := func(b []byte) string {
					return volatile.ReplaceAllString(strings.ReplaceAll(string(b), version+"/", "/"), "X")
				}
				if vcode != ucode || norm(vbody) != norm(ubody) {
					t.Errorf("%s #%d: %s%s answers %d %s\nbut %s answers %d %s", key, i, version, vr.path, vcode, vbody, ur.path, ucode, ubody)
				}
			}
		}
	}
	for key := range cases {
		if !seen[key] {
			t.Errorf("case %s matches no registered route", key)
		}
	}
}
