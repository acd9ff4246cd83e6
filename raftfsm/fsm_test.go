package raftfsm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

func openFSM(t testing.TB) *FSM {
	t.Helper()
	f, err := Open(filepath.Join(t.TempDir(), "fsm.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func cmd(t testing.TB, typ CommandType, payload any) []byte {
	t.Helper()
	b, err := EncodeCommand(typ, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func entry(index uint64, cmds ...[]byte) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: EncodeEntry(cmds)}
}

func dumpOf(t testing.TB, f *FSM) string {
	t.Helper()
	var b bytes.Buffer
	if err := f.Dump(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func results(t testing.TB, v any) []Result {
	t.Helper()
	rs, ok := v.([]Result)
	if !ok {
		t.Fatalf("response %T, want []Result", v)
	}
	return rs
}

func tenantCmd(t testing.TB, n int, phone string) []byte {
	return cmd(t, CmdCreateTenant, CreateTenant{
		BusinessID: fmt.Sprint(1000 + n), BusinessName: "biz", WABAID: fmt.Sprint(2000 + n), WABAName: "waba",
		PhoneNumberID: fmt.Sprint(3000 + n), DisplayPhoneNumber: phone, VerifiedName: "biz",
		AppID: fmt.Sprint(4000 + n), AppSecret: "secret", TokenID: fmt.Sprint("tok", n),
		TokenHash: sha256.Sum256([]byte(fmt.Sprint("token", n))), CreatedAt: 1700000000000,
	})
}

func TestCommands(t *testing.T) {
	f := openFSM(t)
	idx := uint64(0)
	apply := func(c []byte) Result {
		idx++
		return results(t, f.Apply(entry(idx, c)))[0]
	}
	if r := apply(tenantCmd(t, 1, "+15551234567")); r.Err != nil {
		t.Fatal(r.Err)
	}
	tn, err := f.Tenant("3001")
	if err != nil || tn.BusinessID != "1001" || tn.DisplayPhoneNumber != "+15551234567" || tn.AppID != "4001" {
		t.Fatalf("tenant: %+v %v", tn, err)
	}
	tok, err := f.LookupToken(sha256.Sum256([]byte("token1")))
	if err != nil || tok.BusinessID != "1001" || tok.Kind != TokenAPI {
		t.Fatalf("token: %+v %v", tok, err)
	}
	if _, err := f.LookupToken(sha256.Sum256([]byte("other"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}

	// Each failing command leaves no trace.
	for _, tc := range []struct {
		name string
		cmd  []byte
		want error
	}{
		{"same phone", tenantCmd(t, 2, "+15551234567"), ErrConflict},
		{"same ids", tenantCmd(t, 1, "+15550000000"), ErrConflict},
		{"bad phone", tenantCmd(t, 3, "12ab"), ErrInvalid},
		{"bad id", cmd(t, CmdCreateTenant, CreateTenant{BusinessID: "x"}), ErrInvalid},
		{"token for unknown business", cmd(t, CmdCreateToken, CreateToken{TokenID: "t", BusinessID: "9", Kind: TokenAPI}), ErrNotFound},
		{"token kind", cmd(t, CmdCreateToken, CreateToken{TokenID: "t", Kind: "root"}), ErrInvalid},
		{"revoke unknown", cmd(t, CmdRevokeToken, RevokeToken{TokenID: "nope"}), ErrNotFound},
		{"consume unknown join token", cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "x", NodeID: "n"}), ErrTokenInvalid},
		{"empty cluster key", cmd(t, CmdPutClusterValue, PutClusterValue{}), ErrInvalid},
	} {
		before := dumpOf(t, f)
		r := apply(tc.cmd)
		if !errors.Is(r.Err, tc.want) {
			t.Fatalf("%s: got %v, want %v", tc.name, r.Err, tc.want)
		}
		after := dumpOf(t, f)
		// Only the applied index may change.
		if strip(before) != strip(after) {
			t.Fatalf("%s: failed command changed state", tc.name)
		}
	}

	// Tokens: create, revoke.
	h := sha256.Sum256([]byte("admin"))
	if r := apply(cmd(t, CmdCreateToken, CreateToken{TokenID: "adm", Hash: h, Kind: TokenAdmin})); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := apply(cmd(t, CmdCreateToken, CreateToken{TokenID: "adm", Hash: h, Kind: TokenAdmin})); !errors.Is(r.Err, ErrConflict) {
		t.Fatalf("duplicate token: %v", r.Err)
	}
	if r := apply(cmd(t, CmdRevokeToken, RevokeToken{TokenID: "adm"})); r.Err != nil {
		t.Fatal(r.Err)
	}
	if _, err := f.LookupToken(h); !errors.Is(err, ErrNotFound) {
		t.Fatal("revoked token still valid")
	}

	// Join tokens: wrong secret, expired, used, removal and readmission.
	secret := sha256.Sum256([]byte("s"))
	apply(cmd(t, CmdCreateJoinToken, CreateJoinToken{TokenID: "j1", SecretHash: secret, ExpiresAt: 1000}))
	if r := apply(cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "j1", SecretHash: sha256.Sum256([]byte("x")), NodeID: "n1", Now: 10})); !errors.Is(r.Err, ErrTokenInvalid) {
		t.Fatalf("wrong secret: %v", r.Err)
	}
	if r := apply(cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "j1", SecretHash: secret, NodeID: "n1", Now: 1001})); !errors.Is(r.Err, ErrTokenInvalid) {
		t.Fatalf("expired: %v", r.Err)
	}
	if r := apply(cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "j1", SecretHash: secret, NodeID: "n1", Now: 10})); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := apply(cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "j1", SecretHash: secret, NodeID: "n2", Now: 10})); !errors.Is(r.Err, ErrTokenUsed) {
		t.Fatalf("reuse: %v", r.Err)
	}
	if info, _ := f.JoinTokenInfo("j1"); info.UsedBy != "n1" {
		t.Fatalf("used by %q", info.UsedBy)
	}
	apply(cmd(t, CmdRemoveMember, RemoveMember{NodeID: "n1", At: 20}))
	if !f.IsMemberRemoved("n1") {
		t.Fatal("n1 not removed")
	}
	apply(cmd(t, CmdCreateJoinToken, CreateJoinToken{TokenID: "j2", SecretHash: secret, ExpiresAt: 1000}))
	apply(cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "j2", SecretHash: secret, NodeID: "n1", Now: 30}))
	if f.IsMemberRemoved("n1") {
		t.Fatal("readmitted node still removed")
	}
}

// strip removes the applied-index line from a dump.
func strip(d string) string {
	var out []string
	for _, l := range strings.Split(d, "\n") {
		if !strings.HasPrefix(l, "meta ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestBatchWithFailingCommand(t *testing.T) {
	f := openFSM(t)
	rs := results(t, f.Apply(entry(1,
		tenantCmd(t, 1, "+15551111111"),
		tenantCmd(t, 2, "+15551111111"), // same phone: fails
		tenantCmd(t, 3, "+15553333333"),
	)))
	if rs[0].Err != nil || !errors.Is(rs[1].Err, ErrConflict) || rs[2].Err != nil {
		t.Fatalf("results: %+v", rs)
	}
	if _, err := f.Tenant("3002"); !errors.Is(err, ErrNotFound) {
		t.Fatal("failed command left a tenant")
	}
	if _, err := f.Tenant("3003"); err != nil {
		t.Fatal(err)
	}
}

// testLog is a sequence of entries with commands, failures and a
// configuration change.
func testLog(t testing.TB) []*raft.Log {
	var logs []*raft.Log
	for i := 1; i <= 30; i++ {
		logs = append(logs, entry(uint64(len(logs)+1),
			tenantCmd(t, i, fmt.Sprintf("+1555%07d", i)),
			tenantCmd(t, i+1000, fmt.Sprintf("+1555%07d", i)), // conflict
			cmd(t, CmdPutClusterValue, PutClusterValue{Key: fmt.Sprint("k", i%7), Value: []byte{byte(i)}}),
		))
		if i == 10 {
			logs = append(logs, &raft.Log{Index: uint64(len(logs) + 1), Term: 1, Type: raft.LogConfiguration, Data: []byte("cfg")})
		}
	}
	return logs
}

func TestDeterminism(t *testing.T) {
	logs := testLog(t)
	a, b := openFSM(t), openFSM(t)
	for _, l := range logs {
		a.Apply(l)
	}
	for i := 0; i < len(logs); i += 7 {
		b.ApplyBatch(logs[i:min(i+7, len(logs))])
	}
	if da, db := dumpOf(t, a), dumpOf(t, b); da != db {
		t.Fatalf("same log, different state:\n%s\n---\n%s", da, db)
	}
	if ia, _ := a.AppliedIndex(); ia != uint64(len(logs)) {
		t.Fatalf("applied %d, want %d", ia, len(logs))
	}
}

func TestRestartAndReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fsm.db")
	f, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := testLog(t)
	f.ApplyBatch(logs)
	want := dumpOf(t, f)
	f.Close()
	f, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if idx, _ := f.AppliedIndex(); idx != uint64(len(logs)) {
		t.Fatalf("applied index after restart %d", idx)
	}
	// Replaying applied entries (as Raft does after a restart) is a no-op,
	// even though re-applying them would fail with conflicts.
	rs := f.ApplyBatch(logs)
	for i, r := range rs {
		if r != nil {
			t.Fatalf("entry %d re-applied: %v", i, r)
		}
	}
	if got := dumpOf(t, f); got != want {
		t.Fatal("replay changed state")
	}
}

func TestPanicsOnCorruptEntries(t *testing.T) {
	for name, l := range map[string]*raft.Log{
		"garbage":           {Index: 1, Type: raft.LogCommand, Data: []byte{9, 9, 9}},
		"unknown type":      entry(1, []byte{1, 0x01, 0x23}),
		"truncated":         {Index: 1, Type: raft.LogCommand, Data: EncodeEntry([][]byte{cmd(t, CmdNoop, nil)})[:3]},
		"bad payload":       entry(1, append([]byte{1, 0, byte(CmdCreateTenant)}, 0xc1)),
		"command too short": entry(1, []byte{1}),
	} {
		t.Run(name, func(t *testing.T) {
			f := openFSM(t)
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f.Apply(l)
		})
	}
	t.Run("ignorable unknown type is skipped", func(t *testing.T) {
		f := openFSM(t)
		c := []byte{1, 0x80, 0x42}
		rs := results(t, f.Apply(entry(1, c, cmd(t, CmdNoop, nil))))
		if !errors.Is(rs[0].Err, ErrIgnored) || rs[1].Err != nil {
			t.Fatalf("results %+v", rs)
		}
	})
}

func TestSnapshotRoundTrip(t *testing.T) {
	src := openFSM(t)
	src.ApplyBatch(testLog(t))
	store, err := NewSnapshotStore(t.TempDir(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Raft's compaction path: Snapshot + Persist records metadata only.
	snap, _ := src.Snapshot()
	sink, err := store.Create(raft.SnapshotVersionMax, 31, 1, raft.Configuration{}, 11, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	dbs, _ := filepath.Glob(filepath.Join(store.dir, "*.db"))
	if len(dbs) != 0 {
		t.Fatalf("compaction copied the database: %v", dbs)
	}
	metas, err := store.List()
	if err != nil || len(metas) != 1 || metas[0].Index != 31 {
		t.Fatalf("list: %+v %v", metas, err)
	}
	// Sending to a follower streams the live database, with an exact size.
	meta, rc, err := store.Open(metas[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || int64(len(data)) != meta.Size {
		t.Fatalf("streamed %d bytes, meta says %d (%v)", len(data), meta.Size, err)
	}
	// The follower's side: install into its store, then restore its FSM.
	dst := openFSM(t)
	dstore, _ := NewSnapshotStore(t.TempDir(), dst, nil)
	dsink, _ := dstore.Create(raft.SnapshotVersionMax, meta.Index, meta.Term, meta.Configuration, meta.ConfigurationIndex, nil)
	if _, err := dsink.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := dsink.Close(); err != nil {
		t.Fatal(err)
	}
	_, drc, err := dstore.Open(dsink.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Restore(drc); err != nil {
		t.Fatal(err)
	}
	if dumpOf(t, src) != dumpOf(t, dst) {
		t.Fatal("restored state differs")
	}
	si, _ := src.AppliedIndex()
	if di, _ := dst.AppliedIndex(); di != si {
		t.Fatalf("restored applied index %d, want %d", di, si)
	}
	// A corrupt stream is refused and the old state kept.
	before := dumpOf(t, dst)
	if err := dst.Restore(io.NopCloser(strings.NewReader("not a database"))); err == nil {
		t.Fatal("corrupt snapshot accepted")
	}
	if dumpOf(t, dst) != before {
		t.Fatal("failed restore changed state")
	}
}

func TestErrorCodesRoundTrip(t *testing.T) {
	for _, e := range []error{ErrNotFound, ErrConflict, ErrInvalid, ErrTokenInvalid, ErrTokenUsed, ErrIgnored, ErrVersion} {
		wrapped := domainErr(e, "detail %d", 1)
		back := ErrorFromCode(ErrorCode(wrapped), wrapped.Error())
		if !errors.Is(back, e) || back.Error() != wrapped.Error() {
			t.Fatalf("%v → %v", wrapped, back)
		}
	}
	if ErrorCode(nil) != 0 || ErrorFromCode(0, "") != nil {
		t.Fatal("nil round trip")
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(EncodeEntry([][]byte{{1, 0, 1}}))
	f.Add(EncodeEntry(nil))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{1, 2, 5, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		cmds, err := DecodeEntry(b)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeEntry(cmds), b) {
			t.Fatalf("re-encoding differs")
		}
		for _, c := range cmds {
			_, _, _ = DecodeCommand(c)
		}
	})
}

func BenchmarkApplyBatch(b *testing.B) {
	f := openFSM(b)
	cmds := make([][]byte, 256)
	for i := range cmds {
		cmds[i] = cmd(b, CmdPutClusterValue, PutClusterValue{Key: fmt.Sprint("key", i), Value: make([]byte, 200)})
	}
	data := EncodeEntry(cmds)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Apply(&raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: data})
	}
	b.ReportMetric(float64(b.N*len(cmds))/b.Elapsed().Seconds(), "commands/s")
}
