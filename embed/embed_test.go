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
		{"index.html", "/admin/v1/cluster"},
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
