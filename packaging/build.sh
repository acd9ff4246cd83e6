#!/usr/bin/env bash
# Builds the static, version-stamped binary dist/waedge and the deb and rpm
# packages beside it, with nfpm as a Go library (packaging/nfpm): nothing but
# Go and git is needed.
#   packaging/build.sh                 # version from the last tag, else 0.0.0~git<date>.<commit>
#   WAEDGE_VERSION=1.4.0 packaging/build.sh
#   WAEDGE_PKG_FORMATS=deb packaging/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD 2>/dev/null; then commit="$commit+dirty"; fi
version="${WAEDGE_VERSION:-}"
if [ -z "$version" ]; then
	if tag=$(git describe --tags --abbrev=0 2>/dev/null); then
		version="${tag#v}"
		n=$(git rev-list --count "$tag"..HEAD)
		[ "$n" = 0 ] || version="$version+git$n.${commit%+dirty}"
	else
		version="0.0.0~git$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date +%Y%m%d).${commit%+dirty}"
	fi
fi

mkdir -p dist
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version -X main.commit=$commit" -o dist/waedge .
for format in ${WAEDGE_PKG_FORMATS:-deb rpm}; do
	go -C packaging/nfpm run . --root "$PWD" --version "$version" --format "$format" --out dist
done
