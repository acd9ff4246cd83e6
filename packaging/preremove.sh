#!/bin/sh
# Stop the node before its binary goes; its data dir stays (remove
# /var/lib/waedge by hand to destroy the cluster member's state).
set -e
if [ -d /run/systemd/system ]; then
	systemctl stop waedge.service >/dev/null 2>&1 || true
fi
exit 0
