#!/usr/bin/env bash
# Run every test: each package's unit tests, then the end-to-end tests against a real
# berthd with real containers. Prints the closing line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
exec node scripts/run-tests.js "$@"
