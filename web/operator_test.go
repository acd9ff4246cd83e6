package web_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOperatorSeesNoContent: a business has a conversation with a unique
// consumer number and messages carrying a unique marker (text and
// template parameter); then every route the operator may call — taken
// from the app's own route table and the permission matrix, so a new
// operator route is covered without editing this test — answers the
// operator without the marker, the consumer's number, or the wamid that
// embeds the number.
func TestOperatorSeesNoContent(t *testing.T) {
	w := newPermWorld(t)
	const consumer = "15557770123"
	marker := fmt.Sprintf("MARKER-%d", time.Now().UnixNano())
	pn := w.a["phone_number_id"]
	w.openWindow(pn, consumer, time.Now().Add(-time.Minute))
	w.createTemplate(w.a["access_token"], w.a["waba_id"], "note", "en", "Note: {{1}}")
	var wamids []string
	for _, body := range []string{
		`"type":"text","text":{"body":"` + marker + ` text"}`,
		`"type":"template","template":{"name":"note","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"` + marker + ` param"}]}]}`,
	} {
		code, out := w.do("POST", "/v21.0/"+pn+"/messages", w.a["access_token"], `{"messaging_product":"whatsapp","to":"`+consumer+`",`+body+`}`)
		if code != 200 {
			t.Fatalf("send: %d %s", code, out)
		}
		i := strings.Index(string(out), "wamid.")
		wamids = append(wamids, string(out[i:strings.IndexByte(string(out[i:]), '"')+i]))
	}
	secrets := append([]string{marker, consumer}, wamids...)
	expect := permRoutes()
	checked := 0
	for _, r := range w.app.GetRoutes(true) {
		if r.Method == "HEAD" {
			continue
		}
		exp, ok := expect[r.Method+" "+r.Path]
		if !ok || !slices.Contains(exp.allow, pOperator) {
			continue
		}
		req := exp.prep(w)
		code, body := w.send(r.Method, req.path, w.tokens[pOperator], &req)
		if code != 200 {
			t.Fatalf("%s %s as operator: %d %s", r.Method, req.path, code, body)
		}
		for _, s := range secrets {
			if strings.Contains(string(body), s) {
				t.Errorf("%s %s shows the operator %q", r.Method, req.path, s)
			}
		}
		checked++
	}
	if checked < 8 {
		t.Fatalf("only %d operator routes checked", checked)
	}
	// Sanity: the same business's admin does see the conversation in a
	// consumer export, so the secrets are really stored and findable.
	code, body := w.send("GET", "/admin/v1/businesses/"+w.a["business_id"]+"/consumers/export?wa_id="+consumer, w.tokens[pBAdminA], nil)
	if code != 200 || !strings.Contains(string(body), marker) {
		t.Fatalf("the business admin's export lacks the marker: %d %s", code, body)
	}
}
