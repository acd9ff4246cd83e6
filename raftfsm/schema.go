package raftfsm

import (
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

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
	// bucketMessages: phone-number id 0 message key (BE64 unix ns | BE64
	// sequence, chosen by the proposer) → message record (record.go,
	// binary). One record per message; each phone's messages are a key
	// range in time order, so accepting appends and expiry deletes the
	// front of the range (schema 2; see migrate.go for schema 1).
	bucketMessages = []byte("message_records")
	// bucketMessageIDs: MessageIDRef(wamid) → bucketMessages key: the one
	// secondary entry (statuses, mark-as-read, GET by id).
	bucketMessageIDs = []byte("message_refs")
	// bucketWindows: phone-number id "/" consumer reference
	// (seal.ConsumerRef, never the number) → last inbound message time
	// (BE int64 ms): the 24-hour customer service window.
	bucketWindows = []byte("windows")
	// bucketWindowsByTime: phone-number id 0 time BE64 0 consumer reference
	// → empty: the windows of a phone in time order, for expiry.
	bucketWindowsByTime = []byte("windows_by_time")
	// bucketSubscriptions: WABA id → Subscription (webhook callback).
	bucketSubscriptions = []byte("subscriptions")
	// bucketOutbox: monotonic key → OutboxEvent (webhooks not yet delivered).
	bucketOutbox = []byte("outbox")
	// bucketWebhookLog: outbox key → WebhookLogEntry: events that left the
	// outbox (delivered or dropped), kept WebhookLogKeep for the delivery
	// log; with its sealed body when logged by CmdWebhookAttemptsV2.
	bucketWebhookLog = []byte("webhook_log")
	// bucketDataKeys: data-key id (BE32, see DataKeyID: retention class and
	// period) → data key wrapped by the cluster KEK.
	bucketDataKeys = []byte("data_keys")
	// bucketTemplates: WABA id 0 name 0 language → Template.
	bucketTemplates = []byte("templates")
	// bucketTemplateIDs: template id → templates key.
	bucketTemplateIDs = []byte("template_ids")
	// bucketSignal: phone-number id 0 store bucket 0 key → BE64 version |
	// value: each business number's Signal store (identity, prekeys,
	// sessions keyed by consumer ref), values sealed by the proposer.
	bucketSignal = []byte("signal")
	// bucketSignalByTime: phone-number id 0 time BE64 0 store key → empty:
	// consumers' Signal records (sessions, identities) by when the data key
	// they are sealed under is destroyed, for expiry (sessions.go).
	bucketSignalByTime = []byte("signal_by_time")
	// bucketSignalPending: message key → phone-number id: accepted outbound
	// messages the leader's connector has not encrypted yet.
	bucketSignalPending = []byte("signal_pending")
	// bucketSignalEnvelopes: message key → uvarint length | phone-number id
	// | sealed envelope (envelopeValue): committed ciphertexts not yet
	// accepted by the network (resent after failover).
	bucketSignalEnvelopes = []byte("signal_envelopes")
	// bucketSignalInbound: phone-number id 0 sha256(ciphertext) → receive
	// time: dedupe of inbound retransmits.
	bucketSignalInbound = []byte("signal_inbound")
	// bucketSignalReads: message key → typing flag (one byte) | phone-number
	// id (readValue): inbound messages the business marked read, whose
	// read receipt the connector has not sent.
	bucketSignalReads = []byte("signal_reads")
	// bucketSignalInboundByTime: phone-number id 0 receive time BE64 0
	// ciphertext hash → empty: the dedupe table in time order, for expiry.
	bucketSignalInboundByTime = []byte("signal_inbound_by_time")
	// bucketMedia: media id → Media.
	bucketMedia = []byte("media")
	// bucketMediaChunks: media id 0 chunk index (BE32) → sealed chunk.
	bucketMediaChunks = []byte("media_chunks")
	// bucketAudit: AuditKeyLen key (BE64 unix ns | 8 proposer bytes) →
	// AuditRecord, in time order.
	bucketAudit = []byte("audit")
	// bucketStats: phone-number id 0 day (YYYY-MM-DD, UTC) 0 direction 0
	// type 0 status 0 pricing category → count (BE64). Non-identifiable
	// counters; kept after the messages they count expire.
	bucketStats = []byte("stats")
	// bucketDistinct: set name 0 phone-number id 1 → the number of entries
	// (BE64) of a rolling set of distinct consumers (see distinct.go). The
	// consumer → last time half lives in memory (distinct_index.go).
	bucketDistinct = []byte("distinct")
	// bucketDistinctTimes: phone-number id 0 time BE64 0 consumer
	// reference → set bits (one byte: distinctBitTier | distinctBitReach):
	// both sets of a number in one time order, one entry per consumer and
	// time whatever sets it belongs to, so an accept appends one entry and
	// entries past a set's horizon are dropped or lose that set's bit from
	// the front (schema 5; distinct.go, migrate.go for schema 4).
	bucketDistinctTimes = []byte("distinct_times")
	// bucketIntegrity: phone-number id 0 day (YYYY-MM-DD) 0 signal kind →
	// count (BE64): integrity signals per business number and day.
	bucketIntegrity = []byte("integrity")
	// bucketIntegritySeen: phone-number id 0 day 0 delivery reference →
	// empty: dedupe of redelivered signals, dropped after IntegrityDays.
	bucketIntegritySeen = []byte("integrity_seen")
	// bucketPhoneSettings: phone-number id 0 setting name → the setting's
	// value, JSON as the Graph API shows it (conversational automation,
	// commerce settings, number settings, QR codes "qr/<code>").
	bucketPhoneSettings = []byte("phone_settings")
	// bucketRateLimits: "n" 0 phone-number id → tokens BE64 | last BE64:
	// each number's throughput bucket (see ratelimit.go).
	bucketRateLimits = []byte("rate_limits")
	// bucketRatePairs: time BE64 | "p" 0 phone-number id 0 consumer
	// reference → tokens BE64 | last BE64: the pair buckets, keyed by a
	// time at or before their last use (when created, or moved to by a
	// prune), so new ones append and idle ones are dropped from the front;
	// pair → time lives in memory (schema 4, ratelimit.go).
	bucketRatePairs = []byte("rate_pairs")
	// bucketOutboxGroups: group (a message's IDRef) → its queued outbox
	// keys, 16 bytes each, oldest first (see outboxorder.go).
	bucketOutboxGroups = []byte("outbox_groups")
	// bucketAppWebhooks: app id → AppWebhook (the app-level callback).
	bucketAppWebhooks = []byte("app_webhooks")
	// bucketPhoneWebhooks: phone-number id → PhoneWebhook (its override).
	bucketPhoneWebhooks = []byte("phone_webhooks")
	// bucketProfilePictures: phone-number id → ProfilePicture.
	bucketProfilePictures = []byte("profile_pictures")
	// bucketTemplateMsgs: bucketMessages key of an outbound template
	// message → WABA id 0 template id: which template a status counts
	// for (template analytics); written with the message, in the same key
	// order, and deleted with it (templateanalytics.go).
	bucketTemplateMsgs = []byte("template_msgs")
	// bucketTemplateStats: WABA id 0 template id 0 day (YYYY-MM-DD, UTC)
	// 0 metric (sent, delivered, read) → BE64 count; and WABA id 0 (no
	// more) → BE64 unix ms: the WABA confirmed template analytics
	// (is_enabled_for_insights, templateanalytics.go).
	bucketTemplateStats = []byte("template_stats")
	// bucketMarketingSends: phone-number id "/" consumer ref 0 BE64 unix
	// ms message key → nil: accepted marketing template messages per
	// consumer (131049, marketingcap.go); bucketMarketingSendsByTime:
	// phone-number id 0 BE64 unix ms 0 ref message key → nil, for expiry.
	bucketMarketingSends       = []byte("marketing_sends")
	bucketMarketingSendsByTime = []byte("marketing_sends_by_time")
)

// allBuckets is created on open.
var allBuckets = [][]byte{
	bucketMeta, bucketBusinesses, bucketWABAs, bucketPhones, bucketPhoneByNumber, bucketApps,
	bucketTokens, bucketTokenIDs, bucketCluster, bucketJoinTokens, bucketRemoved, bucketMembers,
	bucketMessages, bucketMessageIDs, bucketWindows, bucketSubscriptions, bucketOutbox,
	bucketDataKeys, bucketTemplates, bucketTemplateIDs, bucketWindowsByTime,
	bucketSignal, bucketSignalPending, bucketSignalEnvelopes, bucketSignalInbound, bucketSignalReads, bucketSignalInboundByTime,
	bucketSignalByTime,
	bucketMedia, bucketMediaChunks, bucketAudit,
	bucketStats, bucketDistinct, bucketDistinctTimes, bucketIntegrity, bucketIntegritySeen,
	bucketWebhookLog, bucketPhoneSettings, bucketRateLimits, bucketRatePairs, bucketOutboxGroups, bucketAppWebhooks, bucketPhoneWebhooks,
	bucketProfilePictures, bucketTemplateMsgs, bucketTemplateStats, bucketMarketingSends, bucketMarketingSendsByTime,
	bucketConsoleUsers, bucketConsoleNames, bucketConsoleLinks, bucketConsoleSessions, bucketConsoleFailures,
}

// Keys in bucketMeta.
var (
	keyApplied = []byte("applied") // index BE64 | term BE64
	keyConfig  = []byte("config")  // index BE64 | encoded raft configuration
	// keyExpiredThrough is the Now (BE64 unix ms) of the latest CmdExpire:
	// data keys whose destruction time is at or before it are refused.
	keyExpiredThrough = []byte("expired_through")
	// keySchema is the layout version of the database (BE64; absent:
	// schema 1, migrated on open — see migrate.go).
	keySchema = []byte("schema")
	// keyMergingDistinct marks a database whose 4 → 5 migration of the
	// distinct time index is under way (mergeDistinctTimesInSteps).
	keyMergingDistinct = []byte("merging_distinct")
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

// windowKey is the bucketWindows key: phone-number id "/" consumer reference.
func windowKey(phoneID, ref string) []byte { return []byte(phoneID + "/" + ref) }

// appendWindowKey appends windowKey(phoneID, ref) to dst.
func appendWindowKey(dst []byte, phoneID, ref string) []byte {
	return append(append(append(dst, phoneID...), '/'), ref...)
}

// windowTimeKey is the bucketWindowsByTime key: phone-number id 0 time 0 ref.
func windowTimeKey(phoneID string, at int64, ref string) []byte {
	return phoneTimeKey(phoneID, at, ref)
}

// phoneTimeKey is the key layout of the per-phone time indexes:
// phone-number id 0 time BE64 0 rest.
func phoneTimeKey(phoneID string, at int64, rest string) []byte {
	k := make([]byte, 0, len(phoneID)+10+len(rest))
	k = append(k, phoneID...)
	k = append(k, 0)
	k = append(k, be64(at)...)
	k = append(k, 0)
	return append(k, rest...)
}

// templateKey is the bucketTemplates key: WABA id 0 name 0 language, so a
// WABA's templates (and one name's languages) are a key prefix.
func templateKey(waba, name, lang string) []byte {
	return []byte(waba + "\x00" + name + "\x00" + lang)
}

// dayKey is the bucketDataKeys key: the data-key id, BE32.
func dayKey(day uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], day)
	return b[:]
}

// beUint32 decodes the first 4 bytes of b, big-endian.
func beUint32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// boltOptions are the options the state machine opens its database with.
// The freelist is not written at each commit (NoFreelistSync: bbolt
// rebuilds it by a scan on open) and is a hash map: expiry frees a page
// per handful of expired messages, and with bbolt's default array freelist
// every page allocation and every commit's release of freed pages is a
// pass over the whole list, so the accept path would slow down as expired
// volume grows (BenchmarkAcceptAfterExpire). The file format is the same
// either way.
//
// A new database gets pages of dbPageSize bytes, twice the OS page:
// every commit writes one page per dirty node (a pwrite each) and the
// root, the branch path and the last leaf of each bucket an accept
// appends to, so at ~100 accepts a commit half of what it wrote were
// those; with 8 KiB pages a commit writes ~40 % fewer pages and the trees
// are a level shallower (BENCHMARKS.md, "Stop 22"). bbolt reads the page
// size from the file's meta page, so an existing database, and a
// snapshot streamed from a leader, keeps the size it was created with:
// replicas may differ in it, their content (Dump) does not.
func boltOptions() *bolt.Options {
	return &bolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
		PageSize: dbPageSize}
}

// dbPageSize is the page size of a database the state machine creates.
const dbPageSize = 8192
