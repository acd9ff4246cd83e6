package raftfsm

import (
	"errors"
	"testing"
	"time"
)

func TestAuditAppendAndPage(t *testing.T) {
	f := openFSM(t)
	key := func(at int64, n byte) []byte {
		k := make([]byte, AuditKeyLen)
		copy(k, be64(at))
		k[15] = n
		return k
	}
	rec := AuditRecord{At: 1, ActorID: "admin-1", ActorKind: TokenAdmin, Action: "tenant.create",
		Targets: []AuditTarget{{Kind: "business", ID: "123"}}, Outcome: "ok", Status: 200}
	// Appended out of time order: the log still reads in key (time) order.
	var idx uint64
	apply := func(c []byte) error {
		idx++
		return f.Apply(entry(idx, c)).([]Result)[0].Err
	}
	for _, at := range []int64{30, 10, 20} {
		r := rec
		r.At = at
		if err := apply(cmd(t, CmdAudit, AppendAudit{Key: key(at, 1), Record: r})); err != nil {
			t.Fatal(err)
		}
	}
	before := stateOf(t, f)
	for _, tc := range []struct {
		p    AppendAudit
		want error
	}{
		{AppendAudit{Key: []byte("short"), Record: rec}, ErrInvalid},
		{AppendAudit{Key: key(40, 1), Record: AuditRecord{ActorID: "x"}}, ErrInvalid},
		{AppendAudit{Key: key(10, 1), Record: rec}, ErrConflict},
	} {
		if err := apply(cmd(t, CmdAudit, tc.p)); !errors.Is(err, tc.want) {
			t.Fatalf("%+v: %v, want %v", tc.p, err, tc.want)
		}
	}
	if stateOf(t, f) != before {
		t.Fatal("a refused audit record changed the state")
	}
	page, err := f.AuditLog(nil, 2)
	if err != nil || len(page) != 2 || page[0].Record.At != 10 || page[1].Record.At != 20 {
		t.Fatalf("first page: %+v %v", page, err)
	}
	if page[0].Record.Targets[0] != (AuditTarget{Kind: "business", ID: "123"}) {
		t.Fatalf("targets: %+v", page[0].Record.Targets)
	}
	rest, err := f.AuditLog(page[1].Key, 2)
	if err != nil || len(rest) != 1 || rest[0].Record.At != 30 {
		t.Fatalf("second page: %+v %v", rest, err)
	}
	if end, _ := f.AuditLog(rest[0].Key, 2); len(end) != 0 {
		t.Fatalf("past the end: %+v", end)
	}
}

// TestAuditRecordsExpireAfterAYear: expiry deletes audit records older
// than AuditRetention and keeps the rest.
func TestAuditRecordsExpireAfterAYear(t *testing.T) {
	a := &applier{t: t, f: openFSM(t)}
	day := int64(24 * time.Hour)
	now := int64(400) * day // ns
	for i, at := range []int64{now - 366*day, now - 364*day, now - day} {
		k := make([]byte, AuditKeyLen)
		copy(k, be64(at))
		k[15] = byte(i)
		a.mustApply(cmd(t, CmdAudit, AppendAudit{Key: k, Record: AuditRecord{At: at / int64(time.Millisecond),
			ActorID: "admin-1", ActorKind: TokenAdmin, Action: "tenant.create", Outcome: "ok", Status: 200}}))
	}
	a.mustApply(cmd(t, CmdExpire, Expire{Now: now / int64(time.Millisecond)}))
	log, err := a.f.AuditLog(nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 {
		t.Fatalf("%d audit records left, want the 2 younger than a year", len(log))
	}
}
