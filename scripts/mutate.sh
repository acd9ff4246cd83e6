#!/usr/bin/env bash
# The mutation check (issue 11): does the test suite fail when an invariant
# is broken? Each directory scripts/mutations/<name>/ holds a hand-written
# mutant — replacement .go files at their path in the repository — and a
# `target` file: one line per `go test` run that must catch it, a package
# pattern followed by optional go test flags, e.g.
#     ./raftfsm/
#     ./e2e -run ^TestBlackBoxSIGTERM$
# The mutant is applied with `go test -overlay` (the source tree is never
# touched); the e2e tests build their waedge binary with the same overlay
# (WAEDGE_E2E_OVERLAY). Tests run as CI runs them: -race except in e2e.
#
# A mutation is CAUGHT when some target run has a failing test, SURVIVED
# when every target run passes, and ERROR when the mutant does not build
# or a run fails without a failing test. With -n N each mutation is tried
# N times and counts as CAUGHT only if every try caught it.
#
# Usage: scripts/mutate.sh [-n RUNS] [-k] [NAME...]
#   -n RUNS  tries per mutation (default 1)
#   -k       keep going through every target line after one has caught
#            the mutant, to see everything that catches it
# Exit status: 0 when every mutation was caught on every try, 1 otherwise.
# On demand, not in CI: a full pass takes several minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

runs=1
keep_going=0
while getopts "n:k" opt; do
	case $opt in
	n) runs=$OPTARG ;;
	k) keep_going=1 ;;
	*) sed -n '2,25p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

export CGO_ENABLED="${CGO_ENABLED:-1}" # the race detector needs cgo
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for d in scripts/mutations/*/; do
		[ -f "$d/target" ] && names+=("$(basename "$d")")
	done
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# overlay writes the -overlay JSON of mutation $1: it applies the
# mutation's mutation.diff to copies of the current files (so a mutant never
# goes stale when the code around it changes; a diff that no longer applies
# is an ERROR to fix, not a silent revert) and maps each file to its copy.
overlay() {
	local dir="scripts/mutations/$1" out="$work/$1.json" tree="$work/$1" sep="" rel
	[ -f "$dir/mutation.diff" ] || { echo "  no mutation.diff" >&2; return 1; }
	mkdir -p "$tree"
	printf '{"Replace":{' >"$out"
	while IFS= read -r rel; do
		if [ ! -f "$rel" ]; then
			echo "  $rel: no such file in the repository (stale mutation?)" >&2
			return 1
		fi
		mkdir -p "$tree/$(dirname "$rel")"
		cp "$rel" "$tree/$rel"
		printf '%s"%s":"%s"' "$sep" "$root/$rel" "$tree/$rel" >>"$out"
		sep=","
	done < <(sed -n 's#^+++ b/\([^[:space:]]*\).*#\1#p' "$dir/mutation.diff" | sort -u)
	printf '}}\n' >>"$out"
	[ -n "$sep" ] || { echo "  mutation.diff names no file" >&2; return 1; }
	if ! (cd "$tree" && git apply --whitespace=nowarn "$root/$dir/mutation.diff") >&2; then
		echo "  mutation.diff no longer applies to the current code: update it" >&2
		return 1
	fi
	echo "$out"
}

# try runs every target line of mutation $1 once: 0 caught, 1 survived, 2 error.
try() {
	local name=$1 ov=$2 caught=1 line pkg flags race log
	local -a args
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%%#*}
		read -r pkg flags <<<"$line" || true
		[ -n "${pkg:-}" ] || continue
		race="-race"
		case $pkg in *e2e*) race="" ;; esac
		set -f # flags are words, as on a command line, and never globs
		# shellcheck disable=SC2206
		args=(test -count=1 $race -overlay "$ov" -timeout 10m $flags "$pkg")
		set +f
		log="$work/$name.$((++step)).log"
		echo "  go ${args[*]}" >&2
		if WAEDGE_E2E=1 WAEDGE_E2E_OVERLAY="$ov" go "${args[@]}" >"$log" 2>&1; then
			echo "    passed: not caught here" >&2
			continue
		fi
		if grep -aqE '^\s*--- FAIL' "$log"; then
			grep -aE '^\s*--- FAIL' "$log" | sed 's/^\s*/    caught by /' | head -8 >&2
			caught=0
		elif grep -aq 'panic: test timed out' "$log"; then
			echo "    caught: the tests hang (timeout)" >&2
			caught=0
		else
			echo "    ERROR: the run failed without a failing test:" >&2
			tail -15 "$log" | sed 's/^/      /' >&2
			return 2
		fi
		[ $caught -eq 0 ] && [ $keep_going -eq 0 ] && break
	done <"scripts/mutations/$name/target"
	return $caught
}

step=0
declare -A result
for name in "${names[@]}"; do
	echo "== $name"
	if [ ! -f "scripts/mutations/$name/target" ]; then
		result[$name]="ERROR (no target file)"
		continue
	fi
	if ! ov=$(overlay "$name"); then
		result[$name]="ERROR (overlay)"
		continue
	fi
	if ! out=$(go build -overlay "$ov" ./... 2>&1); then
		echo "$out" | sed 's/^/  /' >&2
		result[$name]="ERROR (the mutant does not build)"
		continue
	fi
	caught=0 errors=0
	for ((i = 1; i <= runs; i++)); do
		[ "$runs" -gt 1 ] && echo "  -- try $i of $runs" >&2
		set +e
		try "$name" "$ov"
		rc=$?
		set -e
		case $rc in
		0) caught=$((caught + 1)) ;;
		2) errors=$((errors + 1)) ;;
		esac
	done
	if [ $errors -gt 0 ]; then
		result[$name]="ERROR ($errors of $runs tries)"
	elif [ $caught -eq "$runs" ]; then
		result[$name]="CAUGHT ($caught of $runs)"
	else
		result[$name]="SURVIVED (caught $caught of $runs)"
	fi
	echo "  => ${result[$name]}"
done

echo
echo "== mutation check: $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD)"
status=0
for name in "${names[@]}"; do
	printf '%-32s %s\n' "$name" "${result[$name]}"
	case ${result[$name]} in CAUGHT*) ;; *) status=1 ;; esac
done
exit $status
