package console

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/waedge/waedge/raftfsm"
)

// SetupFile is the file in the data dir that holds the bootstrap setup
// link (mode 0600).
const SetupFile = "console-setup.url"

// WriteSetupLink writes a one-time link that creates the first console
// admin to <dataDir>/console-setup.url, unless the cluster already has a
// console user or the file exists. It logs the file's path, never the
// link. Call it on the node that bootstrapped the cluster, once it leads.
func (a *Accounts) WriteSetupLink(ctx context.Context, dataDir string) (string, error) {
	path := filepath.Join(dataDir, SetupFile)
	if _, err := os.Stat(path); err == nil {
		return "", nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	users, err := a.cfg.Cluster.FSM().ConsoleUsers()
	if err != nil || len(users) > 0 {
		return "", err
	}
	l, err := a.Invite(ctx, raftfsm.TokenAdmin, "", "bootstrap")
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(l.URL+"\n"), 0o600); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	a.cfg.Logger.Info("console setup link written: open the URL in this file to create the first console admin (valid 24 h; `waedge console setup-link` mints another)",
		slog.String("file", path))
	return path, nil
}
