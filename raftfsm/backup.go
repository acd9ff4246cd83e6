package raftfsm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A backup (issue 5) is a logical copy of the state: every record of every
// bucket, read in one bbolt read transaction (consistent while the cluster
// serves), written as a record stream rather than as the database file, so
// that nothing deleted lingers in it (a bbolt file keeps freed pages, which
// may still hold destroyed data keys). It leaves out:
//
//   - the cluster's identity: Raft bookkeeping (meta), members, removed
//     members, join tokens, the cluster CA and the admin and operator
//     tokens — a restore builds a new cluster with its own;
//   - data keys destroyed before the backup's horizon, so content that
//     expires before the horizon cannot be read from the backup by anyone,
//     whatever keys they hold.
//
// The stream (encrypted by package backup) is: backupMagic, then records
// tag 'B' bucket name | tag 'K' key value (lengths as uvarints), then tag
// 'E' with the number of 'K' records.

const backupMagic = "waedge-fsm-backup v1\n"

// Record tags of the backup stream.
const (
	tagBucket = 'B'
	tagKV     = 'K'
	tagEnd    = 'E'
)

// Cluster values that belong to one cluster's identity (see node).
var clusterIdentityPrefix = []byte("cluster.ca.")

// ErrBadBackup means a backup stream is malformed.
var ErrBadBackup = errors.New("malformed state backup")

// BackupStats describes a written backup.
type BackupStats struct {
	Records     int
	DataKeys    int
	SkippedKeys int // data keys destroyed before the horizon
	AppliedAt   uint64
}

// skipInBackup reports whether a record stays out of every backup.
func skipInBackup(bucket string, k, v []byte) bool {
	switch bucket {
	case string(bucketMeta), string(bucketMembers), string(bucketRemoved), string(bucketJoinTokens):
		return true
	case string(bucketCluster):
		return bytes.HasPrefix(k, clusterIdentityPrefix)
	case string(bucketTokens):
		var t Token
		return unmarshal(v, &t) == nil && t.Kind != TokenAPI
	}
	return false
}

// WriteBackup writes a logical copy of the state to w (see above),
// leaving out data keys destroyed before horizon (unix ms).
func (f *FSM) WriteBackup(w io.Writer, horizon int64) (BackupStats, error) {
	var st BackupStats
	bw := bufio.NewWriterSize(w, 64<<10)
	err := f.View(func(tx *bolt.Tx) error {
		st.AppliedAt, _ = parseApplied(tx.Bucket(bucketMeta).Get(keyApplied))
		if _, err := bw.WriteString(backupMagic); err != nil {
			return err
		}
		// Token ids of skipped tokens: their id index goes too.
		skipTokenIDs := map[string]bool{}
		_ = tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			var t Token
			if unmarshal(v, &t) == nil && t.Kind != TokenAPI {
				skipTokenIDs[t.ID] = true
			}
			return nil
		})
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			bucket := string(name)
			if skipInBackup(bucket, nil, nil) {
				return nil
			}
			writeBytes(bw, tagBucket, name)
			return b.ForEach(func(k, v []byte) error {
				if v == nil {
					return fmt.Errorf("%w: nested bucket in %s", ErrBadBackup, bucket)
				}
				if skipInBackup(bucket, k, v) || bucket == string(bucketTokenIDs) && skipTokenIDs[string(k)] {
					return nil
				}
				if bucket == string(bucketDataKeys) {
					if len(k) == 4 && DataKeyDestroyAt(beUint32(k)) <= horizon {
						st.SkippedKeys++
						return nil
					}
					st.DataKeys++
				}
				writeBytes(bw, tagKV, k)
				writeBytes(bw, 0, v)
				st.Records++
				_, err := bw.Write(nil)
				return err
			})
		})
	})
	if err != nil {
		return st, fmt.Errorf("backup: %w", err)
	}
	var end [1 + binary.MaxVarintLen64]byte
	end[0] = tagEnd
	n := binary.PutUvarint(end[1:], uint64(st.Records))
	if _, err := bw.Write(end[:1+n]); err != nil {
		return st, fmt.Errorf("backup: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("backup: %w", err)
	}
	return st, nil
}

// writeBytes writes [tag] uvarint(len) b (no tag when tag is 0). Errors
// stick in bw and surface at the next Write or Flush.
func writeBytes(bw *bufio.Writer, tag byte, b []byte) {
	if tag != 0 {
		_ = bw.WriteByte(tag)
	}
	var l [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(l[:], uint64(len(b)))
	_, _ = bw.Write(l[:n])
	_, _ = bw.Write(b)
}

// RestoreStats describes a restored state.
type RestoreStats struct {
	Records int
	// ExpiredAsOf is the Now (unix ms) expiry ran with before the state
	// is served: max(restore time, horizon).
	ExpiredAsOf int64
	// Deleted counts what that expiry deleted; DestroyedKeys the data keys.
	Deleted       int
	DestroyedKeys int
	// DataKeys are the ids of the data keys left.
	DataKeys []uint32
}

// maxBackupField bounds one key or value of a backup stream.
const maxBackupField = 64 << 20

// RestoreBackup builds a new state machine database at path (which must
// not exist) from a stream written by WriteBackup, then expires it as of
// max(now, horizon) (unix ms) — destroying the data keys whose time has
// come and deleting what is past retention — before anything can serve
// it. The result has no applied index and no Raft configuration: it is
// the initial state of a new cluster.
func RestoreBackup(r io.Reader, path string, now, horizon int64) (RestoreStats, error) {
	var st RestoreStats
	if _, err := os.Stat(path); err == nil {
		return st, fmt.Errorf("restore: %s exists", path)
	}
	if err := loadBackup(r, path, &st); err != nil {
		_ = os.Remove(path)
		return st, err
	}
	f, err := Open(path, nil)
	if err != nil {
		return st, err
	}
	defer f.Close()
	st.ExpiredAsOf = max(now, horizon)
	payload := marshal(Expire{Now: st.ExpiredAsOf, Budget: MaxExpireBudget})
	for {
		var res ExpireResult
		err := f.db.Update(func(tx *bolt.Tx) error {
			v, err := f.applyExpire(tx, payload)
			if err != nil {
				return err
			}
			if err := unmarshal(v, &res); err != nil {
				return err
			}
			// Keys created from now on are refused only if already past
			// their destruction time at the real clock.
			return tx.Bucket(bucketMeta).Put(keyExpiredThrough, be64(now))
		})
		if err != nil {
			return st, fmt.Errorf("restore: expire: %w", err)
		}
		st.Deleted += res.Deleted
		st.DestroyedKeys += len(res.DestroyedKeys)
		if !res.More {
			break
		}
	}
	f.hookMu.Lock()
	f.pendingHooks = nil
	f.hookMu.Unlock()
	if st.DataKeys, err = f.DataKeyIDs(); err != nil {
		return st, err
	}
	if err := f.Sync(); err != nil {
		return st, err
	}
	return st, f.Close()
}

// ReadBackupRecords reads a plaintext stream written by WriteBackup (as
// package backup's Reader returns it) and calls fn for every bucket record
// (with key and value nil) and every key/value record, in stream order. It
// checks the magic, the framing and the end record's count, and returns
// the number of key/value records. The slices passed to fn are its own.
// Restore uses it; so can anyone auditing what a backup file holds.
func ReadBackupRecords(r io.Reader, fn func(bucket, key, value []byte) error) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	m := make([]byte, len(backupMagic))
	if _, err := io.ReadFull(br, m); err != nil || string(m) != backupMagic {
		return 0, fmt.Errorf("%w: not a state backup", ErrBadBackup)
	}
	readField := func() ([]byte, error) {
		n, err := binary.ReadUvarint(br)
		if err != nil || n > maxBackupField {
			return nil, fmt.Errorf("%w: bad field length", ErrBadBackup)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, fmt.Errorf("%w: truncated record", ErrBadBackup)
		}
		return b, nil
	}
	var bucket []byte
	records := 0
	for {
		tag, err := br.ReadByte()
		if err != nil {
			return records, fmt.Errorf("%w: no end record", ErrBadBackup)
		}
		switch tag {
		case tagBucket:
			if bucket, err = readField(); err != nil {
				return records, err
			}
			if err := fn(bucket, nil, nil); err != nil {
				return records, err
			}
		case tagKV:
			k, err := readField()
			if err != nil {
				return records, err
			}
			v, err := readField()
			if err != nil {
				return records, err
			}
			if bucket == nil || len(k) == 0 {
				return records, fmt.Errorf("%w: record outside a bucket", ErrBadBackup)
			}
			if err := fn(bucket, k, v); err != nil {
				return records, err
			}
			records++
		case tagEnd:
			n, err := binary.ReadUvarint(br)
			if err != nil || n != uint64(records) {
				return records, fmt.Errorf("%w: record count", ErrBadBackup)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				return records, fmt.Errorf("%w: data after the end record", ErrBadBackup)
			}
			return records, nil
		default:
			return records, fmt.Errorf("%w: record tag %d", ErrBadBackup, tag)
		}
	}
}

// loadBackup writes the records of a backup stream into a new bbolt file,
// committing every restoreBatch records.
func loadBackup(r io.Reader, path string, st *RestoreStats) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true})
	if err != nil {
		return fmt.Errorf("restore: open %s: %w", path, err)
	}
	defer db.Close()
	tx, err := db.Begin(true)
	if err != nil {
		return err
	}
	defer func() {
		if tx != nil {
			_ = tx.Rollback()
		}
	}()
	const restoreBatch = 10000
	n, err := ReadBackupRecords(r, func(bucket, k, v []byte) error {
		if k == nil {
			if _, err := tx.CreateBucketIfNotExists(bucket); err != nil {
				return fmt.Errorf("%w: bucket: %v", ErrBadBackup, err)
			}
			return nil
		}
		if err := tx.Bucket(bucket).Put(k, v); err != nil {
			return err
		}
		if st.Records++; st.Records%restoreBatch == 0 {
			err := tx.Commit()
			tx = nil
			if err != nil {
				return err
			}
			tx, err = db.Begin(true) // nil on error
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	st.Records = n
	err = tx.Commit()
	tx = nil
	return err
}
