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
func WAMIDKeyID(key []byte, random [9]byte) string {
	return strings.ToUpper(hex.EncodeToString(key) + hex.EncodeToString(random[:]))
}

// MessageIDRef is how a message id is stored and looked up: a wamid embeds
// the consumer's number (base64), so it never reaches the disk in clear.
// Our wamids carry 72 random bits, so the hash cannot be reversed by
// enumerating numbers. A keyed wamid's reference starts with its message
// key in hex (see WAMIDKeyID).
func MessageIDRef(wamid string) string {
	h := sha256.Sum256([]byte("waedge wamid v1\x00" + wamid))
	ref := hex.EncodeToString(h[:16])
	if key := wamidMessageKey(wamid); key != nil {
		return hex.EncodeToString(key) + ref
	}
	return ref
}

// wamidMessageKey returns the message key a keyed wamid carries (nil for
// any other id). A keyed wamid is cloudapi.NewWAMID's encoding ending in
// field 3 (binary, header 0x18), length keyedKeyIDLen, the key id, stop.
func wamidMessageKey(wamid string) []byte {
	raw, ok := strings.CutPrefix(wamid, "wamid.")
	if !ok || len(raw) > 512 {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil
	}
	const tail = 2 + keyedKeyIDLen + 1
	if len(b) < tail {
		return nil
	}
	t := b[len(b)-tail:]
	if t[0] != 0x18 || t[1] != keyedKeyIDLen || t[tail-1] != 0 {
		return nil
	}
	key, err := hex.DecodeString(string(t[2 : 2+2*messageKeyLen]))
	if err != nil {
		return nil
	}
	return key
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
