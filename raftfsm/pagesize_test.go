package raftfsm

import (
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestPageSizeIsLayoutOnly: a new database has pages of dbPageSize; one
// created with 4 KiB pages (every database before stop 22) keeps them
// when opened again, and both apply the hot path's log to the same
// results and the same state.
func TestPageSizeIsLayoutOnly(t *testing.T) {
	f8 := openFSM(t)
	if ps := f8.db.Info().PageSize; ps != dbPageSize {
		t.Fatalf("new database: %d-byte pages, want %d", ps, dbPageSize)
	}
	f4 := openFSMWithPageSize(t, 4096)
	if ps := f4.db.Info().PageSize; ps != 4096 {
		t.Fatalf("existing database: %d-byte pages, want its own 4096", ps)
	}
	logs := hotLog(t)
	for i := 0; i < len(logs); i += 16 {
		batch := logs[i:min(i+16, len(logs))]
		if r8, r4 := fmt.Sprint(f8.ApplyBatch(batch)), fmt.Sprint(f4.ApplyBatch(batch)); r8 != r4 {
			t.Fatalf("entries %d…: results differ:\n%s\n%s", i, r8, r4)
		}
	}
	if d8, d4 := dumpOf(t, f8), dumpOf(t, f4); d8 != d4 {
		t.Fatalf("same log, different state:\n%s", diffLines(d8, d4))
	}
}

// openFSMWithPageSize opens a state machine on a database created with
// pages of size bytes (as an older binary, or a restored backup, made it).
func openFSMWithPageSize(t testing.TB, size int) *FSM {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fsm.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{PageSize: size})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}
