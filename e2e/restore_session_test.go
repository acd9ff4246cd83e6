package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRestoreKeepsSignalSessions: a business and a hosted phone converse
// over a shared relay; the cluster is backed up while it serves, destroyed,
// and restored from the backup into a new cluster on the same relay. The
// phone keeps its session: its next message is decrypted by the restored
// cluster (from the restored Signal state) and reaches the webhook, and the
// business's reply reaches the phone.
func TestRestoreKeepsSignalSessions(t *testing.T) {
	rl := startRelay(t)
	network := "relay://" + rl.addr
	n1 := newProc(t, "node1", "--network", network, "--egress-allow", "127.0.0.0/8") // receiver on 127.0.0.1
	n1.start()
	n1.waitReady(20 * time.Second)
	token := n1.adminToken()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var created tenantCreated
	if code, err := doJSON(ctx, "POST", n1.url("/admin/v1/tenants"), token,
		map[string]string{"name": "Kept", "phone": "+15550006060"}, &created); err != nil || code != 200 {
		t.Fatalf("create tenant: %d %v", code, err)
	}
	hook := newHook(t)
	if code, err := doJSON(ctx, "POST", n1.url("/v21.0/"+created.WABAID+"/subscribed_apps"), created.AccessToken,
		map[string]string{"override_callback_uri": hook.srv.URL, "verify_token": "verify-restore-session"}, nil); err != nil || code != 200 {
		t.Fatalf("subscribe: %d %v", code, err)
	}
	const business, consumer = "15550006060", "4917600000061"
	consumerNumber(t, consumer)
	sandbox(t, rl.sandbox(), nil, "create", "--number", consumer, "--name", "Lea")
	say := func(text string) {
		t.Helper()
		waitFor(t, "phone sends "+text, 30*time.Second, func() bool {
			_, _, err := cli(t, append([]string{"sandbox", "phone", "send", "--number", consumer,
				"--to", business, "--text", text}, rl.sandbox().flags()...)...)
			return err == nil
		})
		waitFor(t, "webhook for "+text, 30*time.Second, func() bool { return hook.received(text) })
	}
	reply := func(p *proc, text string) {
		t.Helper()
		code, err := doJSON(ctx, "POST", p.url("/v21.0/"+created.PhoneNumberID+"/messages"), created.AccessToken,
			map[string]any{"messaging_product": "whatsapp", "to": consumer, "type": "text",
				"text": map[string]string{"body": text}}, nil)
		if err != nil || code != 200 {
			t.Fatalf("reply %q: %d %v", text, code, err)
		}
		waitFor(t, "phone receives "+text, 30*time.Second, func() bool {
			var in inbox
			sandbox(t, rl.sandbox(), &in, "inbox", "--number", consumer)
			for _, m := range in.Messages {
				if m.Content.Text.Body == text {
					return true
				}
			}
			return false
		})
	}
	say("before the backup")
	reply(n1, "answer before the backup")

	dir := t.TempDir()
	key := filepath.Join(dir, "backup.key")
	secret(t, "0123456789abcdef0123456789abcdef") // the backup key
	if err := os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "cluster.backup")
	if out, errOut, err := cli(t, "backup", "--server", n1.url(""), "--token-file", filepath.Join(n1.dataDir, "admin.token"),
		"--out", file, "--key-file", key); err != nil {
		t.Fatalf("backup: %v\n%s\n%s", err, out, errOut)
	}
	n1.kill() // the old cluster is gone

	restored := newProc(t, "restored", "--network", network, "--egress-allow", "127.0.0.0/8")
	if out, errOut, err := cli(t, "restore", "--in", file, "--key-file", key, "--data-dir", restored.dataDir,
		"--master-key-file", filepath.Join(n1.dataDir, "master.key")); err != nil {
		t.Fatalf("restore: %v\n%s\n%s", err, out, errOut)
	}
	restored.start()
	restored.waitReady(30 * time.Second)
	// The phone continues its existing session: no new key agreement.
	say("after the restore")
	reply(restored, "answer after the restore")
}
