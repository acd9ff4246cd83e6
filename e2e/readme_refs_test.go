package e2e

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The README's walkthroughs run as written (readme_test.go). Its other
// shell blocks are reference snippets with placeholders ($PNID,
// TEMPLATE_ID, https://my-app.example/hook) that cannot run as pasted on a
// fresh machine; this file keeps them true instead: every `waedge …`
// command in them must parse (command, sub-command, flags, argument
// count), and every `curl` must name a route the server has, with that
// method. The shell blocks of docs/*.md are held to the same rules.

// readmeSnippet is one logical command of a README shell block.
type readmeSnippet struct {
	file string // Markdown file, relative to the repository
	line int    // line it starts on
	text string // continuation lines joined, comments removed
}

// readmeReferenceSnippets returns the commands of every shell block that
// is not a tested walkthrough: fenced ```sh blocks and 4-space indented
// blocks.
func readmeReferenceSnippets(t *testing.T) []readmeSnippet {
	t.Helper()
	out := markdownSnippets(t, "README.md")
	if len(out) < 20 {
		t.Fatalf("found only %d reference commands in README.md: the parser no longer matches its layout", len(out))
	}
	docs, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("docs/*.md: %v", err)
	}
	for _, d := range docs {
		out = append(out, markdownSnippets(t, filepath.Join("docs", filepath.Base(d)))...)
	}
	return out
}

// markdownSnippets returns the commands of one Markdown file's shell
// blocks that are not walkthroughs (path relative to the repository).
func markdownSnippets(t *testing.T, path string) []readmeSnippet {
	t.Helper()
	f, err := os.Open(filepath.Join("..", path))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []readmeSnippet
	var cur *readmeSnippet
	inFence, walkthrough, prevBlank := false, false, true
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "<!-- README test: "):
			walkthrough = true
			continue
		case !inFence && (line == "```sh" || line == "```bash"):
			inFence = true
			continue
		case inFence && line == "```":
			inFence, walkthrough = false, false
			continue
		}
		var code string
		switch {
		case inFence && !walkthrough:
			code = line
		case !inFence && strings.HasPrefix(line, "    ") && (prevBlank || cur != nil):
			code = strings.TrimPrefix(line, "    ")
		default:
			prevBlank = strings.TrimSpace(line) == ""
			continue
		}
		prevBlank = false
		code = stripShellComment(code)
		if strings.TrimSpace(code) == "" {
			continue
		}
		if cur == nil {
			cur = &readmeSnippet{file: path, line: n}
		}
		cont := strings.HasSuffix(strings.TrimSpace(code), `\`)
		cur.text += strings.TrimSuffix(strings.TrimSpace(code), `\`) + " "
		if !cont {
			cur.text = strings.TrimSpace(cur.text)
			out = append(out, *cur)
			cur = nil
		}
	}
	return out
}

// stripShellComment removes a trailing "# …" that is outside quotes.
func stripShellComment(s string) string {
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '\'' || r == '"'):
			quote = r
		case quote == 0 && r == '#' && (i == 0 || s[i-1] == ' '):
			return s[:i]
		}
	}
	return s
}

// optionalGroup is a "[…]" in a usage-style command.
var optionalGroup = regexp.MustCompile(`\[([^\]]*)\]`)

// TestREADMEReferenceCommandsParse runs every `waedge` command of the
// README's reference blocks against a server that is not there: each must
// get past its own argument parsing (exit code 1, "could not reach"), not
// stop at a usage error (exit code 2). Optional "[--flag value]" groups
// are run with the flag; other bracketed words are left out.
func TestREADMEReferenceCommandsParse(t *testing.T) {
	closed := closedPort(t)
	dir := t.TempDir()
	// The files the snippets name, so that they fail on the missing server
	// and not on a missing file.
	for name, content := range map[string]string{"pass.txt": "a passphrase of the backup\n",
		"waedge.toml": "", "admin.token": "not-a-token\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	checked := 0
	for _, s := range readmeReferenceSnippets(t) {
		fields := strings.Fields(s.text)
		if fields[0] != "waedge" && fields[0] != "./waedge" {
			continue
		}
		sub := fields[1]
		if sub == "serve" {
			continue // serve starts a node: the walkthroughs run it
		}
		cmdline := optionalGroup.ReplaceAllStringFunc(s.text, func(g string) string {
			inner := strings.TrimSpace(g[1 : len(g)-1])
			if strings.HasPrefix(inner, "--") {
				return inner
			}
			return ""
		})
		if sub == "bench" {
			// Measure nothing: a binary that does not exist makes every
			// scenario stop right after its flags were read.
			cmdline += " --binary " + filepath.Join(dir, "no-such-waedge")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, "bash", "-c",
			`waedge() { "$WAEDGE_BIN" "$@"; }`+"\n"+strings.Replace(cmdline, "./waedge", "waedge", 1))
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "WAEDGE_BIN=" + binary,
			"WAEDGE_SERVER=http://" + closed, "WAEDGE_ADMIN_TOKEN=not-a-token",
			"PNID=1001", "WABA_ID=1002", "BUSINESS_ID=1003", "BID=1003", "APP_ID=1004", "TOKEN=x", "T=x"}
		out, err := cmd.CombinedOutput()
		cancel()
		code := 0
		if err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatalf("%s:%d %q: %v", s.file, s.line, s.text, err)
			}
			code = ee.ExitCode()
		}
		text := string(out)
		switch {
		case sub == "cluster" && fields[2] == "recover":
			// Offline: an empty data dir is refused after the flags were read.
			if !strings.Contains(text, "holds no node") {
				t.Errorf("%s:%d: %q:\n%s", s.file, s.line, s.text, tail(text, 8))
			}
		case code == 2 && !strings.Contains(text, "no such file or directory"),
			// (a file the snippet names that is not here is not a parse error)
			strings.Contains(text, "flag provided but not defined"),
			strings.Contains(text, "unknown command"):
			t.Errorf("%s:%d: %q does not parse (exit %d):\n%s", s.file, s.line, s.text, code, tail(text, 8))
		case sub == "version" && code != 0:
			t.Errorf("%s:%d: %q exit %d:\n%s", s.file, s.line, s.text, code, tail(text, 8))
		}
		checked++
	}
	if checked < 20 {
		t.Fatalf("checked only %d waedge commands", checked)
	}
	t.Logf("%d README reference commands parse", checked)
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

var (
	curlURL     = regexp.MustCompile(`(?:https?://)?(?:localhost|127\.0\.0\.1):8080(/[^\s"']*)`)
	curlMethod  = regexp.MustCompile(`(?:^|\s)-X\s+([A-Z]+)`)
	curlHasBody = regexp.MustCompile(`(?:^|\s)(?:-d|-F|--data[a-z-]*)\s`)
	versionSeg  = regexp.MustCompile(`^/v[0-9]+\.[0-9]+(/|$)`)
)

// TestREADMEReferenceRoutesExist checks every `curl` of the README's
// reference blocks against the routes a node serves (its /openapi.json,
// generated from the registered routes): the path, with placeholders taken
// as parameters, and the method.
func TestREADMEReferenceRoutesExist(t *testing.T) {
	n := newProc(t, "n1")
	n.start()
	n.waitReady(60 * time.Second)
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if code, err := doJSON(context.Background(), "GET", n.url("/openapi.json"), "", nil, &doc); err != nil || code != 200 {
		t.Fatalf("openapi.json: %d %v", code, err)
	}
	checked := 0
	for _, s := range readmeReferenceSnippets(t) {
		if !strings.HasPrefix(s.text, "curl ") {
			continue
		}
		if strings.Contains(s.text, `"$URL"`) {
			continue // the media download URL an earlier answer returned
		}
		m := curlURL.FindStringSubmatch(s.text)
		if m == nil {
			t.Errorf("%s:%d: a curl with no URL of the node: %q", s.file, s.line, s.text)
			continue
		}
		path, _, _ := strings.Cut(m[1], "?")
		path = versionSeg.ReplaceAllString(path, "/")
		method := "GET"
		if x := curlMethod.FindStringSubmatch(s.text); x != nil {
			method = x[1]
		} else if curlHasBody.MatchString(s.text) {
			method = "POST"
		}
		if !routeServed(doc.Paths, path, strings.ToLower(method)) {
			t.Errorf("%s:%d: %s %s is not a route of the server (%q)", s.file, s.line, method, path, s.text)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("checked only %d curl commands", checked)
	}
	t.Logf("%d README curl commands name served routes", checked)
}

// routeServed reports whether an OpenAPI path serves method for path,
// where a README placeholder ($VAR, WORD_ID, "tok-…") matches a parameter.
func routeServed(paths map[string]map[string]any, path, method string) bool {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for pattern, methods := range paths {
		if _, ok := methods[method]; !ok {
			continue
		}
		ps := strings.Split(strings.Trim(pattern, "/"), "/")
		if len(ps) != len(segs) {
			continue
		}
		match := true
		for i, p := range ps {
			param := strings.HasPrefix(p, "{")
			placeholder := strings.HasPrefix(segs[i], "$") || strings.HasSuffix(segs[i], "_ID") ||
				strings.HasSuffix(segs[i], "…")
			if p != segs[i] && !(param && (placeholder || segs[i] != "")) {
				match = false
				break
			}
			if !param && placeholder {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
