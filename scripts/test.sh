#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script).
# Installs what it needs on a fresh Debian machine with Go; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

export CGO_ENABLED="${CGO_ENABLED:-1}"   # the race detector needs cgo
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

if ! command -v go >/dev/null 2>&1; then
	echo "Go is required (https://go.dev/dl); this machine has none" >&2
	exit 1
fi

# The conformance test runs a real third-party Cloud API client under node.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "== installing node and npm (Debian packages)"
	if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; else
		sudo apt-get update -qq && sudo apt-get install -y -qq nodejs npm >/dev/null; fi
fi
# The console's browser tests drive Debian's chromium headless (chromedp).
if ! command -v chromium >/dev/null 2>&1; then
	echo "== installing chromium (Debian package)"
	if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; else
		sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi
fi
echo "== npm ci (e2e/conformance: whatsapp-api-js, Meta's Node SDK, @microfox/whatsapp-business)"
npm ci --prefix e2e/conformance --no-audit --no-fund --loglevel=error

echo "== go vet"
go vet ./...

echo "== gofmt"
unformatted=$(find . -name '*.go' -not -path '*/node_modules/*' -print0 | xargs -0 gofmt -l)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== build (static, as shipped)"
CGO_ENABLED=0 go build -o /dev/null .

# Packages whose tests fit the time budget under the race detector.
race_pkgs=$(go list ./... | grep -Ev '/e2e$' || true)
echo "== unit and in-process cluster tests (race detector on)"
go test -race -count=1 -timeout 8m $race_pkgs

echo "== packages: deb and rpm with nfpm (packaging/build.sh), deb install test, container smoke test"
packaging/build.sh
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && grep -qw overlay /proc/filesystems; then
	packaging/test-deb.sh
else
	echo "deb install test NOT RUN: it needs root, unshare and overlayfs (packaging/test-deb.sh)"
fi
packaging/test-container.sh

echo "== black-box tests (real processes; the console's screenshots go to test-output/_artifacts)"
mkdir -p test-output
# 15 minutes: the rolling-upgrade test builds an older revision.
WAEDGE_E2E=1 go test -count=1 -timeout 15m -artifacts -outputdir "$PWD/test-output" ./e2e/...
