package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// runConformanceScript runs a conformance script of e2e/conformance
// under node, driving the npm client pkg against a fresh waedge, and
// wants its report to say passed checks and none failed.
func runConformanceScript(t *testing.T, pkg, script string, passed int) {
	t.Helper()
	nodeBin, p, created := startConformance(t, pkg)
	cmd := exec.Command(nodeBin, script)
	cmd.Dir = "conformance"
	cmd.Env = append(os.Environ(), "BASE=http://"+p.httpAddr, "TOKEN="+created.AccessToken,
		"PNID="+created.PhoneNumberID, "WABA="+created.WABAID)
	out, err := cmd.CombinedOutput()
	t.Logf("%s against waedge:\n%s", pkg, out)
	if want := "conformance: " + strconv.Itoa(passed) + " passed, 0 failed"; err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("conformance failed: %v", err)
	}
}

// TestConformanceMetaNodeSDK runs Meta's own Node SDK (npm "whatsapp",
// pinned in e2e/conformance): the first send of its README (hello_world),
// Meta's upper-case template enums, string coordinates, error envelopes
// and the two-step PIN.
func TestConformanceMetaNodeSDK(t *testing.T) {
	runConformanceScript(t, "whatsapp", "metasdk.mjs", 7)
}

// TestConformanceMicrofox runs @microfox/whatsapp-business (pinned in
// e2e/conformance): hello_world, the window error, conversational
// automation, template and phone lists, the profile and Graph errors.
func TestConformanceMicrofox(t *testing.T) {
	runConformanceScript(t, "@microfox/whatsapp-business", "microfox.mjs", 10)
}
