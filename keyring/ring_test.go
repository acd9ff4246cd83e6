package keyring

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func wrapped(t testing.TB, kek KEK, dk DataKey) []byte {
	t.Helper()
	w, err := WrapDataKey(kek, dk)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestRing(t *testing.T) {
	kek := KEK{1}
	dk7, dk8 := mustDataKey(t, 7), mustDataKey(t, 8)
	r := NewRing(kek)

	if _, err := r.Seal(7, nil, []byte("x")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Seal with an unknown key: %v", err)
	}
	foreign, _ := Seal(dk7, nil, []byte("x"))
	if _, err := r.Open(nil, foreign); !errors.Is(err, ErrKeyDestroyed) {
		t.Fatalf("Open with a key not held: %v", err)
	}
	if err := r.Add(7, wrapped(t, KEK{2}, dk7)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Add of a key wrapped by another KEK: %v", err)
	}
	if err := r.Add(8, wrapped(t, kek, dk7)); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("Add under the wrong id: %v", err)
	}
	if err := r.Add(7, wrapped(t, kek, dk7)); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(7, wrapped(t, kek, dk7)); err != nil {
		t.Fatalf("re-adding the same key: %v", err)
	}
	if err := r.Add(7, wrapped(t, kek, DataKey{ID: 7, Key: dk8.Key})); !errors.Is(err, ErrKeyConflict) {
		t.Fatalf("adding a different key under a held id: %v", err)
	}
	if err := r.Add(8, wrapped(t, kek, dk8)); err != nil {
		t.Fatal(err)
	}
	if !r.Has(7) || !r.Has(8) || r.Has(9) {
		t.Fatal("Has")
	}

	s7, err := r.Seal(7, []byte("a"), []byte("seven"))
	if err != nil {
		t.Fatal(err)
	}
	s8, err := r.Seal(8, []byte("a"), []byte("eight"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		aad, sealed []byte
		want        string
	}{{[]byte("a"), s7, "seven"}, {[]byte("a"), s8, "eight"}, {nil, foreign, "x"}} {
		got, err := r.Open(tc.aad, tc.sealed)
		if err != nil || string(got) != tc.want {
			t.Fatalf("Open = %q, %v; want %q", got, err, tc.want)
		}
	}
	// The ring's blobs are ordinary sealed blobs.
	if got, err := Open(dk7, []byte("a"), s7); err != nil || string(got) != "seven" {
		t.Fatalf("package Open of a ring blob: %q, %v", got, err)
	}
	if _, err := r.Open([]byte("b"), s7); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("wrong aad through the ring: %v", err)
	}

	r.Forget(7)
	if _, err := r.Open([]byte("a"), s7); !errors.Is(err, ErrKeyDestroyed) {
		t.Fatalf("Open after Forget: %v", err)
	}
	if _, err := r.Seal(7, nil, []byte("x")); !errors.Is(err, ErrKeyDestroyed) {
		t.Fatalf("Seal after Forget: %v", err)
	}
	if err := r.Add(7, wrapped(t, kek, dk7)); !errors.Is(err, ErrKeyDestroyed) {
		t.Fatalf("re-adding a destroyed key: %v", err)
	}
	if _, err := r.Open([]byte("a"), s7); !errors.Is(err, ErrKeyDestroyed) || r.Has(7) {
		t.Fatal("destroyed key came back")
	}
	if got, err := r.Open([]byte("a"), s8); err != nil || string(got) != "eight" {
		t.Fatalf("other day's key affected by Forget: %q, %v", got, err)
	}
	r.Forget(99) // never held: barred all the same
	if err := r.Add(99, wrapped(t, kek, mustDataKey(t, 99))); !errors.Is(err, ErrKeyDestroyed) {
		t.Fatalf("Add after Forget of an unheld id: %v", err)
	}
}

// TestRingConcurrent exercises the ring from many goroutines while keys
// are added and forgotten; run with -race to check the locking.
func TestRingConcurrent(t *testing.T) {
	kek := KEK{4}
	r := NewRing(kek)
	const stable, churned = 4, 200
	for id := range uint32(stable) {
		if err := r.Add(id, wrapped(t, kek, mustDataKey(t, id))); err != nil {
			t.Fatal(err)
		}
	}
	churn := make([][]byte, churned) // wrapped keys with ids stable..stable+churned-1
	for i := range churn {
		churn[i] = wrapped(t, kek, mustDataKey(t, uint32(stable+i)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 6 {
		wg.Go(func() {
			for i := range churned {
				id := uint32((g + i) % stable)
				aad := fmt.Appendf(nil, "%d/%d", g, i)
				s, err := r.Seal(id, aad, aad)
				if err != nil {
					errs <- err
					return
				}
				if pt, err := r.Open(aad, s); err != nil || !bytes.Equal(pt, aad) {
					errs <- fmt.Errorf("open: %q, %w", pt, err)
					return
				}
				// A churned key may or may not be held right now.
				_, err = r.Seal(uint32(stable+i), nil, aad)
				if err != nil && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrKeyDestroyed) {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i, w := range churn {
			id := uint32(stable + i)
			if err := r.Add(id, w); err != nil {
				errs <- err
				return
			}
			_ = r.Has(id)
			r.Forget(id)
			_ = r.String()
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for id := range uint32(stable + churned) {
		if r.Has(id) != (id < stable) {
			t.Fatalf("id %d held: %v", id, r.Has(id))
		}
	}
}
