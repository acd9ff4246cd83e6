package raftfsm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// The readers as they were before the read model: one bbolt transaction
// and a decode each. The model must answer exactly what they answer.

// recordDisk decodes the record under key in bucket (ErrNotFound when
// absent).
func recordDisk[T any](f *FSM, bucket, key []byte) (T, error) {
	var r T
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucket).Get(key)
		if v == nil {
			return ErrNotFound
		}
		return unmarshal(v, &r)
	})
	return r, err
}

func tenantDisk(f *FSM, id string) (Tenant, error) {
	var t Tenant
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPhones).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var p Phone
		if err := unmarshal(v, &p); err != nil {
			return err
		}
		appOf := func(businessID string) string {
			c := tx.Bucket(bucketApps).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				var a App
				if unmarshal(v, &a) == nil && a.BusinessID == businessID {
					return a.ID
				}
			}
			return ""
		}
		var err error
		t, err = tenantFrom(tx, p, appOf)
		return err
	})
	return t, err
}

// checkReadModel fails unless f's read model is exactly what a fresh
// build from its database gives, and every hot reader answers, for every
// stored key and a few absent ones, what the bbolt reader answers.
func checkReadModel(t testing.TB, f *FSM, when string) {
	t.Helper()
	live := f.model()
	if live == nil {
		t.Fatalf("%s: no read model", when)
	}
	f.mu.RLock()
	fresh, err := buildReadModel(f.db)
	f.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	live.mu.RLock()
	same := reflect.DeepEqual(live.tokens.entries, fresh.tokens.entries) &&
		reflect.DeepEqual(live.phones.entries, fresh.phones.entries) &&
		reflect.DeepEqual(live.businesses.entries, fresh.businesses.entries) &&
		reflect.DeepEqual(live.wabas.entries, fresh.wabas.entries) &&
		reflect.DeepEqual(live.apps.entries, fresh.apps.entries) &&
		reflect.DeepEqual(live.templates.entries, fresh.templates.entries) &&
		reflect.DeepEqual(live.tenants, fresh.tenants)
	live.mu.RUnlock()
	if !same {
		t.Fatalf("%s: the read model differs from the database", when)
	}

	var tokens [][32]byte
	var phones, templates []string
	if err := f.View(func(tx *bolt.Tx) error {
		_ = tx.Bucket(bucketTokens).ForEach(func(k, _ []byte) error {
			tokens = append(tokens, [32]byte(k))
			return nil
		})
		_ = tx.Bucket(bucketPhones).ForEach(func(k, _ []byte) error {
			phones = append(phones, string(k))
			return nil
		})
		return tx.Bucket(bucketTemplates).ForEach(func(k, _ []byte) error {
			templates = append(templates, string(k))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	same2 := func(what string, got, want any, gerr, werr error) {
		t.Helper()
		if !errors.Is(gerr, werr) || (gerr == nil && !reflect.DeepEqual(got, want)) {
			t.Fatalf("%s: %s: model %+v (%v), database %+v (%v)", when, what, got, gerr, want, werr)
		}
	}
	for _, h := range append(tokens, sha256.Sum256([]byte("absent"))) {
		got, gerr := f.LookupToken(h)
		want, werr := recordDisk[Token](f, bucketTokens, h[:])
		same2("token", got, want, gerr, werr)
	}
	for _, id := range append(phones, "999999") {
		got, gerr := f.Tenant(id)
		want, werr := tenantDisk(f, id)
		same2("tenant "+id, got, want, gerr, werr)
		gp, gerr := f.Phone(id)
		wp, werr := recordDisk[Phone](f, bucketPhones, []byte(id))
		same2("phone "+id, gp, wp, gerr, werr)
	}
	for _, k := range append(templates, "2001\x00absent\x00en") {
		p := strings.Split(k, "\x00")
		got, gerr := f.TemplateByName(p[0], p[1], p[2])
		want, werr := recordDisk[Template](f, bucketTemplates, templateKey(p[0], p[1], p[2]))
		same2("template "+k, got, want, gerr, werr)
	}
}

// randomCommand returns a command that touches the read model's records:
// ids from small sets, so that commands collide, conflict, replace and
// delete each other's records, and refusals are frequent.
func randomCommand(t testing.TB, rnd *rand.Rand, at int64) []byte {
	n := 1 + rnd.Intn(4)
	biz, waba, phone := fmt.Sprint(1000+n), fmt.Sprint(2000+n), fmt.Sprint(3000+n)
	word := func(ws ...string) string { return ws[rnd.Intn(len(ws))] }
	switch rnd.Intn(13) {
	case 0:
		p := tenantPayload(n, fmt.Sprintf("+1555000000%d", n))
		p.AppID = fmt.Sprint(4000 + rnd.Intn(8)) // apps of several businesses, in shuffled id order
		p.TokenHash = sha256.Sum256([]byte(fmt.Sprint("tenant token", rnd.Intn(6))))
		p.TokenID = fmt.Sprint("tt", rnd.Intn(6))
		p.BusinessName, p.WABAName = word("Acme", "Shrub"), word("waba", "main")
		return cmd(t, CmdCreateTenant, p)
	case 1:
		k := rnd.Intn(8)
		return cmd(t, CmdCreateToken, CreateToken{TokenID: fmt.Sprint("t", k), BusinessID: word(biz, "", "1009"),
			Hash: sha256.Sum256([]byte(fmt.Sprint("tok", k, rnd.Intn(2)))), Kind: word(TokenAPI, TokenBusinessAdmin, TokenAdmin, "bogus"), CreatedAt: at})
	case 2:
		return cmd(t, CmdRevokeToken, RevokeToken{TokenID: word("t0", "t1", "t2", "t3", "tt0", "tt1", "tok1")})
	case 3:
		tp := Template{ID: fmt.Sprint(7000 + rnd.Intn(12)), WABAID: waba, BusinessID: biz, Name: word("bill", "promo", "hi"),
			Language: word("en", "pt_BR"), Category: word("UTILITY", "MARKETING"), BodyParams: rnd.Intn(3),
			Components:      []byte(word(`[{"type":"BODY","text":"Hi"}]`, `[{"type":"BODY","text":"Hi {{1}}"}]`)),
			ParameterFormat: word("", "POSITIONAL", "NAMED"), CreatedAt: at}
		if tp.ParameterFormat == "NAMED" {
			tp.BodyParamNames = []string{"name"}
		}
		return cmd(t, CmdSubmitTemplate, SubmitTemplate{Template: tp})
	case 4:
		return cmd(t, CmdSetTemplateStatus, SetTemplateStatus{ID: fmt.Sprint(7000 + rnd.Intn(12)),
			Status: word("APPROVED", "REJECTED", "PAUSED", "DISABLED"), At: at})
	case 5:
		return cmd(t, CmdDeleteTemplates, DeleteTemplates{WABAID: waba, BusinessID: biz, Name: word("bill", "promo", "hi")})
	case 6:
		about, sites := word("open", "closed"), []string{word("https://a.example", "https://b.example")}
		u := UpdateProfile{PhoneNumberID: phone, BusinessID: biz, About: &about, Websites: &sites, At: at}
		if rnd.Intn(3) == 0 {
			name := word("Lucky Shrub", "Acme Ltd")
			u.VerifiedName = &name
		}
		return cmd(t, CmdUpdateProfile, u)
	case 7:
		return cmd(t, CmdSetPhoneLimits, SetPhoneLimits{PhoneNumberID: phone, ThroughputMPS: rnd.Intn(200), PairPerMinute: rnd.Intn(30)})
	case 8:
		return cmd(t, CmdSetRetention, SetRetention{PhoneNumberID: phone, Hours: 1 + rnd.Intn(720)})
	case 9:
		return cmd(t, CmdSetMessagingTier, SetMessagingTier{PhoneNumberID: phone, Tier: word(Tier250, "TIER_1K", "bogus")})
	case 10:
		pin := sha256.Sum256([]byte(word("1", "2")))
		return cmd(t, CmdRegisterPhone, RegisterPhone{PhoneNumberID: phone, BusinessID: biz, Register: rnd.Intn(2) == 0, PINHash: pin[:], At: at})
	case 11:
		return cmd(t, CmdSetTemplateReview, SetTemplateReview{WABAID: waba, Policy: word(ReviewApprove, ReviewManual, ReviewReject)})
	default:
		return cmd(t, CmdNoop, nil)
	}
}

// TestReadModelFollowsTheDatabase (property style): random sequences of
// commands that write tokens, tenants, numbers, apps and templates —
// after the determinism script, which has every command type — applied
// in batches of random sizes, the FSM reopened (as after a restart) and a
// snapshot installed over a replica with other state at random points;
// after every step the read model equals a fresh decode of the database.
func TestReadModelFollowsTheDatabase(t *testing.T) {
	script := determinismScript(t)
	for seed := int64(1); seed <= 3; seed++ {
		rnd := rand.New(rand.NewSource(seed))
		dir := t.TempDir()
		path := filepath.Join(dir, "fsm.db")
		f, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		var logs []*raft.Log
		for _, s := range script {
			logs = append(logs, entry(uint64(len(logs)+1), scriptCommand(t, s)))
		}
		const t0 = int64(1_767_225_600_000)
		for i := 0; i < 200; i++ {
			cmds := make([][]byte, 1+rnd.Intn(3)) // several commands in one entry, too
			for j := range cmds {
				cmds[j] = randomCommand(t, rnd, t0+int64(i)*60_000)
			}
			logs = append(logs, entry(uint64(len(logs)+1), cmds...))
		}
		for i := 0; i < len(logs); {
			n := 1 + rnd.Intn(9)
			f.ApplyBatch(logs[i:min(i+n, len(logs))])
			i += n
			when := fmt.Sprintf("seed %d, after entry %d", seed, min(i, len(logs)))
			checkReadModel(t, f, when)
			switch rnd.Intn(25) {
			case 0: // restart
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				if f.model() != nil {
					t.Fatalf("%s: a closed FSM keeps its read model", when)
				}
				if f, err = Open(path, nil); err != nil {
					t.Fatal(err)
				}
				checkReadModel(t, f, when+", reopened")
			case 1: // a replica with other state installs f's snapshot
				g := openFSM(t)
				other := rand.New(rand.NewSource(seed * 1000))
				for k := uint64(1); k <= 40; k++ {
					g.ApplyBatch([]*raft.Log{entry(k, randomCommand(t, other, t0))})
				}
				checkReadModel(t, g, when+", other replica")
				src, dst := openStore(t, f), openStore(t, g)
				meta, data := readSnapshot(t, src, takeSnapshot(t, f, src).ID)
				install(t, g, dst, meta, data)
				checkReadModel(t, g, when+", snapshot installed")
				if stateOf(t, g) != stateOf(t, f) {
					t.Fatalf("%s: installed snapshot differs", when)
				}
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// scriptCommand encodes a step of the determinism script.
func scriptCommand(t testing.TB, s step) []byte {
	switch s.typ {
	case CmdAcceptMessageV2: // the hot commands' own binary encoding
		return EncodeAcceptMessage(s.body.(AcceptMessage))
	case CmdMessageStatusesV2:
		return EncodeMessageStatuses(s.body.(MessageStatuses))
	case CmdSignalRoundV2:
		return EncodeSignalRound(s.body.(SignalRound))
	case CmdWebhookAttemptsV3:
		return EncodeWebhookAttempts(s.body.(WebhookAttempts))
	}
	return cmd(t, s.typ, s.body)
}

// TestReadModelAfterCheckpointRollback: a node that dies after its last
// checkpoint reopens at the checkpoint; the read model is the
// checkpoint's (a token revoked and a tenant created after it are not
// seen), and follows the replay.
func TestReadModelAfterCheckpointRollback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fsm.db")
	f, err := OpenWithOptions(path, nil, Options{CheckpointEvery: 1 << 30, CheckpointBytes: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	before := []*raft.Log{entry(1, tenantCmd(t, 1, "+15551234567")), entry(2, tenantCmd(t, 2, "+15552222222"))}
	after := []*raft.Log{entry(3, cmd(t, CmdRevokeToken, RevokeToken{TokenID: "tok1"})),
		entry(4, tenantCmd(t, 3, "+15553333333")),
		entry(5, cmd(t, CmdSetRetention, SetRetention{PhoneNumberID: "3002", Hours: 5}))}
	f.ApplyBatch(before)
	if _, err := f.Snapshot(); err != nil { // a checkpoint
		t.Fatal(err)
	}
	f.ApplyBatch(after)
	checkReadModel(t, f, "before the crash")
	crashed := filepath.Join(t.TempDir(), "fsm.db") // kill -9: the file as the page cache has it
	writeFile(t, crashed, readFile(t, path))
	writeFile(t, sidecarPath(crashed), readFile(t, sidecarPath(path)))
	_ = f.Close()

	g, err := OpenWithOptions(crashed, nil, Options{CheckpointEvery: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if idx, _ := g.AppliedIndex(); idx != 2 {
		t.Fatalf("applied %d after the crash, want the checkpoint's 2", idx)
	}
	checkReadModel(t, g, "rolled back")
	if _, err := g.LookupToken(sha256.Sum256([]byte("token1"))); err != nil {
		t.Fatalf("token revoked after the checkpoint: %v, want it back", err)
	}
	if _, err := g.Tenant("3003"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("tenant created after the checkpoint: %v", err)
	}
	if p, _ := g.Phone("3002"); p.RetentionHours != 0 {
		t.Fatalf("retention set after the checkpoint: %d", p.RetentionHours)
	}
	g.ApplyBatch(append(before, after...))
	checkReadModel(t, g, "replayed")
	if _, err := g.LookupToken(sha256.Sum256([]byte("token1"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked token after replay: %v", err)
	}
	if p, _ := g.Phone("3002"); p.RetentionHours != 5 {
		t.Fatalf("retention after replay: %d", p.RetentionHours)
	}
}

// TestReadModelAfterBackupRestore: a database restored from a backup (no
// admin tokens, a new cluster) opens with the model of what it holds.
func TestReadModelAfterBackupRestore(t *testing.T) {
	f := openFSM(t)
	f.ApplyBatch([]*raft.Log{entry(1, tenantCmd(t, 1, "+15551234567")),
		entry(2, cmd(t, CmdCreateToken, CreateToken{TokenID: "adm", Hash: adminHash, Kind: TokenAdmin})),
		entry(3, withHelloCmd(t))})
	checkReadModel(t, f, "source")
	var b bytes.Buffer
	if _, err := f.WriteBackup(&b, 0); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "restored.db")
	if _, err := RestoreBackup(&b, path, 1_767_225_600_000, 0); err != nil {
		t.Fatal(err)
	}
	g, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	checkReadModel(t, g, "restored")
	if _, err := g.LookupToken(adminHash); !errors.Is(err, ErrNotFound) {
		t.Fatalf("admin token after restore: %v", err)
	}
	if _, err := g.TemplateByName("2004", "hello_world", "en_US"); err != nil {
		t.Fatalf("hello_world after restore: %v", err)
	}
}

func withHelloCmd(t testing.TB) []byte {
	return cmd(t, CmdCreateTenant, withHello(tenantPayload(4, "+15554444444"), "2004", "1004"))
}

// TestReadModelHandsOutCopies: changing what a reader returned changes
// nothing for the next reader.
func TestReadModelHandsOutCopies(t *testing.T) {
	f := openFSM(t)
	pin := sha256.Sum256([]byte("3004:1"))
	sites := []string{"https://a.example"}
	f.ApplyBatch([]*raft.Log{entry(1, withHelloCmd(t)),
		entry(2, cmd(t, CmdRegisterPhone, RegisterPhone{PhoneNumberID: "3004", BusinessID: "1004", Register: true, PINHash: pin[:], At: 1})),
		entry(3, cmd(t, CmdUpdateProfile, UpdateProfile{PhoneNumberID: "3004", BusinessID: "1004", Websites: &sites}))})
	p, err := f.Phone("3004")
	if err != nil || len(p.PINHash) == 0 || len(p.RegisterLog) == 0 || len(p.Profile.Websites) == 0 {
		t.Fatalf("phone %+v %v", p, err)
	}
	p.PINHash[0]++
	p.RegisterLog[0]++
	p.Profile.Websites[0] = "https://evil.example"
	tp, err := f.TemplateByName("2004", "hello_world", "en_US")
	if err != nil || len(tp.Components) == 0 {
		t.Fatalf("template %+v %v", tp, err)
	}
	tp.Components[0] = 'X'
	checkReadModel(t, f, "after callers changed their copies")
}

// TestReadModelClosed: a closed FSM answers ErrClosed, as View does.
func TestReadModelClosed(t *testing.T) {
	f := openFSM(t)
	f.ApplyBatch([]*raft.Log{entry(1, withHelloCmd(t))})
	_ = f.Close()
	if _, err := f.Tenant("3004"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Tenant: %v", err)
	}
	if _, err := f.Phone("3004"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Phone: %v", err)
	}
	if _, err := f.LookupToken(sha256.Sum256([]byte("token4"))); !errors.Is(err, ErrClosed) {
		t.Fatalf("LookupToken: %v", err)
	}
	if _, err := f.TemplateByName("2004", "hello_world", "en_US"); !errors.Is(err, ErrClosed) {
		t.Fatalf("TemplateByName: %v", err)
	}
}

// TestHotCommandsLeaveTheReadModel: ApplyBatch refreshes the read model
// only after a batch that applied a command that is not hot, because no
// hot command writes the buckets it models. Every hot command of the
// determinism script (which has a step for every command type) applied
// alone leaves those buckets byte-identical, and the model stays equal to
// a fresh decode of the database after every batch.
func TestHotCommandsLeaveTheReadModel(t *testing.T) {
	modelBuckets := [][]byte{bucketTokens, bucketPhones, bucketBusinesses, bucketWABAs, bucketApps, bucketTemplates}
	dumpModel := func(f *FSM) string {
		var sb strings.Builder
		if err := f.View(func(tx *bolt.Tx) error {
			for _, name := range modelBuckets {
				if err := dumpBucket(&sb, string(name), tx.Bucket(name)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return sb.String()
	}
	f := openFSM(t)
	hot := map[CommandType]bool{}
	for i, s := range determinismScript(t) {
		before := dumpModel(f)
		f.ApplyBatch([]*raft.Log{entry(uint64(i+1), scriptCommand(t, s))})
		if isHot(s.typ) {
			hot[s.typ] = true
			if after := dumpModel(f); after != before {
				t.Fatalf("step %s (hot command %d) wrote a bucket of the read model:\n%s", s.name, s.typ, diffLines(before, after))
			}
		}
		checkReadModel(t, f, "after step "+s.name)
	}
	for typ := range f.handlers {
		if isHot(typ) && !hot[typ] {
			t.Errorf("hot command %d has no step in the determinism script", typ)
		}
	}
}
