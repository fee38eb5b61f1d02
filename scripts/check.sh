#!/usr/bin/env bash
# Everything CI checks except the slow end-to-end suite (test/e2e): lint and format
# (Biome), package boundaries, the type-check of every package with its tests (and of
# test/ and scripts/test), then every unit suite under V8 coverage with the coverage table.
# Ends with one closing line "check: N passed, N failed" (each static step counts as one).
#
#   bash scripts/check.sh            all of it (npm run check)
#   bash scripts/check.sh --static   lint, boundaries and type-check only (for scripts/test.sh,
#                                    whose runner then runs the suites)
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

static_only=0
[ "${1:-}" = "--static" ] && static_only=1

passed=0
failed=0
failures=()
started=$(date +%s%N)

elapsed() { awk -v from="$1" -v to="$(date +%s%N)" 'BEGIN { printf "%.1f", (to - from) / 1e9 }'; }

# step NAME COMMAND...: runs a check, shows its output only when it fails.
step() {
  local name=$1
  shift
  local t0 out
  t0=$(date +%s%N)
  if out=$("$@" 2>&1); then
    passed=$((passed + 1))
    echo "✔ $name ($(elapsed "$t0")s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "✘ $name ($(elapsed "$t0")s)"
    echo "$out"
  fi
}

step "lint (biome check)" biome check . --reporter=concise --max-diagnostics=none
step "package boundaries" node scripts/check-boundaries.js
step "type-check (tsc -b, tsc -p test)" bash -c 'tsc -b && tsc -p test'

if [ "$static_only" = 0 ]; then
  coverage=$(mktemp -d /tmp/berth-coverage-XXXXXX)
  log="$coverage.log"
  trap 'rm -rf "$coverage" "$log"' EXIT
  # Every process of the unit run writes its V8 coverage here; coverage.js credits each
  # file to the package whose tests that process ran.
  NODE_V8_COVERAGE="$coverage" node scripts/run-tests.js packages/ plugins/ native/ scripts | tee "$log"
  closing=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [ -z "$closing" ]; then
    failed=$((failed + 1))
    failures+=("unit tests (the runner printed no closing line)")
  else
    passed=$((passed + $(echo "$closing" | cut -d' ' -f1)))
    failed=$((failed + $(echo "$closing" | cut -d' ' -f3)))
    [ "$(echo "$closing" | cut -d' ' -f3)" = 0 ] || failures+=("unit tests")
  fi
  # Until scripts/run-tests.js runs scripts/test itself, run it here.
  if ! grep -qE '^[✔✘] scripts' "$log"; then
    t0=$(date +%s%N)
    out=$(FORCE_COLOR=0 uvu -r tsx/cjs -r @berth/testkit/timeout scripts/test '\.test\.ts$' 2>&1)
    total=$(echo "$out" | sed -n 's/^ *Total: *\([0-9]*\).*/\1/p')
    ok=$(echo "$out" | sed -n 's/^ *Passed: *\([0-9]*\).*/\1/p')
    if [ -n "$total" ] && [ -n "$ok" ] && [ "$total" = "$ok" ]; then
      passed=$((passed + ok))
      echo "✔ scripts: $ok passed ($(elapsed "$t0")s)"
    else
      passed=$((passed + ${ok:-0}))
      failed=$((failed + ${total:-1} - ${ok:-0}))
      failures+=("scripts")
      echo "✘ scripts ($(elapsed "$t0")s)"
      echo "$out"
    fi
  fi
  echo
  node scripts/coverage.js --from "$coverage" || echo "(coverage report failed)"
fi

echo
echo "check took $(elapsed "$started")s"
[ ${#failures[@]} -eq 0 ] || echo "failing: ${failures[*]}"
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
