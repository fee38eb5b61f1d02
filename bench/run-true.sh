#!/usr/bin/env bash
# berth run --rm busybox true, side by side with Docker when it is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node_modules/node/bin/node bench/run-true.js "$@"
