package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/waedge/waedge/console"
)

// readyNode is what announceConsole needs of the node.
type readyNode interface{ Ready() bool }

// announceConsole waits until this node is a ready member, then — on the
// node that bootstrapped the cluster (it holds admin.token), while the
// cluster has no console user — writes the one-time setup link to
// <data-dir>/console-setup.url, and logs the console's URL once.
func announceConsole(ctx context.Context, n readyNode, accounts *console.Accounts, dataDir, publicURL string, logger *slog.Logger) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !n.Ready() {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "admin.token")); err == nil {
		for attempt := 0; ; attempt++ {
			_, err := accounts.WriteSetupLink(ctx, dataDir)
			if err == nil {
				break
			}
			if attempt == 20 || ctx.Err() != nil {
				logger.Warn("console setup link not written; mint one with `waedge console setup-link`", slog.Any("err", err))
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	logger.Info("console ready", slog.String("url", publicURL+"/console/"))
}
