package raftfsm

import (
	"errors"
	"fmt"
	"testing"
)

// TestExpireRangeDeletesExactlyThePast: expiry deletes the front of each
// number's key range, and exactly the messages created before that
// number's cut-off (now − its retention): one millisecond before goes, the
// cut-off itself stays. Phone "300" is a key prefix of "3001" and "3002",
// so a range that overran its number would show.
func TestExpireRangeDeletesExactlyThePast(t *testing.T) {
	a := &applier{t: t, f: openFSM(t)}
	a.mustApply(tenantCmd(t, 1, "+15551111111"))
	a.mustApply(tenantCmd(t, 2, "+15552222222"))
	p := tenantPayload(3, "+15553333333")
	p.PhoneNumberID = "300"
	a.mustApply(cmd(t, CmdCreateTenant, p))
	a.mustApply(cmd(t, CmdSetRetention, SetRetention{PhoneNumberID: "3002", Hours: 1}))
	a.mustApply(cmd(t, CmdSetRetention, SetRetention{PhoneNumberID: "300", Hours: 48}))
	now := t0
	cutoff := map[string]int64{"3001": now - 30*dayMs, "3002": now - hourMs, "300": now - 2*dayMs}
	type msg struct {
		id   string
		gone bool
	}
	var msgs []msg
	for _, phone := range []string{"3001", "3002", "300"} {
		for _, d := range []int64{-5 * dayMs, -2, -1, 0, 1, 3 * hourMs} {
			at := cutoff[phone] + d
			if at > now {
				continue
			}
			msgs = append(msgs, msg{a.inbound(phone, fmt.Sprint("c", d), at), d < 0})
		}
	}
	kept := 0
	for _, m := range msgs {
		if !m.gone {
			kept++
		}
	}
	// A small budget: the deletion resumes where it stopped.
	for r := a.expire(now, 3); r.More; r = a.expire(now, 3) {
	}
	for _, m := range msgs {
		_, err := a.f.MessageByID(m.id)
		switch {
		case m.gone && !errors.Is(err, ErrNotFound):
			t.Errorf("%s is past retention but survived: %v", m.id, err)
		case !m.gone && err != nil:
			t.Errorf("%s is within retention but was deleted: %v", m.id, err)
		}
	}
	if n := a.f.MessageCount(); n != kept {
		t.Fatalf("%d messages left, want %d", n, kept)
	}
	if n := bucketLen(t, a.f, bucketMessageIDs); n != kept {
		t.Fatalf("%d wamid references left, want %d", n, kept)
	}
}
