package relay

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSandboxCLIToken: `sandbox phone` finds the relay's token on the command line, in
// WAEDGE_RELAY_TOKEN, in --relay-token-file (or WAEDGE_RELAY_TOKEN_FILE) and by default in the file
// it is given (the embedded sandbox's); the flag wins over the variable, which wins over the file.
// Without a token it stops before any request; a wrong one is refused by the relay.
func TestSandboxCLIToken(t *testing.T) {
	dir := t.TempDir()
	tr := startRelay(t, Config{DataDir: dir})
	tokenFile := filepath.Join(dir, TokenFileName)
	wrong := filepath.Join(t.TempDir(), "wrong.token")
	if err := os.WriteFile(wrong, []byte(strings.Repeat("f", 64)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(env map[string]string, defaultFile string, args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := SandboxMain(context.Background(), append([]string{"phone", "list", "--relay", tr.url}, args...), &out, &errb,
			func(k string) string { return env[k] }, defaultFile)
		return code, errb.String()
	}
	for _, c := range []struct {
		name        string
		env         map[string]string
		defaultFile string
		args        []string
		want        int
	}{
		{"default file", nil, tokenFile, nil, 0},
		{"flag file", nil, wrong, []string{"--relay-token-file", tokenFile}, 0},
		{"env file", map[string]string{"WAEDGE_RELAY_TOKEN_FILE": tokenFile}, wrong, nil, 0},
		{"env token over a wrong file", map[string]string{"WAEDGE_RELAY_TOKEN": tr.token}, wrong, nil, 0},
		{"flag token over a wrong env token", map[string]string{"WAEDGE_RELAY_TOKEN": "nope"}, wrong, []string{"--relay-token", tr.token}, 0},
		{"wrong default file", nil, wrong, nil, 1},
		{"wrong env token", map[string]string{"WAEDGE_RELAY_TOKEN": "nope"}, tokenFile, nil, 1},
		{"no token at all", nil, filepath.Join(t.TempDir(), "absent"), nil, 2},
	} {
		if code, stderr := run(c.env, c.defaultFile, c.args...); code != c.want {
			t.Errorf("%s: exit %d, want %d (%s)", c.name, code, c.want, stderr)
		}
	}
}

// TestSandboxCLINumbers: numbers are taken as tenant create takes them
// (+E164) or as digits, alike; anything else stops with an error that
// says what a number must look like.
func TestSandboxCLINumbers(t *testing.T) {
	dir := t.TempDir()
	tr := startRelay(t, Config{DataDir: dir})
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := SandboxMain(context.Background(), append(args, "--relay", tr.url), &out, &errb,
			func(string) string { return "" }, filepath.Join(dir, TokenFileName))
		return code, out.String(), errb.String()
	}
	if code, out, stderr := run("phone", "create", "--number", "+4915100000077", "--name", "Eve"); code != 0 || !strings.Contains(out, `"4915100000077"`) {
		t.Fatalf("create with +E164: %d %s %s", code, out, stderr)
	}
	if code, out, stderr := run("phone", "inbox", "--number", "4915100000077"); code != 0 {
		t.Fatalf("the same phone by its digits: %d %s %s", code, out, stderr)
	}
	if code, _, stderr := run("phone", "create", "--number", "0049-151", "--name", "X"); code != 2 || !strings.Contains(stderr, "E.164") {
		t.Fatalf("malformed number: %d %s", code, stderr)
	}
}
