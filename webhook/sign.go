package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"

	"github.com/waedge/waedge/cloudapi"
)

// signers sign event bodies as cloudapi.Sign does, reusing each secret's
// keyed HMAC: a reset keyed HMAC starts from its saved pads instead of
// hashing them again, and nothing is allocated but the header's string.
type signers struct {
	mu    sync.Mutex
	pools map[string]*sync.Pool
}

// maxSigners bounds the secrets kept; beyond it the cache starts afresh.
const maxSigners = 1024

// sign returns X-Hub-Signature-256's value for body under secret.
func (s *signers) sign(secret string, body []byte) string {
	s.mu.Lock()
	p := s.pools[secret]
	if p == nil {
		if s.pools == nil || len(s.pools) >= maxSigners {
			s.pools = map[string]*sync.Pool{}
		}
		key := []byte(secret)
		p = &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
		s.pools[secret] = p
	}
	s.mu.Unlock()
	m := p.Get().(hash.Hash)
	m.Reset()
	m.Write(body)
	var sum [sha256.Size]byte
	var out [len(cloudapi.SignaturePrefix) + 2*sha256.Size]byte
	n := copy(out[:], cloudapi.SignaturePrefix)
	hex.Encode(out[n:], m.Sum(sum[:0]))
	p.Put(m)
	return string(out[:])
}
