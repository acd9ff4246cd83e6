package e2e

import (
	"bytes"
	"encoding/base64"
	endian "encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Invariant 4 (plaintext stays inside) for the black-box tests: every
// process a test starts runs at --log-level debug (a benchmark's at info,
// as in production), and when the test ends
// its whole captured output (stdout and stderr) is searched for every
// secret any test of the package used — message texts and markers,
// consumer numbers, access and admin tokens, app secrets, verify tokens,
// backup passphrases and keys — raw, hex, base64 (standard and URL
// alphabet, every alignment) and JSON-escaped. A hit fails the test.
//
// Secrets reach the registry two ways: the harness records what passes
// through it (doJSON request and response fields, bearer tokens, the
// sandbox CLI's --text and --number, each node's admin token and master
// key), and a test adds the rest with secret or consumerNumber. The
// registry is package-wide on purpose: a secret of one test must not show
// up in any other test's logs either.

// minSecretLen is the shortest value worth searching for: shorter strings
// match log text by chance. secret refuses them, automatic capture skips them.
const minSecretLen = 8

type secretKind int

const (
	// kindSecret never appears in any log, the network's included.
	kindSecret secretKind = iota
	// kindNumber is a consumer's phone number: never in a waedge node's
	// log; the network (a relay process) routes by it and may log it.
	kindNumber
)

var leaks = &leakRegistry{values: map[string]secretKind{}}

type leakRegistry struct {
	mu     sync.Mutex
	values map[string]secretKind
}

func (r *leakRegistry) add(kind secretKind, v string) {
	if len(v) < minSecretLen {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.values[v]; !ok || kind == kindSecret && old != kindSecret {
		r.values[v] = kind
	}
}

// secret registers values no process may log. Each must be distinctive
// (at least minSecretLen bytes) so that a hit means a leak.
func secret(t testing.TB, values ...string) {
	t.Helper()
	for _, v := range values {
		if len(v) < minSecretLen {
			t.Fatalf("secret %q is too short to search logs for (min %d bytes)", v, minSecretLen)
		}
		leaks.add(kindSecret, v)
	}
}

// consumerNumber registers consumer phone numbers no waedge node may log.
func consumerNumber(t testing.TB, numbers ...string) {
	t.Helper()
	for _, n := range numbers {
		if len(n) < minSecretLen {
			t.Fatalf("consumer number %q is too short to search logs for", n)
		}
		leaks.add(kindNumber, n)
		leaks.add(kindNumber, strings.TrimPrefix(n, "+"))
	}
}

// snapshot returns the registered values of the given kinds.
func (r *leakRegistry) snapshot(kinds ...secretKind) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for v, k := range r.values {
		for _, want := range kinds {
			if k == want {
				out = append(out, v)
			}
		}
	}
	return out
}

// leakForms are the byte patterns a logged secret could take: raw, hex
// (both cases), JSON-escaped, and the inner part of its base64 encodings
// (standard and URL alphabet) at each alignment.
func leakForms(s string) [][]byte {
	forms := needles(s) // raw, hex, base64 (both alphabets)
	forms = append(forms, []byte(strings.ToUpper(hex.EncodeToString([]byte(s)))))
	for _, html := range []bool{true, false} { // encoding/json escapes <>&, slog does not
		var j bytes.Buffer
		enc := json.NewEncoder(&j)
		enc.SetEscapeHTML(html)
		if enc.Encode(s) == nil {
			forms = append(forms, bytes.TrimSuffix(j.Bytes(), []byte("\n"))[1:j.Len()-2])
		}
	}
	var out [][]byte
	for _, f := range forms {
		dup := false
		for _, o := range out {
			dup = dup || bytes.Equal(o, f)
		}
		if !dup {
			out = append(out, f)
		}
	}
	return out
}

// findLeaks reports each secret found in log, with the line it is on. It
// reads the log once: every form is at least 8 bytes long, so each 8-byte
// window of the log is looked up among the forms' first 8 bytes.
func findLeaks(log string, secrets []string) []string {
	type form struct {
		secret int
		b      []byte
	}
	byPrefix := map[uint64][]form{}
	for i, s := range secrets {
		for _, f := range leakForms(s) {
			if len(f) >= 8 {
				k := endian.LittleEndian.Uint64(f)
				byPrefix[k] = append(byPrefix[k], form{i, f})
			}
		}
	}
	found := map[int]bool{}
	var hits []string
	for i := 0; i+8 <= len(log); i++ {
		for _, f := range byPrefix[endian.LittleEndian.Uint64([]byte(log[i:i+8]))] {
			if found[f.secret] || !strings.HasPrefix(log[i:], string(f.b)) {
				continue
			}
			found[f.secret] = true
			start := strings.LastIndexByte(log[:i], '\n') + 1
			end := strings.IndexByte(log[i:], '\n')
			if end < 0 {
				end = len(log) - i
			}
			line := log[start : i+end]
			if len(line) > 400 {
				line = line[:400] + "…"
			}
			hits = append(hits, fmt.Sprintf("%q (as %q) in: %s", secrets[f.secret], f.b, line))
		}
	}
	return hits
}

// checkLog fails t when the captured output of process name holds any
// registered secret; a network process may hold consumer numbers.
func checkLog(t testing.TB, name, log string, network bool) {
	t.Helper()
	kinds := []secretKind{kindSecret, kindNumber}
	if network {
		kinds = kinds[:1]
	}
	secrets := leaks.snapshot(kinds...)
	if len(secrets) == 0 {
		t.Errorf("log check of %s: no secrets registered, the check would pass vacuously", name)
		return
	}
	for _, h := range findLeaks(log, secrets) {
		t.Errorf("%s logged a secret: %s", name, h)
	}
}

// harvestNodeSecrets registers what a node keeps in its data dir that its
// log must never show: the admin token and the cluster master key.
func harvestNodeSecrets(dataDir string) {
	for _, f := range []string{"admin.token", "master.key"} {
		if b, err := os.ReadFile(filepath.Join(dataDir, f)); err == nil {
			leaks.add(kindSecret, strings.TrimSpace(string(b)))
		}
	}
}

// Fields of request and response JSON whose values are secrets (by key).
var (
	secretFields  = map[string]bool{"access_token": true, "app_secret": true, "verify_token": true, "token": true, "join_token": true}
	contentFields = map[string]bool{"body": true, "text": true, "caption": true}
	numberFields  = map[string]bool{"to": true, "wa_id": true}
)

// captureJSON registers the secrets in a JSON document (doJSON's request
// and response bodies): message texts, consumer numbers and tokens.
func captureJSON(doc []byte) {
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return
	}
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(k, e)
			}
		case []any:
			for _, e := range x {
				walk(key, e)
			}
		case string:
			switch {
			case secretFields[key], contentFields[key]:
				leaks.add(kindSecret, x)
			case numberFields[key]:
				leaks.add(kindNumber, strings.TrimPrefix(x, "+"))
			}
		}
	}
	walk("", v)
}

// captureArgs registers the secrets on a CLI command line: texts, numbers
// of hosted phones, tokens.
func captureArgs(args []string) {
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "--text", "--caption", "--contact-name", "--join-token", "--token":
			leaks.add(kindSecret, args[i+1])
		case "--number", "--contact-phone":
			leaks.add(kindNumber, strings.TrimPrefix(args[i+1], "+"))
		}
	}
}

// TestLogScanFindsEveryForm: the scan finds a secret however it was
// written into a log line, and nothing in a log without it.
func TestLogScanFindsEveryForm(t *testing.T) {
	const s = "MARKER-é\"tab\t-4917600000077?>"
	bin := []byte(s)
	forms := map[string]string{
		"raw":        s,
		"hex":        hex.EncodeToString(bin),
		"HEX":        strings.ToUpper(hex.EncodeToString(bin)),
		"json":       func() string { j, _ := json.Marshal(s); return string(j) }(),
		"std base64": base64.StdEncoding.EncodeToString(bin),
		"url base64": base64.RawURLEncoding.EncodeToString(append([]byte{0xfb, 0xff}, bin...)),
		"aligned +1": base64.StdEncoding.EncodeToString(append([]byte("x"), bin...)),
	}
	var slogged bytes.Buffer
	slog.New(slog.NewJSONHandler(&slogged, nil)).Info("inbound", slog.String("text", s))
	forms["slog json"] = slogged.String()
	for name, f := range forms {
		log := `{"level":"INFO","msg":"x"}` + "\n" + `{"level":"DEBUG","v":"` + f + `"}` + "\n" + `{"msg":"y"}`
		if hits := findLeaks(log, []string{"unrelated-secret", s}); len(hits) != 1 {
			t.Errorf("%s form: %d hits in %s", name, len(hits), log)
		}
	}
	if hits := findLeaks(`{"msg":"MARKER-é nothing else"}`, []string{s}); len(hits) != 0 {
		t.Errorf("false hit: %v", hits)
	}
}
