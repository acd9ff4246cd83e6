package connector

import "sync"

// refCache remembers ConsumerRef results: the reference is an HMAC of the
// number, and one inbound message asked for it six to eight times (its
// shard, the session and identity keys of the overlay, the block list,
// the stored message) — about 1 % of the leader's CPU in `bench e2e`.
// The references of one Sealer never change. The cache lives in the
// leader's memory only, like the numbers it is computed from, and is
// emptied when it reaches refCacheMax entries.
type refCache struct {
	Sealer
	mu   sync.Mutex
	refs map[refKey]string
}

type refKey struct{ phoneID, number string }

const refCacheMax = 1 << 16

func newRefCache(s Sealer) *refCache {
	return &refCache{Sealer: s, refs: make(map[refKey]string)}
}

// ConsumerRef returns the Sealer's reference of waID, from the cache when
// it was asked before.
func (c *refCache) ConsumerRef(phoneNumberID, waID string) string {
	k := refKey{phoneNumberID, waID}
	c.mu.Lock()
	ref, ok := c.refs[k]
	c.mu.Unlock()
	if ok {
		return ref
	}
	ref = c.Sealer.ConsumerRef(phoneNumberID, waID)
	c.mu.Lock()
	if len(c.refs) >= refCacheMax {
		clear(c.refs)
	}
	c.refs[k] = ref
	c.mu.Unlock()
	return ref
}
