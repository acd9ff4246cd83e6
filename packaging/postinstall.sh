#!/bin/sh
# The node's state lives in /var/lib/waedge (and the embedded sandbox beside
# it); only the waedge user may read them. /etc/default/waedge may hold a
# join token: readable by the service's group only.
set -e
install -d -o waedge -g waedge -m 0700 /var/lib/waedge /var/lib/waedge.sandbox
chgrp waedge /etc/default/waedge 2>/dev/null || true
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
