package web_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/waedge/waedge/raftfsm"
)

// TestMarketingCap: with a business's cap of 2 marketing templates per
// consumer per hour, the third to one consumer is accepted with a wamid,
// stored failed and reported by one failed status webhook with 131049;
// a utility template and another consumer are not limited, and another
// business's sends to the same consumer neither count nor are counted.
// Limit 0 turns the cap off for the business, default restores the
// node's default (off here). Bad policies are refused and change nothing.
func TestMarketingCap(t *testing.T) {
	h := newHarness(t)
	a := statsTenant(t, h, "+15550151000")
	b := statsTenant(t, h, "+15550152000")
	capOf := func(x map[string]string) string { return "/admin/v1/businesses/" + x["business_id"] + "/marketing-cap" }
	set := func(x map[string]string, body string) string {
		t.Helper()
		code, out := h.do("POST", capOf(x), "admin-tok", body)
		if code != 200 {
			t.Fatalf("set %s: %d %s", body, code, out)
		}
		return string(out)
	}
	if code, out := h.do("GET", capOf(a), "admin-tok", ""); code != 200 || !strings.Contains(string(out), `"policy":"off"`) ||
		!strings.Contains(string(out), `"source":"default"`) {
		t.Fatalf("before: %d %s", code, out)
	}
	for _, bad := range []string{`{}`, `{"limit":2}`, `{"limit":2,"window":"1s"}`, `{"limit":2,"window":"721h"}`, `{"limit":-1,"window":"1h"}`,
		`{"limit":1001,"window":"1h"}`, `{"default":true,"limit":1}`} {
		if code, out := h.do("POST", capOf(a), "admin-tok", bad); code != 400 {
			t.Fatalf("bad policy %s: %d %s", bad, code, out)
		}
	}
	if code, out := h.do("POST", "/admin/v1/businesses/999999/marketing-cap", "admin-tok", `{"limit":1,"window":"1h"}`); code != 400 || graphCode(out) != 100 {
		t.Fatalf("unknown business: %d %s", code, out)
	}
	if out := set(a, `{"limit":2,"window":"1h"}`); !strings.Contains(out, `"limit":2`) || !strings.Contains(out, `"window_seconds":3600`) ||
		!strings.Contains(out, `"source":"business"`) {
		t.Fatalf("set: %s", out)
	}
	set(b, `{"limit":1,"window":"1h"}`)
	h.subscribeEcho(t, a["access_token"], a["waba_id"])

	const consumer, other = "15551510001", "15551510002"
	accepted := func(what string, x map[string]string, to string) {
		t.Helper()
		code, id := h.sendTemplate(x, to)
		if code != 200 {
			t.Fatalf("%s: %d %s", what, code, id)
		}
		if m, err := h.c.FSM().MessageByID(id); err != nil || m.Status != raftfsm.StatusAccepted {
			t.Fatalf("%s: stored %+v, %v; want accepted", what, m, err)
		}
	}
	accepted("first marketing template", a, consumer)
	accepted("second marketing template", a, consumer)
	accepted("another business, first to the same consumer", b, consumer)

	evs, _ := h.c.FSM().Outbox(0)
	code, id := h.sendTemplate(a, consumer)
	if code != 200 {
		t.Fatalf("third marketing template: %d %s, want 200 with a wamid", code, id)
	}
	if m, err := h.c.FSM().MessageByID(id); err != nil || m.Status != raftfsm.StatusFailed {
		t.Fatalf("third marketing template: stored %+v, %v; want failed", m, err)
	}
	var n struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Statuses []struct {
						ID     string
						Status string
						Errors []struct {
							Code  int
							Title string
						}
					}
				}
			}
		}
	}
	if err := json.Unmarshal(h.onlyNewEvent(t, a["waba_id"], len(evs)), &n); err != nil || len(n.Entry) != 1 || len(n.Entry[0].Changes) != 1 {
		t.Fatalf("webhook %+v, %v", n, err)
	}
	st := n.Entry[0].Changes[0].Value.Statuses
	if len(st) != 1 || st[0].ID != id || st[0].Status != "failed" || len(st[0].Errors) != 1 || st[0].Errors[0].Code != 131049 ||
		!strings.Contains(st[0].Errors[0].Title, "healthy ecosystem engagement") {
		t.Fatalf("webhook statuses %+v, want one failed with 131049", st)
	}
	accepted("marketing template to another consumer", a, other)
	if code, out := h.do("POST", "/v21.0/"+a["phone_number_id"]+"/messages", a["access_token"],
		`{"messaging_product":"whatsapp","to":"`+consumer+`","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`); code != 200 {
		t.Fatalf("utility template: %d %s", code, out)
	} else if m, err := h.c.FSM().MessageByID(wamidOf(t, out)); err != nil || m.Status != raftfsm.StatusAccepted {
		t.Fatalf("utility template: stored %+v, %v", m, err)
	}

	set(a, `{"limit":0}`)
	accepted("with the cap off for the business", a, consumer)
	if out := set(a, `{"default":true}`); !strings.Contains(out, `"source":"default"`) || !strings.Contains(out, `"policy":"off"`) {
		t.Fatalf("default: %s", out)
	}
	accepted("with the default (off)", a, consumer)
}

// wamidOf is the message id of a send's answer.
func wamidOf(t *testing.T, out []byte) string {
	t.Helper()
	var r struct{ Messages []struct{ ID string } }
	if err := json.Unmarshal(out, &r); err != nil || len(r.Messages) != 1 {
		t.Fatalf("send answer %s: %v", out, err)
	}
	return r.Messages[0].ID
}
