package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// configCheck runs `waedge config check` with env and returns exit code,
// stdout and stderr.
func configCheck(env map[string]string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"config", "check"}, args...), &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

// TestConfigPrecedence: a flag beats the environment, which beats the
// file, which beats the default — the same for TOML and YAML — and the
// join token never appears in the printed configuration.
func TestConfigPrecedence(t *testing.T) {
	files := map[string]string{
		"waedge.toml": `http-addr = "127.0.0.1:18080"
log_level = "warn"
expiry-interval = "5m"
join = ["10.0.0.1:8081", "10.0.0.2:8081"]
join-token = "wjt1.super-secret-token"
max-conns-per-ip = 17
tls-auto = true
`,
		"waedge.yaml": `http-addr: 127.0.0.1:18080
log_level: warn
expiry-interval: 5m
join: [10.0.0.1:8081, 10.0.0.2:8081]
join-token: wjt1.super-secret-token
max-conns-per-ip: 17
tls-auto: true
`,
	}
	for name, body := range files {
		f := writeFile(t, name, body)
		env := map[string]string{"WAEDGE_HTTP_ADDR": "127.0.0.1:28080", "WAEDGE_EXPIRY_INTERVAL": "2m"}
		code, out, errOut := configCheck(env, "--config", f, "--expiry-interval", "30s")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, errOut)
		}
		for _, want := range []string{
			`expiry-interval = "30s"  # flag`,
			`http-addr = "127.0.0.1:28080"  # environment WAEDGE_HTTP_ADDR`,
			`log-level = "warn"  # file ` + f,
			`join = "10.0.0.1:8081,10.0.0.2:8081"  # file`,
			`max-conns-per-ip = "17"  # file`,
			`tls-auto = "true"  # file`,
			`cluster-addr = "127.0.0.1:8081"  # default`,
			`join-token = "********"`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", name, want, out)
			}
		}
		if strings.Contains(out, "super-secret") {
			t.Errorf("%s: the join token is printed", name)
		}
	}
}

// TestConfigRejected: a key that is no serve flag, a nested table, a value
// the flag refuses, or an unreadable file stop `config check` (and serve)
// with exit 2 and a message naming the problem.
func TestConfigRejected(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"unknown.toml", "data-dir = \"x\"\nmaster-key = \"00\"\n", "master-key"},
		{"nested.toml", "[raft]\nheartbeat = \"1s\"\n", "flat table"},
		{"badvalue.yaml", "raft-election-timeout: 1ms\n", "raft-election-timeout"},
		{"badsize.toml", "max-body-in-flight = \"1KiB\"\n", "max-body-in-flight"},
		{"syntax.toml", "data-dir = \n", "invalid configuration file"},
	} {
		f := writeFile(t, c.name, c.body)
		code, _, errOut := configCheck(nil, "--config", f)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 mentioning %q", c.name, code, errOut, c.want)
		}
	}
	if code, _, errOut := configCheck(map[string]string{"WAEDGE_CONFIG": "/nonexistent/waedge.toml"}); code != 2 || !strings.Contains(errOut, "nonexistent") {
		t.Errorf("missing WAEDGE_CONFIG file: exit %d, %q", code, errOut)
	}
}
