package raftfsm

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/waedge/waedge/cloudapi"
	bolt "go.etcd.io/bbolt"
)

// BenchmarkApplyAccept measures what one replica spends applying accepted
// outbound messages, per message (ns/op and allocs/op are per message):
// entries of 64 accept commands as the node's group commit builds them,
// one entry per ApplyBatch, template messages to many distinct consumers
// (so both distinct-consumer sets and the tier check are exercised), each
// with a 300-byte sealed content. The database does not fsync (NoSync):
// the budget is CPU, and an fsync costs the same whatever apply does.
//
//	go test ./raftfsm -run '^$' -bench ApplyAccept -benchmem
func BenchmarkApplyAccept(b *testing.B) {
	for _, bc := range []struct {
		name                string
		consumers, per, lag int
		pageSize            int // 0: a new database's (dbPageSize)
	}{
		{"consumers=100k", 100_000, 64, 0, 0},
		{"consumers=1k", 1000, 64, 0, 0},
		// The live cluster's entries at 64 senders hold ~20 accepts: the
		// per-commit costs (branch pages, meta) weigh more.
		{"consumers=100k,per=16", 100_000, 16, 0, 0},
		// ~13 accepts per ApplyBatch at 64 senders (issue 12): a batch's
		// fixed cost, per accept, at its heaviest.
		{"consumers=100k,per=13", 100_000, 13, 0, 0},
		// At 512 senders a commit of the live cluster holds ~95 accepts,
		// two thirds of them proposed by the followers ~50 ms (~250
		// messages) before they reach the leader: their keys land behind
		// the leader's own, in leaves already written.
		{"consumers=100k,per=96", 100_000, 96, 0, 0},
		{"consumers=100k,per=96,3-proposers", 100_000, 96, 250, 0},
		// Databases created before stop 22 keep 4 KiB pages.
		{"consumers=100k,per=16,4k", 100_000, 16, 0, 4096},
		{"consumers=100k,per=96,4k", 100_000, 96, 0, 4096},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var f *FSM
			if bc.pageSize != 0 {
				f = openFSMWithPageSize(b, bc.pageSize)
			} else {
				f = openFSM(b)
			}
			f.db.NoSync = true
			benchApplyAccept(b, f, bc.consumers, bc.per, bc.lag)
		})
	}
	// The floor on the same machine at the same moment: what bbolt alone
	// costs to store each 300-byte message under an appending key, one
	// transaction per 64 (issue 12's bare reference, without Raft).
	b.Run("bare-bbolt", func(b *testing.B) {
		db, err := bolt.Open(filepath.Join(b.TempDir(), "bare.db"), 0o600, &bolt.Options{NoFreelistSync: true})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		db.NoSync = true
		msg := make([]byte, 300)
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := processCPU()
		for n := 0; n < b.N; n += 64 {
			if err := db.Update(func(tx *bolt.Tx) error {
				bk, err := tx.CreateBucketIfNotExists([]byte("m"))
				if err != nil {
					return err
				}
				for j := n; j < min(n+64, b.N); j++ {
					if err := bk.Put(be64(int64(j)), msg); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/msg")
	})
}

// BenchmarkApplyDurable measures the state machine's fsync: wall time per
// accepted message (ns/op) with entries of 8 accepts (a lightly loaded
// group commit), an fsync per commit against checkpoints every 1024
// entries (durable.go).
//
//	go test ./raftfsm -run '^$' -bench ApplyDurable -benchtime 4000x
func BenchmarkApplyDurable(b *testing.B) {
	b.Run("fsync-per-commit", func(b *testing.B) { benchApplyAccept(b, openFSM(b), 1000, 8, 0) })
	b.Run("checkpoint-1024", func(b *testing.B) {
		f, err := OpenWithOptions(filepath.Join(b.TempDir(), "fsm.db"), nil, Options{CheckpointEvery: 1024})
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		benchApplyAccept(b, f, 1000, 8, 0)
	})
}

// benchApplyAccept applies b.N template accepts to consumers distinct
// consumers, per accepts per entry, one entry per ApplyBatch, a message
// a millisecond. With lag > 0, two messages in three are proposed as by
// a follower: lag milliseconds earlier than their place in the log.
func benchApplyAccept(b *testing.B, f *FSM, consumers, per, lag int) {
	a, entries := acceptWorkload(b, f, b.N, consumers, per, lag)
	b.ReportAllocs()
	b.ResetTimer()
	st0 := f.db.Stats().TxStats
	cpu0 := processCPU()
	applyAcceptEntries(b, a, entries)
	// The machine may be shared: CPU time is the budget, wall time is not.
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/msg")
	// What the commits wrote: pages written (one pwrite each) and pages
	// allocated per message.
	st := f.db.Stats().TxStats
	b.ReportMetric(float64(st.GetWrite()-st0.GetWrite())/float64(b.N), "pwrites/msg")
	b.ReportMetric(float64(st.GetPageCount()-st0.GetPageCount())/float64(b.N), "pages/msg")
}

// acceptWorkload sets up f for benchApplyAccept's workload (a tenant
// without tier or rate limits in the way, a UTILITY template) and builds
// its n accepts as entries of per commands; the applier is at the index
// the entries follow.
func acceptWorkload(t testing.TB, f *FSM, n, consumers, per, lag int) (*applier, [][]byte) {
	a := &applier{t: t, f: f}
	a.mustApply(tenantCmd(t, 1, "+15551234567"))
	a.mustApply(cmd(t, CmdSetMessagingTier, SetMessagingTier{PhoneNumberID: "3001", Tier: TierUnlimited}))
	// A message a millisecond: the limits lifted, as bench accept does
	// (they are still checked, and their buckets written, per message).
	a.mustApply(cmd(t, CmdSetPhoneLimits, SetPhoneLimits{PhoneNumberID: "3001", ThroughputMPS: 100_000, PairPerMinute: 100_000}))
	a.mustApply(cmd(t, CmdSubmitTemplate, SubmitTemplate{Template: Template{ID: "77", WABAID: "2001", BusinessID: "1001",
		Name: "hello", Language: "en", Category: "UTILITY", CreatedAt: 1700000000000}}))
	return a, acceptEntries(0, n, consumers, per, lag)
}

// acceptEntries builds acceptWorkload's accepts from, …, n-1 as entries of
// per commands.
func acceptEntries(from, n, consumers, per, lag int) [][]byte {
	content := make([]byte, 300)
	sealed := make([]byte, 60)
	entries := make([][]byte, 0, (n-from)/per+1)
	for i := from; i < n; i += per {
		cmds := make([][]byte, 0, per)
		for j := i; j < min(i+per, n); j++ {
			at := int64(1700000000000 + j)
			if lag > 0 && j%3 != 0 {
				at -= int64(lag)
			}
			k := make([]byte, 16)
			binary.BigEndian.PutUint64(k, uint64(at)*1e6)
			binary.BigEndian.PutUint64(k[8:], uint64(j))
			// The wamid as the API issues it: carrying the message key.
			wamid := cloudapi.NewWAMIDWithKeyID(fmt.Sprint(15550000000+j%consumers), true, WAMIDKeyID(k, [9]byte{byte(j)}))
			cmds = append(cmds, EncodeAcceptMessage(AcceptMessage{Key: k, IDRef: MessageIDRef(wamid),
				IDSealed: sealed, PhoneNumberID: "3001", BusinessID: "1001",
				PeerRef: fmt.Sprintf("%032x", uint32(j*2654435761)%uint32(consumers)), PeerSealed: sealed,
				Type: "template", Content: content, CreatedAt: at, TemplateName: "hello", TemplateLanguage: "en"}))
		}
		entries = append(entries, EncodeEntry(cmds))
	}
	return entries
}

// applyAcceptEntries applies entries, one per ApplyBatch, and fails on
// any refusal.
func applyAcceptEntries(t testing.TB, a *applier, entries [][]byte) {
	for _, e := range entries {
		a.idx++
		rs := results(t, a.f.Apply(&raft.Log{Index: a.idx, Term: 1, Type: raft.LogCommand, Data: e}))
		for _, r := range rs {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
}

// processCPU is the process's user+system CPU time (ns), all threads
// (the garbage collector's included).
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkIndexMemory applies b.N accepts, each to a new consumer, and
// reports the heap in use afterwards (after a GC): what the in-memory
// halves of the distinct-consumer sets and of the pair rate buckets cost
// per consumer of the last 24 hours
// (go test ./raftfsm -run '^$' -bench IndexMemory -benchtime 1000000x).
func BenchmarkIndexMemory(b *testing.B) {
	f := openFSM(b)
	f.db.NoSync = true
	benchApplyAccept(b, f, b.N, 64, 0)
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(m.HeapInuse)/1e6, "heap-MB")
	b.ReportMetric(float64(m.HeapInuse)/float64(b.N), "heap-B/consumer")
}
