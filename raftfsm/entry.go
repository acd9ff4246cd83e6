package raftfsm

import (
	"encoding/binary"
	"fmt"
)

const (
	// entryVersion is the first byte of every Raft log entry.
	entryVersion = 1
	// MaxCommandsPerEntry bounds the number of commands in one entry.
	MaxCommandsPerEntry = 1 << 16
	// MaxCommandLen bounds the size of one command.
	MaxCommandLen = 64 << 20
)

// EncodeEntry packs commands into one Raft log entry (group commit):
// [version][uvarint n] then n × [uvarint len][command].
func EncodeEntry(cmds [][]byte) []byte {
	size := 1 + binary.MaxVarintLen64
	for _, c := range cmds {
		size += binary.MaxVarintLen64 + len(c)
	}
	out := make([]byte, 0, size)
	out = append(out, entryVersion)
	out = binary.AppendUvarint(out, uint64(len(cmds)))
	for _, c := range cmds {
		out = binary.AppendUvarint(out, uint64(len(c)))
		out = append(out, c...)
	}
	return out
}

// DecodeEntry unpacks a Raft log entry into its commands. The returned
// slices alias b. Counts and lengths are checked against the bytes that
// are actually present before anything is allocated, and only canonical
// (shortest) varints are accepted, so every entry has exactly one encoding.
func DecodeEntry(b []byte) ([][]byte, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: entry of %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != entryVersion {
		return nil, fmt.Errorf("%w: entry version %d", ErrCorrupt, b[0])
	}
	p := 1
	n, k := binary.Uvarint(b[p:])
	// Every command needs at least its one-byte length prefix.
	if k <= 0 || k != uvarintLen(n) || n > MaxCommandsPerEntry || n > uint64(len(b)-p-k) {
		return nil, fmt.Errorf("%w: bad command count", ErrCorrupt)
	}
	p += k
	cmds := make([][]byte, 0, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b[p:])
		if k <= 0 || k != uvarintLen(l) || l > MaxCommandLen || l > uint64(len(b)-p-k) {
			return nil, fmt.Errorf("%w: bad length of command %d", ErrCorrupt, i)
		}
		p += k
		cmds = append(cmds, b[p:p+int(l):p+int(l)])
		p += int(l)
	}
	if p != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b)-p)
	}
	return cmds, nil
}

// uvarintLen is the length of the canonical encoding of v.
func uvarintLen(v uint64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], v)
}
