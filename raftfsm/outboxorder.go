package raftfsm

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// Per-message order of webhooks. A message's status events (sent,
// delivered, read, failed) are queued in status order — a status never
// moves backwards — but once in the outbox they are independent events,
// and a dispatcher delivering many at once could let `delivered` overtake
// `sent`. So the events of one message form a group (its IDRef) and only
// the oldest of a group is deliverable; the others are Held until it
// leaves the outbox, when the next is released by the same command
// (WebhookAttempt delivered or given up). At most one delivery per
// message is ever in flight, and the order survives leader changes:
// it is replicated state, not the dispatcher's memory. Different
// messages still go out in parallel.

// enqueueInOrder queues ev as the newest event of group (its message):
// held when an older event of the group is still queued. Without a group
// it is enqueue.
func enqueueInOrder(tx *bolt.Tx, wabaID, businessID string, ev *OutboxEvent, group string) {
	if group == "" {
		enqueue(tx, wabaID, businessID, ev)
		return
	}
	if tx.Bucket(bucketSubscriptions).Get([]byte(wabaID)) == nil || len(ev.Key) != 16 {
		return
	}
	e := *ev
	e.WABAID, e.BusinessID, e.NextAt, e.Group = wabaID, businessID, ev.CreatedAt, group
	q := liveGroupQueue(tx, group)
	e.Held = len(q) > 0
	mustPut(tx, bucketOutbox, e.Key, marshal(e))
	mustPut(tx, bucketOutboxGroups, []byte(group), append(q, e.Key...))
}

// liveGroupQueue returns group's queued keys (a copy), without those no
// longer in the outbox (expired by retention).
func liveGroupQueue(tx *bolt.Tx, group string) []byte {
	v := tx.Bucket(bucketOutboxGroups).Get([]byte(group))
	out := make([]byte, 0, len(v)+16)
	ob := tx.Bucket(bucketOutbox)
	for i := 0; i+16 <= len(v); i += 16 {
		if ob.Get(v[i:i+16]) != nil {
			out = append(out, v[i:i+16]...)
		}
	}
	return out
}

// outboxLeft is called when e left the outbox at at: the next queued event
// of its group, if any, becomes deliverable now.
func outboxLeft(tx *bolt.Tx, e *OutboxEvent, at int64) {
	if e.Group == "" {
		return
	}
	// Most messages have one event queued at a time: when the group holds
	// only e, it simply ends (what the general case below does too, with
	// a copy and a lookup per key) — found and deleted with one seek.
	group := []byte(e.Group)
	c := tx.Bucket(bucketOutboxGroups).Cursor()
	if k, v := c.Seek(group); bytes.Equal(k, group) && bytes.Equal(v, e.Key) {
		if err := c.Delete(); err != nil {
			panic("raftfsm: delete outbox group: " + err.Error())
		}
		return
	}
	q := liveGroupQueue(tx, e.Group)
	if i := bytes.Index(q, e.Key); i >= 0 && i%16 == 0 {
		q = append(q[:i], q[i+16:]...)
	}
	if len(q) == 0 {
		mustDelete(tx, bucketOutboxGroups, []byte(e.Group))
		return
	}
	mustPut(tx, bucketOutboxGroups, []byte(e.Group), q)
	head := q[:16]
	v := tx.Bucket(bucketOutbox).Get(head)
	next := decodeOutboxRecord(v)
	if next.Held {
		next.Held = false
		next.NextAt = max(next.NextAt, at)
		mustPut(tx, bucketOutbox, bytes.Clone(head), marshal(next))
	}
}
