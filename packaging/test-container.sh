#!/usr/bin/env bash
# Builds packaging/Containerfile and runs it: the node must come up as a
# non-root user, answer /readyz and keep its state in the volume. Runs only
# where a container runtime (docker or podman) answers; elsewhere it says so
# and exits 0 — nothing is claimed about the image then.
set -euo pipefail
cd "$(dirname "$0")/.."

rt=""
for c in podman docker; do
	if command -v "$c" >/dev/null && timeout 10 "$c" info >/dev/null 2>&1; then rt=$c; break; fi
done
if [ -z "$rt" ]; then
	echo "container smoke test NOT RUN: no working container runtime (docker/podman) on this machine"
	exit 0
fi
tag="waedge-smoke:$$"
name="waedge-smoke-$$"
vol="waedge-smoke-$$"
cleanup() { "$rt" rm -f "$name" >/dev/null 2>&1 || true; "$rt" volume rm -f "$vol" >/dev/null 2>&1 || true; "$rt" rmi -f "$tag" >/dev/null 2>&1 || true; }
trap cleanup EXIT
"$rt" build -q -f packaging/Containerfile --build-arg VERSION=smoke --build-arg COMMIT="$(git rev-parse --short=12 HEAD)" -t "$tag" . >/dev/null
"$rt" run --rm "$tag" version | grep -q "^waedge smoke (commit " || { echo "FAIL: version" >&2; exit 1; }
"$rt" run -d --name "$name" -v "$vol:/var/lib/waedge" -p 127.0.0.1::8080 -e WAEDGE_PUBLIC_URL=http://127.0.0.1:8080 "$tag" >/dev/null
port=$("$rt" port "$name" 8080 | head -1 | sed 's/.*://')
for _ in $(seq 100); do
	if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
	sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { "$rt" logs "$name" | tail -20; echo "FAIL: not ready" >&2; exit 1; }
[ "$("$rt" inspect -f '{{.Config.User}}' "$tag")" = "65532:65532" ] || { echo "FAIL: the image does not run as 65532" >&2; exit 1; }
"$rt" stop -t 20 "$name" >/dev/null
# The state is in the volume: a new container on it finds the node's admin token.
"$rt" run --rm -v "$vol:/var/lib/waedge" --entrypoint /usr/local/bin/waedge "$tag" \
	cluster status --server http://127.0.0.1:1 --token-file /var/lib/waedge/admin.token 2>&1 | grep -q "cannot reach" \
	|| { echo "FAIL: no admin token in the volume after a restart" >&2; exit 1; }
echo "container smoke test passed ($rt)"
