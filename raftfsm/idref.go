package raftfsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Keyed message ids. A wamid waedge issues for an accepted message
// carries the message's 16-byte key (proposer time in ns | sequence) in
// its key id, before 9 random bytes: WAMIDKeyID. Its reference (what is
// stored and looked up, never the wamid) is then the key in hex followed
// by the hash: the state machine finds the record under phone 0 key
// directly and checks the stored reference, so a keyed message needs no
// message_refs entry — no random-key write per message. Any other wamid
// (issued before, or by the network for inbound messages) keeps the plain
// hash as its reference and its message_refs entry, and lookups fall
// back to it, so every id ever handed out still resolves.

// keyedKeyIDLen is the length of a keyed key id: 16 + 9 bytes in hex.
const keyedKeyIDLen = 2 * (messageKeyLen + 9)

// WAMIDKeyID is the key id of a keyed wamid for the message key key
// (messageKeyLen bytes) and 9 random bytes: upper-case hex, like Meta's.
// It allocates only the string it returns (every send asks).
func WAMIDKeyID(key []byte, random [9]byte) string {
	var buf [2 * (messageKeyLen + 9)]byte
	if len(key) != messageKeyLen {
		return strings.ToUpper(hex.EncodeToString(key) + hex.EncodeToString(random[:]))
	}
	n := appendUpperHex(buf[:0], key)
	n = appendUpperHex(n, random[:])
	return string(n)
}

// appendUpperHex appends src to dst in upper-case hex.
func appendUpperHex(dst, src []byte) []byte {
	const digits = "0123456789ABCDEF"
	for _, b := range src {
		dst = append(dst, digits[b>>4], digits[b&0x0f])
	}
	return dst
}

// wamidRefDomain prefixes a wamid in the hash of its reference.
const wamidRefDomain = "waedge wamid v1\x00"

// MessageIDRef is how a message id is stored and looked up: a wamid embeds
// the consumer's number (base64), so it never reaches the disk in clear.
// Our wamids carry 72 random bits, so the hash cannot be reversed by
// enumerating numbers. A keyed wamid's reference starts with its message
// key in hex (see WAMIDKeyID). For a wamid of up to 512 characters it
// allocates only the string it returns (every send asks, and every
// status, read and lookup by id).
func MessageIDRef(wamid string) string {
	var in [len(wamidRefDomain) + 6 + 512]byte
	h := sha256.Sum256(append(append(in[:0], wamidRefDomain...), wamid...))
	var key [messageKeyLen]byte
	var out [2*messageKeyLen + 32]byte
	n := out[:0]
	if wamidMessageKeyInto(&key, wamid) {
		n = hex.AppendEncode(n, key[:])
	}
	n = hex.AppendEncode(n, h[:16])
	return string(n)
}

// wamidMessageKeyInto decodes the message key a keyed wamid carries into
// k; false for any other id. A keyed wamid is cloudapi.NewWAMID's encoding
// ending in field 3 (binary, header 0x18), length keyedKeyIDLen, the key
// id, stop. It needs no allocation of its own.
func wamidMessageKeyInto(k *[messageKeyLen]byte, wamid string) bool {
	raw, ok := strings.CutPrefix(wamid, "wamid.")
	if !ok || len(raw) > 512 {
		return false
	}
	var src [512]byte
	var dec [512 / 4 * 3]byte
	n, err := base64.StdEncoding.Decode(dec[:], src[:copy(src[:], raw)])
	if err != nil {
		return false
	}
	b := dec[:n]
	const tail = 2 + keyedKeyIDLen + 1
	if len(b) < tail {
		return false
	}
	t := b[len(b)-tail:]
	if t[0] != 0x18 || t[1] != keyedKeyIDLen || t[tail-1] != 0 {
		return false
	}
	_, err = hex.Decode(k[:], t[2:2+2*messageKeyLen])
	return err == nil
}

// refKey returns the message key a keyed reference starts with (nil for
// a plain hash).
func refKey(idRef string) []byte {
	var k [messageKeyLen]byte
	if !decodeRefKey(&k, idRef) {
		return nil
	}
	return k[:]
}

// decodeRefKey decodes the message key a keyed reference starts with into
// k; false for a plain hash. It needs no allocation of its own: every
// accept asks, on every replica (needsRefEntry).
func decodeRefKey(k *[messageKeyLen]byte, idRef string) bool {
	if len(idRef) != 2*messageKeyLen+32 {
		return false
	}
	_, err := hex.Decode(k[:], []byte(idRef[:2*messageKeyLen]))
	return err == nil
}

// needsRefEntry reports whether a message stored under key with
// reference idRef needs a message_refs entry to be found: every message
// but a keyed one whose reference names its own key.
func needsRefEntry(idRef string, key []byte) bool {
	var k [messageKeyLen]byte
	return !decodeRefKey(&k, idRef) || !bytes.Equal(k[:], key)
}

// lookupKeyed finds a keyed reference's message under phoneID (every
// phone when phoneID is ""): its primary key and record, nil when absent.
func lookupKeyed(tx *bolt.Tx, phoneID, idRef string, key []byte) (pk, v []byte) {
	msgs := tx.Bucket(bucketMessages)
	try := func(phone string) bool {
		k := messageKey(phone, key)
		if r := msgs.Get(k); r != nil {
			if ref, err := messageIDRefOf(r); err == nil && string(ref) == idRef {
				pk, v = k, r
				return true
			}
		}
		return false
	}
	if phoneID != "" {
		try(phoneID)
		return pk, v
	}
	c := tx.Bucket(bucketPhones).Cursor()
	for id, _ := c.First(); id != nil && !try(string(id)); id, _ = c.Next() {
	}
	return pk, v
}
