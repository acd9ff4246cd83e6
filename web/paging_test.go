package web_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/waedge/waedge/cloudapi"
)

// graphPage is a Graph list answer, items kept as raw key sets.
type graphPage struct {
	Data   []map[string]any `json:"data"`
	Paging *struct {
		Cursors  struct{ Before, After string }
		Next     string
		Previous string
	} `json:"paging"`
}

func (h *harness) page(url, token string) graphPage {
	h.t.Helper()
	code, out := h.do("GET", url, token, "")
	var p graphPage
	if code != 200 || json.Unmarshal(out, &p) != nil || p.Data == nil {
		h.t.Fatalf("GET %s: %d %s", url, code, out)
	}
	return p
}

func names(p graphPage) []string {
	var out []string
	for _, d := range p.Data {
		out = append(out, d["name"].(string))
	}
	return out
}

// TestTemplateListPaging walks a filtered, field-selected template list
// forwards through next and backwards through previous: the links keep
// the filters, fields and version of the request, before cursors work,
// and fields selects what each item holds.
func TestTemplateListPaging(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550015000")
	tok := a["access_token"]
	want := []string{"hello_world", "t_a", "t_b", "t_c", "t_d", "t_e"} // hello_world: every WABA has it
	for _, n := range []string{"t_c", "t_a", "t_e", "t_b", "t_d"} {
		h.createTemplate(tok, a["waba_id"], n, "en_US", "Hi")
		h.createTemplate(tok, a["waba_id"], n, "pt_BR", "Oi") // filtered out below
	}
	base := "/v21.0/" + a["waba_id"] + "/message_templates"

	var seen []string
	var pages []graphPage
	for next := base + "?language=en_US&fields=name,status&limit=2"; next != ""; {
		if len(pages) > len(want) {
			t.Fatal("next links never end")
		}
		p := h.page(next, tok)
		pages = append(pages, p)
		seen = append(seen, names(p)...)
		for _, d := range p.Data {
			if len(d) != 3 || d["id"] == nil || d["status"] != "APPROVED" {
				t.Fatalf("fields=name,status item %v", d)
			}
		}
		next = ""
		if p.Paging.Next != "" {
			u, err := url.Parse(p.Paging.Next)
			if err != nil || u.Path != base || u.Query().Get("language") != "en_US" || u.Query().Get("fields") != "name,status" ||
				u.Query().Get("limit") != "2" || u.Query().Get("after") != p.Paging.Cursors.After {
				t.Fatalf("next link %q", p.Paging.Next)
			}
			next = p.Paging.Next
		}
	}
	if !slices.Equal(seen, want) || len(pages) != 3 {
		t.Fatalf("forward walk %v in %d pages", seen, len(pages))
	}
	if pages[0].Paging.Previous != "" {
		t.Fatalf("first page has a previous link %q", pages[0].Paging.Previous)
	}
	// Backwards from the last page.
	seen = nil
	for p := pages[2]; p.Paging.Previous != ""; {
		if u, _ := url.Parse(p.Paging.Previous); u.Query().Get("language") != "en_US" || u.Query().Get("after") != "" {
			t.Fatalf("previous link %q", p.Paging.Previous)
		}
		p = h.page(p.Paging.Previous, tok)
		seen = append(names(p), seen...)
	}
	if !slices.Equal(seen, want[:4]) {
		t.Fatalf("backward walk %v", seen)
	}
	// A before cursor by hand: the page before the last one's first item.
	p := h.page(base+"?language=en_US&limit=2&before="+pages[2].Paging.Cursors.Before, tok)
	if !slices.Equal(names(p), []string{"t_b", "t_c"}) {
		t.Fatalf("before cursor: %v", names(p))
	}
	// Without fields every field is there; a field waedge lacks is left out.
	if p := h.page(base+"?limit=1", tok); len(p.Data) != 1 || p.Data[0]["components"] == nil || p.Data[0]["language"] != "en_US" {
		t.Fatalf("default fields %v", p.Data)
	}
	if p := h.page(base+"?limit=1&fields=name,sub_category", tok); len(p.Data[0]) != 2 {
		t.Fatalf("unknown field %v", p.Data)
	}
	for _, bad := range []string{"limit=0", "limit=1001", "limit=x", "after=***", "before=***",
		"after=" + cloudapi.EncodeCursor("a") + "&before=" + cloudapi.EncodeCursor("b"), "fields=name(", "fields=na-me"} {
		code, out := h.do("GET", base+"?"+bad, tok, "")
		if code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
			t.Fatalf("%s: %d %s", bad, code, out)
		}
	}
}

// TestPhoneNumberListPaging: GET /{waba-id}/phone_numbers pages by
// cursor and selects fields.
func TestPhoneNumberListPaging(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550016000")
	tok, pn := a["access_token"], a["phone_number_id"]
	base := "/v21.0/" + a["waba_id"] + "/phone_numbers"
	p := h.page(base+"?limit=1", tok)
	if len(p.Data) != 1 || p.Data[0]["id"] != pn || p.Paging == nil || p.Paging.Next != "" || p.Paging.Previous != "" ||
		p.Paging.Cursors.Before != cloudapi.EncodeCursor(pn) || p.Paging.Cursors.After != cloudapi.EncodeCursor(pn) {
		t.Fatalf("page: %+v", p)
	}
	for _, q := range []string{"after=" + p.Paging.Cursors.After, "before=" + p.Paging.Cursors.Before} {
		if p := h.page(base+"?"+q, tok); len(p.Data) != 0 || p.Paging != nil {
			t.Fatalf("%s: %+v", q, p)
		}
	}
	code, out := h.do("GET", base+"?fields=status,is_pin_enabled", tok, "")
	if code != 200 || !strings.HasPrefix(string(out), `{"data":[{"id":"`+pn+`","is_pin_enabled":false,"status":"CONNECTED"}]`) {
		t.Fatalf("fields: %d %s", code, out)
	}
	for _, bad := range []string{"limit=0", "after=***", "fields=a{b]"} {
		code, out := h.do("GET", base+"?"+bad, tok, "")
		if code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
			t.Fatalf("%s: %d %s", bad, code, out)
		}
	}
}
