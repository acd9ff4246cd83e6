package raftfsm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBackupRestore: a backup restored at a later time holds the tenants,
// API tokens and unexpired messages, has no cluster identity (members,
// join tokens, CA, admin tokens, applied index, Raft configuration), and
// is expired as of the restore time; data keys destroyed before the
// horizon are not even in the backup stream.
func TestBackupRestore(t *testing.T) {
	a := retentionFixture(t)
	a.mustApply(cmd(t, CmdCreateToken, CreateToken{TokenID: "adm", Hash: adminHash, Kind: TokenAdmin, CreatedAt: 1}))
	a.mustApply(cmd(t, CmdPutClusterValue, PutClusterValue{Key: "cluster.ca.key", Value: []byte("CA KEY")}))
	a.mustApply(cmd(t, CmdCreateJoinToken, CreateJoinToken{TokenID: "j1", SecretHash: joinSecret, ExpiresAt: 1000}))
	// A 30-day message of 20 days ago, a 1-hour message of 10 minutes ago.
	old := a.inbound("3001", "alice", t0-20*dayMs)
	fresh := a.inbound("3002", "bob", t0-10*60*1000)
	dOld := DataKeyID(MaxRetention, time.UnixMilli(t0-20*dayMs))
	dHourly := DataKeyID(time.Hour, time.UnixMilli(t0-10*60*1000))
	dToday := DataKeyID(MaxRetention, time.UnixMilli(t0))
	for _, id := range []uint32{dOld, dHourly, dToday} {
		a.mustApply(cmd(t, CmdPutDataKey, PutDataKey{Day: id, Wrapped: []byte{byte(id)}}))
	}

	// Horizon: one day after the backup. The hourly key (destroyed within
	// two hours) stays out; the 30-day keys are in.
	var buf bytes.Buffer
	st, err := a.f.WriteBackup(&buf, t0+dayMs)
	if err != nil {
		t.Fatal(err)
	}
	if st.SkippedKeys != 1 || st.DataKeys != 2 {
		t.Fatalf("stats %+v", st)
	}
	for _, secret := range []string{"CA KEY", string(adminHash[:])} {
		if bytes.Contains(buf.Bytes(), []byte(secret)) {
			t.Fatalf("backup holds cluster identity %q", secret)
		}
	}
	stream := bytes.Clone(buf.Bytes())

	// Restored 15 days later: the 20-day-old message has expired since
	// the backup (35 days old now), and its key with it.
	path := filepath.Join(t.TempDir(), "fsm.db")
	rs, err := RestoreBackup(bytes.NewReader(stream), path, t0+15*dayMs, t0+dayMs)
	if err != nil {
		t.Fatal(err)
	}
	if rs.ExpiredAsOf != t0+15*dayMs || rs.DestroyedKeys != 1 {
		t.Fatalf("restore stats %+v", rs)
	}
	if len(rs.DataKeys) != 1 || rs.DataKeys[0] != dToday {
		t.Fatalf("keys left %v, want [%d]", rs.DataKeys, dToday)
	}
	f, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if idx, _ := f.AppliedIndex(); idx != 0 {
		t.Fatalf("restored applied index %d", idx)
	}
	if _, err := f.MessageByID(old); !errors.Is(err, ErrNotFound) {
		t.Fatal("a message expired since the backup was restored")
	}
	if _, err := f.MessageByID(fresh); !errors.Is(err, ErrNotFound) {
		t.Fatal("a message expiring before the horizon was restored")
	}
	if ts, _ := f.ListTenants(); len(ts) != 2 {
		t.Fatalf("tenants %d", len(ts))
	}
	if _, err := f.LookupToken(sha256.Sum256([]byte("token1"))); err != nil {
		t.Fatalf("API token lost: %v", err)
	}
	if _, err := f.LookupToken(adminHash); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old admin token restored: %v", err)
	}
	if _, err := f.JoinTokenInfo("j1"); !errors.Is(err, ErrNotFound) {
		t.Fatal("join token restored")
	}
	if v, _ := f.ClusterValue("cluster.ca.key"); v != nil {
		t.Fatal("CA key restored")
	}
	if f.ExpiredThrough() != t0+15*dayMs {
		t.Fatalf("expired-through %d", f.ExpiredThrough())
	}

	// Restored right away: the 30-day message is back; the 1-hour one is
	// not (its key was left out).
	path2 := filepath.Join(t.TempDir(), "fsm.db")
	if _, err := RestoreBackup(bytes.NewReader(stream), path2, t0, t0+dayMs); err != nil {
		t.Fatal(err)
	}
	g, err := Open(path2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.MessageByID(old); err != nil {
		t.Fatalf("unexpired message lost: %v", err)
	}
	// Expiry ran as of the horizon, but new keys for the real now are accepted.
	if g.ExpiredThrough() != t0 {
		t.Fatalf("expired-through %d, want the restore time", g.ExpiredThrough())
	}

	// A damaged stream is refused and leaves no file behind.
	path3 := filepath.Join(t.TempDir(), "fsm.db")
	for _, bad := range [][]byte{stream[:len(stream)-1], stream[:len(stream)/2], []byte("nope"), append(bytes.Clone(stream), 'x')} {
		if _, err := RestoreBackup(bytes.NewReader(bad), path3, t0, t0); !errors.Is(err, ErrBadBackup) {
			t.Fatalf("damaged stream: %v", err)
		}
	}
	// Never over an existing state.
	if _, err := RestoreBackup(bytes.NewReader(stream), path2, t0, t0); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("restore over existing state: %v", err)
	}
}
