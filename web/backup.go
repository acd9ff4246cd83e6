package web

import (
	"bufio"
	"encoding/base64"
	"log/slog"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/backup"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// Request headers carrying the backup's secret (admin API only; use it
// over HTTPS or on the node itself, as for the admin token).
const (
	// HeaderBackupKey is a 32-byte backup key, base64.
	HeaderBackupKey = "X-Waedge-Backup-Key"
	// HeaderBackupPassphrase is a backup passphrase, base64.
	HeaderBackupPassphrase = "X-Waedge-Backup-Passphrase"
)

// DefaultBackupHorizon is how far ahead a backup is expired by default:
// data keys destroyed within it are left out (see README, Backup).
const DefaultBackupHorizon = 24 * time.Hour

// backupSecret reads the backup secret from the request headers.
func backupSecret(c *fiber.Ctx) (backup.Secret, error) {
	key, pass := c.Get(HeaderBackupKey), c.Get(HeaderBackupPassphrase)
	if (key == "") == (pass == "") {
		return backup.Secret{}, graph.ErrMissingParameter.With("exactly one of " + HeaderBackupKey + " and " + HeaderBackupPassphrase + " is required")
	}
	raw, err := base64.StdEncoding.DecodeString(key + pass)
	if err != nil {
		return backup.Secret{}, graph.ErrInvalidParameter.With("the backup secret must be base64")
	}
	var s backup.Secret
	if key != "" {
		s, err = backup.KeyFile(raw)
	} else {
		s, err = backup.Passphrase(raw)
	}
	if err != nil {
		return backup.Secret{}, graph.ErrInvalidParameter.With(err.Error())
	}
	return s, nil
}

// backup answers GET /admin/v1/backup[?horizon_hours=N]: a consistent,
// encrypted copy of the replicated state (package backup around
// raftfsm.WriteBackup), streamed while the cluster serves. Data keys
// destroyed within the horizon (default 24 h, at most 720) are left out.
func (a *adminAPI) backup(c *fiber.Ctx) error {
	secret, err := backupSecret(c)
	if err != nil {
		return err
	}
	horizon := DefaultBackupHorizon
	if h := c.Query("horizon_hours"); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 0 || time.Duration(n)*time.Hour > raftfsm.MaxRetention {
			return graph.ErrParameterValue.With("horizon_hours must be between 0 and 720")
		}
		horizon = time.Duration(n) * time.Hour
	}
	now := a.d.Now()
	fsm, logger := a.d.Cluster.FSM(), a.d.Logger
	c.Set(fiber.HeaderContentType, "application/octet-stream")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="waedge-`+now.UTC().Format("20060102T150405Z")+`.backup"`)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		// Errors cannot change the status any more: the stream then ends
		// without its final chunk, which restore refuses as truncated.
		bw, err := backup.NewWriter(w, secret, now.UnixMilli(), now.Add(horizon).UnixMilli())
		if err != nil {
			logger.Error("backup failed", slog.Any("err", err))
			return
		}
		st, err := fsm.WriteBackup(bw, now.Add(horizon).UnixMilli())
		if err == nil {
			err = bw.Close()
		}
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			logger.Error("backup failed", slog.Any("err", err))
			return
		}
		logger.Info("backup written", slog.Int("records", st.Records), slog.Int("data_keys", st.DataKeys),
			slog.Int("data_keys_left_out", st.SkippedKeys), slog.Uint64("applied_index", st.AppliedAt))
	})
	return nil
}
