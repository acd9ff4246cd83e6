package raftfsm

import (
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"
)

const mediaT0 = int64(1700000000000)

// mediaFixture has two tenants: 1 (phone 3001, business 1001) and 2.
func mediaFixture(t *testing.T) *applier {
	t.Helper()
	a := &applier{t: t, f: openFSM(t)}
	a.mustApply(tenantCmd(t, 1, "+15550000001"))
	a.mustApply(tenantCmd(t, 2, "+15550000002"))
	return a
}

func chunkCmd(t *testing.T, id string, i uint32, at int64) []byte {
	return cmd(t, CmdPutMediaChunk, PutMediaChunk{ID: id, PhoneNumberID: "3001", BusinessID: "1001",
		Index: i, Sealed: []byte{byte(i), 1, 2, 3}, CreatedAt: at})
}

func commitCmd(t *testing.T, id string, chunks uint32, size int64) []byte {
	return cmd(t, CmdCommitMedia, CommitMedia{ID: id, PhoneNumberID: "3001", BusinessID: "1001",
		MIME: "image/png", Size: size, Chunks: chunks, SHA256: [32]byte{9}, At: mediaT0})
}

// upload stores and commits a media of n chunks created at at.
func (a *applier) upload(id string, n uint32, at int64) {
	a.t.Helper()
	t := a.t.(*testing.T)
	for i := uint32(0); i < n; i++ {
		a.mustApply(chunkCmd(t, id, i, at))
	}
	a.mustApply(commitCmd(t, id, n, int64(n-1)*MediaChunkSize+1))
}

func TestMediaLifecycle(t *testing.T) {
	a := mediaFixture(t)
	a.mustApply(chunkCmd(t, "111", 0, mediaT0))
	a.mustApply(chunkCmd(t, "111", 1, mediaT0))
	// Uploads in progress are invisible.
	if _, err := a.f.Media("111"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("uncommitted media visible: %v", err)
	}
	if _, err := a.f.MediaChunk("111", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("uncommitted chunk visible: %v", err)
	}
	a.mustApply(commitCmd(t, "111", 2, MediaChunkSize+10))
	m, err := a.f.Media("111")
	if err != nil || m.Size != MediaChunkSize+10 || m.Chunks != 2 || m.MIME != "image/png" || m.BusinessID != "1001" || m.CreatedAt != mediaT0 {
		t.Fatalf("media: %+v %v", m, err)
	}
	if c, err := a.f.MediaChunk("111", 1); err != nil || c[0] != 1 {
		t.Fatalf("chunk 1: %v %v", c, err)
	}
	if _, err := a.f.MediaChunk("111", 2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("chunk past the end: %v", err)
	}
	if m.Expired(mediaT0+MediaRetentionMs-1) || !m.Expired(mediaT0+MediaRetentionMs) {
		t.Fatal("30-day retention boundary")
	}
	// Another business cannot delete it; its phone filter must match.
	if r := a.apply(cmd(t, CmdDeleteMedia, DeleteMedia{ID: "111", BusinessID: "1002"})); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("foreign delete: %v", r.Err)
	}
	if r := a.apply(cmd(t, CmdDeleteMedia, DeleteMedia{ID: "111", BusinessID: "1001", PhoneNumberID: "3002"})); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("delete with another phone: %v", r.Err)
	}
	a.mustApply(cmd(t, CmdDeleteMedia, DeleteMedia{ID: "111", BusinessID: "1001", PhoneNumberID: "3001"}))
	if recs, chunks, _ := a.f.MediaCount(); recs != 0 || chunks != 0 {
		t.Fatalf("after delete: %d records %d chunks", recs, chunks)
	}
}

func TestMediaRejectsBadCommands(t *testing.T) {
	a := mediaFixture(t)
	a.mustApply(chunkCmd(t, "222", 0, mediaT0))
	before := stateOf(t, a.f)
	for name, c := range map[string][]byte{
		"non-numeric id": cmd(t, CmdPutMediaChunk, PutMediaChunk{ID: "x1", PhoneNumberID: "3001", BusinessID: "1001", Sealed: []byte{1}}),
		"empty chunk":    cmd(t, CmdPutMediaChunk, PutMediaChunk{ID: "333", PhoneNumberID: "3001", BusinessID: "1001"}),
		"foreign phone":  cmd(t, CmdPutMediaChunk, PutMediaChunk{ID: "333", PhoneNumberID: "3002", BusinessID: "1001", Sealed: []byte{1}}),
		"duplicate id":   chunkCmd(t, "222", 0, mediaT0),
		"skipped chunk":  chunkCmd(t, "222", 2, mediaT0),
		"no first chunk": chunkCmd(t, "444", 1, mediaT0),
		"too many":       chunkCmd(t, "222", MediaMaxChunks, mediaT0),
		"other owner": cmd(t, CmdPutMediaChunk, PutMediaChunk{ID: "222", PhoneNumberID: "3002", BusinessID: "1002",
			Index: 1, Sealed: []byte{1}}),
		"commit wrong count": commitCmd(t, "222", 2, MediaChunkSize+1),
		"commit size big":    commitCmd(t, "222", 1, MediaChunkSize+1),
		"commit size zero":   commitCmd(t, "222", 1, 0),
		"commit missing":     commitCmd(t, "555", 1, 1),
		"commit no mime":     cmd(t, CmdCommitMedia, CommitMedia{ID: "222", PhoneNumberID: "3001", BusinessID: "1001", Size: 1, Chunks: 1}),
		"delete missing":     cmd(t, CmdDeleteMedia, DeleteMedia{ID: "555", BusinessID: "1001"}),
	} {
		if r := a.apply(c); r.Err == nil {
			t.Errorf("%s accepted", name)
		}
		if after := stateOf(t, a.f); after != before {
			t.Fatalf("%s left partial state", name)
		}
	}
	a.mustApply(commitCmd(t, "222", 1, MediaChunkSize))
	if r := a.apply(chunkCmd(t, "222", 1, mediaT0)); !errors.Is(r.Err, ErrConflict) {
		t.Fatalf("chunk after commit: %v", r.Err)
	}
	if r := a.apply(commitCmd(t, "222", 1, 5)); !errors.Is(r.Err, ErrConflict) {
		t.Fatalf("second commit: %v", r.Err)
	}
}

func TestExpireMedia(t *testing.T) {
	a := mediaFixture(t)
	day := int64(24 * 60 * 60 * 1000)
	a.upload("10", 2, mediaT0)        // old
	a.upload("11", 1, mediaT0+day)    // old
	a.upload("12", 1, mediaT0+40*day) // fresh
	// An aborted upload (2 h before the newest media time) and one in progress.
	a.mustApply(chunkCmd(t, "20", 0, mediaT0+40*day-2*60*60*1000))
	a.mustApply(chunkCmd(t, "21", 0, mediaT0+40*day-60*1000))
	cut := func(phone string) int64 {
		if phone != "3001" {
			t.Fatalf("cutoff asked for %s", phone)
		}
		return mediaT0 + 10*day
	}
	expire := func(budget int) (n int) {
		a.idx++
		err := a.f.db.Update(func(tx *bolt.Tx) error { n = ExpireMediaTx(tx, cut, budget); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := expire(0); n != 0 {
		t.Fatalf("budget 0 expired %d", n)
	}
	if n := expire(2); n != 2 {
		t.Fatalf("budget 2 expired %d", n)
	}
	if n := expire(10); n != 1 {
		t.Fatalf("second round expired %d", n)
	}
	if n := expire(10); n != 0 {
		t.Fatalf("third round expired %d", n)
	}
	for id, want := range map[string]int{"10": 0, "11": 0, "12": 1, "20": 0, "21": 1} {
		if recs, _, _ := a.f.MediaStored(id); recs != want {
			t.Errorf("media %s: %d records, want %d", id, recs, want)
		}
	}
	if recs, chunks, _ := a.f.MediaCount(); recs != 2 || chunks != 2 {
		t.Fatalf("left %d records %d chunks", recs, chunks)
	}
	// With an explicit time, the upload in progress goes too once it is old.
	var n int
	_ = a.f.db.Update(func(tx *bolt.Tx) error {
		n = ExpireMediaBeforeTx(tx, mediaT0+41*day, cut, 10)
		return nil
	})
	if n != 1 {
		t.Fatalf("explicit time expired %d", n)
	}
}

func TestMediaChunkAADBindsPosition(t *testing.T) {
	if string(MediaChunkAAD("1", 2)) == string(MediaChunkAAD("1", 3)) ||
		string(MediaChunkAAD("12", 3)) == string(MediaChunkAAD("1", 23)) {
		t.Fatal("AAD collides")
	}
}
