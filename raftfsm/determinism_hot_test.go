package raftfsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/waedge/waedge/cloudapi"
	bolt "go.etcd.io/bbolt"
)

// hotLog is a log of the commands whose statistics and distinct-consumer
// sets are aggregated per batch (accepts in both encodings, inbound,
// statuses in both encodings, connector failures), over nine days, with
// late proposers (a day and more than a week behind), consumers reached
// again and again, a number at TIER_250 pushed past its limit (refusals),
// and commands that read or prune the same state in between (integrity
// signals, expiry, tier changes); a number with low rate limits sent a
// burst that both its pair and its throughput budget refuse, in entries
// that mix hot and other commands (the batch flushes before the others);
// pair rate buckets idle for a day pruned, or moved in the time index
// when used since. Mostly one command per entry, so applying one entry
// per batch is the one-message-at-a-time rules (a mixed entry is applied
// command by command in any grouping).
func hotLog(t testing.TB) []*raft.Log {
	rnd := rand.New(rand.NewSource(12))
	var entries [][][]byte
	add := func(c ...[]byte) { entries = append(entries, c) }
	add(tenantCmd(t, 1, "+15551234567"))
	add(tenantCmd(t, 2, "+15552222222"))
	add(cmd(t, CmdSetSubscription, SetSubscription{WABAID: "2001", BusinessID: "1001", AppID: "4001", CallbackURL: "http://x"}))
	add(cmd(t, CmdSubmitTemplate, SubmitTemplate{Template: Template{ID: "77", WABAID: "2001", BusinessID: "1001",
		Name: "bill", Language: "en", Category: "UTILITY", CreatedAt: st0}}))
	add(cmd(t, CmdSetMessagingTier, SetMessagingTier{PhoneNumberID: "3001", Tier: Tier250}))
	seqN := 0
	key := func(at int64) []byte {
		seqN++
		var k [16]byte
		binary.BigEndian.PutUint64(k[:], uint64(at)*1e6)
		binary.BigEndian.PutUint64(k[8:], uint64(seqN))
		return k[:]
	}
	var sent []string // wamids of accepted outbound messages
	at := st0
	// 300 consumers reached in an hour: past TIER_250's limit.
	for i := 0; i < 300; i++ {
		at += int64(rnd.Intn(20_000))
		when := at - int64(rnd.Intn(2))*int64(rnd.Intn(60_000)) // some proposers a little behind
		add(EncodeAcceptMessage(AcceptMessage{Key: key(when), IDRef: MessageIDRef(fmt.Sprint("burst", i)), PhoneNumberID: "3001",
			BusinessID: "1001", PeerRef: fmt.Sprint("burst", i%270), Type: "template", CreatedAt: when,
			TemplateName: "bill", TemplateLanguage: "en"}))
	}
	for i := 0; i < 1200; i++ {
		at += int64(rnd.Intn(9 * 60 * 1000)) // ~9 days over the log
		when := at
		switch rnd.Intn(20) {
		case 0:
			when -= dayMS + int64(rnd.Intn(1000)) // a day late
		case 1:
			when -= 8 * dayMS // more than the reach horizon late
		}
		phone, biz := "3001", "1001"
		if rnd.Intn(4) == 0 {
			phone, biz = "3002", "1002"
		}
		ref := fmt.Sprint("ref", rnd.Intn(400))
		switch r := rnd.Intn(100); {
		case r < 55:
			wamid, k := fmt.Sprint("out", i), key(when)
			if i%2 == 0 { // a wamid that carries its key: no message_refs entry
				wamid = cloudapi.NewWAMIDWithKeyID("15550001111", true, WAMIDKeyID(k, [9]byte{byte(i)}))
			}
			c := AcceptMessage{Key: k, IDRef: MessageIDRef(wamid), PhoneNumberID: phone, BusinessID: biz,
				PeerRef: ref, Type: "template", Content: []byte{byte(i)}, CreatedAt: when, TemplateName: "bill", TemplateLanguage: "en"}
			if rnd.Intn(3) == 0 {
				c.Type, c.RequireWindow = "text", true
			}
			if rnd.Intn(4) == 0 {
				add(cmd(t, CmdAcceptMessage, c))
			} else {
				add(EncodeAcceptMessage(c))
			}
			sent = append(sent, wamid)
		case r < 75:
			add(cmd(t, CmdRecordInbound, RecordInbound{Key: key(when), IDRef: MessageIDRef(fmt.Sprint("in", i)), PhoneNumberID: phone,
				PeerRef: ref, Type: "text", ReceivedAt: when, Event: &OutboxEvent{Key: key(when), Body: []byte("b"), CreatedAt: when}}))
		case r < 90 && len(sent) > 0:
			var ups []StatusUpdate
			for j := 0; j < 1+rnd.Intn(5); j++ {
				ups = append(ups, StatusUpdate{IDRef: MessageIDRef(sent[rnd.Intn(len(sent))]),
					Status: []string{StatusSent, StatusDelivered, StatusRead}[rnd.Intn(3)], At: when,
					Event: &OutboxEvent{Key: key(when), Body: []byte("s"), CreatedAt: when}})
			}
			c := MessageStatuses{PhoneNumberID: phone, Updates: ups}
			if rnd.Intn(3) == 0 {
				add(cmd(t, CmdMessageStatuses, c))
			} else {
				add(EncodeMessageStatuses(c))
			}
		case r < 93 && len(sent) > 0:
			add(cmd(t, CmdSignalCommit, SignalCommit{PhoneNumberID: phone, Failed: []StatusUpdate{
				{IDRef: MessageIDRef(sent[rnd.Intn(len(sent))]), Status: StatusFailed, At: when}}}))
		case r < 96:
			add(integrity(t, SignalBlock, 1, at, fmt.Sprint("d", i)))
		case r < 98:
			add(cmd(t, CmdExpire, Expire{Now: at}))
		default:
			add(cmd(t, CmdSetMessagingTier, SetMessagingTier{PhoneNumberID: "3001", Tier: []string{Tier250, Tier1K}[rnd.Intn(2)]}))
		}
	}
	// A burst to 3002 under low limits: 5 msg/s, pairs 4 then one a second,
	// at ~6.7 msg/s over four consumers, some entries with a non-hot
	// command between two accepts.
	limits := cmd(t, CmdSetPhoneLimits, SetPhoneLimits{PhoneNumberID: "3002", ThroughputMPS: 5, PairPerMinute: 60, PairBurst: 4})
	add(limits)
	burst := func(i int) []byte {
		at += int64(rnd.Intn(300))
		return EncodeAcceptMessage(AcceptMessage{Key: key(at), IDRef: MessageIDRef(fmt.Sprint("rate", i)), PhoneNumberID: "3002",
			BusinessID: "1002", PeerRef: fmt.Sprint("rate", rnd.Intn(4)), Type: "text", CreatedAt: at})
	}
	for i := 0; i < 150; i++ {
		if i%5 == 0 {
			add(burst(i), limits, burst(1000+i))
		} else {
			add(burst(i))
		}
	}
	// Late proposers back to back at the end (one batch when grouped): an
	// entry older than what the set already dropped is still added, and
	// survives a later, smaller cut.
	for i, late := range []int64{0, 7*dayMS + 1, 8 * dayMS, dayMS + 1, dayMS + 2} {
		when := at - late
		add(EncodeAcceptMessage(AcceptMessage{Key: key(when), IDRef: MessageIDRef(fmt.Sprint("late", i)), PhoneNumberID: "3002",
			BusinessID: "1002", PeerRef: fmt.Sprint("late", i), Type: "template", CreatedAt: when,
			TemplateName: "bill", TemplateLanguage: "en"}))
	}
	logs := make([]*raft.Log, len(entries))
	for i, c := range entries {
		logs[i] = entry(uint64(i+1), c...)
	}
	return logs
}

// TestDeterminismHotPath: the aggregated writes (statistics, distinct
// sets, rate buckets) leave the same database and give the same results
// whatever the grouping of entries into batches: one per batch (the
// one-by-one rules), groups of seven, groups of 64, all at once; and the
// log does reach the tier limit, both rate limits and the pruning of
// idle pair buckets.
func TestDeterminismHotPath(t *testing.T) {
	logs := hotLog(t)
	var dumps, outcomes []string
	refused := map[error]int{}
	admitted := map[string]bool{} // number/consumer pairs with an accepted message
	for _, group := range []int{1, 7, 64, len(logs)} {
		f := openFSM(t)
		var out strings.Builder
		for i := 0; i < len(logs); i += group {
			for j, r := range f.ApplyBatch(logs[i:min(i+group, len(logs))]) {
				cmds, err := DecodeEntry(logs[i+j].Data)
				if err != nil {
					t.Fatal(err)
				}
				for k, x := range r.([]Result) {
					fmt.Fprintln(&out, x.Err)
					if errors.Is(x.Err, ErrMessagingLimit) || errors.Is(x.Err, ErrPairRate) || errors.Is(x.Err, ErrThroughput) {
						refused[x.Err]++
					}
					if pair, ok := acceptPair(t, cmds[k]); ok && x.Err == nil && group == 1 {
						admitted[pair] = true
					}
				}
			}
		}
		if group == 1 {
			// Without pruning, a bucket per number and per pair admitted.
			if n := f.RateLimitEntries(); n >= 2+len(admitted) {
				t.Errorf("%d rate buckets for %d pairs: no idle pair bucket was pruned", n, len(admitted))
			}
		}
		dumps, outcomes = append(dumps, dumpOf(t, f)), append(outcomes, out.String())
	}
	for _, want := range []error{ErrMessagingLimit, ErrPairRate, ErrThroughput} {
		if refused[want] == 0 {
			t.Errorf("the log never hit %v", want)
		}
	}
	for i := 1; i < len(dumps); i++ {
		if outcomes[i] != outcomes[0] {
			t.Fatalf("grouping %d: same log, different results", i)
		}
		if dumps[i] != dumps[0] {
			t.Fatalf("grouping %d: same log, different state", i)
		}
	}
}

// acceptPair returns "number/consumer" of an accept command.
func acceptPair(t testing.TB, c []byte) (string, bool) {
	typ, payload, err := DecodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	var a AcceptMessage
	switch typ {
	case CmdAcceptMessageV2:
		if a, err = DecodeAcceptMessage(payload); err != nil {
			t.Fatal(err)
		}
	case CmdAcceptMessage:
		decode(payload, &a)
	default:
		return "", false
	}
	return a.PhoneNumberID + "/" + a.PeerRef, true
}

// TestDistinctIndexFollowsTheDisk: the in-memory half of the distinct
// sets (distinct_index.go) and of the pair rate buckets (ratelimit.go) is
// what the disk rebuilds, after
// every batch, and a replica that restarts (reopens its database) every
// hundred entries refuses and writes exactly what one that never restarts
// does.
func TestDistinctIndexFollowsTheDisk(t *testing.T) {
	logs := hotLog(t)
	straight := openFSM(t)
	restarted := openFSM(t)
	path := restarted.path
	for i := 0; i < len(logs); i += 7 {
		batch := logs[i:min(i+7, len(logs))]
		want, got := straight.ApplyBatch(batch), restarted.ApplyBatch(batch)
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Fatalf("entries %d…: results %v after restarts, %v without", i+1, got, want)
		}
		var disk *consumerIndex
		if err := straight.View(func(tx *bolt.Tx) (err error) { disk, err = loadConsumerIndex(tx); return err }); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(disk, straight.sets.consumerIndex) || straight.pairs.consumerIndex != straight.sets.consumerIndex {
			t.Fatalf("after entry %d the in-memory index differs from the disk's", i+len(batch))
		}
		if i%100 < 7 {
			if err := restarted.Close(); err != nil {
				t.Fatal(err)
			}
			var err error
			if restarted, err = Open(path, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() { _ = restarted.Close() })
	if dumpOf(t, straight) != dumpOf(t, restarted) {
		t.Fatal("same log, different state after restarts")
	}
}
