package raftfsm

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// The accept path's memory. Each accepted message used to allocate, on
// every replica, every key and value it handed to bbolt (the record, its
// bucket key, the pending queue's value, the window key, the rate
// bucket's key and value, each distinct set's time key): a third of the
// apply's allocations, and the garbage collector's work with them. Now:
//
//   - keys are built in one scratch buffer (applyBatch.key): bbolt's Put
//     copies the key it stores, and Get, Delete and Seek only compare it;
//   - values are carved from an arena: bbolt keeps a put's value (without
//     copying it) until the transaction commits, so a value must not
//     change before then — the arena hands out disjoint pieces of a few
//     large chunks and is reset only when the next batch starts, after
//     the transaction that used them committed or rolled back. No value
//     outlives its transaction in our code either (the in-memory indexes
//     keep strings and arrays, the kept records are decoded copies).
//
// Memory only: what is written is the same bytes as before.

// arenaChunk is the size of one chunk; arenaKeep bounds what the FSM
// keeps between batches (a huge batch's extra chunks are left to the
// garbage collector).
const (
	arenaChunk = 64 << 10
	arenaKeep  = 16
)

// arena hands out pieces of large chunks. The zero value is ready; a nil
// arena allocates each piece.
type arena struct {
	chunks [][]byte
	cur    int // the chunk being carved
	off    int // its first free byte
}

// take returns an empty slice of capacity n that no other piece shares
// until reset (appending beyond n reallocates, as for any slice).
func (a *arena) take(n int) []byte {
	if a == nil || n > arenaChunk/8 {
		return make([]byte, 0, n)
	}
	for {
		if a.cur < len(a.chunks) {
			if c := a.chunks[a.cur]; a.off+n <= len(c) {
				p := c[a.off : a.off : a.off+n]
				a.off += n
				return p
			}
			a.cur, a.off = a.cur+1, 0
			continue
		}
		a.chunks = append(a.chunks, make([]byte, arenaChunk))
	}
}

// bytes returns a piece holding s.
func (a *arena) bytes(s string) []byte { return append(a.take(len(s)), s...) }

// reset makes every chunk free again: only once nothing holds a piece.
func (a *arena) reset() {
	if len(a.chunks) > arenaKeep {
		clear(a.chunks[arenaKeep:])
		a.chunks = a.chunks[:arenaKeep]
	}
	a.cur, a.off = 0, 0
}

// batchMem is what a batch allocates to keep its pending state — the
// rate slots' map and slab, the distinct sets' groups with their maps,
// the key buffer — kept by the FSM so that the next batch reuses it
// instead of allocating it again: at a dozen accepts per batch these were
// a tenth of the bytes allocated per accept. Everything is handed out
// empty (maps cleared, slots zeroed, groups reset), so no batch sees
// another's state.
type batchMem struct {
	rates  map[string]*rateSlot
	slots  []rateSlot       // the last slab handed out
	groups []*distinctGroup // free
	// changed is flushDistinct's list of time-index keys to write.
	changed []timeRef
	key     []byte
}

// maxFreeGroups bounds the groups kept (one per set and number a batch
// touched).
const maxFreeGroups = 64

// maxKeptLen bounds the size of a container handed to the next batch:
// clearing a map or a slice costs what it once held, so one large batch
// (a replay after a restart) must not make every later batch pay for it.
const maxKeptLen = 256

// rateMap returns the empty rate-slot map.
func (m *batchMem) rateMap() map[string]*rateSlot {
	if m.rates == nil {
		m.rates = make(map[string]*rateSlot, 128) // a batch holds up to 64 accepts: two keys each at most
	}
	clear(m.rates)
	return m.rates
}

// group returns a reset group for set and phone.
func (m *batchMem) group(set, phone string, index distinctIndex) *distinctGroup {
	var g *distinctGroup
	if n := len(m.groups); n > 0 {
		g, m.groups = m.groups[n-1], m.groups[:n-1]
		clear(g.over)
		clear(g.disk)
		clear(g.byTime[:cap(g.byTime)]) // no string of an earlier batch stays reachable
		*g = distinctGroup{over: g.over, disk: g.disk, byTime: g.byTime[:0]}
	} else {
		g = &distinctGroup{over: make(map[string]int64, 64), disk: make(map[string]int64, 64)}
	}
	g.set, g.phone, g.index = set, phone, index
	return g
}

// free takes back a group its batch is done with (flushed and dropped).
func (m *batchMem) free(g *distinctGroup) {
	if len(m.groups) < maxFreeGroups && len(g.over)+len(g.disk) <= maxKeptLen && cap(g.byTime) <= maxKeptLen {
		m.groups = append(m.groups, g)
	}
}

// hotBuckets are the buckets every accept writes, opened once per batch
// (tx.Bucket looks the name up in the root bucket's map each time), and
// the cursor its window lookup seeks with.
type hotBuckets struct {
	messages, pending, envelopes, windows, ratePairs, distinctTimes *bolt.Bucket
	windowCur, messageCur, pendingCur, envelopeCur                  *bolt.Cursor
}

// window returns the stored window of key (nil when none) as Get would,
// through one cursor for the batch: Get opens a cursor per call and bbolt
// grows each new cursor's stack in two or three allocations, while Seek
// reuses it. Seek searches from the bucket's root every time, so the
// cursor sees what the batch wrote before (a window an inbound message
// opened).
func (b *applyBatch) window(key []byte) []byte {
	if b.bks.windowCur == nil {
		b.bks.windowCur = b.bucket(&b.bks.windows, bucketWindows).Cursor()
	}
	if k, v := b.bks.windowCur.Seek(key); bytes.Equal(k, key) {
		return v
	}
	return nil
}

// has reports whether bucket name (through *slot) holds key, exactly as
// Get(key) != nil would, through the batch's cursor *cur as window does:
// the accept's duplicate-key checks of a late proposer's key (below the
// bounds) are up to three lookups per accept.
func (b *applyBatch) has(cur **bolt.Cursor, slot **bolt.Bucket, name, key []byte) bool {
	if *cur == nil {
		*cur = b.bucket(slot, name).Cursor()
	}
	k, v := (*cur).Seek(key)
	return v != nil && bytes.Equal(k, key)
}

// bucket returns tx's bucket name, through *slot once opened.
func (b *applyBatch) bucket(slot **bolt.Bucket, name []byte) *bolt.Bucket {
	if *slot == nil {
		*slot = b.tx.Bucket(name)
	}
	return *slot
}

// put is mustPut in an opened bucket.
func put(bk *bolt.Bucket, k, v []byte) {
	if err := bk.Put(k, v); err != nil {
		panic("raftfsm: put: " + err.Error())
	}
}

// del is mustDelete in an opened bucket.
func del(bk *bolt.Bucket, k []byte) {
	if err := bk.Delete(k); err != nil {
		panic("raftfsm: delete: " + err.Error())
	}
}
