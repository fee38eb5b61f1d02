#!/bin/bash
# Times berth's own start-up and its share of `berth run --rm busybox true` against a
# zero-latency fake daemon: unbundled (tsc output), as one esbuild bundle, and as bin/berth
# runs it (the bundle with its V8 code cache).
# Needs: `npm run build` at the root (the bundle and its cache), hyperfine.
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

# bin/berth loads the bundle with its V8 code cache (scripts/bundle.js); these two load
# the same bundle without the cache, and the tsc output, for comparison.
loader() {
  printf "'use strict';\nrequire('node:module').enableCompileCache?.();\nrequire('%s').main(process.argv.slice(2)).then((c) => process.stdout.write('', () => process.exit(c)));\n" "$1"
}
loader "$root/packages/cli/dist/berth.bundle.js" >"$work/bundle-nocache.js"
loader "$root/packages/cli/dist/src/main.js" >"$work/tsc.js"

hyperfine -N -w 5 -r ${RUNS:-40} --style basic --export-json "$work/times.json" \
  -n 'node -e 0' "$node -e 0" \
  -n 'berth --version' "$node $root/packages/cli/bin/berth --version" \
  -n 'berth run --rm busybox true (tsc output, fake daemon)' "$node $work/tsc.js run --rm busybox true" \
  -n 'berth run --rm busybox true (bundle, fake daemon)' "$node $work/bundle-nocache.js run --rm busybox true" \
  -n 'berth run --rm busybox true (bin/berth: bundle + code cache, fake daemon)' "$node $root/packages/cli/bin/berth run --rm busybox true"

"$node" -e '
for (const r of require(process.argv[1]).results)
  console.log(`${(r.median * 1000).toFixed(1).padStart(6)} ms median  ${r.command}`);
' "$work/times.json"
