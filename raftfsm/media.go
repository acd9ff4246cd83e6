package raftfsm

import (
	"bytes"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// Media limits shared by the proposer and Apply.
const (
	// MediaChunkSize is the plaintext size of every media chunk but the
	// last: one chunk is one Raft command, well under the node's 1 MiB
	// command limit once sealed and encoded.
	MediaChunkSize = 256 << 10
	// MediaMaxChunks bounds a media's chunk count (100 MB documents need
	// 382 chunks).
	MediaMaxChunks = 512
	// MediaRetentionMs is how long uploaded media lives: 30 days.
	MediaRetentionMs = 30 * 24 * 60 * 60 * 1000
	// MediaUploadTimeoutMs is how long an uncommitted upload may stay
	// before expiry removes it: one hour.
	MediaUploadTimeoutMs = 60 * 60 * 1000
)

// Media is a stored media record. Its bytes are in bucketMediaChunks,
// sealed chunk by chunk on the proposer. Until Committed is set the upload
// is in progress (or was aborted) and reads do not see it.
type Media struct {
	ID            string
	PhoneNumberID string
	BusinessID    string
	MIME          string
	SHA256        [32]byte
	Size          int64
	Chunks        uint32
	Filename      string
	CreatedAt     int64 // unix ms, chosen by the proposer of chunk 0
	Committed     bool
}

// Expired reports whether m is past the 30-day media retention at nowMs.
func (m Media) Expired(nowMs int64) bool { return nowMs-m.CreatedAt >= MediaRetentionMs }

// PutMediaChunk is the payload of CmdPutMediaChunk: one sealed chunk of an
// upload in progress. Chunk 0 creates the (uncommitted) record; chunk i>0
// must follow chunk i-1 of the same owner.
type PutMediaChunk struct {
	ID            string
	PhoneNumberID string
	BusinessID    string
	Index         uint32
	Sealed        []byte
	CreatedAt     int64 // unix ms; used by chunk 0
}

// CommitMedia is the payload of CmdCommitMedia: it makes an upload whose
// Chunks chunks are all stored visible.
type CommitMedia struct {
	ID            string
	PhoneNumberID string
	BusinessID    string
	MIME          string
	SHA256        [32]byte
	Size          int64
	Chunks        uint32
	Filename      string
	At            int64 // unix ms
}

// DeleteMedia is the payload of CmdDeleteMedia: delete a media (committed
// or not) of BusinessID — and of PhoneNumberID when it is not empty — with
// all its chunks.
type DeleteMedia struct {
	ID            string
	BusinessID    string
	PhoneNumberID string
	At            int64 // unix ms
}

// mediaChunkKey is the bucketMediaChunks key: media id 0 chunk index BE32,
// so a media's chunks are a key prefix in index order.
func mediaChunkKey(id string, index uint32) []byte {
	k := make([]byte, 0, len(id)+5)
	k = append(k, id...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, index)
}

// MediaChunkAAD is the additional data a media chunk is sealed with: the
// media id and the chunk index, so chunks cannot be swapped between
// positions or media.
func MediaChunkAAD(id string, index uint32) []byte {
	return mediaChunkKey("media\x00"+id, index)
}

// keyMediaClock (bucketMeta) holds the newest proposer time (BE int64 ms)
// carried by a media command: ExpireMediaTx's notion of "now".
var keyMediaClock = []byte("media_clock")

func advanceMediaClock(tx *bolt.Tx, at int64) {
	if v := tx.Bucket(bucketMeta).Get(keyMediaClock); len(v) == 8 && int64(beUint64(v)) >= at {
		return
	}
	mustPut(tx, bucketMeta, keyMediaClock, be64(at))
}

// validMediaID: 1 to 32 decimal digits, like every Graph id (and never a
// 0 byte, which separates the id from the index in chunk keys).
func validMediaID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}

func getMedia(tx *bolt.Tx, id string) (Media, bool) {
	v := tx.Bucket(bucketMedia).Get([]byte(id))
	if v == nil {
		return Media{}, false
	}
	var m Media
	decode(v, &m)
	return m, true
}

func (f *FSM) applyPutMediaChunk(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c PutMediaChunk
	decode(payload, &c)
	if !validMediaID(c.ID) || c.PhoneNumberID == "" || c.BusinessID == "" || len(c.Sealed) == 0 {
		return nil, domainErr(ErrInvalid, "media id, owner and chunk are required")
	}
	if c.Index >= MediaMaxChunks {
		return nil, domainErr(ErrInvalid, "media has too many chunks")
	}
	m, ok := getMedia(tx, c.ID)
	switch {
	case c.Index == 0 && ok:
		return nil, domainErr(ErrConflict, "media exists")
	case c.Index == 0:
		pv := tx.Bucket(bucketPhones).Get([]byte(c.PhoneNumberID))
		if pv == nil {
			return nil, domainErr(ErrNotFound, "phone")
		}
		var p Phone
		decode(pv, &p)
		if p.BusinessID != c.BusinessID {
			return nil, domainErr(ErrNotFound, "phone")
		}
		m = Media{ID: c.ID, PhoneNumberID: c.PhoneNumberID, BusinessID: c.BusinessID, CreatedAt: c.CreatedAt}
	case !ok || m.BusinessID != c.BusinessID || m.PhoneNumberID != c.PhoneNumberID:
		return nil, domainErr(ErrNotFound, "media")
	case m.Committed:
		return nil, domainErr(ErrConflict, "media is committed")
	case m.Chunks != c.Index:
		return nil, domainErr(ErrInvalid, "chunk %d out of order (have %d)", c.Index, m.Chunks)
	}
	m.Chunks = c.Index + 1
	mustPut(tx, bucketMediaChunks, mediaChunkKey(c.ID, c.Index), c.Sealed)
	mustPut(tx, bucketMedia, []byte(c.ID), marshal(m))
	advanceMediaClock(tx, c.CreatedAt)
	return nil, nil
}

func (f *FSM) applyCommitMedia(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c CommitMedia
	decode(payload, &c)
	m, ok := getMedia(tx, c.ID)
	switch {
	case !ok || m.BusinessID != c.BusinessID || m.PhoneNumberID != c.PhoneNumberID:
		return nil, domainErr(ErrNotFound, "media")
	case m.Committed:
		return nil, domainErr(ErrConflict, "media is committed")
	case c.Chunks == 0 || m.Chunks != c.Chunks:
		return nil, domainErr(ErrInvalid, "media has %d chunks, commit says %d", m.Chunks, c.Chunks)
	case c.Size <= int64(c.Chunks-1)*MediaChunkSize || c.Size > int64(c.Chunks)*MediaChunkSize:
		return nil, domainErr(ErrInvalid, "size %d does not fit %d chunks", c.Size, c.Chunks)
	case c.MIME == "":
		return nil, domainErr(ErrInvalid, "mime type is required")
	}
	m.MIME, m.SHA256, m.Size, m.Filename, m.Committed = c.MIME, c.SHA256, c.Size, c.Filename, true
	mustPut(tx, bucketMedia, []byte(c.ID), marshal(m))
	advanceMediaClock(tx, c.At)
	return nil, nil
}

func (f *FSM) applyDeleteMedia(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c DeleteMedia
	decode(payload, &c)
	m, ok := getMedia(tx, c.ID)
	if !ok || m.BusinessID != c.BusinessID || (c.PhoneNumberID != "" && m.PhoneNumberID != c.PhoneNumberID) {
		return nil, domainErr(ErrNotFound, "media")
	}
	deleteMediaTx(tx, c.ID)
	advanceMediaClock(tx, c.At)
	return nil, nil
}

// deleteMediaTx deletes a media record and every chunk stored under its id.
func deleteMediaTx(tx *bolt.Tx, id string) {
	prefix := []byte(id + "\x00")
	var keys [][]byte
	cur := tx.Bucket(bucketMediaChunks).Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		mustDelete(tx, bucketMediaChunks, k)
	}
	mustDelete(tx, bucketMedia, []byte(id))
}

// ExpireMediaTx deletes, inside an Apply transaction, at most budget media
// (each with all its chunks): committed media created before
// cutoff(phone-number id) (unix ms), and uncommitted uploads older than
// one hour. "Now" for the latter is the newest proposer time any media
// command carried (the FSM's media clock), so the result depends only on
// the log. It returns how many media it deleted. Callers that carry their
// own time should use ExpireMediaBeforeTx.
func ExpireMediaTx(tx *bolt.Tx, cutoff func(phoneNumberID string) int64, budget int) int {
	var clock int64
	if v := tx.Bucket(bucketMeta).Get(keyMediaClock); len(v) == 8 {
		clock = int64(beUint64(v))
	}
	return ExpireMediaBeforeTx(tx, clock, cutoff, budget)
}

// ExpireMediaBeforeTx is ExpireMediaTx with the time uncommitted uploads
// are measured against (unix ms, chosen by the proposer) given explicitly.
func ExpireMediaBeforeTx(tx *bolt.Tx, nowMs int64, cutoff func(phoneNumberID string) int64, budget int) int {
	if budget <= 0 {
		return 0
	}
	var ids []string
	cur := tx.Bucket(bucketMedia).Cursor()
	for k, v := cur.First(); k != nil && len(ids) < budget; k, v = cur.Next() {
		var m Media
		decode(v, &m)
		if (m.Committed && m.CreatedAt < cutoff(m.PhoneNumberID)) ||
			(!m.Committed && m.CreatedAt < nowMs-MediaUploadTimeoutMs) {
			ids = append(ids, m.ID)
		}
	}
	for _, id := range ids {
		deleteMediaTx(tx, id)
	}
	return len(ids)
}

// Media returns a committed media record; an upload in progress or
// aborted is ErrNotFound. Retention (Media.Expired) is the caller's check:
// reads do not know the clock.
func (f *FSM) Media(id string) (Media, error) {
	var m Media
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMedia).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		if err := unmarshal(v, &m); err != nil {
			return err
		}
		if !m.Committed {
			m = Media{}
			return ErrNotFound
		}
		return nil
	})
	return m, err
}

// MediaChunk returns a copy of chunk index of a committed media, still
// sealed (open it with MediaChunkAAD). ErrNotFound when the media is not
// committed or the chunk does not exist.
func (f *FSM) MediaChunk(id string, index uint32) ([]byte, error) {
	var out []byte
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMedia).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var m Media
		if err := unmarshal(v, &m); err != nil {
			return err
		}
		if !m.Committed || index >= m.Chunks {
			return ErrNotFound
		}
		out = get(tx, bucketMediaChunks, mediaChunkKey(id, index))
		if out == nil {
			return ErrNotFound
		}
		return nil
	})
	return out, err
}

// MediaStored reports whether any record or chunk of id exists, committed
// or not (tests of aborted uploads).
func (f *FSM) MediaStored(id string) (records, chunks int, err error) {
	err = f.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMedia).Get([]byte(id)) != nil {
			records = 1
		}
		prefix := []byte(id + "\x00")
		cur := tx.Bucket(bucketMediaChunks).Cursor()
		for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
			chunks++
		}
		return nil
	})
	return records, chunks, err
}

// MediaCount returns how many media records (committed or not) and chunks
// are stored (tests: an aborted upload leaves nothing).
func (f *FSM) MediaCount() (records, chunks int, err error) {
	err = f.View(func(tx *bolt.Tx) error {
		records = tx.Bucket(bucketMedia).Stats().KeyN
		chunks = tx.Bucket(bucketMediaChunks).Stats().KeyN
		return nil
	})
	return records, chunks, err
}
