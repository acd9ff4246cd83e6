package cloudapi

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Message ids look like Meta's (docs/cloud-api.md §2.6): "wamid." + standard
// base64 of a Thrift compact-protocol struct
//
//	{1: {1: wa_id binary, 2: i32 1}, 2: from_me bool, 3: key_id binary}
//
// where key_id is upper-case hex (18 characters for business-sent ids).

const (
	wamidPrefix = "wamid."
	maxWAMID    = 512 // characters after the prefix; Meta's are ~60

	// Thrift compact type nibbles.
	ctStop   = 0x0
	ctTrue   = 0x1
	ctFalse  = 0x2
	ctByte   = 0x3
	ctI16    = 0x4
	ctI32    = 0x5
	ctI64    = 0x6
	ctBinary = 0x8
	ctStruct = 0xc
)

// NewWAMID builds a message id for a conversation with waID; fromMe is
// true for messages the business sent. keyID is random per message.
func NewWAMID(waID string, fromMe bool, keyID [9]byte) string {
	return NewWAMIDWithKeyID(waID, fromMe, strings.ToUpper(hex.EncodeToString(keyID[:])))
}

// NewWAMIDWithKeyID is NewWAMID with the key id given as a string (less
// than 128 characters), for ids that carry more than random bytes (see
// raftfsm.WAMIDKeyID).
func NewWAMIDWithKeyID(waID string, fromMe bool, key string) string {
	// Built in stack buffers when it fits (every send's id), so the
	// returned string is the only allocation.
	var raw [160]byte
	b := raw[:0]
	b = append(b, 1<<4|ctStruct) // field 1: struct
	b = append(b, 1<<4|ctBinary) // .1: wa_id
	b = appendVarint(b, uint64(len(waID)))
	b = append(b, waID...)
	b = append(b, 1<<4|ctI32, 0x02) // .2: i32 zigzag(1)
	b = append(b, ctStop)
	if fromMe { // field 2: bool, the value lives in the type nibble
		b = append(b, 1<<4|ctTrue)
	} else {
		b = append(b, 1<<4|ctFalse)
	}
	b = append(b, 1<<4|ctBinary) // field 3: key id
	b = appendVarint(b, uint64(len(key)))
	b = append(b, key...)
	b = append(b, ctStop)
	var out [len(wamidPrefix) + 216]byte
	return string(base64.StdEncoding.AppendEncode(append(out[:0], wamidPrefix...), b))
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// ParseWAMID decodes a message id built by NewWAMID or by Meta. Unknown
// extra fields (of the scalar, binary and struct types) are skipped, so
// inbound ids with longer keys or additional fields still decode.
func ParseWAMID(s string) (waID string, fromMe bool, keyID string, err error) {
	raw, ok := strings.CutPrefix(s, wamidPrefix)
	if !ok || raw == "" || len(raw) > maxWAMID {
		return "", false, "", ErrBadWAMID
	}
	b, derr := base64.StdEncoding.DecodeString(raw)
	if derr != nil {
		// Some clients strip the padding.
		if b, derr = base64.RawStdEncoding.DecodeString(raw); derr != nil {
			return "", false, "", fmt.Errorf("%w: not base64", ErrBadWAMID)
		}
	}
	d := compactReader{b: b}
	var haveFrom, haveKey bool
	err = d.readStruct(0, func(id int16, typ byte) error {
		switch {
		case id == 1 && typ == ctStruct:
			return d.readStruct(1, func(id int16, typ byte) error {
				if id == 1 && typ == ctBinary {
					v, err := d.binary()
					waID = v
					return err
				}
				return d.skip(typ, 2)
			})
		case id == 2 && (typ == ctTrue || typ == ctFalse):
			fromMe, haveFrom = typ == ctTrue, true
			return nil
		case id == 3 && typ == ctBinary:
			v, err := d.binary()
			keyID, haveKey = v, true
			return err
		default:
			return d.skip(typ, 1)
		}
	})
	if err != nil {
		return "", false, "", fmt.Errorf("%w: %w", ErrBadWAMID, err)
	}
	if d.p != len(b) {
		return "", false, "", fmt.Errorf("%w: trailing bytes", ErrBadWAMID)
	}
	if waID == "" || !haveFrom || !haveKey || keyID == "" {
		return "", false, "", fmt.Errorf("%w: missing part", ErrBadWAMID)
	}
	return waID, fromMe, keyID, nil
}

// compactReader reads the subset of the Thrift compact protocol that
// message ids use.
type compactReader struct {
	b []byte
	p int
}

func (d *compactReader) readByte() (byte, error) {
	if d.p >= len(d.b) {
		return 0, errTruncated
	}
	c := d.b[d.p]
	d.p++
	return c, nil
}

func (d *compactReader) varint() (uint64, error) {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c, err := d.readByte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("varint too long")
}

func (d *compactReader) binary() (string, error) {
	n, err := d.varint()
	if err != nil {
		return "", err
	}
	if n > uint64(len(d.b)-d.p) {
		return "", errTruncated
	}
	v := string(d.b[d.p : d.p+int(n)])
	d.p += int(n)
	return v, nil
}

// readStruct calls field for every field header until the stop byte.
func (d *compactReader) readStruct(depth int, field func(id int16, typ byte) error) error {
	if depth > 4 {
		return fmt.Errorf("nested too deep")
	}
	var last int16
	for {
		h, err := d.readByte()
		if err != nil {
			return err
		}
		if h == ctStop {
			return nil
		}
		typ, delta := h&0x0f, int16(h>>4)
		id := last + delta
		if delta == 0 { // long form: zigzag i16 field id follows
			v, err := d.varint()
			if err != nil {
				return err
			}
			id = int16(v>>1) ^ -int16(v&1)
		}
		last = id
		if err := field(id, typ); err != nil {
			return err
		}
	}
}

// skip passes over one value of type typ.
func (d *compactReader) skip(typ byte, depth int) error {
	switch typ {
	case ctTrue, ctFalse:
		return nil
	case ctByte:
		_, err := d.readByte()
		return err
	case ctI16, ctI32, ctI64:
		_, err := d.varint()
		return err
	case ctBinary:
		_, err := d.binary()
		return err
	case ctStruct:
		return d.readStruct(depth, func(_ int16, typ byte) error { return d.skip(typ, depth+1) })
	default:
		return fmt.Errorf("unsupported field type %d", typ)
	}
}
