package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestNoPlaintextOnDisk sends messages carrying a unique marker through a
// 3-process cluster and then searches every byte under every node's data
// dir (bbolt state machine, Raft log, snapshots, keys) for it and for the
// consumer's number: content and number are sealed on the proposer, so
// neither may appear anywhere.
func TestNoPlaintextOnDisk(t *testing.T) {
	nodes, token := startCluster(t)
	var created tenantCreated
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if code, err := doJSON(ctx, "POST", nodes[0].url("/admin/v1/tenants"), token,
		map[string]string{"name": "Seal", "phone": "+15550007777"}, &created); err != nil || code != 200 {
		t.Fatalf("create tenant: %d %v", code, err)
	}
	createTemplate(t, nodes[0], created.AccessToken, created.WABAID, "order_update", "Update: {{1}}")
	// The tenant and template reach the other nodes within a commit round.
	waitConverged(t, nodes, token)
	var b [12]byte
	_, _ = rand.Read(b[:])
	marker := "MARKER-" + hex.EncodeToString(b[:])
	secret(t, marker)
	consumerNumber(t, "15551230000")
	for i, p := range nodes {
		body := map[string]any{"messaging_product": "whatsapp", "to": "15551230000", "type": "template",
			"template": map[string]any{"name": "order_update", "language": map[string]string{"code": "en"},
				"components": []any{map[string]any{"type": "body", "parameters": []any{
					map[string]string{"type": "text", "text": fmt.Sprintf("%s-%d", marker, i)}}}}}}
		var resp map[string]any
		code, err := doJSON(ctx, "POST", p.url("/v21.0/"+created.PhoneNumberID+"/messages"), created.AccessToken, body, &resp)
		if err != nil || code != 200 {
			t.Fatalf("send via %s: %d %v", p.name, code, err)
		}
	}
	// Every node has applied the writes before we look.
	waitConverged(t, nodes, token)
	for _, p := range nodes {
		files := 0
		err := filepath.WalkDir(p.dataDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			if bytes.Contains(data, []byte(marker)) {
				t.Errorf("%s: plaintext marker found in %s", p.name, path)
			}
			// The consumer's number is kept only sealed or as a keyed reference.
			if bytes.Contains(data, []byte("15551230000")) {
				t.Errorf("%s: consumer number found in %s", p.name, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if files < 5 {
			t.Fatalf("%s: only %d files scanned", p.name, files)
		}
	}
	// Each node's embedded sandbox relay lives beside its data dir.
	for _, p := range nodes {
		checkSandboxOutsideDataDir(t, p, p.dataDir+".sandbox", marker, "15551230000")
	}
	// Sanity: the scan does find what is kept in clear — the business's own
	// phone number (its tenant record).
	found := false
	_ = filepath.WalkDir(nodes[0].dataDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if data, _ := os.ReadFile(path); bytes.Contains(data, []byte("15550007777")) {
				found = true
			}
		}
		return nil
	})
	if !found {
		t.Fatal("the scan finds nothing at all; it cannot be trusted")
	}
}

// waitConverged waits until every node reports the same state digest. The
// digests agree only between writes: after many tenants are created the
// leader's connector is still registering their numbers on the network
// (a write each) for a while, longer on a loaded machine.
func waitConverged(t testing.TB, nodes []*proc, token string) {
	t.Helper()
	waitFor(t, "replicas agree", 60*time.Second, func() bool {
		var first digest
		for i, p := range nodes {
			d, err := fsmDigest(p, token)
			if err != nil || (i > 0 && d != first) {
				return false
			}
			first = d
		}
		return true
	})
}
