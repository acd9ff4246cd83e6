package raftfsm

import (
	"errors"
	"slices"
	"testing"
)

// TestTemplateReview: CmdSubmitTemplate applies the WABA's review policy
// as of its place in the log (approve by default, manual PENDING, reject)
// and queues only the matching pre-sealed event; failing commands change
// nothing; the same log applied as one entry gives the same state.
func TestTemplateReview(t *testing.T) {
	tpl := func(id, name string) Template {
		return Template{ID: id, WABAID: "2001", BusinessID: "1001", Name: name, Language: "en", Category: "UTILITY", CreatedAt: 5}
	}
	event := func(n byte) *OutboxEvent {
		key := make([]byte, 16)
		key[15] = n
		return &OutboxEvent{Key: key, Body: []byte{n}, CreatedAt: 5}
	}
	submit := func(id, name string, n byte) []byte {
		return cmd(t, CmdSubmitTemplate, SubmitTemplate{Template: tpl(id, name), Approved: event(n), Rejected: event(n + 100)})
	}
	policy := func(waba, p string) []byte {
		return cmd(t, CmdSetTemplateReview, SetTemplateReview{WABAID: waba, Policy: p})
	}
	log := [][]byte{
		tenantCmd(t, 1, "+15551234567"),
		cmd(t, CmdSetSubscription, SetSubscription{WABAID: "2001", BusinessID: "1001", AppID: "4001", CallbackURL: "https://x/h", At: 1}),
		submit("71", "a", 1),
		policy("2001", ReviewManual),
		submit("72", "b", 2),
		policy("2001", ReviewReject),
		submit("73", "c", 3),
		policy("2001", ReviewApprove),
		submit("74", "d", 4),
	}
	a := &applier{t: t, f: openFSM(t)}
	var statuses []string
	for _, c := range log {
		r := a.apply(c)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if r.Value != nil {
			statuses = append(statuses, string(r.Value))
		}
	}
	if want := []string{"APPROVED", "PENDING", "REJECTED", "APPROVED"}; !slices.Equal(statuses, want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	for id, want := range map[string]string{"71": "APPROVED", "72": "PENDING", "73": "REJECTED", "74": "APPROVED"} {
		if got, err := a.f.TemplateByID(id); err != nil || got.Status != want {
			t.Fatalf("template %s: %+v %v", id, got, err)
		}
	}
	evs, _ := a.f.Outbox(0)
	var bodies []byte
	for _, ev := range evs {
		bodies = append(bodies, ev.Body...)
	}
	if string(bodies) != string([]byte{1, 4, 103}) { // key order
		t.Fatalf("queued events %v, want approved of 1 and 4, rejected of 3", bodies)
	}

	// Failing commands leave the state as it was.
	before := stateOf(t, a.f)
	for _, tc := range []struct {
		cmd  []byte
		want error
	}{
		{policy("2001", "auto"), ErrInvalid},
		{policy("2001", ""), ErrInvalid},
		{policy("2999", ReviewManual), ErrNotFound},
		{submit("75", "a", 5), ErrConflict},                                             // name and language taken
		{submit("71", "e", 5), ErrConflict},                                             // id taken
		{cmd(t, CmdSubmitTemplate, SubmitTemplate{Template: tpl("", "f")}), ErrInvalid}, // no id
		{cmd(t, CmdSubmitTemplate, SubmitTemplate{Template: Template{ID: "76", WABAID: "2001", BusinessID: "1999", Name: "g", Language: "en"}}), ErrNotFound},
	} {
		if r := a.apply(tc.cmd); !errors.Is(r.Err, tc.want) {
			t.Fatalf("%v, want %v", r.Err, tc.want)
		}
	}
	if stateOf(t, a.f) != before {
		t.Fatal("a failing command changed the state")
	}

	// Deterministic: the whole log in one entry gives the same state.
	b := openFSM(t)
	b.Apply(entry(1, log...))
	c := &applier{t: t, f: openFSM(t)}
	for _, l := range log {
		c.mustApply(l)
	}
	if stateOf(t, b) != stateOf(t, c.f) {
		t.Fatal("one entry and one command per entry differ")
	}
}
