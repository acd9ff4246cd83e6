package raftfsm

import (
	"cmp"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// applyBatch is what one ApplyBatch keeps in memory between the commands
// of its transaction, so that the hot commands write aggregated state
// once per batch instead of once per message:
//
//   - statistics counters: increments summed per key, each counter read
//     and written once;
//   - distinct-consumer sets (distinct.go): touches replayed against an
//     in-memory overlay that follows exactly the one-touch-at-a-time rules,
//     and written once per consumer;
//   - rate-limit token buckets (ratelimit.go): each read once, charged in
//     memory, written once;
//   - decoded phone and template records the accept path reads.
//
// flush writes the pending state as applying the same commands one by one
// would have left it, so the result does not depend on where batches
// start and end (TestDeterminism* apply one entry per batch, groups of
// seven, and everything at once). Only the hot handlers (isHot) use it;
// before any other command the batch is flushed, so those see the
// database exactly as without aggregation.
type applyBatch struct {
	tx     *bolt.Tx
	index  distinctIndex  // the FSM's, updated by flush
	floors distinctFloors // the FSM's: where walks of the sets' stale entries start
	pairs  pairIndex      // the FSM's, updated as pair buckets are added, moved, dropped
	stats  map[statID]int64
	sets   map[setID]*distinctGroup
	phones map[string]*Phone
	cats   map[templateID]tplInfo // pricing category and id
	// tstats are template-analytics increments (templateanalytics.go),
	// summed per counter like stats.
	tstats map[string]int64

	day     string // Day of [dayFrom, dayFrom+dayMillis), when dayOK
	dayFrom int64
	dayOK   bool

	rates       map[string]*rateSlot // rate buckets (ratelimit.go)
	slots       []rateSlot           // where they live (newRateSlot)
	rateFront   []byte               // first key of rate_pairs, when rateFrontOK
	rateFrontOK bool

	tops keyTops // upper bounds of stored message keys (acceptKeyTaken)

	// cold: a command that is not hot was applied in this batch (before),
	// so the read model is refreshed after the commit; hot commands write
	// none of its buckets.
	cold bool

	// The accept path's memory (alloc.go): values put in this
	// transaction carved from the FSM's arena, keys built in key (bbolt
	// copies a key it stores), the hot buckets opened once.
	vals *arena
	mem  *batchMem
	key  []byte
	bks  hotBuckets
}

type setID struct{ set, phone string }

// statID names a statistics counter (statKey's parts): a map key that
// costs no allocation per message.
type statID struct{ phone, day, dir, typ, status, category string }

// templateID names a template (templateKey's parts).
type templateID struct{ waba, name, lang string }

// newApplyBatch starts a batch on tx. The decoded phone and template
// records of an earlier batch are reused when they were read from the
// same database: the hot handlers never write those buckets and every
// other command drops them first (before), so they equal what tx holds.
func newApplyBatch(tx *bolt.Tx, index distinctIndex, floors distinctFloors, pairs pairIndex, kept hotRecords, vals *arena, mem *batchMem) *applyBatch {
	vals.reset() // the previous transaction is over: bbolt holds none of it
	b := &applyBatch{tx: tx, index: index, floors: floors, pairs: pairs, vals: vals, mem: mem, key: mem.key[:0], slots: mem.slots[:0]}
	if kept.db == tx.DB() {
		b.phones, b.cats, b.tops = kept.phones, kept.cats, kept.tops
	}
	return b
}

// hotRecords are a batch's decoded phone and template records, kept by
// the FSM for the next batch (newApplyBatch), and its key bounds: every
// command that may write the keyed buckets drops them first (before), and
// the flush writes none of them, so after the commit they still bound
// what the database holds, and the next batch's accepts need not seek
// them again.
type hotRecords struct {
	db     *bolt.DB
	phones map[string]*Phone
	cats   map[templateID]tplInfo
	tops   keyTops
}

// maxKeptRecords bounds what a batch hands to the next one.
const maxKeptRecords = 4096

// done hands the batch's buffers back to the FSM for the next batch.
func (b *applyBatch) done() {
	b.mem.key, b.mem.slots = b.key[:0], b.slots[:0]
	if len(b.rates) > maxKeptLen {
		b.mem.rates = nil // b.rates is it (rateMap): too large to clear every batch
	}
}

// keep returns the batch's decoded records for the next batch, once its
// transaction committed.
func (b *applyBatch) keep() hotRecords {
	kept := hotRecords{db: b.tx.DB(), tops: b.tops.detached()}
	if len(b.phones)+len(b.cats) <= maxKeptRecords {
		kept.phones, kept.cats = b.phones, b.cats
	}
	return kept
}

// before is called before each command of type t: any command that is
// not hot sees the database as without aggregation (the batch is flushed
// and its caches dropped), and any but an accept drops the key bounds.
func (b *applyBatch) before(t CommandType) {
	if !isHot(t) {
		b.flush()
		b.phones, b.cats = nil, nil
		b.cold = true
	}
	if t != CmdAcceptMessageV2 && t != CmdAcceptMessage {
		b.tops = keyTops{}
	}
	if !isHot(t) {
		b.bks = hotBuckets{} // opened again after whatever the command does
	}
}

// isHot lists the handlers that go through applyBatch for statistics and
// distinct sets and read nothing else of that state.
func isHot(t CommandType) bool {
	switch t {
	case CmdNoop, CmdAcceptMessage, CmdAcceptMessageV2, CmdMessageStatuses, CmdMessageStatusesV2,
		CmdRecordInbound, CmdSignalCommit, CmdMarkRead, CmdSignalRound, CmdSignalRoundV2:
		return true
	}
	return false
}

// phone returns the decoded phone record (nil when absent), cached for
// the batch.
func (b *applyBatch) phone(id string) *Phone {
	if p, ok := b.phones[id]; ok {
		return p
	}
	var p *Phone
	if v := b.tx.Bucket(bucketPhones).Get([]byte(id)); v != nil {
		p = new(Phone)
		decode(v, p)
	}
	if b.phones == nil {
		b.phones = map[string]*Phone{}
	}
	b.phones[id] = p
	return p
}

// category returns the pricing category of a template message (service
// when the template is unknown), cached for the batch.
func (b *applyBatch) category(waba, name, lang string) string {
	return b.template(waba, name, lang).category
}

// tplInfo is what the accept path needs of a template: its pricing
// category, its id ("" when the template is unknown) and whether its
// WABA confirmed template analytics (its messages are then counted per
// template, templateanalytics.go).
type tplInfo struct {
	category, id string
	counted      bool
}

// template returns the pricing category and id of a template message's
// template, cached for the batch.
func (b *applyBatch) template(waba, name, lang string) tplInfo {
	id := templateID{waba, name, lang}
	if c, ok := b.cats[id]; ok {
		return c
	}
	c := tplInfo{category: CategoryService}
	if tv := b.tx.Bucket(bucketTemplates).Get(templateKey(waba, name, lang)); tv != nil {
		var t Template
		decode(tv, &t)
		c = tplInfo{category: PricingCategory(t.Category), id: t.ID,
			counted: b.tx.Bucket(bucketTemplateStats).Get(templateInsightsKey(waba)) != nil}
	}
	if b.cats == nil {
		b.cats = map[templateID]tplInfo{}
	}
	// The strings may share a decoded command's memory (DecodeAcceptMessage):
	// the cache outlives the batch, so it keeps copies.
	b.cats[templateID{strings.Clone(waba), strings.Clone(name), strings.Clone(lang)}] = c
	return c
}

// bumpStat adds one to a statistics counter (written by flush).
func (b *applyBatch) bumpStat(phoneID string, at int64, dir, typ, status, category string) {
	if category == "" {
		category = CategoryService
	}
	if b.stats == nil {
		b.stats = map[statID]int64{}
	}
	b.stats[statID{phoneID, b.dayOf(at), dir, typ, status, category}]++
}

// dayOf is Day(at), formatted once per day a batch meets (a UTC day is
// dayMillis: Unix time has no leap seconds).
func (b *applyBatch) dayOf(at int64) string {
	from := at - at%dayMillis
	if at%dayMillis < 0 {
		from -= dayMillis
	}
	if !b.dayOK || from != b.dayFrom {
		b.day, b.dayFrom, b.dayOK = Day(at), from, true
	}
	return b.day
}

// flush writes everything pending. The decoded records stay: flushing
// writes no phone or template (before drops them for other commands).
func (b *applyBatch) flush() {
	if len(b.stats) > 0 {
		adds := make(map[string]int64, len(b.stats))
		for id, n := range b.stats {
			// parts holding 0 bytes can join alike: their sums add up
			adds[string(statKey(id.phone, id.day, id.dir, id.typ, id.status, id.category))] += n
		}
		addCounters(b.tx, bucketStats, adds)
		b.stats = nil
	}
	if len(b.tstats) > 0 {
		addCounters(b.tx, bucketTemplateStats, b.tstats)
		b.tstats = nil
	}
	if len(b.sets) > 0 {
		ids := make([]setID, 0, len(b.sets))
		for id := range b.sets {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(x, y setID) int {
			if x.phone != y.phone {
				return compareStrings(x.phone, y.phone)
			}
			return compareStrings(x.set, y.set)
		})
		// A number's sets together: they share its time index.
		var gs []*distinctGroup
		for i, id := range ids {
			gs = append(gs, b.sets[id])
			if i+1 == len(ids) || ids[i+1].phone != id.phone {
				b.flushDistinct(id.phone, gs...)
				gs = gs[:0]
			}
		}
		b.sets = nil
	}
	if len(b.rates) > 0 || b.rateFrontOK {
		b.flushRates()
	}
}

// addCounters adds each increment of incs to its BE64 counter in bucket,
// in key order.
func addCounters(tx *bolt.Tx, bucket []byte, incs map[string]int64) {
	keys := make([]string, 0, len(incs))
	for k := range incs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	bk := tx.Bucket(bucket)
	for _, k := range keys {
		mustPut(tx, bucket, []byte(k), be64(counter(bk, []byte(k))+incs[k]))
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// group returns the pending state of one distinct set.
func (b *applyBatch) group(set, phoneID string) *distinctGroup {
	id := setID{set, phoneID}
	g := b.sets[id]
	if g == nil {
		if b.sets == nil {
			b.sets = map[setID]*distinctGroup{}
		}
		g = b.mem.group(set, phoneID, b.index)
		b.sets[id] = g
	}
	return g
}

// distinctTouch records that ref was reached at at (see distinct.go);
// disk is ref's time in the set's index (noTime: none), read by the
// caller after any flush of the set in this batch (consumerIndex.times).
func (b *applyBatch) distinctTouch(set, phoneID, ref string, at, horizon, disk int64) {
	g := b.group(set, phoneID)
	if _, ok := g.disk[ref]; !ok {
		if disk == noTime {
			disk = -1 // as diskTime has it
		}
		g.disk[ref] = disk
	}
	g.touch(ref, at, horizon)
}

// tierRefused reports whether reaching ref at at would exceed limit
// distinct consumers in the set's last horizon. It writes nothing itself;
// when the batch's pending touches could matter it flushes them first
// (which changes nothing a one-by-one apply would not have written).
func (b *applyBatch) tierRefused(set, phoneID, ref string, cutoff, limit int64) bool {
	if g := b.sets[setID{set, phoneID}]; g != nil {
		// The live count is at most what is stored plus what this batch
		// added: below the limit, no refusal is possible.
		if !g.storedOK { // the stored count changes only when the group is flushed
			g.stored, g.storedOK = counter(b.tx.Bucket(bucketDistinct), distinctCountKey(set, phoneID)), true
		}
		if g.stored+int64(len(g.over)) < limit {
			return false
		}
		b.flushDistinct(phoneID, g)
		delete(b.sets, setID{set, phoneID})
	}
	if t, ok := b.index.time(set, phoneID, ref); ok && t > cutoff {
		return false // already counted
	}
	return distinctLive(b.tx, b.floors, set, phoneID, cutoff) >= limit
}

// distinctGroup is one set of one phone inside a batch. The rules it
// replays (distinct.go, one touch at a time): a touch at time a first
// drops every entry at or before a − horizon, then adds ref at a, or moves
// it to a if it is older. Here:
//
//   - every entry that was on disk when the batch began and is at or
//     before maxCut (the largest cut so far) counts as dropped; flush
//     deletes them from the front of the time index;
//   - entries written in this batch live in over, with a heap by time so a
//     cut drops exactly those at or before it (a late proposer's old time
//     can sit below maxCut and survive a smaller later cut, as before).
type distinctGroup struct {
	set, phone string
	hasCut     bool
	maxCut     int64
	over       map[string]int64 // ref → time, written in this batch
	byTime     timeHeap
	disk       map[string]int64 // ref → time on disk at batch start (−1: absent)
	index      distinctIndex    // what is on disk (distinct_index.go)
	added      bool             // some touch added an entry: the count is written
	stored     int64            // the set's stored count, when storedOK (tierRefused)
	storedOK   bool
}

// diskTime is ref's entry as of the batch start (cached: flush changes
// the index).
func (g *distinctGroup) diskTime(ref string) int64 {
	if t, ok := g.disk[ref]; ok {
		return t
	}
	t, ok := g.index.time(g.set, g.phone, ref)
	if !ok {
		t = -1
	}
	g.disk[ref] = t
	return t
}

// cut drops what is at or before c.
func (g *distinctGroup) cut(c int64) {
	if !g.hasCut || c > g.maxCut {
		g.hasCut, g.maxCut = true, c
	}
	for len(g.byTime) > 0 && g.byTime[0].at <= c {
		e := g.byTime.pop()
		if t, ok := g.over[e.ref]; ok && t == e.at {
			delete(g.over, e.ref)
		}
	}
}

func (g *distinctGroup) touch(ref string, at, horizon int64) {
	g.cut(at - horizon)
	cur, present := g.over[ref]
	if !present {
		if t := g.diskTime(ref); t >= 0 && t > g.maxCut {
			cur, present = t, true
		}
	}
	if present && cur >= at {
		return // a late proposer's older time does not move the entry back
	}
	if !present {
		g.added = true
	}
	g.over[ref] = at
	g.byTime.push(timeRef{at, ref})
}

// flushDistinct writes groups of one number (one group per set) as the
// one-by-one rules would have left them: each set's entries at or before
// its largest cut dropped, its added and moved entries in the index, and
// then every key of the number's time index whose set bits changed written
// once, from the index, in time order (the new keys append; bbolt inserts
// at the end of the last leaf instead of shifting it). A consumer reached
// in both sets at once costs one key.
func (b *applyBatch) flushDistinct(phone string, gs ...*distinctGroup) {
	tx, x := b.tx, b.index
	bk := b.bucket(&b.bks.distinctTimes, bucketDistinctTimes)
	counts := [2]int64{}
	for i, g := range gs {
		if g.hasCut {
			counts[i], _ = distinctPruneN(tx, x, b.floors, g.set, phone, g.maxCut, -1) // writes the count if it dropped any
		} else {
			counts[i] = counter(tx.Bucket(bucketDistinct), distinctCountKey(g.set, phone))
		}
	}
	changed := b.mem.changed[:0] // keys to write: (time, ref)
	for i, g := range gs {
		slot, n := setSlotOf(g.set), counts[i]
		for ref, at := range g.over {
			// The index holds what is on disk: the entry as the batch
			// began, unless the prune above dropped it.
			old, ok := x.get(phone, ref, slot)
			switch {
			case ok && old == at:
				continue
			case ok:
				changed = append(changed, timeRef{old, ref})
			default:
				n++
			}
			x.set(phone, ref, slot, at)
			b.floors.lower(g.set, phone, at)
			changed = append(changed, timeRef{at, ref})
		}
		// One by one, every add wrote the count: it exists after any add
		// even if this batch's adds were dropped again.
		if countKey := distinctCountKey(g.set, phone); n != counts[i] || g.added && tx.Bucket(bucketDistinct).Get(countKey) == nil {
			mustPut(tx, bucketDistinct, countKey, be64(n))
		}
	}
	slices.SortFunc(changed, func(p, q timeRef) int {
		if c := cmp.Compare(p.at, q.at); c != 0 {
			return c
		}
		return strings.Compare(p.ref, q.ref)
	})
	for i, e := range changed {
		if i > 0 && changed[i-1] == e {
			continue
		}
		b.key = appendDistinctTimeKey(b.key[:0], phone, e.at, e.ref)
		if bits := distinctBits(x.times(phone, e.ref), e.at); bits == 0 {
			del(bk, b.key)
		} else {
			put(bk, b.key, distinctValues[bits])
		}
	}
	clear(changed) // no reference of this batch stays reachable
	b.mem.changed = changed[:0]
	for _, g := range gs {
		b.mem.free(g) // its batch drops it now
	}
}

type timeRef struct {
	at  int64
	ref string
}

// timeHeap is a min-heap of entries by time (then ref, so ties pop in a
// fixed order). It is typed rather than a container/heap.Interface: that
// boxes every entry pushed or popped, two allocations per accept.
type timeHeap []timeRef

func (h timeHeap) less(i, j int) bool {
	return h[i].at < h[j].at || h[i].at == h[j].at && h[i].ref < h[j].ref
}

// push adds e.
func (h *timeHeap) push(e timeRef) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s.less(i, parent) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

// pop removes and returns the least entry (the heap is not empty).
func (h *timeHeap) pop() timeRef {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < len(s) && s.less(l, least) {
			least = l
		}
		if r < len(s) && s.less(r, least) {
			least = r
		}
		if least == i {
			break
		}
		s[i], s[least] = s[least], s[i]
		i = least
	}
	*h = s
	return top
}
