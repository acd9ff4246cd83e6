package raftfsm

import (
	"encoding/binary"
	"math"
)

// Stored webhook records without reflection. The outbox record
// (OutboxEvent) and the delivery-log entry (WebhookLogEntry) stay what
// they always were — msgpack maps with their field names as keys, in
// sorted order, as marshal writes them — so older binaries and every
// reader keep working and no migration is needed; only the apply of an
// outcome round (CmdWebhookAttemptsV3), which reads one outbox record and
// writes one log entry per event on every replica, reads and writes them
// by hand. The writer produces exactly marshal's bytes
// (TestWebhookLogEntryBytesAsMarshal); the reader accepts exactly the
// forms marshal produces and hands anything else to the msgpack decoder
// (TestOutboxRecordAsUnmarshal), so its result never differs from
// unmarshal's.

// appendMsgpStr appends s as marshal encodes a string.
func appendMsgpStr(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xda)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0xdb)
		b = binary.BigEndian.AppendUint32(b, uint32(n))
	}
	return append(b, s...)
}

// appendMsgpBin appends p as marshal encodes a byte slice (nil: msgpack nil).
func appendMsgpBin(b, p []byte) []byte {
	switch n := len(p); {
	case p == nil:
		return append(b, 0xc0)
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xc5)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0xc6)
		b = binary.BigEndian.AppendUint32(b, uint32(n))
	}
	return append(b, p...)
}

// appendMsgpInt appends v as marshal encodes a signed integer: the
// shortest of fixint and int8–int64.
func appendMsgpInt(b []byte, v int64) []byte {
	switch {
	case v >= 0 && v <= math.MaxInt8:
		return append(b, byte(v))
	case v < 0 && v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8 && v <= math.MaxInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16 && v <= math.MaxInt16:
		b = append(b, 0xd1)
		return binary.BigEndian.AppendUint16(b, uint16(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		b = append(b, 0xd2)
		return binary.BigEndian.AppendUint32(b, uint32(v))
	}
	b = append(b, 0xd3)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

// encodeWebhookLogEntry is marshal(e) without reflection: a map of the
// fields in sorted name order, the omitempty ones only when set.
func encodeWebhookLogEntry(e *WebhookLogEntry) []byte {
	n := 7
	if len(e.Body) > 0 {
		n++
	}
	if e.Group != "" {
		n++
	}
	if e.PhoneNumberID != "" {
		n++
	}
	b := make([]byte, 0, 128+len(e.Body)+len(e.WABAID)+len(e.BusinessID)+len(e.LastStatus)+
		len(e.Outcome)+len(e.PhoneNumberID)+len(e.Group))
	b = append(b, 0x80|byte(n))
	b = appendMsgpStr(b, "Attempts")
	b = appendMsgpInt(b, int64(e.Attempts))
	if len(e.Body) > 0 {
		b = appendMsgpStr(b, "Body")
		b = appendMsgpBin(b, e.Body)
	}
	b = appendMsgpStr(b, "BusinessID")
	b = appendMsgpStr(b, e.BusinessID)
	b = appendMsgpStr(b, "CreatedAt")
	b = appendMsgpInt(b, e.CreatedAt)
	if e.Group != "" {
		b = appendMsgpStr(b, "Group")
		b = appendMsgpStr(b, e.Group)
	}
	b = appendMsgpStr(b, "LastAttemptAt")
	b = appendMsgpInt(b, e.LastAttemptAt)
	b = appendMsgpStr(b, "LastStatus")
	b = appendMsgpStr(b, e.LastStatus)
	b = appendMsgpStr(b, "Outcome")
	b = appendMsgpStr(b, e.Outcome)
	if e.PhoneNumberID != "" {
		b = appendMsgpStr(b, "PhoneNumberID")
		b = appendMsgpStr(b, e.PhoneNumberID)
	}
	b = appendMsgpStr(b, "WABAID")
	return appendMsgpStr(b, e.WABAID)
}

// mpReader reads the msgpack forms marshal writes; ok turns false at the
// first other form (or truncation), and the caller falls back to the
// msgpack decoder.
type mpReader struct {
	b  []byte
	ok bool
	// alias: bin returns slices of b instead of copies.
	alias bool
}

func (r *mpReader) take(n int) []byte {
	if !r.ok || n < 0 || n > len(r.b) {
		r.ok = false
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *mpReader) head() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *mpReader) be(n int) uint64 {
	v := r.take(n)
	var u uint64
	for _, c := range v {
		u = u<<8 | uint64(c)
	}
	return u
}

// mapLen reads a fixmap or map16 header.
func (r *mpReader) mapLen() int {
	switch h := r.head(); {
	case h >= 0x80 && h <= 0x8f:
		return int(h & 0x0f)
	case h == 0xde:
		return int(r.be(2))
	}
	r.ok = false
	return 0
}

// str reads a string field (aliasing the input).
func (r *mpReader) str() []byte {
	switch h := r.head(); {
	case h >= 0xa0 && h <= 0xbf:
		return r.take(int(h & 0x1f))
	case h == 0xd9:
		return r.take(int(r.be(1)))
	case h == 0xda:
		return r.take(int(r.be(2)))
	case h == 0xdb:
		return r.take(int(r.be(4)))
	}
	r.ok = false
	return nil
}

// bin reads a byte-slice field as a copy, or aliasing the input with
// alias set (nil for msgpack nil, empty but not nil for an empty one, as
// the msgpack decoder gives).
func (r *mpReader) bin() []byte {
	var v []byte
	switch h := r.head(); h {
	case 0xc0:
		return nil
	case 0xc4:
		v = r.take(int(r.be(1)))
	case 0xc5:
		v = r.take(int(r.be(2)))
	case 0xc6:
		v = r.take(int(r.be(4)))
	default:
		r.ok = false
		return nil
	}
	if r.alias && v != nil {
		return v
	}
	return append([]byte{}, v...)
}

// int reads a fixint or int8–int64.
func (r *mpReader) int() int64 {
	switch h := r.head(); {
	case h <= 0x7f:
		return int64(h)
	case h >= 0xe0:
		return int64(int8(h))
	case h == 0xd0:
		return int64(int8(r.be(1)))
	case h == 0xd1:
		return int64(int16(r.be(2)))
	case h == 0xd2:
		return int64(int32(r.be(4)))
	case h == 0xd3:
		return int64(r.be(8))
	}
	r.ok = false
	return 0
}

func (r *mpReader) bool() bool {
	switch r.head() {
	case 0xc2:
		return false
	case 0xc3:
		return true
	}
	r.ok = false
	return false
}

// readOutboxRecord decodes a stored outbox record as unmarshal does
// (nothing aliases v), without reflection for the records marshal writes.
func readOutboxRecord(v []byte) (OutboxEvent, error) {
	if e, ok := readOutboxRecordFast(v); ok {
		return e, nil
	}
	var e OutboxEvent
	err := unmarshal(v, &e)
	return e, err
}

// decodeOutboxRecord is readOutboxRecord inside Apply: an undecodable
// record panics, as decode does.
func decodeOutboxRecord(v []byte) OutboxEvent {
	e, ok := readOutboxRecordFast(v)
	if !ok {
		decode(v, &e)
	}
	return e
}

// viewOutboxRecord is decodeOutboxRecord with Key and Body aliasing v
// (when v is in a form marshal writes): for a record about to leave the
// outbox in the same transaction, whose body is copied into its log entry
// anyway. v must stay unchanged while the result is used.
func viewOutboxRecord(v []byte) OutboxEvent {
	e, ok := readOutboxRecordIn(v, true)
	if !ok {
		decode(v, &e)
	}
	return e
}

func readOutboxRecordFast(v []byte) (OutboxEvent, bool) { return readOutboxRecordIn(v, false) }

// readOutboxRecordIn is readOutboxRecordFast; alias makes Key and Body
// slices of v instead of copies.
func readOutboxRecordIn(v []byte, alias bool) (OutboxEvent, bool) {
	var e OutboxEvent
	r := mpReader{b: v, ok: true, alias: alias}
	n := r.mapLen()
	var seen uint16 // a repeated field is left to the msgpack decoder
	for i := 0; i < n && r.ok; i++ {
		name := r.str()
		if f := outboxFieldBit(name); f == 0 || seen&f != 0 {
			r.ok = false
			break
		} else {
			seen |= f
		}
		switch string(name) {
		case "Attempts":
			a := r.int()
			if a < math.MinInt || a > math.MaxInt {
				r.ok = false
			}
			e.Attempts = int(a)
		case "Body":
			e.Body = r.bin()
		case "BusinessID":
			e.BusinessID = string(r.str())
		case "CreatedAt":
			e.CreatedAt = r.int()
		case "Group":
			e.Group = string(r.str())
		case "Held":
			e.Held = r.bool()
		case "Key":
			e.Key = r.bin()
		case "LastAttemptAt":
			e.LastAttemptAt = r.int()
		case "LastStatus":
			e.LastStatus = string(r.str())
		case "NextAt":
			e.NextAt = r.int()
		case "PhoneNumberID":
			e.PhoneNumberID = string(r.str())
		case "WABAID":
			e.WABAID = string(r.str())
		}
	}
	return e, r.ok && len(r.b) == 0
}

// outboxFieldBit is the bit of a stored OutboxEvent field name (0: not
// one of its fields).
func outboxFieldBit(name []byte) uint16 {
	switch string(name) {
	case "Attempts":
		return 1 << 0
	case "Body":
		return 1 << 1
	case "BusinessID":
		return 1 << 2
	case "CreatedAt":
		return 1 << 3
	case "Group":
		return 1 << 4
	case "Held":
		return 1 << 5
	case "Key":
		return 1 << 6
	case "LastAttemptAt":
		return 1 << 7
	case "LastStatus":
		return 1 << 8
	case "NextAt":
		return 1 << 9
	case "PhoneNumberID":
		return 1 << 10
	case "WABAID":
		return 1 << 11
	}
	return 0
}
