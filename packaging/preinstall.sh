#!/bin/sh
# Create the system user the systemd unit runs as.
set -e
getent group waedge >/dev/null || groupadd --system waedge
getent passwd waedge >/dev/null || useradd --system --gid waedge --home-dir /var/lib/waedge --shell /usr/sbin/nologin waedge
