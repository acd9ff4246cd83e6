package node

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotClusterPort: a --join address answered plain HTTP, so it is some
// node's HTTP port rather than its cluster port.
var ErrNotClusterPort = errors.New("not a cluster port")

// notClusterPort turns the TLS handshake error of a join address that
// speaks plain HTTP into an immediate, final error saying so: retrying it
// could only time out.
func notClusterPort(target string, err error) error {
	var rh tls.RecordHeaderError
	if !errors.As(err, &rh) {
		return err
	}
	if strings.HasPrefix(string(rh.RecordHeader[:]), "HTTP/") {
		return fmt.Errorf("%w: %s answers plain HTTP: --join takes a member's cluster address (its --cluster-addr or --advertise-addr, default port 8081), not its HTTP API", ErrNotClusterPort, target)
	}
	return fmt.Errorf("%w: %s does not speak TLS: --join takes a member's cluster address (its --cluster-addr or --advertise-addr)", ErrNotClusterPort, target)
}

// dirSnapshot remembers what a data dir held before a start, so a failed
// first join can put it back as it was.
type dirSnapshot struct {
	dir     string
	existed bool
	entries map[string]bool
}

func snapshotDir(dir string) dirSnapshot {
	s := dirSnapshot{dir: dir, entries: map[string]bool{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return s
	}
	s.existed = true
	for _, e := range ents {
		s.entries[e.Name()] = true
	}
	return s
}

// fresh reports whether the directory held nothing before.
func (s dirSnapshot) fresh() bool { return len(s.entries) == 0 }

// restore removes what the start created: the directory itself when it did
// not exist, else the entries that were not there.
func (s dirSnapshot) restore() error {
	if !s.existed {
		return os.RemoveAll(s.dir)
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		if !s.entries[e.Name()] {
			errs = append(errs, os.RemoveAll(filepath.Join(s.dir, e.Name())))
		}
	}
	return errors.Join(errs...)
}
