package raftfsm

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// The hot commands in a compact binary encoding (see wire.go): what every
// message costs every replica. The msgpack types they replace
// (CmdAcceptMessage 9, CmdMessageStatuses 31) still apply, so logs written
// before replay; proposers use these. New type numbers rather than a new
// meaning of the old ones, so that an older binary stops on them instead
// of misreading them.
const (
	// CmdAcceptMessageV2 is CmdAcceptMessage in the binary encoding
	// (EncodeAcceptMessage).
	CmdAcceptMessageV2 CommandType = 70
	// CmdMessageStatusesV2 is CmdMessageStatuses in the binary encoding
	// (EncodeMessageStatuses).
	CmdMessageStatusesV2 CommandType = 71
)

// hotPayloadVersion is the first byte of a binary hot-command payload.
const hotPayloadVersion = 1

// newCommand starts a command of type t with room for size payload bytes.
func newCommand(t CommandType, size int) wbuf {
	w := wbuf{b: make([]byte, 3, 4+size)}
	w.b[0] = commandVersion
	binary.BigEndian.PutUint16(w.b[1:], uint16(t))
	w.byte1(hotPayloadVersion)
	return w
}

// checkHotVersion reads the payload version.
func checkHotVersion(r *rbuf) {
	if v := r.byte1(); r.err == nil && v != hotPayloadVersion {
		r.fail(fmt.Sprintf("payload version %d", v))
	}
}

// EncodeAcceptMessage encodes c as a CmdAcceptMessageV2 command.
func EncodeAcceptMessage(c AcceptMessage) []byte {
	n := len(c.Key) + len(c.IDRef) + len(c.IDSealed) + len(c.PhoneNumberID) + len(c.BusinessID) +
		len(c.PeerRef) + len(c.PeerSealed) + len(c.Type) + len(c.Content) + len(c.CallbackSealed) +
		len(c.TemplateName) + len(c.TemplateLanguage)
	w := newCommand(CmdAcceptMessageV2, fieldsLen(12, n)+1+10)
	w.bytes(c.Key)
	w.str(c.IDRef)
	w.bytes(c.IDSealed)
	w.str(c.PhoneNumberID)
	w.str(c.BusinessID)
	w.str(c.PeerRef)
	w.bytes(c.PeerSealed)
	w.str(c.Type)
	w.bytes(c.Content)
	w.bytes(c.CallbackSealed)
	w.byte1(boolByte(c.RequireWindow))
	w.varint(c.CreatedAt)
	w.str(c.TemplateName)
	w.str(c.TemplateLanguage)
	return w.b
}

// DecodeAcceptMessage decodes a CmdAcceptMessageV2 payload. Nothing
// aliases payload, in four allocations whatever the fields (three in
// Apply, which every message pays on every replica: decodeAcceptMessage):
// the byte fields share one copy of the payload, and the strings used only while the command applies (the
// wamid reference, business, type and template) are substrings of one
// string; the number and the consumer reference, which the in-memory
// indexes keep, have their own.
func DecodeAcceptMessage(payload []byte) (AcceptMessage, error) {
	return decodeAcceptMessage(append([]byte(nil), payload...)) // the byte fields alias this copy
}

// decodeAcceptMessage is DecodeAcceptMessage with the byte fields aliasing
// payload itself. Apply uses it: it keeps no byte field beyond the batch
// (the record and the queue's value are encoded copies, the key bounds
// keep the key only until the batch ends), and the log entry's bytes do
// not change while it is applied.
func decodeAcceptMessage(payload []byte) (AcceptMessage, error) {
	var c AcceptMessage
	r := rbuf{b: payload}
	bytesField := func() []byte {
		if v := r.raw(); len(v) > 0 {
			return v
		}
		return nil // as msgpack decodes an empty byte string
	}
	checkHotVersion(&r)
	c.Key = bytesField()
	idRef := r.raw()
	c.IDSealed = bytesField()
	c.PhoneNumberID = r.str()
	business := r.raw()
	c.PeerRef = r.str()
	c.PeerSealed = bytesField()
	typ := r.raw()
	c.Content = bytesField()
	c.CallbackSealed = bytesField()
	c.RequireWindow = r.flag()
	c.CreatedAt = r.varint()
	tname, tlang := r.raw(), r.raw()
	if err := r.end(); err != nil {
		return AcceptMessage{}, err
	}
	var sb strings.Builder
	sb.Grow(len(idRef) + len(business) + len(typ) + len(tname) + len(tlang))
	for _, f := range [][]byte{idRef, business, typ, tname, tlang} {
		sb.Write(f)
	}
	all := sb.String()
	next := func(f []byte) string {
		v := all[:len(f)]
		all = all[len(f):]
		return v
	}
	c.IDRef, c.BusinessID, c.Type, c.TemplateName, c.TemplateLanguage = next(idRef), next(business), next(typ), next(tname), next(tlang)
	return c, nil
}

// EncodeMessageStatuses encodes c as a CmdMessageStatusesV2 command.
func EncodeMessageStatuses(c MessageStatuses) []byte {
	w := newCommand(CmdMessageStatusesV2, messageStatusesLen(&c))
	encodeStatusesBody(&w, &c)
	return w.b
}

// DecodeMessageStatuses decodes a CmdMessageStatusesV2 payload.
func DecodeMessageStatuses(payload []byte) (MessageStatuses, error) {
	var c MessageStatuses
	r := rbuf{b: payload}
	checkHotVersion(&r)
	decodeStatusesBody(&r, &c)
	return c, r.end()
}

// messageStatusesLen bounds the encoded size of a status batch.
func messageStatusesLen(c *MessageStatuses) int {
	n := fieldsLen(4, len(c.PhoneNumberID))
	for i := range c.Updates {
		n += statusUpdateLen(&c.Updates[i])
	}
	for _, k := range c.SentKeys {
		n += fieldsLen(1, len(k))
	}
	for _, k := range c.ReadsDone {
		n += fieldsLen(1, len(k))
	}
	return n
}

// encodeStatusesBody writes a status batch (CmdMessageStatusesV2, and each
// batch of a CmdSignalRoundV2).
func encodeStatusesBody(w *wbuf, c *MessageStatuses) {
	w.str(c.PhoneNumberID)
	w.uvarint(uint64(len(c.Updates)))
	for i := range c.Updates {
		encodeStatusUpdate(w, &c.Updates[i])
	}
	w.uvarint(uint64(len(c.SentKeys)))
	for _, k := range c.SentKeys {
		w.bytes(k)
	}
	w.uvarint(uint64(len(c.ReadsDone)))
	for _, k := range c.ReadsDone {
		w.bytes(k)
	}
}

func decodeStatusesBody(r *rbuf, c *MessageStatuses) {
	c.PhoneNumberID = r.str()
	// An update is at least 4 bytes: two empty strings, a time, a flag.
	if n := r.count(4); n > 0 {
		c.Updates = make([]StatusUpdate, n)
		for i := range c.Updates {
			decodeStatusUpdate(r, &c.Updates[i])
		}
	}
	c.SentKeys = r.byteList()
	c.ReadsDone = r.byteList()
}

func statusUpdateLen(u *StatusUpdate) int {
	n := fieldsLen(2, len(u.IDRef)+len(u.Status)) + 10 + 1
	if u.Event != nil {
		n += outboxEventLen(u.Event)
	}
	return n
}

func encodeStatusUpdate(w *wbuf, u *StatusUpdate) {
	w.str(u.IDRef)
	w.str(u.Status)
	w.varint(u.At)
	encodeOptionalEvent(w, u.Event)
}

func decodeStatusUpdate(r *rbuf, u *StatusUpdate) {
	u.IDRef = r.str()
	u.Status = r.str()
	u.At = r.varint()
	u.Event = decodeOptionalEvent(r)
}

// encodeOptionalEvent writes a flag and, when e is not nil, the event.
func encodeOptionalEvent(w *wbuf, e *OutboxEvent) {
	if e == nil {
		w.byte1(0)
		return
	}
	w.byte1(1)
	encodeOutboxEvent(w, e)
}

func decodeOptionalEvent(r *rbuf) *OutboxEvent {
	if r.flag() {
		return decodeOutboxEvent(r)
	}
	return nil
}

// byteList reads a count and that many byte fields.
func (r *rbuf) byteList() [][]byte {
	n := r.count(1)
	if n == 0 {
		return nil
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = r.bytes()
	}
	return out
}

// flag reads a boolean byte (0 or 1; anything else is corrupt, so every
// command has exactly one encoding).
func (r *rbuf) flag() bool {
	switch r.byte1() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("bad flag")
	return false
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func outboxEventLen(e *OutboxEvent) int {
	return fieldsLen(6, len(e.Key)+len(e.WABAID)+len(e.BusinessID)+len(e.PhoneNumberID)+len(e.Body)+len(e.LastStatus)) + 4*10
}

// encodeOutboxEvent writes every field of a webhook event carried by a
// command (the outbox record itself stays msgpack).
func encodeOutboxEvent(w *wbuf, e *OutboxEvent) {
	w.bytes(e.Key)
	w.str(e.WABAID)
	w.str(e.BusinessID)
	w.str(e.PhoneNumberID)
	w.bytes(e.Body)
	w.varint(e.CreatedAt)
	w.varint(int64(e.Attempts))
	w.varint(e.NextAt)
	w.str(e.LastStatus)
	w.varint(e.LastAttemptAt)
}

func decodeOutboxEvent(r *rbuf) *OutboxEvent {
	e := &OutboxEvent{}
	e.Key = r.bytes()
	e.WABAID = r.str()
	e.BusinessID = r.str()
	e.PhoneNumberID = r.str()
	e.Body = r.bytes()
	e.CreatedAt = r.varint()
	e.Attempts = int(r.varint())
	e.NextAt = r.varint()
	e.LastStatus = r.str()
	e.LastAttemptAt = r.varint()
	return e
}

// mustDecodeHot decodes a binary payload inside Apply or panics (see
// decode).
func mustDecodeHot[T any](payload []byte, dec func([]byte) (T, error)) T {
	v, err := dec(payload)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: %v", err))
	}
	return v
}
