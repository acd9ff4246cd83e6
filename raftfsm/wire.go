package raftfsm

import (
	"encoding/binary"
	"fmt"
)

// Compact binary encoding of the hot path (accepted messages, status
// updates, stored message records): no reflection, one allocation per
// encode. A field is a uvarint length and its bytes (strings, byte
// slices), a varint (times), a uvarint (counts) or one byte (flags). The
// reader checks every length against the bytes actually present before it
// slices or allocates, and remembers the first error, so decoders read
// field after field and check once at the end.

// wbuf appends fields to a byte slice.
type wbuf struct{ b []byte }

func (w *wbuf) str(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *wbuf) bytes(p []byte) {
	w.b = binary.AppendUvarint(w.b, uint64(len(p)))
	w.b = append(w.b, p...)
}

func (w *wbuf) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *wbuf) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *wbuf) byte1(v byte)     { w.b = append(w.b, v) }

// fieldsLen is an upper bound of the encoded size of strings and byte
// slices of total length n in k fields (each length prefix ≤ 10 bytes).
func fieldsLen(k, n int) int { return k*binary.MaxVarintLen64 + n }

// rbuf reads fields; the first failure sticks in err.
type rbuf struct {
	b   []byte
	err error
}

func (r *rbuf) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
	r.b = nil
}

func (r *rbuf) uvarint() uint64 { return readVarint(r, binary.Uvarint, uvarintLen) }
func (r *rbuf) varint() int64   { return readVarint(r, binary.Varint, varintLen) }

// readVarint reads one (u)varint and accepts only its canonical (shortest)
// encoding, so every value has exactly one encoding.
func readVarint[T int64 | uint64](r *rbuf, dec func([]byte) (T, int), canonLen func(T) int) T {
	if r.err != nil {
		return 0
	}
	v, n := dec(r.b)
	if n <= 0 || n != canonLen(v) {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *rbuf) byte1() byte {
	if r.err != nil || len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// raw returns the next length-prefixed field, aliasing the input.
func (r *rbuf) raw() []byte {
	l := r.uvarint()
	if r.err != nil {
		return nil
	}
	if l > uint64(len(r.b)) {
		r.fail("field longer than its input")
		return nil
	}
	v := r.b[:l:l]
	r.b = r.b[l:]
	return v
}

// str returns the next field as a string (a copy).
func (r *rbuf) str() string { return string(r.raw()) }

// bytes returns a copy of the next field (nil when empty, as msgpack
// decodes an empty byte string into a nil slice field).
func (r *rbuf) bytes() []byte {
	v := r.raw()
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

// count reads a uvarint count of items of at least min bytes each, checked
// against the bytes left, so a forged count cannot make the caller
// allocate more than the input could hold.
func (r *rbuf) count(minItem int) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)/max(minItem, 1)) {
		r.fail("count larger than its input")
		return 0
	}
	return int(n)
}

// end checks that nothing is left and returns the first error.
func (r *rbuf) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail(fmt.Sprintf("%d trailing bytes", len(r.b)))
	}
	return r.err
}

// varintLen is the length of the canonical encoding of v.
func varintLen(v int64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutVarint(buf[:], v)
}
