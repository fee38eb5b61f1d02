#!/usr/bin/env bash
# The demo: start berthd, load the busybox image built from Debian's busybox-static,
# run real containers through the berth CLI, then stop the daemon it started.
# A berthd already serving /run/berth/berth.sock is used as it is. Otherwise the demo's
# berthd is a private one (its own directory, socket, bridge, nftables table and cgroup
# parent), and everything it made is removed at the end: a demo leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
berth="$root/bin/berth"
sock=/run/berth/berth.sock

if [ -S "$sock" ] && BERTH_HOST=unix://$sock "$berth" version >/dev/null 2>&1; then
  echo "demo: a berthd is already serving $sock; using it"
  export BERTH_HOST=unix://$sock
else
  dir=$(mktemp -d /tmp/berth-demo-XXXXXX)
  sock=$dir/berthd.sock
  export BERTH_HOST=unix://$sock
  bridge=berthdemo0 table=berth_demo cgroup_parent=berth-demo
  "$root/bin/berthd" -H "unix://$sock" --data-root "$dir/data" --exec-root "$dir/exec" \
    --config-file "$dir/none.json" --cgroup-parent "$cgroup_parent" \
    --bridge "$bridge" --nftables-table "$table" --log-level warn >"$dir/berthd.log" 2>&1 &
  started=$!
  finish() {
    "$berth" rm -f berth-demo >/dev/null 2>&1 || true
    kill -TERM "$started" 2>/dev/null || true
    wait "$started" 2>/dev/null || true
    ip link del "$bridge" 2>/dev/null || true
    nft delete table ip "$table" 2>/dev/null || true
    for cg in /sys/fs/cgroup/*/"$cgroup_parent"; do
      [ -d "$cg" ] && { rmdir "$cg/shims" 2>/dev/null || true; rmdir "$cg" 2>/dev/null || true; }
    done
    { grep -o " $dir[^ ]*" /proc/self/mounts || true; } | sort -r | xargs -r -n1 umount -l
    rm -rf "$dir"
  }
  trap finish EXIT
  for _ in $(seq 1 100); do [ -S "$sock" ] && "$berth" version >/dev/null 2>&1 && break; sleep 0.1; done
  "$berth" version >/dev/null || { echo "demo: berthd did not start:"; cat "$dir/berthd.log"; exit 1; }
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
