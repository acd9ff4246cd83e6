package raftfsm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
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

// stateOf is the dump without the meta bucket (applied index, configuration).
func stateOf(t testing.TB, f *FSM) string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(dumpOf(t, f), "\n") {
		if !strings.HasPrefix(l, "meta ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func results(t testing.TB, v any) []Result {
	t.Helper()
	rs, ok := v.([]Result)
	if !ok {
		t.Fatalf("response %T, want []Result", v)
	}
	return rs
}

// applier applies single-command entries at increasing indexes.
type applier struct {
	t   testing.TB
	f   *FSM
	idx uint64
}

func (a *applier) apply(c []byte) Result {
	a.t.Helper()
	a.idx++
	rs := results(a.t, a.f.Apply(entry(a.idx, c)))
	if len(rs) != 1 {
		a.t.Fatalf("%d results for one command", len(rs))
	}
	return rs[0]
}

func (a *applier) mustApply(c []byte) {
	a.t.Helper()
	if r := a.apply(c); r.Err != nil {
		a.t.Fatalf("setup command failed: %v", r.Err)
	}
}

func tenantPayload(n int, phone string) CreateTenant {
	return CreateTenant{
		BusinessID: fmt.Sprint(1000 + n), BusinessName: "biz", WABAID: fmt.Sprint(2000 + n), WABAName: "waba",
		PhoneNumberID: fmt.Sprint(3000 + n), DisplayPhoneNumber: phone, VerifiedName: "biz",
		AppID: fmt.Sprint(4000 + n), AppSecret: "secret", TokenID: fmt.Sprint("tok", n),
		TokenHash: sha256.Sum256([]byte(fmt.Sprint("token", n))), CreatedAt: 1700000000000,
	}
}

func tenantCmd(t testing.TB, n int, phone string) []byte {
	return cmd(t, CmdCreateTenant, tenantPayload(n, phone))
}

func tenantWith(t testing.TB, change func(*CreateTenant)) []byte {
	p := tenantPayload(2, "+15552222222")
	change(&p)
	return cmd(t, CmdCreateTenant, p)
}

var (
	adminHash  = sha256.Sum256([]byte("admin"))
	joinSecret = sha256.Sum256([]byte("join-secret"))
)

// TestCommands applies each command to a fresh FSM holding one tenant
// (business 1001, WABA 2001, phone 3001 "+15551234567", app 4001, token
// "tok1") and a join token "j1" (expires at 1000). A failing command must
// return its domain error and leave the state exactly as it was.
func TestCommands(t *testing.T) {
	type check func(t *testing.T, f *FSM)
	for _, tc := range []struct {
		name  string
		cmd   func(t testing.TB) []byte
		pre   func(t testing.TB) [][]byte
		want  error
		check check
	}{
		{name: "create tenant", cmd: func(t testing.TB) []byte { return tenantCmd(t, 2, "+15552222222") },
			check: func(t *testing.T, f *FSM) {
				tn, err := f.Tenant("3002")
				want := Tenant{BusinessID: "1002", BusinessName: "biz", WABAID: "2002", WABAName: "waba", PhoneNumberID: "3002",
					DisplayPhoneNumber: "+15552222222", VerifiedName: "biz", AppID: "4002", CreatedAt: 1700000000000}
				if err != nil || tn != want {
					t.Fatalf("tenant %+v, %v", tn, err)
				}
				tok, err := f.LookupToken(sha256.Sum256([]byte("token2")))
				if err != nil || tok.ID != "tok2" || tok.BusinessID != "1002" || tok.Kind != TokenAPI {
					t.Fatalf("token %+v, %v", tok, err)
				}
				if a, err := f.App("4002"); err != nil || a.Secret != "secret" || a.BusinessID != "1002" {
					t.Fatalf("app %+v, %v", a, err)
				}
				if ts, err := f.TenantsByBusiness("1002"); err != nil || len(ts) != 1 || ts[0] != want {
					t.Fatalf("by business %+v, %v", ts, err)
				}
				if ts, err := f.ListTenants(); err != nil || len(ts) != 2 || ts[0].PhoneNumberID != "3001" || ts[1] != want {
					t.Fatalf("list %+v, %v", ts, err)
				}
			}},
		{name: "tenant: phone number taken", cmd: func(t testing.TB) []byte { return tenantCmd(t, 2, "+15551234567") }, want: ErrConflict},
		{name: "tenant: same number without plus", cmd: func(t testing.TB) []byte { return tenantCmd(t, 2, "15551234567") }, want: ErrConflict},
		{name: "tenant: business id taken", cmd: func(t testing.TB) []byte { return tenantWith(t, func(c *CreateTenant) { c.BusinessID = "1001" }) }, want: ErrConflict},
		{name: "tenant: waba id taken", cmd: func(t testing.TB) []byte { return tenantWith(t, func(c *CreateTenant) { c.WABAID = "2001" }) }, want: ErrConflict},
		{name: "tenant: phone id taken", cmd: func(t testing.TB) []byte { return tenantWith(t, func(c *CreateTenant) { c.PhoneNumberID = "3001" }) }, want: ErrConflict},
		{name: "tenant: app id taken", cmd: func(t testing.TB) []byte { return tenantWith(t, func(c *CreateTenant) { c.AppID = "4001" }) }, want: ErrConflict},
		{name: "tenant: token id taken", cmd: func(t testing.TB) []byte { return tenantWith(t, func(c *CreateTenant) { c.TokenID = "tok1" }) }, want: ErrConflict},
		{name: "tenant: token taken", cmd: func(t testing.TB) []byte {
			return tenantWith(t, func(c *CreateTenant) { c.TokenHash = sha256.Sum256([]byte("token1")) })
		}, want: ErrConflict},
		{name: "tenant: id not digits", cmd: func(t testing.TB) []byte { return tenantWith(t, func(c *CreateTenant) { c.WABAID = "12a" }) }, want: ErrInvalid},
		{name: "tenant: empty id", cmd: func(t testing.TB) []byte { return tenantWith(t, func(c *CreateTenant) { c.AppID = "" }) }, want: ErrInvalid},
		{name: "tenant: bad phone", cmd: func(t testing.TB) []byte {
			return tenantWith(t, func(c *CreateTenant) { c.DisplayPhoneNumber = "+1555-12" })
		}, want: ErrInvalid},
		{name: "tenant: no token id", cmd: func(t testing.TB) []byte { return tenantWith(t, func(c *CreateTenant) { c.TokenID = "" }) }, want: ErrInvalid},
		{name: "tenant: no token hash", cmd: func(t testing.TB) []byte { return tenantWith(t, func(c *CreateTenant) { c.TokenHash = [32]byte{} }) }, want: ErrInvalid},
		{name: "tenant: no business name", cmd: func(t testing.TB) []byte { return tenantWith(t, func(c *CreateTenant) { c.BusinessName = "" }) }, want: ErrInvalid},

		{name: "create api token", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdCreateToken, CreateToken{TokenID: "t2", BusinessID: "1001", Hash: adminHash, Kind: TokenAPI, CreatedAt: 5})
		}, check: func(t *testing.T, f *FSM) {
			tok, err := f.LookupToken(adminHash)
			if err != nil || tok != (Token{ID: "t2", BusinessID: "1001", Kind: TokenAPI, Hash: adminHash, CreatedAt: 5}) {
				t.Fatalf("token %+v, %v", tok, err)
			}
		}},
		{name: "create cluster admin token", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdCreateToken, CreateToken{TokenID: "adm", Hash: adminHash, Kind: TokenAdmin})
		}, check: func(t *testing.T, f *FSM) {
			if tok, err := f.LookupToken(adminHash); err != nil || tok.Kind != TokenAdmin || tok.BusinessID != "" {
				t.Fatalf("token %+v, %v", tok, err)
			}
		}},
		{name: "create operator token", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdCreateToken, CreateToken{TokenID: "op", Hash: adminHash, Kind: TokenOperator})
		}, check: func(t *testing.T, f *FSM) {
			if tok, err := f.LookupToken(adminHash); err != nil || tok.Kind != TokenOperator {
				t.Fatalf("token %+v, %v", tok, err)
			}
		}},
		{name: "token: api without business", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdCreateToken, CreateToken{TokenID: "t2", Hash: adminHash, Kind: TokenAPI})
		}, want: ErrNotFound},
		{name: "token: unknown business", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdCreateToken, CreateToken{TokenID: "t2", BusinessID: "9", Hash: adminHash, Kind: TokenAPI})
		}, want: ErrNotFound},
		{name: "token: admin of unknown business", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdCreateToken, CreateToken{TokenID: "t2", BusinessID: "9", Hash: adminHash, Kind: TokenAdmin})
		}, want: ErrNotFound},
		{name: "token: bad kind", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdCreateToken, CreateToken{TokenID: "t2", Hash: adminHash, Kind: "root"})
		}, want: ErrInvalid},
		{name: "token: no id", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdCreateToken, CreateToken{Hash: adminHash, Kind: TokenAdmin})
		}, want: ErrInvalid},
		{name: "token: no hash", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdCreateToken, CreateToken{TokenID: "t2", Kind: TokenAdmin})
		}, want: ErrInvalid},
		{name: "token: id taken", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdCreateToken, CreateToken{TokenID: "tok1", Hash: adminHash, Kind: TokenAdmin})
		}, want: ErrConflict},
		{name: "token: hash taken", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdCreateToken, CreateToken{TokenID: "t2", Hash: sha256.Sum256([]byte("token1")), Kind: TokenAdmin})
		}, want: ErrConflict},

		{name: "revoke token", cmd: func(t testing.TB) []byte { return cmd(t, CmdRevokeToken, RevokeToken{TokenID: "tok1"}) },
			check: func(t *testing.T, f *FSM) {
				if _, err := f.LookupToken(sha256.Sum256([]byte("token1"))); !errors.Is(err, ErrNotFound) {
					t.Fatalf("revoked token: %v", err)
				}
				if _, err := f.Tenant("3001"); err != nil {
					t.Fatalf("revoking a token touched its tenant: %v", err)
				}
			}},
		{name: "revoke: unknown", cmd: func(t testing.TB) []byte { return cmd(t, CmdRevokeToken, RevokeToken{TokenID: "nope"}) }, want: ErrNotFound},

		{name: "put cluster value", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdPutClusterValue, PutClusterValue{Key: "ca", Value: []byte("pem")})
		}, check: func(t *testing.T, f *FSM) {
			v, err := f.ClusterValue("ca")
			if err != nil || string(v) != "pem" {
				t.Fatalf("value %q, %v", v, err)
			}
			v[0] = 'X' // a copy: must not reach the database
			if v, _ := f.ClusterValue("ca"); string(v) != "pem" {
				t.Fatal("ClusterValue handed out database memory")
			}
			if _, err := f.ClusterValue("other"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing value: %v", err)
			}
		}},
		{name: "cluster value: empty key", cmd: func(t testing.TB) []byte { return cmd(t, CmdPutClusterValue, PutClusterValue{Value: []byte("v")}) }, want: ErrInvalid},
		{name: "cluster value: long key", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdPutClusterValue, PutClusterValue{Key: strings.Repeat("k", 257)})
		}, want: ErrInvalid},

		{name: "create join token", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdCreateJoinToken, CreateJoinToken{TokenID: "j2", SecretHash: joinSecret, ExpiresAt: 99, CreatedAt: 9})
		}, check: func(t *testing.T, f *FSM) {
			info, err := f.JoinTokenInfo("j2")
			if err != nil || info != (JoinTokenInfo{ID: "j2", SecretHash: joinSecret, ExpiresAt: 99, CreatedAt: 9}) {
				t.Fatalf("info %+v, %v", info, err)
			}
		}},
		{name: "join token: no id", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdCreateJoinToken, CreateJoinToken{SecretHash: joinSecret, ExpiresAt: 99})
		}, want: ErrInvalid},
		{name: "join token: no secret", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdCreateJoinToken, CreateJoinToken{TokenID: "j2", ExpiresAt: 99})
		}, want: ErrInvalid},
		{name: "join token: id taken", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdCreateJoinToken, CreateJoinToken{TokenID: "j1", SecretHash: joinSecret, ExpiresAt: 99})
		}, want: ErrConflict},

		{name: "consume join token", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "j1", SecretHash: joinSecret, NodeID: "n1", Now: 1000})
		}, check: func(t *testing.T, f *FSM) {
			if info, err := f.JoinTokenInfo("j1"); err != nil || info.UsedBy != "n1" || info.UsedAt != 1000 {
				t.Fatalf("info %+v, %v", info, err)
			}
			if m, err := f.Members(); err != nil || len(m) != 1 || m[0] != "n1" || !f.IsMemberAllowed("n1") {
				t.Fatalf("members %v, %v", m, err)
			}
		}},
		{name: "consume: unknown token", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "j9", SecretHash: joinSecret, NodeID: "n1", Now: 1})
		}, want: ErrTokenInvalid},
		{name: "consume: wrong secret", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "j1", SecretHash: adminHash, NodeID: "n1", Now: 1})
		}, want: ErrTokenInvalid},
		{name: "consume: expired", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "j1", SecretHash: joinSecret, NodeID: "n1", Now: 1001})
		}, want: ErrTokenInvalid},
		{name: "consume: no node id", cmd: func(t testing.TB) []byte {
			return cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "j1", SecretHash: joinSecret, Now: 1})
		}, want: ErrTokenInvalid},
		{name: "consume: already used", pre: func(t testing.TB) [][]byte {
			return [][]byte{cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "j1", SecretHash: joinSecret, NodeID: "n1", Now: 1})}
		}, cmd: func(t testing.TB) []byte {
			return cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "j1", SecretHash: joinSecret, NodeID: "n2", Now: 2})
		}, want: ErrTokenUsed},
		{name: "consume: readmits a removed node", pre: func(t testing.TB) [][]byte {
			return [][]byte{cmd(t, CmdRemoveMember, RemoveMember{NodeID: "n1", At: 1})}
		}, cmd: func(t testing.TB) []byte {
			return cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "j1", SecretHash: joinSecret, NodeID: "n1", Now: 2})
		}, check: func(t *testing.T, f *FSM) {
			if !f.IsMemberAllowed("n1") || f.IsMemberRemoved("n1") {
				t.Fatal("readmitted node still removed")
			}
		}},

		{name: "remove member", pre: func(t testing.TB) [][]byte {
			return [][]byte{cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: "j1", SecretHash: joinSecret, NodeID: "n1", Now: 1})}
		}, cmd: func(t testing.TB) []byte { return cmd(t, CmdRemoveMember, RemoveMember{NodeID: "n1", At: 7}) },
			check: func(t *testing.T, f *FSM) {
				if f.IsMemberAllowed("n1") || !f.IsMemberRemoved("n1") {
					t.Fatal("removed node still allowed")
				}
				if m, _ := f.Members(); len(m) != 0 {
					t.Fatalf("members %v", m)
				}
				if !f.IsMemberAllowed("n2") {
					t.Fatal("a node never removed is not allowed")
				}
			}},
		{name: "remove member: no id", cmd: func(t testing.TB) []byte { return cmd(t, CmdRemoveMember, RemoveMember{At: 7}) }, want: ErrInvalid},

		{name: "noop", cmd: func(t testing.TB) []byte { return cmd(t, CmdNoop, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := openFSM(t)
			a := &applier{t: t, f: f}
			a.mustApply(tenantCmd(t, 1, "+15551234567"))
			a.mustApply(cmd(t, CmdCreateJoinToken, CreateJoinToken{TokenID: "j1", SecretHash: joinSecret, ExpiresAt: 1000}))
			if tc.pre != nil {
				for _, c := range tc.pre(t) {
					a.mustApply(c)
				}
			}
			before := stateOf(t, f)
			r := a.apply(tc.cmd(t))
			if !errors.Is(r.Err, tc.want) || (tc.want == nil) != (r.Err == nil) {
				t.Fatalf("got %v, want %v", r.Err, tc.want)
			}
			after := stateOf(t, f)
			switch {
			case tc.want != nil && after != before:
				t.Fatalf("failed command changed state:\n%s\n---\n%s", before, after)
			case tc.want == nil && tc.check != nil && after == before:
				t.Fatal("command changed nothing")
			}
			if idx, _ := f.AppliedIndex(); idx != a.idx {
				t.Fatalf("applied index %d, want %d", idx, a.idx)
			}
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

func TestLookupTokenUnknown(t *testing.T) {
	f := openFSM(t)
	a := &applier{t: t, f: f}
	a.mustApply(tenantCmd(t, 1, "+15551234567"))
	if tok, err := f.LookupToken(sha256.Sum256([]byte("other"))); !errors.Is(err, ErrNotFound) || tok != (Token{}) {
		t.Fatalf("unknown token: %+v, %v", tok, err)
	}
	if _, err := f.Tenant("3999"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
	if _, err := f.JoinTokenInfo("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown join token: %v", err)
	}
	if ts, err := f.TenantsByBusiness("42"); err != nil || len(ts) != 0 {
		t.Fatalf("tenants of unknown business: %v, %v", ts, err)
	}
}

func TestBatchWithFailingCommand(t *testing.T) {
	f := openFSM(t)
	rs := results(t, f.Apply(entry(1,
		tenantCmd(t, 1, "+15551111111"),
		tenantCmd(t, 2, "+15551111111"), // same phone: fails
		tenantCmd(t, 3, "+15553333333"),
	)))
	if len(rs) != 3 || rs[0].Err != nil || !errors.Is(rs[1].Err, ErrConflict) || rs[2].Err != nil {
		t.Fatalf("results: %+v", rs)
	}
	if _, err := f.Tenant("3002"); !errors.Is(err, ErrNotFound) {
		t.Fatal("failed command left a tenant")
	}
	if _, err := f.Business("1002"); !errors.Is(err, ErrNotFound) {
		t.Fatal("failed command left a business")
	}
	for _, id := range []string{"3001", "3003"} {
		if _, err := f.Tenant(id); err != nil {
			t.Fatalf("tenant %s: %v", id, err)
		}
	}
}

// testLog is a sequence of entries with successful and failing commands of
// every kind and a configuration change.
func testLog(t testing.TB) []*raft.Log {
	var logs []*raft.Log
	add := func(cmds ...[]byte) {
		logs = append(logs, entry(uint64(len(logs)+1), cmds...))
	}
	for i := 1; i <= 30; i++ {
		h := sha256.Sum256([]byte(fmt.Sprint("extra", i)))
		add(
			tenantCmd(t, i, fmt.Sprintf("+1555%07d", i)),
			tenantCmd(t, i+1000, fmt.Sprintf("+1555%07d", i)), // conflict
			cmd(t, CmdPutClusterValue, PutClusterValue{Key: fmt.Sprint("k", i%7), Value: []byte{byte(i)}}),
			cmd(t, CmdCreateToken, CreateToken{TokenID: fmt.Sprint("x", i), BusinessID: fmt.Sprint(1000 + i), Hash: h, Kind: TokenAPI, CreatedAt: int64(i)}),
		)
		if i%3 == 0 {
			add(cmd(t, CmdRevokeToken, RevokeToken{TokenID: fmt.Sprint("x", i)}), cmd(t, CmdNoop, nil))
		}
		if i%5 == 0 {
			id := fmt.Sprint("j", i)
			add(cmd(t, CmdCreateJoinToken, CreateJoinToken{TokenID: id, SecretHash: joinSecret, ExpiresAt: int64(i * 100)}),
				cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: id, SecretHash: joinSecret, NodeID: fmt.Sprint("n", i%2), Now: int64(i)}),
				cmd(t, CmdConsumeJoinToken, ConsumeJoinToken{TokenID: id, SecretHash: joinSecret, NodeID: "late", Now: int64(i)}), // used
				cmd(t, CmdRemoveMember, RemoveMember{NodeID: fmt.Sprint("n", (i+1)%2), At: int64(i)}))
		}
		if i == 10 {
			logs = append(logs, &raft.Log{Index: uint64(len(logs) + 1), Term: 2, Type: raft.LogConfiguration, Data: []byte("cfg")})
		}
		if i == 20 {
			logs = append(logs, &raft.Log{Index: uint64(len(logs) + 1), Term: 2, Type: raft.LogNoop})
		}
	}
	return logs
}

func TestDeterminism(t *testing.T) {
	logs := testLog(t)
	var dumps []string
	for _, group := range []int{1, 7, len(logs)} {
		f := openFSM(t)
		for i := 0; i < len(logs); i += group {
			batch := logs[i:min(i+group, len(logs))]
			if rs := f.ApplyBatch(batch); len(rs) != len(batch) {
				t.Fatalf("%d responses for %d logs", len(rs), len(batch))
			}
		}
		if idx, _ := f.AppliedIndex(); idx != uint64(len(logs)) {
			t.Fatalf("applied %d, want %d", idx, len(logs))
		}
		dumps = append(dumps, dumpOf(t, f))
	}
	for i := 1; i < len(dumps); i++ {
		if dumps[i] != dumps[0] {
			t.Fatalf("same log, different state (grouping %d):\n%s\n---\n%s", i, dumps[0], dumps[i])
		}
	}
	if !strings.Contains(dumps[0], "meta "+fmt.Sprintf("%x", keyConfig)+"=") {
		t.Fatal("configuration entry not recorded")
	}
}

func TestResponses(t *testing.T) {
	f := openFSM(t)
	rs := f.ApplyBatch([]*raft.Log{
		entry(1, cmd(t, CmdNoop, nil), cmd(t, CmdNoop, nil)),
		{Index: 2, Term: 1, Type: raft.LogConfiguration, Data: []byte("c")},
		{Index: 3, Term: 1, Type: raft.LogBarrier},
		entry(4),
	})
	if len(results(t, rs[0])) != 2 || rs[1] != nil || rs[2] != nil || len(results(t, rs[3])) != 0 {
		t.Fatalf("responses %#v", rs)
	}
	if idx, term := f.AppliedIndex(); idx != 4 || term != 1 {
		t.Fatalf("applied %d/%d", idx, term)
	}
}

func TestRestartAndReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fsm.db")
	f, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := testLog(t)
	f.ApplyBatch(logs[:40])
	f.ApplyBatch(logs[40:])
	want := dumpOf(t, f)
	wantIdx, wantTerm := f.AppliedIndex()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if idx, term := f.AppliedIndex(); idx != wantIdx || term != wantTerm || idx != uint64(len(logs)) {
		t.Fatalf("applied %d/%d after restart, want %d/%d", idx, term, wantIdx, wantTerm)
	}
	// Replaying applied entries (as Raft does after a restart) is a no-op,
	// even though re-applying them would fail with conflicts.
	for i, r := range f.ApplyBatch(logs) {
		if r != nil {
			t.Fatalf("entry %d re-applied: %v", i, r)
		}
	}
	if got := dumpOf(t, f); got != want {
		t.Fatal("replay changed state")
	}
	// A batch straddling the applied index applies only the new part.
	next := uint64(len(logs))
	rs := f.ApplyBatch([]*raft.Log{logs[len(logs)-1], entry(next+1, cmd(t, CmdNoop, nil))})
	if rs[0] != nil || len(results(t, rs[1])) != 1 {
		t.Fatalf("straddling batch: %#v", rs)
	}
	if idx, _ := f.AppliedIndex(); idx != next+1 {
		t.Fatalf("applied %d", idx)
	}
}

func TestPanics(t *testing.T) {
	for name, l := range map[string]*raft.Log{
		"garbage":                 {Index: 2, Type: raft.LogCommand, Data: []byte{9, 9, 9}},
		"empty entry":             {Index: 2, Type: raft.LogCommand},
		"unknown type":            entry(2, cmd(t, CmdNoop, nil), []byte{1, 0x01, 0x23}),
		"truncated":               {Index: 2, Type: raft.LogCommand, Data: EncodeEntry([][]byte{cmd(t, CmdNoop, nil)})[:3]},
		"bad payload":             entry(2, append([]byte{1, 0, byte(CmdCreateTenant)}, 0xc1)),
		"missing payload":         entry(2, []byte{1, 0, byte(CmdCreateToken)}),
		"command too short":       entry(2, []byte{1}),
		"wrong command version":   entry(2, []byte{2, 0, byte(CmdNoop)}),
		"after a good command":    entry(2, tenantCmd(t, 2, "+15552222222"), []byte{7}),
		"non-canonical entry len": {Index: 2, Type: raft.LogCommand, Data: []byte{1, 1, 0x83, 0x00, 1, 0, 1}},
	} {
		t.Run(name, func(t *testing.T) {
			f := openFSM(t)
			a := &applier{t: t, f: f}
			a.mustApply(tenantCmd(t, 1, "+15551234567"))
			before := dumpOf(t, f)
			func() {
				defer func() {
					if recover() == nil {
						t.Fatal("no panic")
					}
				}()
				f.Apply(l)
			}()
			// The panicking batch rolled back as a whole.
			if dumpOf(t, f) != before {
				t.Fatal("a panicking entry left state behind")
			}
			if idx, _ := f.AppliedIndex(); idx != 1 {
				t.Fatalf("applied index moved to %d", idx)
			}
		})
	}
	t.Run("ignorable unknown type is skipped", func(t *testing.T) {
		f := openFSM(t)
		rs := results(t, f.Apply(entry(1, []byte{1, 0x80, 0x42, 0xff}, cmd(t, CmdNoop, nil))))
		if !errors.Is(rs[0].Err, ErrIgnored) || rs[1].Err != nil {
			t.Fatalf("results %+v", rs)
		}
		if idx, _ := f.AppliedIndex(); idx != 1 {
			t.Fatalf("applied %d", idx)
		}
	})
}

func TestWaitApplied(t *testing.T) {
	f := openFSM(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.WaitApplied(ctx, 3) }()
	for i := uint64(1); i <= 2; i++ {
		f.Apply(entry(i, cmd(t, CmdNoop, nil)))
		select {
		case err := <-done:
			t.Fatalf("returned at index %d: %v", i, err)
		default:
		}
	}
	f.ApplyBatch([]*raft.Log{entry(3, cmd(t, CmdNoop, nil)), entry(4)})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := f.WaitApplied(ctx, 4); err != nil {
		t.Fatal("already applied index:", err)
	}

	short, stop := context.WithCancel(context.Background())
	go func() { done <- f.WaitApplied(short, 100) }()
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}

	go func() { done <- f.WaitApplied(ctx, 100) }()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("wait on closed FSM: %v", err)
	}
}

func TestClosed(t *testing.T) {
	f := openFSM(t)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := f.View(func(*bolt.Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("View: %v", err)
	}
	if _, err := f.ClusterValue("x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("reader: %v", err)
	}
	if f.IsMemberAllowed("n1") {
		t.Fatal("closed FSM allows members")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Apply on a closed FSM did not panic")
		}
	}()
	f.Apply(entry(1, cmd(t, CmdNoop, nil)))
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fsm.db")
	f, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing", "dir", "fsm.db"), nil); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
}

func TestBackup(t *testing.T) {
	f := openFSM(t)
	f.ApplyBatch(testLog(t))
	path := filepath.Join(t.TempDir(), "backup.db")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.Backup(out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil || n == 0 {
		t.Fatalf("backup: %d bytes, %v", n, err)
	}
	if fi, _ := os.Stat(path); fi.Size() != n {
		t.Fatalf("backup wrote %d bytes, reported %d", fi.Size(), n)
	}
	b, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if dumpOf(t, b) != dumpOf(t, f) {
		t.Fatal("backup differs")
	}
}

func BenchmarkApplyBatch(b *testing.B) {
	for _, bc := range []struct {
		name string
		cmd  func(i int) []byte
	}{
		{"noop", func(int) []byte { return cmd(b, CmdNoop, nil) }},
		{"put-cluster-value", func(i int) []byte {
			return cmd(b, CmdPutClusterValue, PutClusterValue{Key: fmt.Sprint("key", i), Value: make([]byte, 200)})
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := openFSM(b)
			cmds := make([][]byte, 256)
			for i := range cmds {
				cmds[i] = bc.cmd(i)
			}
			data := EncodeEntry(cmds)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f.Apply(&raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: data})
			}
			b.ReportMetric(float64(b.N*len(cmds))/b.Elapsed().Seconds(), "commands/s")
		})
	}
}

// BenchmarkApplyAcceptMessages measures the replicated apply of outbound
// template messages (what POST /messages proposes), 256 per entry, as one
// replica does it: decode, checks, message + indexes, statistics, the
// distinct-consumer sets and the pending queue, one bbolt commit per entry.
func BenchmarkApplyAcceptMessages(b *testing.B) {
	a := &applier{t: b, f: openFSM(b)}
	a.mustApply(tenantCmd(b, 1, "+15551234567"))
	a.mustApply(cmd(b, CmdSetMessagingTier, SetMessagingTier{PhoneNumberID: "3001", Tier: TierUnlimited}))
	a.mustApply(cmd(b, CmdSetPhoneLimits, SetPhoneLimits{PhoneNumberID: "3001", ThroughputMPS: 100_000, PairPerMinute: 100_000}))
	content := make([]byte, 120)
	peer := make([]byte, 60)
	const per = 256
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cmds := make([][]byte, per)
		for j := range cmds {
			n++
			k := make([]byte, 16)
			binary.BigEndian.PutUint64(k, uint64(1700000000000+n))
			binary.BigEndian.PutUint64(k[8:], uint64(n))
			cmds[j] = cmd(b, CmdAcceptMessage, AcceptMessage{Key: k, IDRef: MessageIDRef(fmt.Sprint("wamid.", n)),
				IDSealed: peer, PhoneNumberID: "3001", BusinessID: "1001", PeerRef: fmt.Sprintf("ref%08x", n*2654435761),
				PeerSealed: peer, Type: "template", Content: content, CreatedAt: 1700000000000 + int64(n),
				TemplateName: "hello", TemplateLanguage: "en"})
		}
		data := EncodeEntry(cmds)
		a.idx++
		b.StartTimer()
		rs := results(b, a.f.Apply(&raft.Log{Index: a.idx, Term: 1, Type: raft.LogCommand, Data: data}))
		if rs[0].Err != nil {
			b.Fatal(rs[0].Err)
		}
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "msgs/s")
}
