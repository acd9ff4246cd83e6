package node

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/waedge/waedge/pki"
)

// ErrDataDirInUse means a restore target already holds node state.
var ErrDataDirInUse = errors.New("data dir already holds node state")

// PrepareRestore readies an empty data dir for `waedge restore`: it keeps
// the cluster key there (as a node does) and returns the path the restored
// state machine must be written to. The first `waedge serve` on the dir
// then creates a new cluster — new node id, new CA, new admin token,
// a fresh Raft log — whose state starts from that file: the restored
// state has no applied index, so the new log applies on top of it.
func PrepareRestore(dataDir string, kek [32]byte) (string, error) {
	if kek == ([32]byte{}) {
		return "", fmt.Errorf("%w: the cluster master key is required", ErrBadConfig)
	}
	cfg := Config{DataDir: dataDir}
	entries, err := os.ReadDir(dataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", err
	case len(entries) > 0:
		return "", fmt.Errorf("%w: %s is not empty", ErrDataDirInUse, dataDir)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dataDir, err)
	}
	if err := pki.WriteFileAtomic(cfg.path(fileMasterKey), []byte(hex.EncodeToString(kek[:])+"\n"), 0o600); err != nil {
		return "", err
	}
	return cfg.path(fileFSM), nil
}
