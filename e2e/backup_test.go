package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBackupRestore: a backup taken while a node serves, restored into a
// fresh data dir, starts a new cluster that serves the same tenant (its
// API token still works), templates and unexpired messages; the old
// admin token does not work there. Consumer export and erase work
// through the CLI on the restored cluster.
func TestBackupRestore(t *testing.T) {
	n1 := newProc(t, "node1")
	n1.start()
	n1.waitReady(20 * time.Second)
	token := n1.adminToken()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var created tenantCreated
	if code, err := doJSON(ctx, "POST", n1.url("/admin/v1/tenants"), token,
		map[string]string{"name": "Backed", "phone": "+15550007777"}, &created); err != nil || code != 200 {
		t.Fatalf("create tenant: %d %v", code, err)
	}
	createTemplate(t, n1, created.AccessToken, created.WABAID, "order_update", "Update: {{1}}")
	const consumer = "14445550123"
	marker := fmt.Sprintf("MARKER-%d", time.Now().UnixNano())
	secret(t, marker) // also captured from the request; named here because the test is about it
	consumerNumber(t, consumer)
	var sent struct {
		Messages []struct{ ID string } `json:"messages"`
	}
	if code, err := doJSON(ctx, "POST", n1.url("/v21.0/"+created.PhoneNumberID+"/messages"), created.AccessToken, map[string]any{
		"messaging_product": "whatsapp", "to": consumer, "type": "template",
		"template": map[string]any{"name": "order_update", "language": map[string]string{"code": "en"},
			"components": []any{map[string]any{"type": "body", "parameters": []any{
				map[string]string{"type": "text", "text": marker}}}}}}, &sent); err != nil || code != 200 || len(sent.Messages) != 1 {
		t.Fatalf("send: %d %v", code, err)
	}

	dir := t.TempDir()
	pass := filepath.Join(dir, "pass")
	secret(t, "a long enough backup passphrase", "not the passphrase at all")
	if err := os.WriteFile(pass, []byte("a long enough backup passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "cluster.backup")
	tokenFile := filepath.Join(n1.dataDir, "admin.token")
	if out, errOut, err := cli(t, "backup", "--server", n1.url(""), "--token-file", tokenFile, "--out", file, "--passphrase-file", pass); err != nil {
		t.Fatalf("backup: %v\n%s\n%s", err, out, errOut)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{marker, consumer, "Backed", created.AccessToken} {
		if strings.Contains(string(raw), s) {
			t.Fatalf("backup file holds %q in clear", s)
		}
	}
	n1.stop() // the old cluster is gone

	restored := newProc(t, "restored")
	kekFile := filepath.Join(n1.dataDir, "master.key")
	// Wrong passphrase and missing master key fail cleanly, leaving the dir empty.
	bad := filepath.Join(dir, "bad")
	_ = os.WriteFile(bad, []byte("not the passphrase at all"), 0o600)
	if _, errOut, err := cli(t, "restore", "--in", file, "--passphrase-file", bad, "--data-dir", restored.dataDir, "--master-key-file", kekFile); err == nil || !strings.Contains(errOut, "wrong passphrase") {
		t.Fatalf("restore with a wrong passphrase: %v %s", err, errOut)
	}
	if _, _, err := cli(t, "restore", "--in", file, "--passphrase-file", pass, "--data-dir", restored.dataDir); err == nil {
		t.Fatal("restore without the master key succeeded")
	}
	if entries, _ := os.ReadDir(restored.dataDir); len(entries) != 0 {
		t.Fatalf("failed restores left %d files", len(entries))
	}
	out, errOut, err := cli(t, "restore", "--in", file, "--passphrase-file", pass, "--data-dir", restored.dataDir, "--master-key-file", kekFile)
	if err != nil {
		t.Fatalf("restore: %v\n%s\n%s", err, out, errOut)
	}
	restored.start()
	restored.waitReady(30 * time.Second)
	newToken := restored.adminToken()
	if newToken == token {
		t.Fatal("the restored cluster reuses the old admin token")
	}
	if code, _ := doJSON(ctx, "GET", restored.url("/admin/v1/tenants"), token, nil, nil); code == 200 {
		t.Fatal("the old cluster's admin token works on the restored cluster")
	}
	var tenants tenantList
	if code, err := doJSON(ctx, "GET", restored.url("/admin/v1/tenants"), newToken, nil, &tenants); err != nil || code != 200 ||
		len(tenants.Data) != 1 || tenants.Data[0].PhoneNumberID != created.PhoneNumberID {
		t.Fatalf("tenants after restore: %d %v %+v", code, err, tenants)
	}
	var tpl struct {
		Data []struct{ Name string } `json:"data"`
	}
	if code, err := doJSON(ctx, "GET", restored.url("/v21.0/"+created.WABAID+"/message_templates"), created.AccessToken, nil, &tpl); err != nil || code != 200 ||
		len(tpl.Data) != 2 || tpl.Data[0].Name != "hello_world" || tpl.Data[1].Name != "order_update" {
		t.Fatalf("templates after restore: %d %v %+v", code, err, tpl)
	}

	// Consumer export on the restored cluster: the message, opened.
	newTokenFile := filepath.Join(restored.dataDir, "admin.token")
	out, errOut, err = cli(t, "tenant", "consumer-export", created.BusinessID, consumer, "--server", restored.url(""), "--token-file", newTokenFile)
	if err != nil {
		t.Fatalf("consumer-export: %v %s", err, errOut)
	}
	var exp struct {
		PhoneNumbers []struct {
			Messages []struct {
				ID      string          `json:"id"`
				Content json.RawMessage `json:"content"`
			} `json:"messages"`
		} `json:"phone_numbers"`
	}
	if err := json.Unmarshal([]byte(out), &exp); err != nil || len(exp.PhoneNumbers) != 1 || len(exp.PhoneNumbers[0].Messages) != 1 {
		t.Fatalf("export %s: %v", out, err)
	}
	if m := exp.PhoneNumbers[0].Messages[0]; m.ID != sent.Messages[0].ID || !strings.Contains(string(m.Content), marker) {
		t.Fatalf("exported message %+v", m)
	}
	out, errOut, err = cli(t, "tenant", "consumer-erase", created.BusinessID, consumer, "--server", restored.url(""), "--token-file", newTokenFile)
	if err != nil || !strings.Contains(out, `"messages": 1`) {
		t.Fatalf("consumer-erase: %v %s %s", err, out, errOut)
	}
	out, _, _ = cli(t, "tenant", "consumer-export", created.BusinessID, consumer, "--server", restored.url(""), "--token-file", newTokenFile)
	if err := json.Unmarshal([]byte(out), &exp); err != nil || len(exp.PhoneNumbers[0].Messages) != 0 {
		t.Fatalf("export after erase %s: %v", out, err)
	}
}
