package relay

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// blobStore keeps uploaded media blobs (ciphertext: the key travels end to end inside Signal
// messages) as files named by a random id, written atomically and deleted after retention.
type blobStore struct {
	dir string
}

func openBlobStore(dir string) (*blobStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob dir: %w", err)
	}
	return &blobStore{dir: dir}, nil
}

// validBlobID accepts exactly the ids put generates: 32 lowercase hex digits.
func validBlobID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && id == stringsToLower(id)
}

func stringsToLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func (b *blobStore) put(data []byte) (string, error) {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("blob id: %w", err)
	}
	id := hex.EncodeToString(raw)
	tmp, err := os.CreateTemp(b.dir, ".upload-*")
	if err != nil {
		return "", fmt.Errorf("blob temp: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", fmt.Errorf("blob write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("blob sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("blob close: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(b.dir, id)); err != nil {
		return "", fmt.Errorf("blob rename: %w", err)
	}
	return id, nil
}

func (b *blobStore) get(id string) ([]byte, error) {
	if !validBlobID(id) {
		return nil, os.ErrNotExist
	}
	return os.ReadFile(filepath.Join(b.dir, id))
}

// sweep deletes blobs last modified before cutoff.
func (b *blobStore) sweep(cutoff time.Time) error {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return fmt.Errorf("blob sweep: %w", err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || info.IsDir() {
			continue
		}
		if info.ModTime().Before(cutoff) {
			if err := os.Remove(filepath.Join(b.dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("blob sweep: %w", err)
			}
		}
	}
	return nil
}

func (r *Relay) handlePutBlob(w http.ResponseWriter, req *http.Request) {
	data, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.cfg.MaxBlobSize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, "blob too large")
			return
		}
		httpError(w, http.StatusBadRequest, "read body")
		return
	}
	r.tap(data)
	if len(data) == 0 {
		httpError(w, http.StatusBadRequest, "empty blob")
		return
	}
	id, err := r.blobs.put(data)
	if err != nil {
		r.log.Error("store blob", "err", err)
		httpError(w, http.StatusInternalServerError, "store blob")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}

func (r *Relay) handleGetBlob(w http.ResponseWriter, req *http.Request) {
	data, err := r.blobs.get(req.PathValue("id"))
	if err != nil {
		httpError(w, http.StatusNotFound, "no such blob")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(data)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
