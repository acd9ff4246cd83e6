package relay

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/waedge/waedge/network"
)

// Top-level buckets of relay.db. Per-number data lives in nested buckets named by the number.
var (
	bDevices  = []byte("devices")   // number → deviceRecord JSON
	bPreKeys  = []byte("prekeys")   // number/ → id(4, BE) → public key
	bQueue    = []byte("queue")     // number/ → seq(8, BE) → enqueued ms(8) + encoded delivery
	bIndex    = []byte("qindex")    // number/ → delivery id → seq(8)
	bDedupe   = []byte("dedupe")    // envelope id → sent ms(8) + sender
	bContacts = []byte("contacts")  // business/ → recipient → last send ms(8)
	bWindow   = []byte("newrcpt")   // business/ → first-contact ms(8) + recipient → nil
	bCounts   = []byte("rcptcount") // business → count(4) of entries in its window bucket
	bBlocks   = []byte("blocks")    // consumer "|" business → ms(8)
)

// maxBatch bounds how many operations share one bbolt transaction.
const maxBatch = 512

// deviceRecord is what the relay keeps about a registered device (one-time prekeys are separate).
type deviceRecord struct {
	Number         string               `json:"number"`
	DeviceID       uint32               `json:"device_id"`
	RegistrationID uint32               `json:"registration_id"`
	IdentityKey    []byte               `json:"identity_key"`
	SignedPreKey   network.SignedPreKey `json:"signed_prekey"`
	Role           network.Role         `json:"role"`
	RegisteredAt   int64                `json:"registered_at"`
}

// queued is one stored delivery read back from a queue.
type queued struct {
	seq  uint64
	id   string
	data []byte // encoded delivery (network.EncodeDelivery)
}

// op is one unit of work for the writer. fn may run twice (when its batch fails it is retried alone),
// so it must reset its outputs and only touch tx. done runs on the writer goroutine after the commit
// and must not block.
type op struct {
	fn   func(tx *bolt.Tx) error
	done func(err error)
}

// store is the relay's durable state in one bbolt file. All writes go through a single writer
// goroutine that commits whatever is queued in one transaction (group commit): one fsync serves many
// concurrent requests, and the writer's FIFO order keeps each connection's requests in order.
type store struct {
	db  *bolt.DB
	log *slog.Logger
	now func() time.Time
	cfg *Config

	mu     sync.RWMutex // guards closed and sends on ops
	closed bool
	ops    chan *op
	exited chan struct{}
}

func openStore(path string, cfg *Config, log *slog.Logger) (*store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.NoSync = cfg.NoSync
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bDevices, bPreKeys, bQueue, bIndex, bDedupe, bContacts, bWindow, bCounts, bBlocks} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("create buckets: %w", err)
	}
	s := &store{db: db, log: log, now: cfg.Now, cfg: cfg, ops: make(chan *op, 4*maxBatch), exited: make(chan struct{})}
	go s.writer()
	return s, nil
}

// close stops accepting operations, finishes the queued ones and closes the file.
func (s *store) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.ops)
	s.mu.Unlock()
	<-s.exited
	return s.db.Close()
}

// submit queues an operation; done is always called exactly once.
func (s *store) submit(o *op) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		o.done(ErrClosed)
		return
	}
	s.ops <- o
	s.mu.RUnlock()
}

// update runs fn in the writer and waits for its commit.
func (s *store) update(fn func(tx *bolt.Tx) error) error {
	ch := make(chan error, 1)
	s.submit(&op{fn: fn, done: func(err error) { ch <- err }})
	return <-ch
}

func (s *store) writer() {
	defer close(s.exited)
	batch := make([]*op, 0, maxBatch)
	for first := range s.ops {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < maxBatch {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		err := s.db.Update(func(tx *bolt.Tx) error {
			for _, o := range batch {
				if err := o.fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && len(batch) > 1 {
			// Isolate the failing operation so one bad request cannot fail its neighbours.
			for _, o := range batch {
				o.done(s.db.Update(o.fn))
			}
			continue
		}
		for _, o := range batch {
			o.done(err)
		}
	}
}

// ---- encoding helpers ----

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func ms(t time.Time) uint64 { return uint64(t.UnixMilli()) }

func nested(tx *bolt.Tx, top []byte, name string) (*bolt.Bucket, error) {
	return tx.Bucket(top).CreateBucketIfNotExists([]byte(name))
}

func nestedRO(tx *bolt.Tx, top []byte, name string) *bolt.Bucket {
	return tx.Bucket(top).Bucket([]byte(name))
}

func newDeliveryID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// deviceRegistered reports whether number is registered, without decoding
// its record (sends and receipts only need to know it exists).
func deviceRegistered(tx *bolt.Tx, number string) bool {
	return tx.Bucket(bDevices).Get([]byte(number)) != nil
}

func getDevice(tx *bolt.Tx, number string) (*deviceRecord, error) {
	v := tx.Bucket(bDevices).Get([]byte(number))
	if v == nil {
		return nil, nil
	}
	var d deviceRecord
	if err := json.Unmarshal(v, &d); err != nil {
		return nil, fmt.Errorf("device record: %w", errCorrupt)
	}
	return &d, nil
}

// device returns the registration of number, or network.ErrNotRegistered.
func (s *store) device(number string) (*deviceRecord, error) {
	var d *deviceRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		d, err = getDevice(tx, number)
		return err
	})
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, network.ErrNotRegistered
	}
	return d, nil
}

// ---- queue ----

// enqueue appends an encoded delivery to number's queue (in the caller's transaction).
func enqueue(tx *bolt.Tx, number, id string, data []byte, now time.Time) error {
	q, err := nested(tx, bQueue, number)
	if err != nil {
		return err
	}
	idx, err := nested(tx, bIndex, number)
	if err != nil {
		return err
	}
	if idx.Get([]byte(id)) != nil {
		return nil // already queued (a retried operation)
	}
	seq, err := q.NextSequence()
	if err != nil {
		return err
	}
	v := make([]byte, 8, 8+len(data))
	binary.BigEndian.PutUint64(v, ms(now))
	if err := q.Put(u64(seq), append(v, data...)); err != nil {
		return err
	}
	return idx.Put([]byte(id), u64(seq))
}

// readQueue returns up to limit deliveries of number with a sequence above after, oldest first.
func (s *store) readQueue(number string, after uint64, limit int) ([]queued, error) {
	var out []queued
	err := s.db.View(func(tx *bolt.Tx) error {
		q := nestedRO(tx, bQueue, number)
		if q == nil {
			return nil
		}
		c := q.Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			if len(k) != 8 || len(v) < 8 {
				return fmt.Errorf("queue entry: %w", errCorrupt)
			}
			data := append([]byte(nil), v[8:]...)
			id, err := deliveryID(data)
			if err != nil {
				return err
			}
			out = append(out, queued{seq: binary.BigEndian.Uint64(k), id: id, data: data})
		}
		return nil
	})
	return out, err
}

// deliveryID reads the id of an encoded delivery without decoding the rest.
func deliveryID(b []byte) (string, error) {
	if len(b) < 2 {
		return "", fmt.Errorf("delivery: %w", errCorrupt)
	}
	n, w := binary.Uvarint(b[1:])
	if w <= 0 || n > uint64(len(b)-1-w) {
		return "", fmt.Errorf("delivery id: %w", errCorrupt)
	}
	return string(b[1+w : 1+w+int(n)]), nil
}

// queueLen returns how many deliveries wait for number (for tests and metrics).
func (s *store) queueLen(number string) (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		if q := nestedRO(tx, bQueue, number); q != nil {
			n = q.Stats().KeyN
		}
		return nil
	})
	return n, err
}

// ackOp removes acknowledged deliveries from number's queue. Unknown ids are ignored.
func ackOp(number string, ids []string) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		idx := nestedRO(tx, bIndex, number)
		q := nestedRO(tx, bQueue, number)
		if idx == nil || q == nil {
			return nil
		}
		for _, id := range ids {
			seq := idx.Get([]byte(id))
			if seq == nil {
				continue
			}
			if err := q.Delete(bytes.Clone(seq)); err != nil {
				return err
			}
			if err := idx.Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	}
}

// ---- registration and prekeys ----

// registerOp stores a registration. A different identity key for an existing number is refused
// unless replace is set (the connection proved the old key). On replacement the old one-time prekeys
// are dropped: they belong to the old identity.
func registerOp(reg network.Registration, replace bool, now time.Time, maxPreKeys int, result *error) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		*result = nil
		old, err := getDevice(tx, reg.Number)
		if err != nil {
			return err
		}
		pk := tx.Bucket(bPreKeys)
		if old != nil && !bytes.Equal(old.IdentityKey, reg.IdentityKey) {
			if !replace {
				*result = network.ErrAlreadyRegistered
				return nil
			}
			if pk.Bucket([]byte(reg.Number)) != nil {
				if err := pk.DeleteBucket([]byte(reg.Number)); err != nil {
					return err
				}
			}
		}
		keys, err := pk.CreateBucketIfNotExists([]byte(reg.Number))
		if err != nil {
			return err
		}
		if keys.Stats().KeyN+len(reg.PreKeys) > maxPreKeys {
			*result = fmt.Errorf("more than %d stored prekeys: %w", maxPreKeys, network.ErrInvalid)
			return nil
		}
		rec := deviceRecord{Number: reg.Number, DeviceID: reg.DeviceID, RegistrationID: reg.RegistrationID,
			IdentityKey: reg.IdentityKey, SignedPreKey: reg.SignedPreKey, Role: reg.Role, RegisteredAt: now.UnixMilli()}
		if old != nil && bytes.Equal(old.IdentityKey, reg.IdentityKey) {
			rec.RegisteredAt = old.RegisteredAt
		}
		v, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bDevices).Put([]byte(reg.Number), v); err != nil {
			return err
		}
		return putPreKeys(keys, reg.PreKeys)
	}
}

func putPreKeys(b *bolt.Bucket, otks []network.OneTimePreKey) error {
	for _, k := range otks {
		if err := b.Put(binary.BigEndian.AppendUint32(nil, k.ID), k.Public); err != nil {
			return err
		}
	}
	return nil
}

// addPreKeysOp adds one-time prekeys for a registered number.
func addPreKeysOp(number string, otks []network.OneTimePreKey, maxPreKeys int, result *error) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		*result = nil
		d, err := getDevice(tx, number)
		if err != nil {
			return err
		}
		if d == nil {
			*result = network.ErrNotRegistered
			return nil
		}
		keys, err := nested(tx, bPreKeys, number)
		if err != nil {
			return err
		}
		if keys.Stats().KeyN+len(otks) > maxPreKeys {
			*result = fmt.Errorf("more than %d stored prekeys: %w", maxPreKeys, network.ErrInvalid)
			return nil
		}
		return putPreKeys(keys, otks)
	}
}

// preKeyCount returns how many one-time prekeys of number are left.
func (s *store) preKeyCount(number string) (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := nestedRO(tx, bPreKeys, number); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}

// fetchBundleOp builds number's bundle and deletes the one-time prekey it hands out, in the same
// transaction: the answer is sent only after the commit, so no key is ever handed out twice. A
// bundle for a registered number spends one of the requesting device's budget (allowDevice; refused
// with ErrRateLimited when spent) and carries a one-time prekey only while the target's handout
// budget allows it (allowOneTime); otherwise the signed prekey alone.
func fetchBundleOp(number string, allowDevice, allowOneTime func() bool, out *network.PreKeyBundle, result *error) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		*out, *result = network.PreKeyBundle{}, nil
		d, err := getDevice(tx, number)
		if err != nil {
			return err
		}
		if d == nil {
			*result = network.ErrNotRegistered
			return nil
		}
		if !allowDevice() {
			*result = fmt.Errorf("prekey bundles: %w", network.ErrRateLimited)
			return nil
		}
		b := network.PreKeyBundle{Number: d.Number, DeviceID: d.DeviceID, RegistrationID: d.RegistrationID,
			IdentityKey: d.IdentityKey, SignedPreKeyID: d.SignedPreKey.ID, SignedPreKey: d.SignedPreKey.Public,
			SignedPreKeySig: d.SignedPreKey.Signature}
		if keys := nestedRO(tx, bPreKeys, number); keys != nil {
			c := keys.Cursor()
			if k, v := c.First(); k != nil && allowOneTime() {
				if len(k) != 4 {
					return fmt.Errorf("prekey id: %w", errCorrupt)
				}
				b.PreKeyID = binary.BigEndian.Uint32(k)
				b.PreKey = bytes.Clone(v)
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		*out = b
		return nil
	}
}

// ---- sending ----

// sendOutcome is what a send operation did, for the caller to notify connections.
type sendOutcome struct {
	err       error    // rejection (not a storage failure)
	duplicate bool     // same id from the same sender was already accepted
	notify    []string // numbers whose queues grew
}

// sendOp checks, deduplicates and queues an envelope, and tracks a business's new-recipient rate.
func sendOp(env network.Envelope, data []byte, senderRole network.Role, now time.Time, cfg *Config, out *sendOutcome) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		*out = sendOutcome{}
		if !deviceRegistered(tx, env.To) {
			out.err = network.ErrUnknownRecipient
			return nil
		}
		dd := tx.Bucket(bDedupe)
		if v := dd.Get([]byte(env.ID)); v != nil {
			if len(v) >= 8 && string(v[8:]) == env.From {
				out.duplicate = true
			} else {
				out.err = network.ErrIDConflict
			}
			return nil
		}
		if tx.Bucket(bBlocks).Get(blockKey(env.To, env.From)) != nil {
			out.err = network.ErrBlocked
			return nil
		}
		if err := dd.Put([]byte(env.ID), append(u64(ms(now)), env.From...)); err != nil {
			return err
		}
		if err := enqueue(tx, env.To, env.ID, data, now); err != nil {
			return err
		}
		out.notify = append(out.notify, env.To)
		if senderRole != network.RoleBusiness {
			return nil
		}
		changed, err := trackRecipient(tx, env.From, env.To, now, cfg)
		if err != nil {
			return err
		}
		if changed {
			out.notify = append(out.notify, env.From)
		}
		return nil
	}
}

// trackRecipient records that business sent to recipient. A recipient is new when the business has
// not sent to it within the retention period; new recipients enter a rolling window (cfg.RateWindow)
// whose size is reported to the business as a new_recipient_rate signal whenever it changes.
func trackRecipient(tx *bolt.Tx, business, recipient string, now time.Time, cfg *Config) (bool, error) {
	contacts, err := nested(tx, bContacts, business)
	if err != nil {
		return false, err
	}
	last := contacts.Get([]byte(recipient))
	isNew := last == nil || len(last) != 8 || now.Sub(time.UnixMilli(int64(binary.BigEndian.Uint64(last)))) > cfg.Retention
	if err := contacts.Put([]byte(recipient), u64(ms(now))); err != nil {
		return false, err
	}
	win, err := nested(tx, bWindow, business)
	if err != nil {
		return false, err
	}
	count, before := windowCount(tx, business), windowCount(tx, business)
	pruned, err := pruneWindow(win, now.Add(-cfg.RateWindow))
	if err != nil {
		return false, err
	}
	count -= pruned
	if isNew {
		if err := win.Put(append(u64(ms(now)), recipient...), nil); err != nil {
			return false, err
		}
		count++
	}
	if count == before {
		return false, nil
	}
	return true, setWindowCount(tx, business, count, now)
}

func windowCount(tx *bolt.Tx, business string) int {
	v := tx.Bucket(bCounts).Get([]byte(business))
	if len(v) != 4 {
		return 0
	}
	return int(binary.BigEndian.Uint32(v))
}

// setWindowCount stores the count and queues a new_recipient_rate signal for the business.
func setWindowCount(tx *bolt.Tx, business string, count int, now time.Time) error {
	if count < 0 {
		count = 0
	}
	if err := tx.Bucket(bCounts).Put([]byte(business), binary.BigEndian.AppendUint32(nil, uint32(count))); err != nil {
		return err
	}
	return queueSignal(tx, network.Signal{Kind: network.SignalNewRecipientRate, Business: business, Count: count,
		Timestamp: now.UnixMilli()}, now)
}

// pruneWindow deletes window entries older than cutoff and returns how many it deleted.
func pruneWindow(win *bolt.Bucket, cutoff time.Time) (int, error) {
	n := 0
	c := win.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.First() {
		if len(k) >= 8 && int64(binary.BigEndian.Uint64(k[:8])) >= cutoff.UnixMilli() {
			break
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func queueSignal(tx *bolt.Tx, sig network.Signal, now time.Time) error {
	d := network.Delivery{Type: network.DeliverySignal, ID: newDeliveryID("sig-"), Signal: &sig}
	data, err := network.EncodeDelivery(&d)
	if err != nil {
		return err
	}
	return enqueue(tx, sig.Business, d.ID, data, now)
}

func blockKey(consumer, business string) []byte { return []byte(consumer + "|" + business) }

// receiptOp queues a receipt for its recipient (the original sender).
func receiptOp(r network.Receipt, now time.Time, result *error) func(tx *bolt.Tx) error {
	id := newDeliveryID("rcpt-")
	return func(tx *bolt.Tx) error {
		*result = nil
		if !deviceRegistered(tx, r.To) {
			*result = network.ErrUnknownRecipient
			return nil
		}
		d := network.Delivery{Type: network.DeliveryReceipt, ID: id, Receipt: &r}
		data, err := network.EncodeDelivery(&d)
		if err != nil {
			*result = err
			return nil
		}
		return enqueue(tx, r.To, id, data, now)
	}
}

// reportOp records a consumer's block/unblock and forwards the report to the business as a signal.
func reportOp(req network.ReportRequest, now time.Time, result *error) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		*result = nil
		biz, err := getDevice(tx, req.Business)
		if err != nil {
			return err
		}
		if biz == nil {
			*result = network.ErrUnknownRecipient
			return nil
		}
		blocks := tx.Bucket(bBlocks)
		switch req.Kind {
		case network.SignalBlock:
			err = blocks.Put(blockKey(req.From, req.Business), u64(ms(now)))
		case network.SignalUnblock:
			err = blocks.Delete(blockKey(req.From, req.Business))
		}
		if err != nil {
			return err
		}
		return queueSignal(tx, network.Signal{Kind: req.Kind, Business: req.Business, Consumer: req.From,
			Timestamp: now.UnixMilli()}, now)
	}
}

// ---- expiry ----

// sweep deletes what is past retention (queued deliveries, dedupe entries, contact records) and
// ages new-recipient windows, queueing a signal when a window shrank. It returns numbers to notify.
func (s *store) sweep(now time.Time) ([]string, error) {
	var notify []string
	err := s.update(func(tx *bolt.Tx) error {
		notify = notify[:0]
		cutoff := now.Add(-s.cfg.Retention)
		if err := sweepQueues(tx, cutoff); err != nil {
			return err
		}
		if err := sweepFlat(tx.Bucket(bDedupe), cutoff); err != nil {
			return err
		}
		if err := forEachNested(tx.Bucket(bContacts), func(b *bolt.Bucket) error { return sweepFlat(b, cutoff) }); err != nil {
			return err
		}
		shrunk := map[string]int{}
		err := forEachNestedNamed(tx.Bucket(bWindow), func(business string, b *bolt.Bucket) error {
			n, err := pruneWindow(b, now.Add(-s.cfg.RateWindow))
			if n > 0 {
				shrunk[business] = n
			}
			return err
		})
		if err != nil {
			return err
		}
		for business, n := range shrunk {
			if err := setWindowCount(tx, business, windowCount(tx, business)-n, now); err != nil {
				return err
			}
			notify = append(notify, business)
		}
		return nil
	})
	return notify, err
}

// sweepQueues drops queued deliveries enqueued before cutoff (queues are in arrival order).
func sweepQueues(tx *bolt.Tx, cutoff time.Time) error {
	return forEachNestedNamed(tx.Bucket(bQueue), func(number string, q *bolt.Bucket) error {
		idx := nestedRO(tx, bIndex, number)
		c := q.Cursor()
		for k, v := c.First(); k != nil; k, v = c.First() {
			if len(v) >= 8 && int64(binary.BigEndian.Uint64(v[:8])) >= cutoff.UnixMilli() {
				break
			}
			if id, err := deliveryID(v[min(8, len(v)):]); err == nil && idx != nil {
				if err := idx.Delete([]byte(id)); err != nil {
					return err
				}
			}
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// sweepFlat deletes entries whose value starts with a timestamp before cutoff.
func sweepFlat(b *bolt.Bucket, cutoff time.Time) error {
	var old [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if v != nil && (len(v) < 8 || int64(binary.BigEndian.Uint64(v[:8])) < cutoff.UnixMilli()) {
			old = append(old, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func forEachNested(top *bolt.Bucket, fn func(b *bolt.Bucket) error) error {
	return forEachNestedNamed(top, func(_ string, b *bolt.Bucket) error { return fn(b) })
}

func forEachNestedNamed(top *bolt.Bucket, fn func(name string, b *bolt.Bucket) error) error {
	var names []string
	err := top.ForEach(func(k, v []byte) error {
		if v == nil {
			names = append(names, string(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range names {
		if b := top.Bucket([]byte(n)); b != nil {
			if err := fn(n, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// isRejection reports whether err is a request rejection rather than a storage failure.
func isRejection(err error) bool {
	return errors.Is(err, network.ErrInvalid) || errors.Is(err, network.ErrNotRegistered) ||
		errors.Is(err, network.ErrUnknownRecipient) || errors.Is(err, network.ErrAlreadyRegistered) ||
		errors.Is(err, network.ErrIDConflict) || errors.Is(err, network.ErrBlocked) ||
		errors.Is(err, network.ErrUnauthorized) || errors.Is(err, network.ErrRateLimited)
}
