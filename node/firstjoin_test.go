package node

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// firstNodeToken starts a one-node cluster and mints a join token.
func firstNodeToken(t *testing.T) (*Node, string) {
	t.Helper()
	first := startNode(t, testConfig(t, t.TempDir()))
	waitFor(t, "first node ready", 10*time.Second, first.Ready)
	tok, err := first.CreateJoinToken(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return first, tok
}

// TestFailedFirstJoinLeavesDataDir: a first join the cluster refuses
// leaves the data dir as it was — absent when it was absent, empty when it
// was empty — so a corrected command line starts from scratch.
func TestFailedFirstJoinLeavesDataDir(t *testing.T) {
	first, tok := firstNodeToken(t)
	// The same token id with a wrong secret: refused by the cluster.
	bad := tok[:len(tok)-4] + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, tok[len(tok)-4:])

	for _, existed := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "joiner")
		if existed {
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		cfg := testConfig(t, dir)
		cfg.Join, cfg.JoinToken = []string{first.cfg.ClusterAddr}, bad
		_, err := New(context.Background(), cfg)
		if !errors.Is(err, ErrJoinRefused) {
			t.Fatalf("join with a wrong secret: %v, want ErrJoinRefused", err)
		}
		ents, statErr := os.ReadDir(dir)
		switch {
		case !existed && !os.IsNotExist(statErr):
			t.Errorf("the data dir was created and left behind: %v %v", ents, statErr)
		case existed && (statErr != nil || len(ents) != 0):
			t.Errorf("the empty data dir now holds %v (%v)", ents, statErr)
		}
	}
}

// TestJoinHTTPPortSaysSo: --join pointed at an HTTP port fails at once
// with an error naming the mistake, instead of retrying until the join
// timeout.
func TestJoinHTTPPortSaysSo(t *testing.T) {
	_, tok := firstNodeToken(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer web.Close()
	cfg := testConfig(t, t.TempDir())
	cfg.Join, cfg.JoinToken = []string{strings.TrimPrefix(web.URL, "http://")}, tok
	start := time.Now()
	_, err := New(context.Background(), cfg)
	if !errors.Is(err, ErrNotClusterPort) || !strings.Contains(err.Error(), "plain HTTP") {
		t.Fatalf("join at an HTTP port: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v to say so (join timeout %v)", d, cfg.JoinTimeout)
	}
}
