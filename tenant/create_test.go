package tenant_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/waedge/waedge/cluster"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/raftfsm/fsmtest"
	"github.com/waedge/waedge/tenant"
)

// fakeCluster is a one-node cluster over a real FSM; the rest of
// cluster.Cluster panics if called.
type fakeCluster struct {
	cluster.Cluster
	*fsmtest.Direct
}

func (c *fakeCluster) Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error) {
	return c.Direct.Propose(ctx, cmd)
}

func (c *fakeCluster) FSM() *raftfsm.FSM { return c.Direct.FSM() }

func newFake(t *testing.T) *fakeCluster {
	return &fakeCluster{Direct: fsmtest.Open(t).KeepProposals()}
}

var (
	idShape     = regexp.MustCompile(`^[1-9][0-9]{14,15}$`)
	secretShape = regexp.MustCompile(`^[0-9a-f]{32}$`)
	tokenShape  = regexp.MustCompile(`^EAAW[A-Za-z0-9_-]{48}$`)
)

func TestCreateAndAuthenticate(t *testing.T) {
	c := newFake(t)
	now := time.UnixMilli(1_760_000_000_123)
	got, err := tenant.Create(context.Background(), c, tenant.CreateRequest{Name: "  Acme Ltd ", Phone: "+15551234567"}, now)
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]string{"business": got.BusinessID, "waba": got.WABAID, "phone": got.PhoneNumberID, "app": got.AppID} {
		if !idShape.MatchString(id) {
			t.Errorf("%s id %q is not 15-16 digits", name, id)
		}
	}
	if ids := map[string]bool{got.BusinessID: true, got.WABAID: true, got.PhoneNumberID: true, got.AppID: true}; len(ids) != 4 {
		t.Errorf("ids are not distinct: %+v", got)
	}
	if !secretShape.MatchString(got.AppSecret) {
		t.Errorf("app secret %q is not 32 hex characters", got.AppSecret)
	}
	if !tokenShape.MatchString(got.AccessToken) {
		t.Errorf("access token %q is not EAAW + 48 base64url characters", got.AccessToken)
	}
	if got.DisplayPhoneNumber != "+15551234567" {
		t.Errorf("display phone %q", got.DisplayPhoneNumber)
	}

	// The token is stored only as its hash.
	if len(c.Proposals()) != 1 {
		t.Fatalf("%d proposals, want 1", len(c.Proposals()))
	}
	if strings.Contains(string(c.Proposals()[0]), got.AccessToken) {
		t.Fatal("the proposed command carries the access token in clear")
	}
	_, payload, err := raftfsm.DecodeCommand(c.Proposals()[0])
	if err != nil {
		t.Fatal(err)
	}
	var ct raftfsm.CreateTenant
	if err := raftfsm.DecodePayload(payload, &ct); err != nil {
		t.Fatal(err)
	}
	if ct.TokenHash != sha256.Sum256([]byte(got.AccessToken)) {
		t.Fatal("stored hash is not sha256(token)")
	}
	if ct.BusinessName != "Acme Ltd" || ct.CreatedAt != now.UnixMilli() {
		t.Fatalf("payload name %q created %d", ct.BusinessName, ct.CreatedAt)
	}

	tn, err := c.FSM().Tenant(got.PhoneNumberID)
	if err != nil {
		t.Fatal(err)
	}
	if tn.BusinessID != got.BusinessID || tn.WABAID != got.WABAID || tn.AppID != got.AppID {
		t.Fatalf("stored tenant %+v does not match %+v", tn, got)
	}

	tok, err := tenant.Authenticate(c.FSM(), got.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if tok.BusinessID != got.BusinessID || tok.Kind != raftfsm.TokenAPI {
		t.Fatalf("token resolves to %+v", tok)
	}

	for name, bearer := range map[string]string{
		"empty":          "",
		"unknown":        "EAAW" + strings.Repeat("A", 48),
		"hash as token":  hex.EncodeToString(ct.TokenHash[:]),
		"one char short": got.AccessToken[:len(got.AccessToken)-1],
		"too long":       strings.Repeat("x", 513),
	} {
		if _, err := tenant.Authenticate(c.FSM(), bearer); !errors.Is(err, tenant.ErrUnauthenticated) {
			t.Errorf("%s: %v, want ErrUnauthenticated", name, err)
		}
	}
	if _, err := tenant.Authenticate(nil, got.AccessToken); !errors.Is(err, tenant.ErrUnauthenticated) {
		t.Errorf("nil FSM: %v", err)
	}
}

func TestCreateErrors(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_760_000_000, 0)
	c := newFake(t)
	if _, err := tenant.Create(ctx, c, tenant.CreateRequest{Name: "A", Phone: "+4930123456"}, now); err != nil {
		t.Fatal(err)
	}
	before := len(c.Proposals())
	for _, tc := range []struct {
		name    string
		req     tenant.CreateRequest
		fail    error
		want    error
		propose bool
	}{
		{"phone taken", tenant.CreateRequest{Name: "B", Phone: "+4930123456"}, nil, tenant.ErrPhoneTaken, true},
		{"bad phone", tenant.CreateRequest{Name: "B", Phone: "4930123456"}, nil, tenant.ErrInvalid, false},
		{"no name", tenant.CreateRequest{Name: " ", Phone: "+4930123457"}, nil, tenant.ErrInvalid, false},
		{"no leader", tenant.CreateRequest{Name: "B", Phone: "+4930123458"}, cluster.ErrNoLeader, cluster.ErrNoLeader, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Fail(tc.fail)
			defer c.Fail(nil)
			_, err := tenant.Create(ctx, c, tc.req, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if proposed := len(c.Proposals()) > before; proposed != tc.propose {
				t.Fatalf("proposed=%v, want %v", proposed, tc.propose)
			}
			before = len(c.Proposals())
		})
	}
	ts, err := c.FSM().ListTenants()
	if err != nil || len(ts) != 1 {
		t.Fatalf("tenants after failures: %d %v", len(ts), err)
	}
}

func TestTokensAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		tok, hash, err := tenant.NewAccessToken()
		if err != nil {
			t.Fatal(err)
		}
		if !tokenShape.MatchString(tok) || hash != sha256.Sum256([]byte(tok)) || seen[tok] {
			t.Fatalf("bad or repeated token %q", tok)
		}
		seen[tok] = true
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{"+15551234567", "+0", "", "+", "+1555123456789012", "+١٢٣٤٥٦٧٨٩"} {
		f.Add("Acme", s)
	}
	f.Fuzz(func(t *testing.T, name, phone string) {
		err := tenant.CreateRequest{Name: name, Phone: phone}.Validate()
		if err != nil {
			if !errors.Is(err, tenant.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if !regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`).MatchString(phone) || strings.TrimSpace(name) == "" {
			t.Fatalf("accepted name %q phone %q", name, phone)
		}
	})
}

// TestNewWABAHasHelloWorld: like Meta, every new WABA has hello_world
// (en_US, UTILITY) approved, so a first template send works.
func TestNewWABAHasHelloWorld(t *testing.T) {
	c := newFake(t)
	got, err := tenant.Create(context.Background(), c, tenant.CreateRequest{Name: "Acme", Phone: "+15551234567"}, time.UnixMilli(1_760_000_000_000))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := c.FSM().TemplateByName(got.WABAID, "hello_world", "en_US")
	if err != nil {
		t.Fatalf("no hello_world: %v", err)
	}
	if tpl.Status != "APPROVED" || tpl.Category != "UTILITY" || tpl.BusinessID != got.BusinessID || tpl.BodyParams != 0 ||
		!strings.Contains(string(tpl.Components), "Welcome and congratulations!!") || !idShape.MatchString(tpl.ID) {
		t.Fatalf("hello_world %+v", tpl)
	}
	other, err := tenant.Create(context.Background(), c, tenant.CreateRequest{Name: "Other", Phone: "+15552222222"}, time.UnixMilli(1_760_000_000_000))
	if err != nil {
		t.Fatal(err)
	}
	tpl2, err := c.FSM().TemplateByName(other.WABAID, "hello_world", "en_US")
	if err != nil || tpl2.ID == tpl.ID {
		t.Fatalf("second WABA: %v, id %s", err, tpl2.ID)
	}
}
