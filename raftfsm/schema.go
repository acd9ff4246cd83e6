package raftfsm

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
)

// allBuckets is created on open.
var allBuckets = [][]byte{
	bucketMeta, bucketBusinesses, bucketWABAs, bucketPhones, bucketPhoneByNumber, bucketApps,
	bucketTokens, bucketTokenIDs, bucketCluster, bucketJoinTokens, bucketRemoved, bucketMembers,
	bucketMessages, bucketMessageIDs, bucketWindows, bucketSubscriptions, bucketOutbox,
	bucketDataKeys, bucketTemplates, bucketTemplateIDs,
}

// Keys in bucketMeta.
var (
	keyApplied = []byte("applied") // index BE64 | term BE64
	keyConfig  = []byte("config")  // index BE64 | encoded raft configuration
)
