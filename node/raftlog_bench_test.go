package node

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"
)

// BenchmarkRaftLogAfterCompaction measures the Raft log's StoreLogs (64
// entries of 700 bytes, fsync on, as the group commit writes them) once a
// compaction has deleted the 200,000 entries before them — the state after
// an expiry run, whose compaction frees about as many pages as the expired
// messages' entries took — with bbolt's default options against the
// node's (raftLogBoltOptions: bbolt's defaults write the whole freelist
// at every commit). CPU per batch is the figure to compare.
//
//	go test ./node -run '^$' -bench RaftLogAfterCompaction -benchtime 2000x
func BenchmarkRaftLogAfterCompaction(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts func() *bolt.Options
	}{{"default", func() *bolt.Options { return nil }}, {"node", func() *bolt.Options { return raftLogBoltOptions(0) }}} {
		b.Run(bc.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "raft.db")
			data := make([]byte, 700)
			idx := uint64(0)
			batch := func() []*raft.Log {
				logs := make([]*raft.Log, 64)
				for i := range logs {
					idx++
					logs[i] = &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: data}
				}
				return logs
			}
			// Fill without fsync, then compact as Raft does.
			s, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: bc.opts(), NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			for idx < 200_000 {
				if err := s.StoreLogs(batch()); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.DeleteRange(1, idx); err != nil {
				b.Fatal(err)
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			if s, err = raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: bc.opts()}); err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ResetTimer()
			cpu0 := processCPU()
			for range b.N {
				if err := s.StoreLogs(batch()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/batch")
		})
	}
}

// processCPU is the process's user+system CPU time (ns), all threads.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
