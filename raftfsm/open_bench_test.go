package raftfsm

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkOpen measures a restart of the state machine holding
// WAEDGE_OPEN_MESSAGES accepted messages (default 100,000; each to its
// own consumer, so the consumer index is as large as it gets): the time
// Open takes, with bbolt's free list read from the meta page that the
// last clean Close (or checkpoint) left, and rebuilt by walking the file
// as bbolt does when the meta names none (every restart before stop 24).
// With WAEDGE_DROP_CACHES=1 (root only) the page cache is dropped before
// each open, as on a machine whose RAM does not hold the file.
//
//	WAEDGE_OPEN_MESSAGES=1000000 go test ./raftfsm -run '^$' -bench Open -benchtime 3x
func BenchmarkOpen(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("WAEDGE_OPEN_MESSAGES")); err == nil && v > 0 {
		n = v
	}
	path := filepath.Join(b.TempDir(), "fsm.db")
	f, err := OpenWithOptions(path, nil, Options{CheckpointEvery: 1024})
	if err != nil {
		b.Fatal(err)
	}
	a, entries := acceptWorkload(b, f, n, n, 96, 0)
	applyAcceptEntries(b, a, entries)
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if st, err := os.Stat(path); err == nil {
		b.Logf("%d messages, %d MB", n, st.Size()>>20)
	}
	for _, c := range []struct {
		name    string
		rebuild bool
	}{{"freelist=read", false}, {"freelist=rebuilt", true}} {
		b.Run(c.name, func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if c.rebuild {
					forgetFreelist(b, path)
				}
				dropCaches(b)
				b.StartTimer()
				t0 := time.Now()
				g, err := OpenWithOptions(path, nil, Options{CheckpointEvery: 1024})
				if err != nil {
					b.Fatal(err)
				}
				total += time.Since(t0)
				b.StopTimer()
				if err := g.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/open")
		})
	}
}

// forgetFreelist commits once without the free list, as every commit
// did before stop 24, so the next open has to rebuild it.
func forgetFreelist(b *testing.B, path string) {
	db, err := bolt.Open(path, 0o600, boltOptions())
	if err != nil {
		b.Fatal(err)
	}
	if err := db.Update(func(*bolt.Tx) error { return nil }); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
}

// dropCaches empties the page cache when WAEDGE_DROP_CACHES=1.
func dropCaches(b *testing.B) {
	if os.Getenv("WAEDGE_DROP_CACHES") != "1" {
		return
	}
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		b.Fatalf("drop caches: %v", err)
	}
}
