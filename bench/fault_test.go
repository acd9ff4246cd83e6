package bench

import (
	"os"
	"path/filepath"
	"testing"
)

// TestClusterKeptAfterAServerFault: the bench deletes its cluster's
// directory at the end unless --keep — or a node answered a send with a
// server error other than 503, whose cause only the node logs tell.
// Refusals and 503 (electing, outcome unknown) are not faults.
func TestClusterKeptAfterAServerFault(t *testing.T) {
	for _, tc := range []struct {
		codes []int
		kept  bool
	}{
		{nil, false},
		{[]int{400, 429, 503}, false},
		{[]int{503, 500}, true},
		{[]int{502}, true},
	} {
		dir := filepath.Join(t.TempDir(), "cluster")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		c := &cluster{dir: dir}
		for _, code := range tc.codes {
			c.noteStatus(code)
		}
		c.close()
		if _, err := os.Stat(dir); (err == nil) != tc.kept {
			t.Fatalf("statuses %v: directory kept %v, want %v", tc.codes, err == nil, tc.kept)
		}
	}
}
