package raftfsm

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// indexEntry is one slot of one consumer of a consumerIndex (tests).
type indexEntry struct {
	phone, ref string
	slot       int
	at         int64
}

// indexEntries lists x's entries in a fixed order, references as given.
func indexEntries(x *consumerIndex) []indexEntry {
	var out []indexEntry
	add := func(phone, ref string, e consumerTimes) {
		for slot, at := range e {
			if at != noTime {
				out = append(out, indexEntry{phone, ref, slot, at})
			}
		}
	}
	for phone, p := range x.phones {
		for k, e := range p.refs {
			add(phone, hex.EncodeToString(k[:]), e)
		}
		for ref, e := range p.other {
			add(phone, ref, e)
		}
	}
	slices.SortFunc(out, func(a, b indexEntry) int {
		return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
	})
	return out
}

// TestConsumerIndexSlots: the three slots of one consumer are independent,
// canonical and other references behave alike, and an index emptied again
// equals a new one (so the disk's rebuild and the live index compare
// with reflect.DeepEqual).
func TestConsumerIndexSlots(t *testing.T) {
	canon := strings.Repeat("0123456789abcdef", 2)
	for _, ref := range []string{canon, "ref-1", strings.ToUpper(canon), canon[:30]} {
		x := newConsumerIndex()
		sets, pairs := distinctIndex{x}, pairIndex{x}
		pk := ratePairKey("3001", ref)
		sets.put(setTier, "3001", ref, 10)
		sets.put(setReach, "3001", ref, 20)
		pairs.put(pk, 30)
		sets.put(setReach, "3002", ref, 40)
		if at, ok := sets.time(setTier, "3001", ref); !ok || at != 10 {
			t.Fatalf("%s: tier %d %v", ref, at, ok)
		}
		if at, ok := sets.time(setReach, "3001", ref); !ok || at != 20 {
			t.Fatalf("%s: reach %d %v", ref, at, ok)
		}
		if at, ok := pairs.at(pk); !ok || at != 30 {
			t.Fatalf("%s: pair %d %v", ref, at, ok)
		}
		if _, ok := sets.time(setTier, "3002", ref); ok {
			t.Fatalf("%s: an entry of another number", ref)
		}
		if _, ok := sets.time(setTier, "3001", ref+"0"); ok {
			t.Fatalf("%s: an entry of another reference", ref)
		}
		want := []indexEntry{{"3001", ref, slotTier, 10}, {"3001", ref, slotReach, 20}, {"3001", ref, slotPair, 30}, {"3002", ref, slotReach, 40}}
		if got := indexEntries(x); !reflect.DeepEqual(got, indexEntriesSorted(want)) {
			t.Fatalf("%s: entries %v", ref, got)
		}
		sets.drop(setTier, "3001", ref)
		if _, ok := sets.time(setTier, "3001", ref); ok {
			t.Fatalf("%s: dropped tier entry still there", ref)
		}
		if at, ok := pairs.at(pk); !ok || at != 30 {
			t.Fatalf("%s: dropping the tier entry dropped the pair's", ref)
		}
		sets.drop(setReach, "3001", ref)
		pairs.drop(pk)
		sets.drop(setReach, "3002", ref)
		sets.drop(setReach, "3002", ref) // absent: nothing happens
		if !reflect.DeepEqual(x, newConsumerIndex()) || x.len() != 0 {
			t.Fatalf("%s: emptied index %+v differs from a new one", ref, x.phones)
		}
	}
}

func indexEntriesSorted(es []indexEntry) []indexEntry {
	slices.SortFunc(es, func(a, b indexEntry) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return es
}

// TestConsumerIndexMemory bounds what a consumer with all three entries
// costs in memory (three string-keyed maps cost ~280 bytes; the compact
// index ~40–90 depending on where the map is in its growth).
func TestConsumerIndexMemory(t *testing.T) {
	const n = 200_000
	refs := make([]string, n)
	for i := range refs {
		refs[i] = fmt.Sprintf("%032x", uint64(i)*2654435761)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := newConsumerIndex()
	sets, pairs := distinctIndex{x}, pairIndex{x}
	for i, ref := range refs {
		sets.put(setTier, "3001", ref, int64(i))
		sets.put(setReach, "3001", ref, int64(i))
		pairs.put(ratePairKey("3001", ref), int64(i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	t.Logf("%.0f bytes per consumer", per)
	if per > 110 {
		t.Fatalf("%.0f bytes per consumer, want ≤ 110", per)
	}
	if x.len() != n {
		t.Fatalf("%d consumers, want %d", x.len(), n)
	}
	runtime.KeepAlive(refs)
}

// TestParseRefCanonicalOnly: parseRef decodes exactly the references
// seal.ConsumerRef makes (32 lowercase hex digits) and refuses any other
// string, whatever position holds the odd byte.
func TestParseRefCanonicalOnly(t *testing.T) {
	const ref = "0123456789abcdef00ff10fe2d3c4b5a"
	k, ok := parseRef(ref)
	if want, _ := hex.DecodeString(ref); !ok || !bytes.Equal(k[:], want) {
		t.Fatalf("parseRef(%q) = %x, %v", ref, k, ok)
	}
	for c := range 256 {
		valid := c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
		for _, pos := range []int{0, 1, 17, 31} {
			r := []byte(ref)
			r[pos] = byte(c)
			if _, ok := parseRef(string(r)); ok != valid {
				t.Fatalf("byte %#x at %d: ok %v", c, pos, ok)
			}
		}
	}
	for _, r := range []string{"", ref[:31], ref + "0"} {
		if _, ok := parseRef(r); ok {
			t.Fatalf("parseRef(%q) accepted", r)
		}
	}
}
