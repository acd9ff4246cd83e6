package webhook

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/waedge/waedge/cloudapi"
)

// TestSignersMatchCloudAPISign: the reused keyed HMACs sign exactly as
// cloudapi.Sign, for any secret (longer than a block too), reused, and
// from many goroutines at once.
func TestSignersMatchCloudAPISign(t *testing.T) {
	var s signers
	secrets := []string{"", "s3cr3t", strings.Repeat("k", 200)}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				secret := secrets[(g+i)%len(secrets)]
				body := bytes.Repeat([]byte(fmt.Sprint("body ", i)), i%7+1)
				if got, want := s.sign(secret, body), cloudapi.Sign(secret, body); got != want {
					t.Errorf("sign(%q, %q) = %s, want %s", secret, body, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
