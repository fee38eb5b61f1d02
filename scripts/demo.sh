#!/usr/bin/env bash
# The demo: start berthd, load the busybox image built from Debian's busybox-static,
# run real containers through the berth CLI, then stop the daemon it started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
sock=/run/berth/berth.sock
export BERTH_HOST=unix://$sock
berth="$root/bin/berth"

if [ -S "$sock" ] && "$berth" version >/dev/null 2>&1; then
  echo "demo: a berthd is already serving $sock; using it"
  started=""
else
  mkdir -p /run/berth
  "$root/bin/berthd" --log-level warn >/tmp/berthd-demo.log 2>&1 &
  started=$!
  trap 'kill -TERM "$started" 2>/dev/null; wait "$started" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do [ -S "$sock" ] && "$berth" version >/dev/null 2>&1 && break; sleep 0.1; done
  "$berth" version >/dev/null || { echo "demo: berthd did not start:"; cat /tmp/berthd-demo.log; exit 1; }
fi

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step "$berth" load -i test/fixtures/.cache/busybox.tar
step "$berth" images
step "$berth" run --rm busybox sh -c 'echo "hello from $(hostname), pid $$, in $(cat /proc/1/comm)"; ip link 2>/dev/null | grep -c "^[0-9]" | sed "s/^/network links: /"'
step "$berth" run -d --name berth-demo busybox sh -c 'while true; do echo tick; sleep 1; done'
step "$berth" ps
sleep 1.5
step "$berth" logs berth-demo
step "$berth" stop -t 1 berth-demo
step "$berth" rm berth-demo
set +e
"$berth" run --rm busybox sh -c 'exit 3'
code=$?
set -e
printf '\n$ berth run --rm busybox sh -c "exit 3"  → exit code %s\n' "$code"
step "$berth" plugins ls
echo
echo "demo: done"
