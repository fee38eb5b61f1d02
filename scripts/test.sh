#!/usr/bin/env bash
# Run every test: the static checks (lint, package boundaries, type-check), each
# package's unit tests with coverage, then the end-to-end tests against real berthd
# daemons with real containers. Prints the closing line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
bash scripts/check.sh --static
static=$?
BERTH_COVERAGE_DIR=$(mktemp -d /tmp/berth-coverage-XXXXXX)
export BERTH_COVERAGE_DIR
trap 'rm -rf "$BERTH_COVERAGE_DIR"' EXIT
node scripts/run-tests.js "$@"
tests=$?
[ "$static" -eq 0 ] || exit 1
exit "$tests"
