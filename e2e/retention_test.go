package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waedge/waedge/keyring"
	"github.com/waedge/waedge/raftfsm"
)

// needles are the byte patterns a secret could leave on disk: raw, hex,
// and its base64 encodings at each of the three alignments (inner part).
func needles(s string) [][]byte {
	out := [][]byte{[]byte(s), []byte(hex.EncodeToString([]byte(s)))}
	for pad := range 3 {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, pad), s...))
		// Skip the characters that mix in the padding bytes and the tail.
		start := (pad*8 + 5) / 6
		if end := len(enc) - 4; end-start >= 8 {
			out = append(out, []byte(enc[start:end]))
		}
	}
	return out
}

// scanDataDir reports every file under dir containing any needle.
func scanDataDir(t *testing.T, dir string, secrets map[string][][]byte) (hits []string, files int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for name, ns := range secrets {
			for _, n := range ns {
				if bytes.Contains(data, n) {
					hits = append(hits, fmt.Sprintf("%s (%s as %q)", path, name, n))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits, files
}

// openFSMCopy opens a copy of a node's state machine (the live file is
// locked by the running process).
func openFSMCopy(t *testing.T, p *proc) *raftfsm.FSM {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dataDir, "fsm.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fsm.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := raftfsm.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// TestGoneAfterRetention is issue 5's grep test. Messages carrying a unique
// marker go to a unique consumer number from every node of a 3-process
// cluster, for a phone number with 1-hour retention. Before expiry neither
// marker nor number is on disk in clear. Then the cluster's clock moves 3
// hours on (WAEDGE_TEST_CLOCK), expiry runs and every node compacts its
// Raft log. After that: no hit for either anywhere under any data dir, and
// the sealed blobs that carried them (copies of which may survive in free
// pages) open under none of the data keys that remain, unwrapped with the
// cluster key. (Backups do not exist yet, so that part of the test
// is not here.)
func TestGoneAfterRetention(t *testing.T) {
	nodes, token := startClusterWith(t, []string{"WAEDGE_TEST_CLOCK=1"}, "--expiry-interval", "200ms")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var created tenantCreated
	if code, err := doJSON(ctx, "POST", nodes[0].url("/admin/v1/tenants"), token,
		map[string]string{"name": "Gone", "phone": "+15550008888"}, &created); err != nil || code != 200 {
		t.Fatalf("create tenant: %d %v", code, err)
	}
	var set map[string]any
	if code, err := doJSON(ctx, "POST", nodes[1].url("/admin/v1/phones/"+created.PhoneNumberID+"/retention"), token,
		map[string]int{"retention_hours": 1}, &set); err != nil || code != 200 {
		t.Fatalf("set retention: %d %v %v", code, err, set)
	}
	createTemplate(t, nodes[0], created.AccessToken, created.WABAID, "order_update", "Update: {{1}}")
	waitConverged(t, nodes, token)

	var b [12]byte
	_, _ = rand.Read(b[:])
	marker := "MARKER-" + hex.EncodeToString(b[:])
	r, _ := rand.Int(rand.Reader, big.NewInt(1e7))
	consumer := fmt.Sprintf("1444%07d", r.Int64())
	var wamids []string
	for i, p := range nodes {
		body := map[string]any{"messaging_product": "whatsapp", "to": consumer, "type": "template",
			"template": map[string]any{"name": "order_update", "language": map[string]string{"code": "en"},
				"components": []any{map[string]any{"type": "body", "parameters": []any{
					map[string]string{"type": "text", "text": fmt.Sprintf("%s-%d", marker, i)}}}}}}
		var resp struct {
			Messages []struct{ ID string } `json:"messages"`
		}
		code, err := doJSON(ctx, "POST", p.url("/v21.0/"+created.PhoneNumberID+"/messages"), created.AccessToken, body, &resp)
		if err != nil || code != 200 || len(resp.Messages) != 1 {
			t.Fatalf("send via %s: %d %v", p.name, code, err)
		}
		wamids = append(wamids, resp.Messages[0].ID)
	}
	waitConverged(t, nodes, token)
	secrets := map[string][][]byte{"marker": needles(marker), "consumer number": needles(consumer)}
	for _, p := range nodes {
		if hits, files := scanDataDir(t, p.dataDir, secrets); len(hits) > 0 || files < 5 {
			t.Fatalf("%s before expiry (%d files): %v", p.name, files, hits)
		}
	}
	// The sealed blobs that carry the marker and the number, as replicated.
	type blob struct {
		what string
		aad  []byte
		b    []byte
	}
	var blobs []blob
	f := openFSMCopy(t, nodes[0])
	for _, id := range wamids {
		m, err := f.MessageByID(id)
		if err != nil {
			t.Fatalf("message %s not stored: %v", id, err)
		}
		blobs = append(blobs, blob{"content", []byte(id), m.Content}, blob{"peer", raftfsm.PeerAAD(id), m.PeerSealed})
	}
	_ = f.Close()
	kek := readKEK(t, nodes[0])
	// Sanity: the check below can open them while their key exists.
	for _, bl := range blobs {
		if !opensWithAny(t, []*proc{nodes[0]}, kek, bl.aad, bl.b) {
			t.Fatalf("%s blob does not open before expiry: the decrypt check cannot be trusted", bl.what)
		}
	}

	// Three hours on, on every node (the leader's worker is kicked).
	// Every log position is noted before any clock moves: the first advance
	// kicks the leader's expiry, which may compact the others at once.
	marks := make([]int, len(nodes))
	for i, p := range nodes {
		marks[i] = len(p.log.String())
	}
	for _, p := range nodes {
		var out map[string]any
		if code, err := doJSON(ctx, "POST", p.url("/admin/v1/debug/clock"), token,
			map[string]int{"advance_seconds": 3 * 3600}, &out); err != nil || code != 200 {
			t.Fatalf("advance clock on %s: %d %v", p.name, code, err)
		}
	}
	for i, p := range nodes {
		waitFor(t, p.name+" compacted its log after expiry", 30*time.Second, func() bool {
			return strings.Contains(p.log.String()[marks[i]:], "raft log compacted after expiry")
		})
	}
	waitConverged(t, nodes, token)

	for _, p := range nodes {
		f := openFSMCopy(t, p)
		if n := f.MessageCount(); n != 0 {
			t.Errorf("%s: %d messages left after expiry", p.name, n)
		}
		_ = f.Close()
		if hits, _ := scanDataDir(t, p.dataDir, secrets); len(hits) > 0 {
			t.Errorf("%s after expiry: %v", p.name, hits)
		}
	}
	// Sanity: the same scan does find what is kept in clear (the
	// business's own number, in its tenant record).
	if hits, _ := scanDataDir(t, nodes[0].dataDir, map[string][][]byte{"business": needles("15550008888")}); len(hits) == 0 {
		t.Fatal("the scan finds nothing at all; it cannot be trusted")
	}
	// Whatever copies of the ciphertext survive (free pages of fsm.db and
	// raft.db), no data key left on any node opens them.
	for _, bl := range blobs {
		if opensWithAny(t, nodes, kek, bl.aad, bl.b) {
			t.Errorf("%s blob still opens with a remaining data key", bl.what)
		}
	}
}

func readKEK(t *testing.T, p *proc) keyring.KEK {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dataDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := keyring.ParseKEK(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// opensWithAny tries every data key held by any of the nodes' state
// machines, unwrapped with the cluster key.
func opensWithAny(t *testing.T, nodes []*proc, kek keyring.KEK, aad, sealed []byte) bool {
	t.Helper()
	for _, p := range nodes {
		f := openFSMCopy(t, p)
		ids, err := f.DataKeyIDs()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			w, err := f.DataKey(id)
			if err != nil {
				t.Fatal(err)
			}
			dk, err := keyring.UnwrapDataKey(kek, id, w)
			if err != nil {
				t.Fatal(err)
			}
			// A key of another id fails anyway (ids are authenticated and
			// keys independent); the one that matters is the blob's own.
			if _, err := keyring.Open(dk, aad, sealed); err == nil {
				_ = f.Close()
				return true
			}
		}
		_ = f.Close()
	}
	return false
}
