package relay

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/waedge/waedge/internal/syncbuf"
)

func TestMainCommand(t *testing.T) {
	if code := Main(context.Background(), []string{"--bogus"}, io.Discard, io.Discard); code != 2 {
		t.Fatalf("bad flag exit code %d", code)
	}
	if code := Main(context.Background(), []string{"extra"}, io.Discard, io.Discard); code != 2 {
		t.Fatalf("stray argument exit code %d", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncbuf.Buffer
	exit := make(chan int, 1)
	dir := t.TempDir()
	go func() {
		exit <- Main(ctx, []string{"--addr", "127.0.0.1:0", "--data-dir", dir}, &stdout, &stderr)
	}()
	re := regexp.MustCompile(`relay listening on (http://\S+)`)
	var url string
	eventually(t, "listening line", func() bool {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
			return true
		}
		return false
	})
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
	cancel()
	if code := <-exit; code != 0 {
		t.Fatalf("exit code %d, stderr %s", code, stderr.String())
	}
	// Where the API token is, never the token.
	tokenFile := filepath.Join(dir, TokenFileName)
	if !strings.Contains(stdout.String(), "API token file: "+tokenFile) || !strings.Contains(stderr.String(), tokenFile) {
		t.Fatalf("token file not announced:\n%s\n%s", stdout.String(), stderr.String())
	}
	if tok := readToken(t, dir); strings.Contains(stdout.String()+stderr.String(), tok) {
		t.Fatal("the token was printed")
	}
}

// TestNoSync: --no-sync reaches both bbolt files; without it both fsync.
func TestNoSync(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		r, err := New(Config{DataDir: t.TempDir(), NoSync: noSync}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.st.db.NoSync != noSync || r.hosted.db.NoSync != noSync {
			t.Errorf("NoSync %v: relay.db %v, hosted-phones.db %v", noSync, r.st.db.NoSync, r.hosted.db.NoSync)
		}
		_ = r.Close()
	}
	var usage syncbuf.Buffer
	if code := Main(context.Background(), []string{"-h"}, io.Discard, &usage); code != 0 || !strings.Contains(usage.String(), "-no-sync") {
		t.Fatalf("relay -h: %d %q", code, usage.String())
	}
}
