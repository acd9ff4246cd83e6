package network

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
)

// mediaAAD binds sealed blobs to this format.
var mediaAAD = []byte("waedge-media-v1")

// SealMedia encrypts media the way WhatsApp does in spirit: a fresh random AES-256 key per blob
// (AES-256-GCM, random 12-byte nonce prepended to the blob). It returns the blob to upload and a
// Media reference (BlobID and MIMEType left for the caller) that travels inside the Signal message.
func SealMedia(plaintext []byte) (blob []byte, ref Media, err error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, Media{}, fmt.Errorf("media key: %w", err)
	}
	aead, err := mediaAEAD(key)
	if err != nil {
		return nil, Media{}, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, Media{}, fmt.Errorf("media nonce: %w", err)
	}
	blob = aead.Seal(nonce, nonce, plaintext, mediaAAD)
	sum := sha256.Sum256(plaintext)
	encSum := sha256.Sum256(blob)
	return blob, Media{Key: key, SHA256: sum[:], EncSHA256: encSum[:], Size: int64(len(plaintext))}, nil
}

// OpenMedia checks a downloaded blob against its reference and decrypts it.
func OpenMedia(blob []byte, ref Media) ([]byte, error) {
	encSum := sha256.Sum256(blob)
	if subtle.ConstantTimeCompare(encSum[:], ref.EncSHA256) != 1 {
		return nil, fmt.Errorf("blob hash: %w", ErrBadMedia)
	}
	aead, err := mediaAEAD(ref.Key)
	if err != nil {
		return nil, err
	}
	if len(blob) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("short blob: %w", ErrBadMedia)
	}
	pt, err := aead.Open(nil, blob[:aead.NonceSize()], blob[aead.NonceSize():], mediaAAD)
	if err != nil {
		return nil, fmt.Errorf("blob authentication: %w", ErrBadMedia)
	}
	sum := sha256.Sum256(pt)
	if subtle.ConstantTimeCompare(sum[:], ref.SHA256) != 1 || int64(len(pt)) != ref.Size {
		return nil, fmt.Errorf("plaintext hash or size: %w", ErrBadMedia)
	}
	return pt, nil
}

func mediaAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("media key length: %w", ErrBadMedia)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("media cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("media gcm: %w", err)
	}
	return aead, nil
}
