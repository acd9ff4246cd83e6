// Package backup is the encrypted container of `waedge backup`: a header
// (magic, version, key derivation, salt, creation time and horizon) followed
// by the payload in AES-256-GCM chunks. Every chunk is authenticated with
// the header, its index and a final-chunk flag, so a reordered, truncated,
// extended or edited file is refused, and a wrong passphrase or key file
// fails on the first chunk.
package backup

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Errors.
var (
	// ErrFormat means the input is not a waedge backup (or a version this
	// binary does not read).
	ErrFormat = errors.New("not a waedge backup")
	// ErrAuth means a chunk failed authentication: wrong passphrase or key
	// file, or the file was modified.
	ErrAuth = errors.New("backup does not authenticate (wrong passphrase or key, or the file was modified)")
	// ErrTruncated means the file ends before its final chunk.
	ErrTruncated = errors.New("backup is truncated")
	// ErrTrailing means data follows the final chunk.
	ErrTrailing = errors.New("backup has data after its final chunk")
	// ErrKey means the passphrase or key file is unusable.
	ErrKey = errors.New("invalid backup key")
)

// magic starts every backup file.
const magic = "WAEDGEBK"

// version is the container format version.
const version = 1

// Key derivations.
const (
	kdfArgon2id = 1 // passphrase → argon2id(time, memory, threads, salt)
	kdfKeyFile  = 2 // 32-byte key file → HMAC-SHA256(key, label | salt)
)

// Argon2id parameters for passphrases (RFC 9106's second recommended
// option: 64 MiB, 3 passes).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 4
)

// ChunkSize is the plaintext size of every chunk but the last.
const ChunkSize = 64 << 10

// headerLen is the fixed header size: magic 8, version 1, kdf 1, time 4,
// memory 4, threads 1, salt 16, created 8, horizon 8.
const headerLen = 8 + 1 + 1 + 4 + 4 + 1 + 16 + 8 + 8

// Secret is what opens a backup: a passphrase or a 32-byte key.
type Secret struct {
	passphrase []byte
	key        []byte
}

// Passphrase returns a passphrase secret (at least 12 bytes after
// trimming a trailing newline).
func Passphrase(p []byte) (Secret, error) {
	p = []byte(strings.TrimRight(string(p), "\r\n"))
	if len(p) < 12 {
		return Secret{}, fmt.Errorf("%w: a passphrase needs at least 12 characters", ErrKey)
	}
	return Secret{passphrase: p}, nil
}

// KeyFile returns a key secret from a key file's content: 32 bytes raw,
// or 64 hex digits, or base64 of 32 bytes.
func KeyFile(b []byte) (Secret, error) {
	if len(b) == 32 {
		return Secret{key: append([]byte(nil), b...)}, nil
	}
	s := strings.TrimSpace(string(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
		return Secret{key: k}, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == 32 {
			return Secret{key: k}, nil
		}
	}
	return Secret{}, fmt.Errorf("%w: a key file holds 32 bytes (raw, hex or base64)", ErrKey)
}

// String never shows the secret.
func (Secret) String() string { return "backup.Secret(redacted)" }

// Header is the clear (but authenticated) part of a backup.
type Header struct {
	// CreatedAt is when the backup was taken (unix ms).
	CreatedAt int64
	// Horizon (unix ms) is the time as of which the backup's content is
	// expired: data keys destroyed before it are not in the backup, and
	// restore expires everything as of max(now, Horizon).
	Horizon int64

	kdf            byte
	argonT, argonM uint32
	argonP         byte
	salt           [16]byte
	raw            [headerLen]byte
}

func (h *Header) encode() {
	b := h.raw[:0]
	b = append(b, magic...)
	b = append(b, version, h.kdf)
	b = binary.BigEndian.AppendUint32(b, h.argonT)
	b = binary.BigEndian.AppendUint32(b, h.argonM)
	b = append(b, h.argonP)
	b = append(b, h.salt[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(h.CreatedAt))
	b = binary.BigEndian.AppendUint64(b, uint64(h.Horizon))
	_ = b
}

func parseHeader(raw []byte) (Header, error) {
	var h Header
	if len(raw) != headerLen || string(raw[:8]) != magic {
		return h, ErrFormat
	}
	if raw[8] != version {
		return h, fmt.Errorf("%w: version %d", ErrFormat, raw[8])
	}
	copy(h.raw[:], raw)
	h.kdf = raw[9]
	h.argonT = binary.BigEndian.Uint32(raw[10:])
	h.argonM = binary.BigEndian.Uint32(raw[14:])
	h.argonP = raw[18]
	copy(h.salt[:], raw[19:35])
	h.CreatedAt = int64(binary.BigEndian.Uint64(raw[35:]))
	h.Horizon = int64(binary.BigEndian.Uint64(raw[43:]))
	switch h.kdf {
	case kdfArgon2id:
		// Bounds keep a crafted header from making restore allocate
		// unbounded memory or spin.
		if h.argonT == 0 || h.argonT > 64 || h.argonM < 8*1024 || h.argonM > 4*1024*1024 || h.argonP == 0 {
			return h, fmt.Errorf("%w: argon2id parameters out of range", ErrFormat)
		}
	case kdfKeyFile:
	default:
		return h, fmt.Errorf("%w: key derivation %d", ErrFormat, h.kdf)
	}
	return h, nil
}

// deriveKey returns the file key for s under h.
func deriveKey(h *Header, s Secret) ([]byte, error) {
	switch h.kdf {
	case kdfArgon2id:
		if s.passphrase == nil {
			return nil, fmt.Errorf("%w: this backup was made with a passphrase", ErrKey)
		}
		return argon2.IDKey(s.passphrase, h.salt[:], h.argonT, h.argonM, h.argonP, 32), nil
	case kdfKeyFile:
		if s.key == nil {
			return nil, fmt.Errorf("%w: this backup was made with a key file", ErrKey)
		}
		m := hmac.New(sha256.New, s.key)
		m.Write([]byte("waedge backup v1\x00"))
		m.Write(h.salt[:])
		return m.Sum(nil), nil
	}
	return nil, ErrFormat
}

// chunkAAD binds a chunk to the header and to whether it is the last one.
func chunkAAD(hdr []byte, final bool) []byte {
	aad := make([]byte, 0, len(hdr)+1)
	aad = append(aad, hdr...)
	if final {
		return append(aad, 1)
	}
	return append(aad, 0)
}

// chunkNonce is the chunk index, big-endian: the file key is unique to the
// file (random salt), so index nonces never repeat under one key.
func chunkNonce(i uint64) []byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[4:], i)
	return n[:]
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Writer encrypts a backup stream. Close writes the final chunk; a backup
// whose Writer was not closed is refused as truncated.
type Writer struct {
	w      io.Writer
	aead   cipher.AEAD
	hdr    []byte
	buf    []byte
	index  uint64
	closed bool
	err    error
}

// NewWriter writes the header to w and returns the writer of the payload.
// createdAt and horizon are unix ms (see Header).
func NewWriter(w io.Writer, s Secret, createdAt, horizon int64) (*Writer, error) {
	h := Header{CreatedAt: createdAt, Horizon: horizon}
	if _, err := rand.Read(h.salt[:]); err != nil {
		return nil, err
	}
	switch {
	case s.key != nil:
		h.kdf = kdfKeyFile
	case s.passphrase != nil:
		h.kdf, h.argonT, h.argonM, h.argonP = kdfArgon2id, argonTime, argonMemory, argonThreads
	default:
		return nil, fmt.Errorf("%w: no passphrase or key", ErrKey)
	}
	h.encode()
	key, err := deriveKey(&h, s)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(h.raw[:]); err != nil {
		return nil, err
	}
	return &Writer{w: w, aead: aead, hdr: h.raw[:], buf: make([]byte, 0, ChunkSize)}, nil
}

// Write buffers p and writes every full chunk.
func (bw *Writer) Write(p []byte) (int, error) {
	if bw.err != nil {
		return 0, bw.err
	}
	if bw.closed {
		return 0, errors.New("backup: write after close")
	}
	n := 0
	for len(p) > 0 {
		k := min(len(p), ChunkSize-len(bw.buf))
		bw.buf = append(bw.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(bw.buf) == ChunkSize {
			if err := bw.flush(false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// flush writes the buffered plaintext as one chunk: length BE32 | sealed.
func (bw *Writer) flush(final bool) error {
	sealed := bw.aead.Seal(nil, chunkNonce(bw.index), bw.buf, chunkAAD(bw.hdr, final))
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(sealed)))
	if _, err := bw.w.Write(l[:]); err != nil {
		bw.err = err
		return err
	}
	if _, err := bw.w.Write(sealed); err != nil {
		bw.err = err
		return err
	}
	bw.index++
	bw.buf = bw.buf[:0]
	return nil
}

// Close writes the final chunk (possibly empty). It does not close the
// underlying writer.
func (bw *Writer) Close() error {
	if bw.closed {
		return bw.err
	}
	bw.closed = true
	if bw.err != nil {
		return bw.err
	}
	return bw.flush(true)
}

// Reader decrypts a backup stream; Read returns io.EOF only after the
// authenticated final chunk, and an error for anything else.
type Reader struct {
	r      *bufio.Reader
	aead   cipher.AEAD
	hdr    Header
	index  uint64
	plain  []byte
	final  bool
	err    error
	sealed []byte
}

// NewReader reads the header of r and derives the file key from s. It
// authenticates the first chunk before returning, so a wrong secret fails
// here with ErrAuth.
func NewReader(r io.Reader, s Secret) (*Reader, error) {
	br := bufio.NewReaderSize(r, ChunkSize+64)
	raw := make([]byte, headerLen)
	if _, err := io.ReadFull(br, raw); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ErrFormat
		}
		return nil, err
	}
	h, err := parseHeader(raw)
	if err != nil {
		return nil, err
	}
	key, err := deriveKey(&h, s)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	rd := &Reader{r: br, aead: aead, hdr: h}
	if err := rd.next(); err != nil {
		return nil, err
	}
	return rd, nil
}

// Header returns the backup's header.
func (rd *Reader) Header() Header { return rd.hdr }

// next reads and opens the next chunk into rd.plain.
func (rd *Reader) next() error {
	var l [4]byte
	if _, err := io.ReadFull(rd.r, l[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return ErrTruncated
		}
		return err
	}
	n := binary.BigEndian.Uint32(l[:])
	if n < uint32(rd.aead.Overhead()) || n > ChunkSize+uint32(rd.aead.Overhead()) {
		return fmt.Errorf("%w: chunk %d has length %d", ErrAuth, rd.index, n)
	}
	if cap(rd.sealed) < int(n) {
		rd.sealed = make([]byte, n)
	}
	rd.sealed = rd.sealed[:n]
	if _, err := io.ReadFull(rd.r, rd.sealed); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return ErrTruncated
		}
		return err
	}
	nonce := chunkNonce(rd.index)
	pt, err := rd.aead.Open(rd.plain[:0], nonce, rd.sealed, chunkAAD(rd.hdr.raw[:], false))
	if err != nil {
		pt, err = rd.aead.Open(rd.plain[:0], nonce, rd.sealed, chunkAAD(rd.hdr.raw[:], true))
		if err != nil {
			return ErrAuth
		}
		rd.final = true
		if _, err := rd.r.ReadByte(); err == nil {
			return ErrTrailing
		}
	} else if len(pt) != ChunkSize {
		return fmt.Errorf("%w: short chunk %d", ErrAuth, rd.index)
	}
	rd.plain = pt
	rd.index++
	return nil
}

// Read returns decrypted payload bytes.
func (rd *Reader) Read(p []byte) (int, error) {
	for len(rd.plain) == 0 {
		if rd.err != nil {
			return 0, rd.err
		}
		if rd.final {
			rd.err = io.EOF
			return 0, io.EOF
		}
		if err := rd.next(); err != nil {
			rd.err = err
			return 0, err
		}
	}
	n := copy(p, rd.plain)
	rd.plain = rd.plain[n:]
	return n, nil
}
