#!/usr/bin/env bash
# Set up berth on a fresh Debian machine: Debian packages, npm dependencies, the
# TypeScript build, the native shim and addon, the busybox fixture image.
# Idempotent: run it again after pulling changes.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(runc crun busybox-static btrfs-progs e2fsprogs mount fuse3 fuse-overlayfs libfuse2 iproute2 nftables hyperfine build-essential patch python3 python3-docker docker-compose pkg-config docker-registry skopeo openssl libdeflate-dev git bzip2 xz-utils)
missing=()
for d in "${debs[@]}"; do dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q 'install ok installed' || missing+=("$d"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "setup: npm dependencies"
# `npm install` rather than `npm ci`: npm 11 writes lockfiles without the other
# platforms' optional packages of nx (lerna's engine) and then refuses them in `ci`.
# `install` still takes the versions the lockfile pins.
npm install --no-audit --no-fund --loglevel=error

echo "setup: build (TypeScript, native addon, shim, bundles)"
export PATH="$PWD/node_modules/.bin:$PATH"
make -s -C native/shim
npm run build --silent

echo "setup: busybox fixture image"
bash test/fixtures/make-busybox-image.sh >/dev/null
echo "setup: done"
