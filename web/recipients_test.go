package web_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/waedge/waedge/raftfsm"
)

// graphCode is the error code of a Graph error answer (0 if none).
func graphCode(out []byte) int {
	var r struct{ Error struct{ Code int } }
	_ = json.Unmarshal(out, &r)
	return r.Error.Code
}

// TestRecipientRefusals: a send to a user on the number's block list
// answers 131026 until the user is unblocked, and the refusal leaves the
// state machine byte-identical (invariant 9). A marketing template to a
// user who stopped marketing messages (a utility one goes through) and a
// business-initiated template of a number whose quality is RED (a reply
// inside the window still goes) are accepted with a wamid, stored as
// failed and reported by one failed status webhook carrying 131050 and
// 131048, as Meta reports them.
func TestRecipientRefusals(t *testing.T) {
	h := newHarness(t)
	a := statsTenant(t, h, "+15550141000")
	pn, tok := a["phone_number_id"], a["access_token"]
	msgs := "/v21.0/" + pn + "/messages"
	text := func(to string) (int, []byte) {
		return h.do("POST", msgs, tok, `{"messaging_product":"whatsapp","to":"`+to+`","type":"text","text":{"body":"hi"}}`)
	}
	refused := func(what string, want int, send func() (int, []byte)) {
		t.Helper()
		before, _ := fullState(t, h)
		code, out := send()
		if code != 400 || graphCode(out) != want {
			t.Fatalf("%s: %d %s, want 400 with %d", what, code, out, want)
		}
		if after, _ := fullState(t, h); after != before {
			t.Fatalf("%s: the refusal changed the state", what)
		}
	}
	const blocked = "15551410001"
	h.openWindow(pn, blocked, time.Now())
	if code, out := text(blocked); code != 200 {
		t.Fatalf("before the block: %d %s", code, out)
	}
	waba := a["waba_id"]
	h.subscribeEcho(t, tok, waba)
	failedLater := func(what string, want int, to string) {
		t.Helper()
		evs, _ := h.c.FSM().Outbox(0)
		code, id := h.sendTemplate(a, to)
		if code != 200 {
			t.Fatalf("%s: %d %s, want 200 with a wamid", what, code, id)
		}
		if m, err := h.c.FSM().MessageByID(id); err != nil || m.Status != raftfsm.StatusFailed {
			t.Fatalf("%s: stored %+v, %v; want failed", what, m, err)
		}
		var n struct {
			Entry []struct {
				Changes []struct {
					Field string
					Value struct {
						Statuses []struct {
							Status      string
							RecipientID string `json:"recipient_id"`
							Errors      []struct{ Code int }
						}
					}
				}
			}
		}
		if err := json.Unmarshal(h.onlyNewEvent(t, waba, len(evs)), &n); err != nil || len(n.Entry) != 1 || len(n.Entry[0].Changes) != 1 {
			t.Fatalf("%s: webhook %+v, %v", what, n, err)
		}
		ch := n.Entry[0].Changes[0]
		if ch.Field != "messages" || len(ch.Value.Statuses) != 1 || ch.Value.Statuses[0].Status != "failed" || ch.Value.Statuses[0].RecipientID != to ||
			len(ch.Value.Statuses[0].Errors) != 1 || ch.Value.Statuses[0].Errors[0].Code != want {
			t.Fatalf("%s: webhook %+v, want one failed status with %d", what, ch, want)
		}
	}
	block := `{"messaging_product":"whatsapp","block_users":[{"user":"+` + blocked + `"}]}`
	if code, out := h.do("POST", "/v21.0/"+pn+"/block_users", tok, block); code != 200 {
		t.Fatalf("block: %d %s", code, out)
	}
	refused("text to a blocked user", 131026, func() (int, []byte) { return text(blocked) })
	refused("template to a blocked user", 131026, func() (int, []byte) {
		code, id := h.sendTemplate(a, blocked)
		return code, []byte(id)
	})
	if code, out := h.do("DELETE", "/v21.0/"+pn+"/block_users", tok, block); code != 200 {
		t.Fatalf("unblock: %d %s", code, out)
	}
	if code, out := text(blocked); code != 200 {
		t.Fatalf("after the unblock: %d %s", code, out)
	}

	// Marketing preference: the user stops marketing messages.
	const stopped = "15551410002"
	ref := h.sealer.ConsumerRef(pn, stopped)
	pref := func(stop bool) {
		t.Helper()
		h.c.proposeAll(t, [][]byte{mustCmd(t, raftfsm.CmdSetUserPreference, raftfsm.SetUserPreference{
			PhoneNumberID: pn, PeerRef: ref, Stop: stop, At: time.Now().UnixMilli()})})
	}
	pref(true)
	failedLater("marketing to a user who stopped it", 131050, stopped)
	if code, out := h.do("POST", msgs, tok, `{"messaging_product":"whatsapp","to":"`+stopped+`","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`); code != 200 {
		t.Fatalf("utility template to a user who stopped marketing: %d %s", code, out)
	}
	pref(false)
	if code, id := h.sendTemplate(a, stopped); code != 200 {
		t.Fatalf("marketing after resume: %d %s", code, id)
	}

	// Quality RED: business-initiated sends stop, replies go on.
	const replied = "15551410003"
	h.openWindow(pn, replied, time.Now())
	cmd := mustCmd(t, raftfsm.CmdRecordIntegrity, raftfsm.RecordIntegrity{PhoneNumberID: pn, Kind: raftfsm.SignalSpamReport,
		Count: 10, At: time.Now().UnixMilli()})
	if r, err := h.c.Propose(context.Background(), cmd); err != nil || r.Err != nil {
		t.Fatalf("integrity: %v %v", err, r.Err)
	}
	if p, _ := h.c.FSM().Phone(pn); raftfsm.QualityOf(p) != raftfsm.QualityRed {
		t.Fatalf("quality %q, want RED", raftfsm.QualityOf(p))
	}
	failedLater("business-initiated template of a RED number", 131048, "15551410004")
	if code, id := h.sendTemplate(a, replied); code != 200 {
		t.Fatalf("template inside the window of a RED number: %d %s", code, id)
	}
	if code, out := text(replied); code != 200 {
		t.Fatalf("reply of a RED number: %d %s", code, out)
	}
}
