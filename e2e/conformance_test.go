package e2e

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waedge/waedge/cloudapi"
)

// conformanceTenant is the business a conformance run drives.
type conformanceTenant struct {
	tenantCreated
	AppSecret string `json:"app_secret"`
}

// startConformance checks that node and the npm package pkg are
// installed, starts waedge and creates a business with the template
// order_update (Hi {{1}}).
func startConformance(t *testing.T, pkg string) (string, *proc, conformanceTenant) {
	t.Helper()
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required for the conformance test (scripts/test.sh installs it)")
	}
	if _, err := os.Stat(filepath.Join("conformance", "node_modules", pkg)); err != nil {
		t.Fatal("run `npm ci --prefix e2e/conformance` first (scripts/test.sh does)")
	}
	p := newProc(t, "solo", "--egress-allow", "127.0.0.0/8") // a library's webhook receiver is on 127.0.0.1
	p.start()
	p.waitReady(20 * time.Second)
	var created conformanceTenant
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if code, err := doJSON(ctx, "POST", p.url("/admin/v1/tenants"), p.adminToken(),
		map[string]string{"name": "Conformance", "phone": "+15550004242"}, &created); err != nil || code != 200 {
		t.Fatalf("create tenant: %d %v", code, err)
	}
	createTemplate(t, p, created.AccessToken, created.WABAID, "order_update", "Hi {{1}}")
	return nodeBin, p, created
}

// TestConformanceWhatsAppAPIJS runs a real third-party Cloud API client,
// the npm package whatsapp-api-js, under node against a running waedge.
// scripts/test.sh installs node and the package (e2e/conformance).
func TestConformanceWhatsAppAPIJS(t *testing.T) {
	nodeBin, p, created := startConformance(t, "whatsapp-api-js")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	text := "Olá, ção 👍 中文"
	// What the library sends and receives outside the harness's view.
	secret(t, text, "conformance-verify", created.AppSecret)
	consumerNumber(t, "15551234567")
	body, err := cloudapi.MarshalASCII(cloudapi.InboundTextNotification(created.WABAID,
		cloudapi.Metadata{DisplayPhoneNumber: "15550004242", PhoneNumberID: created.PhoneNumberID},
		"15551234567", "Zoë", "wamid.conformance", time.Now().Unix(), text))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nodeBin, "wajs.mjs")
	cmd.Dir = "conformance"
	cmd.Env = append(os.Environ(),
		"BASE=http://"+p.httpAddr, "TOKEN="+created.AccessToken, "PNID="+created.PhoneNumberID,
		"WABA="+created.WABAID, "APP_SECRET="+created.AppSecret,
		"SIGNED_BODY="+base64.StdEncoding.EncodeToString(body), "SIGNATURE="+cloudapi.Sign(created.AppSecret, body),
		"EXPECT_TEXT="+text)
	out, err := cmd.CombinedOutput()
	t.Logf("whatsapp-api-js against waedge:\n%s", out)
	if err != nil || !strings.Contains(string(out), "conformance: 13 passed, 0 failed") {
		t.Fatalf("conformance failed: %v", err)
	}
	// The subscription the library's handshake approved is stored.
	var subs struct {
		Data []struct {
			URI string `json:"override_callback_uri"`
		} `json:"data"`
	}
	if code, err := doJSON(ctx, "GET", p.url("/v21.0/"+created.WABAID+"/subscribed_apps"), created.AccessToken, nil, &subs); err != nil || code != 200 || len(subs.Data) != 1 {
		t.Fatalf("subscription: %d %v %+v", code, err, subs)
	}
}
