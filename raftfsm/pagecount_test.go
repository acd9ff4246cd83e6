package raftfsm

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// pageOwners reads a bbolt file as it is on disk (or in the page cache)
// and returns, for every page of the newest meta's tree, the bucket whose
// tree holds it ("" for the root tree of buckets; nested buckets as
// "parent/child"). Inline buckets have no page of their own: they are
// written with their parent's leaf. A test helper that knows bbolt's page
// layout (common/page.go): it counts which bucket's pages a commit wrote.
func pageOwners(t testing.TB, path string) map[uint64]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const hdr = 16 // page: id 8, flags 2, count 2, overflow 4
	u16 := func(b []byte) int { return int(binary.LittleEndian.Uint16(b)) }
	u32 := func(b []byte) int { return int(binary.LittleEndian.Uint32(b)) }
	u64 := binary.LittleEndian.Uint64
	// meta (after the page header): magic 4, version 4, pageSize 4,
	// flags 4, root bucket (root 8, sequence 8), freelist 8, pgid 8,
	// txid 8, checksum 8.
	psz := u32(data[hdr+8:]) // page 0's meta holds the page size
	var root, txid uint64
	for _, i := range []int{0, 1} { // the newest valid meta wins
		m := data[i*psz+hdr:]
		if u32(m) == 0xED0CDAED && u64(m[48:]) >= txid {
			root, txid = u64(m[16:]), u64(m[48:])
		}
	}
	if psz == 0 {
		t.Fatal("no meta page")
	}
	owners := map[uint64]string{}
	var walk func(page []byte, id uint64, owner string)
	walk = func(page []byte, id uint64, owner string) {
		if id != 0 {
			owners[id] = owner
			page = data[int(id)*psz:]
			for j := 1; j <= int(binary.LittleEndian.Uint32(page[12:])); j++ {
				owners[id+uint64(j)] = owner
			}
		}
		flags, count := u16(page[8:]), u16(page[10:])
		for i := 0; i < count; i++ {
			e := page[hdr+i*16:]
			if flags&0x01 != 0 { // branch: pos 4, ksize 4, pgid 8
				walk(nil, u64(e[8:]), owner)
				continue
			}
			// leaf: flags 4, pos 4, ksize 4, vsize 4
			if u32(e)&0x01 == 0 {
				continue
			}
			pos, ks, vs := u32(e[4:]), u32(e[8:]), u32(e[12:])
			name := string(e[pos : pos+ks])
			if owner != "" {
				name = owner + "/" + fmt.Sprintf("%x", name)
			}
			v := e[pos+ks : pos+ks+vs]
			if r := u64(v); r != 0 {
				walk(nil, r, name)
			} else {
				walk(v[16:], 0, name) // inline: its page follows the bucket header
			}
		}
	}
	walk(nil, root, "")
	return owners
}

// newPagesByBucket counts the pages of after that are not in before (a
// commit copies on write: each is a page it wrote), by owning bucket.
func newPagesByBucket(before, after map[uint64]string) map[string]int {
	n := map[string]int{}
	for id, owner := range after {
		if _, ok := before[id]; !ok {
			n[owner]++
		}
	}
	return n
}

// TestPagesPerCommitByBucket reports which buckets' pages an accept
// batch writes, at the live cluster's small batches (per=13, 16) and
// at 96, and checks the count against the pages bbolt allocated. A
// report, so it runs only when asked:
//
//	WAEDGE_PAGES=1 go test ./raftfsm -run TestPagesPerCommitByBucket -v
func TestPagesPerCommitByBucket(t *testing.T) {
	if os.Getenv("WAEDGE_PAGES") == "" {
		t.Skip("a report: set WAEDGE_PAGES=1")
	}
	const commits = 40
	for _, per := range []int{13, 16, 96} {
		f := openFSM(t)
		f.db.NoSync = true
		warm := 20_000 / per // past the trees' first levels
		a, entries := acceptWorkload(t, f, (warm+commits)*per, 100_000, per, 0)
		applyAcceptEntries(t, a, entries[:warm])
		path := f.db.Path()
		prev := pageOwners(t, path)
		st0 := f.db.Stats().TxStats
		total := map[string]int{}
		for _, e := range entries[warm:] {
			applyAcceptEntries(t, a, [][]byte{e})
			cur := pageOwners(t, path)
			for b, n := range newPagesByBucket(prev, cur) {
				total[b] += n
			}
			prev = cur
		}
		names := make([]string, 0, len(total))
		sum := 0
		for b, n := range total {
			names = append(names, b)
			sum += n
		}
		st := f.db.Stats().TxStats
		if got := st.GetPageCount() - st0.GetPageCount(); int64(sum) != got {
			t.Fatalf("per=%d: counted %d new pages, bbolt allocated %d", per, sum, got)
		}
		slices.SortFunc(names, func(x, y string) int { return total[y] - total[x] })
		var sb strings.Builder
		for _, b := range names {
			if b == "" {
				b = "(root)"
			}
			fmt.Fprintf(&sb, "  %-24s %5.2f\n", b, float64(total[strings.TrimPrefix(b, "(root)")])/float64(commits))
		}
		t.Logf("per=%d, page %d B: %.2f pages per commit, %.3f per accept\n%s", per, f.db.Info().PageSize,
			float64(sum)/float64(commits), float64(sum)/float64(commits*per), sb.String())
	}
}
