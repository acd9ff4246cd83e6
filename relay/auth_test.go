package relay

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/phone"
	"github.com/waedge/waedge/relay/relayclient"
)

// publicRoutes are the only routes without an HTTP credential: the WebSocket authenticates each
// number by its identity key inside the protocol, and the health check reveals nothing.
var publicRoutes = []string{"GET /v1/ws", "GET /healthz"}

// TestEveryRouteRefusesWithoutCredential walks the relay's route table: every route except the two
// public ones answers 401 to a request without a credential or with a wrong one, and does nothing.
// A route added to the table without auth fails the public-route check; there is no other way to
// register one.
func TestEveryRouteRefusesWithoutCredential(t *testing.T) {
	phone.SetupSignalLogging(nil)
	dir := t.TempDir()
	tr := startRelay(t, Config{DataDir: dir})
	const a = "4915100003001"
	if code := api(t, "POST", tr.url+"/sandbox/phones", map[string]string{"number": a, "name": "A"}, nil); code != 201 {
		t.Fatalf("create with the token: %d", code)
	}
	dev := newTestDevice(t, "4915100003002", 2, network.RolePhone)
	registered(t, tr.url, dev) // online, so only a wrong proof can fail
	wrongKey := newTestDevice(t, "4915100003003", 0, network.RolePhone)

	var public []string
	params := regexp.MustCompile(`\{[a-z]+\}`)
	tested := 0
	for _, rt := range tr.routeList() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if rt.auth == authPublic {
			public = append(public, rt.pattern)
			continue
		}
		path = params.ReplaceAllStringFunc(path, func(p string) string {
			if p == "{n}" {
				return a
			}
			return "0123456789abcdef0123456789abcdef"
		})
		body := []byte(`{"number":"4915100003999","name":"X","to":"4915100003002","type":"text","text":"x","business":"4915100003002","message_id":"x"}`)
		creds := map[string]http.Header{
			"none":             {},
			"wrong token":      {"Authorization": {"Bearer " + strings.Repeat("0", len(tr.token))}},
			"token prefix":     {"Authorization": {"Bearer " + tr.token[:len(tr.token)-1]}},
			"token, no scheme": {"Authorization": {tr.token}},
			"basic":            {"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+tr.token))}},
			"device of unknown number": {relayclient.HeaderNumber: {"4915100003998"},
				relayclient.HeaderProof: {base64.StdEncoding.EncodeToString(make([]byte, 64))}},
			"device, signed by another key": {relayclient.HeaderNumber: {dev.number},
				relayclient.HeaderProof: {base64.StdEncoding.EncodeToString(wrongKey.sign(relayclient.BlobProofMessage(randomNonce(t), dev.number)))}},
			"device, right key, wrong nonce": {relayclient.HeaderNumber: {dev.number},
				relayclient.HeaderProof: {base64.StdEncoding.EncodeToString(dev.sign(relayclient.BlobProofMessage(randomNonce(t), dev.number)))}},
		}
		if rt.auth == authDevice { // the API token is not a device proof
			creds["the API token"] = http.Header{"Authorization": {"Bearer " + tr.token}}
		}
		for name, h := range creds {
			req, err := http.NewRequest(method, tr.url+path, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range h {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with %s: status %d, want 401", rt.pattern, name, resp.StatusCode)
			}
			tested++
		}
	}
	slices.Sort(public)
	want := slices.Clone(publicRoutes)
	slices.Sort(want)
	if !slices.Equal(public, want) {
		t.Fatalf("public routes %v, want exactly %v", public, want)
	}
	if tested < 13*5 {
		t.Fatalf("only %d refused requests checked", tested)
	}
	// Nothing was done: no phone created, nothing sent or reported, no blob stored.
	if ps := tr.Phones(); len(ps) != 1 || ps[0].Number != a {
		t.Fatalf("phones after refused requests: %+v", ps)
	}
	p, _ := tr.Phone(a)
	if sent, _ := p.Sent(); len(sent) != 0 {
		t.Fatalf("a refused send was sent: %+v", sent)
	}
	if blobs, _ := os.ReadDir(filepath.Join(dir, "blobs")); len(blobs) != 0 {
		t.Fatalf("%d blobs stored by refused uploads", len(blobs))
	}
	// The right credentials pass.
	if code := api(t, "GET", tr.url+"/sandbox/phones", nil, nil); code != 200 {
		t.Fatalf("list with the token: %d", code)
	}
	c := registered(t, tr.url, newTestDevice(t, "4915100003004", 0, network.RolePhone))
	if _, err := c.PutBlob(ctxT(t), []byte("ciphertext")); err != nil {
		t.Fatalf("blob upload with a device proof: %v", err)
	}
}

func randomNonce(t *testing.T) []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTokenFile: created at first start with mode 0600 and 32 random bytes, kept across restarts,
// never equal between two relays; a token file others can read stops the relay from starting.
func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	r, err := New(Config{DataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, TokenFileName)
	if r.TokenPath() != path {
		t.Fatalf("TokenPath %q", r.TokenPath())
	}
	_ = r.Close()
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", info, err)
	}
	first := readToken(t, dir)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(first) {
		t.Fatalf("token has the wrong form (%d chars)", len(first))
	}
	r, err = New(Config{DataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Close()
	if readToken(t, dir) != first {
		t.Fatal("the token changed across a restart")
	}
	other := t.TempDir()
	r, err = New(Config{DataDir: other}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Close()
	if readToken(t, other) == first {
		t.Fatal("two relays share a token")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{DataDir: dir}, nil); err == nil {
		t.Fatal("a world-readable token file was accepted")
	}
}
