#!/usr/bin/env bash
# Installs dist/waedge_*.deb (packaging/build.sh) with dpkg -i into a
# throwaway root and checks what the package promises: `waedge version`
# stamped, the waedge system user, file modes and owners, a unit that
# systemd-analyze verify accepts, removal keeping the data dir.
#
# The throwaway root is this machine's / under an overlay (unshare -m, no
# container runtime needed): every write lands in a temp dir that is deleted
# afterwards; the host is not changed. Needs root, overlayfs and unshare.
set -euo pipefail
cd "$(dirname "$0")/.."

deb=$(ls -t dist/waedge_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "no dist/waedge_*.deb: run packaging/build.sh first" >&2; exit 1; }
version=$(dpkg-deb -f "$deb" Version)
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || ! grep -qw overlay /proc/filesystems; then
	echo "test-deb: needs root, unshare and overlayfs; not run" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/up" "$tmp/work" "$tmp/root"
cp "$deb" "$tmp/waedge.deb"

unshare -m --propagation private bash -euo pipefail -c '
tmp=$1 version=$2
mount -t overlay overlay -o "lowerdir=/,upperdir=$tmp/up,workdir=$tmp/work" "$tmp/root"
mount -t proc proc "$tmp/root/proc"
mount --bind /dev "$tmp/root/dev"
mkdir -p "$tmp/root/pkg" && mount --bind "$tmp" "$tmp/root/pkg"
chroot "$tmp/root" /bin/bash -euo pipefail -s "$version" <<'"'"'CHECKS'"'"'
version=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
! getent passwd waedge >/dev/null || fail "the root is not clean: a waedge user exists"
! dpkg -s waedge >/dev/null 2>&1 || fail "the root is not clean: waedge is installed"
dpkg -i /pkg/waedge.deb >/dev/null

out=$(waedge version)
case "$out" in "waedge $version (commit "*) ;; *) fail "waedge version: $out (want $version)";; esac
case "$out" in *"commit none"*|*"commit unknown"*) fail "no commit stamped: $out";; esac

getent passwd waedge >/dev/null || fail "no waedge user"
[ "$(getent passwd waedge | cut -d: -f6,7)" = "/var/lib/waedge:/usr/sbin/nologin" ] || fail "waedge user: $(getent passwd waedge)"
[ "$(id -u waedge)" -lt 1000 ] || fail "waedge is not a system user"

check_mode() { got=$(stat -c "%a %U %G" "$1"); [ "$got" = "$2" ] || fail "$1: $got, want $2"; }
check_mode /usr/bin/waedge "755 root root"
check_mode /lib/systemd/system/waedge.service "644 root root"
check_mode /etc/default/waedge "640 root waedge"
check_mode /var/lib/waedge "700 waedge waedge"
check_mode /var/lib/waedge.sandbox "700 waedge waedge"

if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify /lib/systemd/system/waedge.service || fail "systemd-analyze verify"
else
	echo "systemd-analyze not available: unit not verified"
fi

# The binary runs as the service user: a config check with the unit'"'"'s settings.
su -s /bin/sh waedge -c "WAEDGE_DATA_DIR=/var/lib/waedge waedge config check" >/dev/null || fail "config check as waedge"

dpkg -r waedge >/dev/null
[ ! -e /usr/bin/waedge ] || fail "binary left after dpkg -r"
[ -d /var/lib/waedge ] || fail "dpkg -r removed the data dir"
echo "deb install test passed: $(basename /pkg/waedge.deb) $version"
CHECKS
' _ "$tmp" "$version"
