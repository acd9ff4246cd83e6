package raftfsm

import "encoding/binary"

// Every bucket and key layout of the state machine lives here.
//
// Keys are chosen so that high-volume buckets can be appended in order
// (monotonic keys); low-volume records are keyed by their id.
var (
	// bucketMeta holds the FSM's own bookkeeping: applied index and term,
	// the latest Raft configuration.
	bucketMeta = []byte("meta")
	// bucketBusinesses: business id → Business.
	bucketBusinesses = []byte("businesses")
	// bucketWABAs: WABA id → WABA.
	bucketWABAs = []byte("wabas")
	// bucketPhones: phone-number id → Phone.
	bucketPhones = []byte("phones")
	// bucketPhoneByNumber: E.164 digits → phone-number id (uniqueness).
	bucketPhoneByNumber = []byte("phone_by_number")
	// bucketApps: app id → App.
	bucketApps = []byte("apps")
	// bucketTokens: sha256(token) → Token.
	bucketTokens = []byte("tokens")
	// bucketTokenIDs: token id → sha256(token).
	bucketTokenIDs = []byte("token_ids")
	// bucketCluster: key → value (cluster CA, settings).
	bucketCluster = []byte("cluster")
	// bucketJoinTokens: token id → JoinTokenInfo.
	bucketJoinTokens = []byte("join_tokens")
	// bucketRemoved: node id → removal time (BE int64 ms).
	bucketRemoved = []byte("removed_members")
	// bucketMembers: node id → admission time (BE int64 ms).
	bucketMembers = []byte("members")
	// bucketMessages: monotonic key (BE64 unix ns | BE64 sequence, chosen by
	// the proposer) → Message. Appends in key order.
	bucketMessages = []byte("messages")
	// bucketMessageIDs: wamid → message key.
	bucketMessageIDs = []byte("message_ids")
	// bucketWindows: phone-number id "/" consumer wa_id → last inbound
	// message time (BE int64 ms): the 24-hour customer service window.
	bucketWindows = []byte("windows")
	// bucketSubscriptions: WABA id → Subscription (webhook callback).
	bucketSubscriptions = []byte("subscriptions")
	// bucketOutbox: monotonic key → OutboxEvent (webhooks not yet delivered).
	bucketOutbox = []byte("outbox")
	// bucketDataKeys: day (BE32 unix days) → data key wrapped by the cluster KEK.
	bucketDataKeys = []byte("data_keys")
	// bucketTemplates: WABA id 0 name 0 language → Template.
	bucketTemplates = []byte("templates")
	// bucketTemplateIDs: template id → templates key.
	bucketTemplateIDs = []byte("template_ids")
	// bucketMedia: media id → Media.
	bucketMedia = []byte("media")
	// bucketMediaChunks: media id 0 chunk index (BE32) → sealed chunk.
	bucketMediaChunks = []byte("media_chunks")
)

// allBuckets is created on open.
var allBuckets = [][]byte{
	bucketMeta, bucketBusinesses, bucketWABAs, bucketPhones, bucketPhoneByNumber, bucketApps,
	bucketTokens, bucketTokenIDs, bucketCluster, bucketJoinTokens, bucketRemoved, bucketMembers,
	bucketMessages, bucketMessageIDs, bucketWindows, bucketSubscriptions, bucketOutbox,
	bucketDataKeys, bucketTemplates, bucketTemplateIDs, bucketMedia, bucketMediaChunks,
}

// Keys in bucketMeta.
var (
	keyApplied = []byte("applied") // index BE64 | term BE64
	keyConfig  = []byte("config")  // index BE64 | encoded raft configuration
)

// Key and value layouts shared by several buckets.

// be64 encodes v big-endian, so byte order equals numeric order for v ≥ 0
// (times, sequence numbers): monotonic keys append at the end of a bucket.
func be64(v int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	return b[:]
}

// beUint64 decodes the first 8 bytes of b, big-endian.
func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// appliedValue is the keyApplied value: index BE64 | term BE64.
func appliedValue(index, term uint64) []byte {
	var v [16]byte
	binary.BigEndian.PutUint64(v[:], index)
	binary.BigEndian.PutUint64(v[8:], term)
	return v[:]
}

// parseApplied decodes a keyApplied value (zeros when absent or malformed).
func parseApplied(v []byte) (index, term uint64) {
	if len(v) != 16 {
		return 0, 0
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
}

// configValue is the keyConfig value: index BE64 | encoded configuration.
func configValue(index uint64, data []byte) []byte {
	v := make([]byte, 8, 8+len(data))
	binary.BigEndian.PutUint64(v, index)
	return append(v, data...)
}

// windowKey is the bucketWindows key: phone-number id "/" consumer wa_id.
func windowKey(phoneID, waID string) []byte { return []byte(phoneID + "/" + waID) }

// templateKey is the bucketTemplates key: WABA id 0 name 0 language, so a
// WABA's templates (and one name's languages) are a key prefix.
func templateKey(waba, name, lang string) []byte {
	return []byte(waba + "\x00" + name + "\x00" + lang)
}

// dayKey is the bucketDataKeys key: unix day, BE32.
func dayKey(day uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], day)
	return b[:]
}
