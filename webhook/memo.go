package webhook

// memo is what the dispatcher learned about queued events that cannot be
// delivered yet, so that a scan passes them by key without decoding them
// and without counting them against Config.Scan:
//
//   - waiting: events in retry back-off, with the NextAt read from the
//     outbox (or chosen by this dispatcher for an attempt it recorded).
//     Once that time has come the key is decoded again, so a memo that
//     is out of date costs one decode, never a delivery.
//   - held: events behind an older event of the same message. The state
//     machine releases them when the older one leaves the outbox; this
//     dispatcher forgets them when it records that (releaseGroup), and
//     otherwise after heldRecheck (retention may also remove the older
//     one).
//
// Without it, thousands of events backing off fill every scan's bound
// and an event queued behind them waits for one scan per Config.Scan
// events of backlog (TestBackoffBacklogCostsNoScans). The memo is the
// leader's memory only: a new term starts empty and learns it again from
// the outbox, so it never decides whether an event is delivered, only how
// soon it is looked at.
type memo struct {
	waiting    map[string]int64    // key → NextAt, unix ms
	held       map[string]int64    // key → when it was seen held, unix ms
	heldGroups map[string][]string // group → its held keys in held
	// released maps a group whose head left the outbox (recorded by this
	// dispatcher) to the scan generation current at that commit: a scan
	// that may have read the group before the release must not learn its
	// events as held (as with Dispatcher.settled).
	released map[string]uint64
	pruned   int64 // when prune last ran, unix ms
}

const (
	// memoCap bounds each of the memo's maps; beyond it events are
	// simply decoded by every scan that reaches them, as before.
	memoCap = 1 << 18
	// heldRecheck is how long a held event is passed over before a scan
	// decodes it again.
	heldRecheck = 10_000 // ms
	// pruneEvery is how often stale memo entries are dropped.
	pruneEvery = 5_000 // ms
	// walkCap bounds the keys one scan passes (skipped or decoded); the
	// next scan resumes after them.
	walkCap = 1 << 16
)

func newMemo() memo {
	return memo{waiting: map[string]int64{}, held: map[string]int64{}, heldGroups: map[string][]string{}, released: map[string]uint64{}}
}

// skip reports whether a scan at now may pass key without decoding it.
func (m *memo) skip(key string, now int64) bool {
	if at, ok := m.waiting[key]; ok {
		if at > now {
			return true
		}
		delete(m.waiting, key) // due: decoded and learned again
	}
	if at, ok := m.held[key]; ok {
		if now-at < heldRecheck {
			return true
		}
		delete(m.held, key)
	}
	return false
}

// wait remembers that key is not due before nextAt.
func (m *memo) wait(key string, nextAt int64) {
	if _, ok := m.waiting[key]; ok || len(m.waiting) < memoCap {
		m.waiting[key] = nextAt
	}
}

// hold remembers that key, of group, was seen held at now.
func (m *memo) hold(key, group string, now int64) {
	if _, gone := m.released[group]; gone || group == "" || len(m.held) >= memoCap {
		return
	}
	if _, ok := m.held[key]; !ok {
		m.heldGroups[group] = append(m.heldGroups[group], key)
	}
	m.held[key] = now
}

// releaseGroup forgets group's held events: its head left the outbox by
// a command committed while scan generation gen was current. It reports
// whether it knew of any (the next is now due).
func (m *memo) releaseGroup(group string, gen uint64) (hadHeld bool) {
	if group == "" {
		return false
	}
	hadHeld = len(m.heldGroups[group]) > 0
	for _, k := range m.heldGroups[group] {
		delete(m.held, k)
	}
	delete(m.heldGroups, group)
	m.released[group] = gen
	return hadHeld
}

// startScan drops what scan generation gen no longer needs: releases
// committed before it began, and (every pruneEvery) entries for events
// long past their time, whose keys have left the outbox unseen (expired
// by retention).
func (m *memo) startScan(gen uint64, now int64) {
	for g, at := range m.released {
		if at < gen {
			delete(m.released, g)
		}
	}
	if now-m.pruned < pruneEvery {
		return
	}
	m.pruned = now
	for k, at := range m.waiting {
		if at < now-pruneEvery {
			delete(m.waiting, k)
		}
	}
	for g, keys := range m.heldGroups {
		live := keys[:0]
		for _, k := range keys {
			if _, ok := m.held[k]; ok {
				live = append(live, k)
			}
		}
		if len(live) == 0 {
			delete(m.heldGroups, g)
		} else {
			m.heldGroups[g] = live
		}
	}
}
