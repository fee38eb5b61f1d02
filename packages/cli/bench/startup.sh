#!/bin/bash
# Times berth's own start-up and its share of `berth run --rm busybox true` against a
# zero-latency fake daemon: unbundled (tsc output) and as one esbuild bundle.
# Needs: `npm run build` in packages/client and packages/cli, hyperfine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
node=$root/node_modules/.bin/node
work=$(mktemp -d /tmp/bcli-bench-XXXXXX)
fifo=$work/out
mkfifo "$fifo"
"$node" "$here/fake-run-daemon.js" >"$fifo" &
fake=$!
trap 'kill $fake 2>/dev/null; wait $fake 2>/dev/null; rm -rf "$work"' EXIT
read -r sock <"$fifo"
export BERTH_HOST=unix://$sock

"$root/node_modules/.bin/esbuild" "$root/packages/cli/dist/src/main.js" --bundle --platform=node --target=node22 \
  --outfile="$work/main.js" --log-level=warning
sed "s#require('../dist/src/main.js')#require('./main.js')#" "$root/packages/cli/bin/berth" >"$work/berth"

hyperfine -N -w 5 -r ${RUNS:-40} --style basic --export-json "$work/times.json" \
  -n 'node -e 0' "$node -e 0" \
  -n 'berth --version (tsc)' "$node $root/packages/cli/bin/berth --version" \
  -n 'berth version (tsc)' "$node $root/packages/cli/bin/berth version" \
  -n 'berth version (bundle)' "$node $work/berth version" \
  -n 'berth run --rm busybox true (tsc, fake daemon)' "$node $root/packages/cli/bin/berth run --rm busybox true" \
  -n 'berth run --rm busybox true (bundle, fake daemon)' "$node $work/berth run --rm busybox true"

"$node" -e '
for (const r of require(process.argv[1]).results)
  console.log(`${(r.median * 1000).toFixed(1).padStart(6)} ms median  ${r.command}`);
' "$work/times.json"
