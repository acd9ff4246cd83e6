package embed_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/waedge/waedge/embed"
)

func TestConsole(t *testing.T) {
	console := embed.Console()
	for _, tc := range []struct{ file, want string }{
		{"index.html", "<title>waedge console</title>"},
		{"index.html", `src="/console/js/app.js"`},
		{"js/pages.js", "/admin/v1/cluster"},
	} {
		b, err := fs.ReadFile(console, tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("%s lacks %q", tc.file, tc.want)
		}
	}
	// Rooted at dist/: the directory itself is not visible.
	if _, err := fs.Stat(console, "dist"); err == nil {
		t.Error("console is not rooted at dist/")
	}
}

// TestConsoleNeverParsesHTML: the console's strict CSP forbids inline
// script and style, and values are inserted as text only — no file may
// use innerHTML, outerHTML, insertAdjacentHTML, document.write, eval or
// inline handlers.
func TestConsoleNeverParsesHTML(t *testing.T) {
	console := embed.Console()
	err := fs.WalkDir(console, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(console, path)
		if err != nil {
			return err
		}
		s := string(b)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", " onclick=\"", "<script>", "<style"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s uses %q", path, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
