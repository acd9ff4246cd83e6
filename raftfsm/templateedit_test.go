package raftfsm

import (
	"errors"
	"testing"
)

// TestEditTemplateLimits: an approved template may be edited once in 24
// hours and 10 times in 30 days; rejected and paused ones without limit;
// pending and disabled ones not at all. An edit is reviewed again and a
// refused one changes nothing.
func TestEditTemplateLimits(t *testing.T) {
	a := &applier{t: t, f: openFSM(t)}
	a.mustApply(tenantCmd(t, 1, "+15551234567"))
	const t0, day = int64(1_767_225_600_000), int64(editWindowDay)
	a.mustApply(cmd(t, CmdSubmitTemplate, SubmitTemplate{Template: Template{ID: "77", WABAID: "2001", BusinessID: "1001",
		Name: "promo", Language: "en", Category: "MARKETING", Components: []byte(`[]`), CreatedAt: t0}}))
	edit := func(at int64, text string) error {
		return a.apply(cmd(t, CmdEditTemplate, EditTemplate{ID: "77", BusinessID: "1001", Category: "MARKETING",
			Components: []byte(text), At: at})).Err
	}
	if err := edit(t0+1, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := edit(t0+day-1, "too soon"); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("second edit within 24 h: %v", err)
	}
	for i := int64(1); i < maxEditsMonth; i++ {
		if err := edit(t0+1+i*day, "daily"); err != nil {
			t.Fatalf("edit %d: %v", i+1, err)
		}
	}
	if err := edit(t0+1+maxEditsMonth*day, "eleventh"); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("11th edit in 30 days: %v", err)
	}
	if err := edit(t0+1+30*day, "a month later"); err != nil {
		t.Fatalf("after the first edit left the 30 days: %v", err)
	}
	tpl, _ := a.f.TemplateByID("77")
	if string(tpl.Components) != "a month later" || tpl.Status != "APPROVED" || len(tpl.EditLog) != maxEditsMonth {
		t.Fatalf("after edits: %q %s %d edits logged", tpl.Components, tpl.Status, len(tpl.EditLog))
	}
	// Paused: edits without limit (and approval again).
	a.mustApply(cmd(t, CmdSetTemplateStatus, SetTemplateStatus{ID: "77", Status: "PAUSED", At: t0 + 31*day}))
	if err := edit(t0+31*day, "unpaused"); err != nil {
		t.Fatalf("edit of a paused template: %v", err)
	}
	for i := range int64(3) {
		a.mustApply(cmd(t, CmdSetTemplateStatus, SetTemplateStatus{ID: "77", Status: "REJECTED", At: t0 + 31*day + i}))
		if err := edit(t0+31*day+i, "fixed"); err != nil {
			t.Fatalf("edit of a rejected template: %v", err)
		}
	}
	a.mustApply(cmd(t, CmdSetTemplateStatus, SetTemplateStatus{ID: "77", Status: "DISABLED", At: t0 + 32*day}))
	if err := edit(t0+40*day, "nope"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("edit of a disabled template: %v", err)
	}
	if tpl, _ := a.f.TemplateByID("77"); string(tpl.Components) != "fixed" || tpl.Status != "DISABLED" {
		t.Fatalf("a refused edit changed the template: %q %s", tpl.Components, tpl.Status)
	}
}
