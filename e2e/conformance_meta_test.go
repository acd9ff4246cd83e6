package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestConformanceMetaNodeSDK runs Meta's own Node SDK (npm "whatsapp",
// pinned in e2e/conformance) under node against a running waedge: the
// first send of its README (hello_world), Meta's upper-case template
// enums, string coordinates, error envelopes and the two-step PIN.
func TestConformanceMetaNodeSDK(t *testing.T) {
	nodeBin, p, created := startConformance(t, "whatsapp")
	cmd := exec.Command(nodeBin, "metasdk.mjs")
	cmd.Dir = "conformance"
	cmd.Env = append(os.Environ(), "BASE=http://"+p.httpAddr, "TOKEN="+created.AccessToken,
		"PNID="+created.PhoneNumberID, "WABA="+created.WABAID)
	out, err := cmd.CombinedOutput()
	t.Logf("Meta's Node SDK against waedge:\n%s", out)
	if err != nil || !strings.Contains(string(out), "conformance: 7 passed, 0 failed") {
		t.Fatalf("conformance failed: %v", err)
	}
}
