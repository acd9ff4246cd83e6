package raftfsm

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestTimeHeapPopsInOrder: interleaved pushes and pops of entries with
// repeated times give every entry back, each pop the least (by time, then
// reference) of what is held.
func TestTimeHeapPopsInOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var h timeHeap
		var held []timeRef
		for range rng.IntN(200) + 1 {
			if len(held) > 0 && rng.IntN(3) == 0 {
				slices.SortFunc(held, func(x, y timeRef) int {
					return cmp.Or(cmp.Compare(x.at, y.at), strings.Compare(x.ref, y.ref))
				})
				if got := h.pop(); got != held[0] {
					t.Fatalf("round %d: popped %+v, want %+v", round, got, held[0])
				}
				held = held[1:]
				continue
			}
			e := timeRef{int64(rng.IntN(20)), fmt.Sprint(rng.IntN(5))}
			h.push(e)
			held = append(held, e)
		}
		if len(h) != len(held) {
			t.Fatalf("round %d: heap holds %d, want %d", round, len(h), len(held))
		}
	}
}
