package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestConformanceMicrofox runs @microfox/whatsapp-business (pinned in
// e2e/conformance) under node against a running waedge.
func TestConformanceMicrofox(t *testing.T) {
	nodeBin, p, created := startConformance(t, "@microfox/whatsapp-business")
	cmd := exec.Command(nodeBin, "microfox.mjs")
	cmd.Dir = "conformance"
	cmd.Env = append(os.Environ(), "BASE=http://"+p.httpAddr, "TOKEN="+created.AccessToken,
		"PNID="+created.PhoneNumberID, "WABA="+created.WABAID)
	out, err := cmd.CombinedOutput()
	t.Logf("@microfox/whatsapp-business against waedge:\n%s", out)
	if err != nil || !strings.Contains(string(out), "conformance: 10 passed, 0 failed") {
		t.Fatalf("conformance failed: %v", err)
	}
}
