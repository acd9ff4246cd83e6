package cloudapi

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Message ids look like Meta's: "wamid." + base64 of a Thrift-compact
// struct {1: {1: wa_id string, 2: int 1}, 2: from_me bool, 3: hex key id}.

// ErrBadWAMID: a string that is not a message id of this shape.
var ErrBadWAMID = errors.New("malformed message id")

// NewWAMID builds a message id for a conversation with waID.
func NewWAMID(waID string, fromMe bool, keyID [9]byte) string {
	var b []byte
	// field 1 (struct), delta 1, type 12
	b = append(b, 0x1c)
	// inner field 1: binary (type 8), delta 1
	b = append(b, 0x18)
	b = appendVarint(b, uint64(len(waID)))
	b = append(b, waID...)
	// inner field 2: i32 (type 5), delta 1, zigzag(1)=2
	b = append(b, 0x15, 0x02)
	b = append(b, 0x00) // end inner struct
	// field 2: bool, delta 1: type 1 = true, 2 = false
	if fromMe {
		b = append(b, 0x11)
	} else {
		b = append(b, 0x12)
	}
	// field 3: binary, delta 1
	key := strings.ToUpper(hex.EncodeToString(keyID[:]))
	b = append(b, 0x18)
	b = appendVarint(b, uint64(len(key)))
	b = append(b, key...)
	b = append(b, 0x00) // end struct
	return "wamid." + base64.StdEncoding.EncodeToString(b)
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// ParseWAMID decodes a message id built by NewWAMID (or Meta's own).
func ParseWAMID(s string) (waID string, fromMe bool, keyID string, err error) {
	raw, ok := strings.CutPrefix(s, "wamid.")
	if !ok || len(raw) > 256 {
		return "", false, "", ErrBadWAMID
	}
	b, derr := base64.StdEncoding.DecodeString(raw)
	if derr != nil {
		return "", false, "", ErrBadWAMID
	}
	p := 0
	next := func() (byte, bool) {
		if p >= len(b) {
			return 0, false
		}
		c := b[p]
		p++
		return c, true
	}
	str := func() (string, bool) {
		var n uint64
		for shift := 0; shift < 35; shift += 7 {
			c, ok := next()
			if !ok {
				return "", false
			}
			n |= uint64(c&0x7f) << shift
			if c < 0x80 {
				if n > uint64(len(b)-p) {
					return "", false
				}
				v := string(b[p : p+int(n)])
				p += int(n)
				return v, true
			}
		}
		return "", false
	}
	if c, ok := next(); !ok || c != 0x1c {
		return "", false, "", ErrBadWAMID
	}
	if c, ok := next(); !ok || c != 0x18 {
		return "", false, "", ErrBadWAMID
	}
	if waID, ok = str(); !ok {
		return "", false, "", ErrBadWAMID
	}
	// skip the rest of the inner struct up to its stop byte
	for {
		c, ok := next()
		if !ok {
			return "", false, "", ErrBadWAMID
		}
		if c == 0x00 {
			break
		}
		if c&0x0f == 0x05 { // i32 varint
			for {
				v, ok := next()
				if !ok {
					return "", false, "", ErrBadWAMID
				}
				if v < 0x80 {
					break
				}
			}
			continue
		}
		return "", false, "", ErrBadWAMID
	}
	switch c, _ := next(); c {
	case 0x11:
		fromMe = true
	case 0x12:
		fromMe = false
	default:
		return "", false, "", ErrBadWAMID
	}
	if c, ok := next(); !ok || c != 0x18 {
		return "", false, "", ErrBadWAMID
	}
	if keyID, ok = str(); !ok {
		return "", false, "", ErrBadWAMID
	}
	if waID == "" || keyID == "" {
		return "", false, "", fmt.Errorf("%w: empty part", ErrBadWAMID)
	}
	return waID, fromMe, keyID, nil
}
