import { execFileSync } from 'node:child_process';
import { createReadStream, promises as fs, mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { SnapshotLabels, StorageDriverToken } from '@berth/core';
import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import btrfs from '@berth/storage-btrfs';
import { suiteTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createEngine, type Engine } from '../src/index.js';
import { type LoopBtrfs, mountLoopBtrfs } from './support/loop-btrfs.js';

// A btrfs data root that runs out of space while an image's layer is unpacked into a
// snapshot (a container's first create): a clear error, no half-made layer or container
// snapshot left, and the same create works once there is room again.
const busybox = path.resolve(__dirname, '../../../test/fixtures/.cache/busybox.tar');
suiteTimeout(test, 60_000);

test('ENOSPC while a layer is unpacked on btrfs: a clear error, no half-committed layer, and it works once there is room', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-btrfs-full-');
  const dataRoot = path.join(dir, 'data');
  let loop: LoopBtrfs | undefined;
  let engine: Engine | undefined;
  try {
    loop = mountLoopBtrfs(dir, dataRoot);
    engine = await createEngine({
      dataRoot,
      execRoot: path.join(dir, 'exec'),
      cgroupParent: `berth-unit-${path.basename(dir).slice(-6)}`,
      plugins: [btrfs, runc, none],
    });
    await engine.images.load(createReadStream(busybox));
    // Fill the data pool: preallocated files of 16 MiB, then 1 MiB, then 64 KiB, each
    // size until the filesystem says no (btrfs's free-space figure is an estimate).
    let files = 0;
    for (const size of [16 << 20, 1 << 20, 64 << 10]) {
      for (;;) {
        try {
          execFileSync('fallocate', ['-l', String(size), path.join(dataRoot, `fill-${files++}`)], { stdio: 'ignore' });
        } catch {
          break;
        }
      }
    }
    let failure: Error | undefined;
    try {
      await engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
    } catch (err) {
      failure = err as Error;
    }
    assert.ok(failure, 'a create on a full btrfs succeeded');
    // applyLayer checks each file against the free space before it writes (or the kernel says ENOSPC).
    assert.match(failure!.message, /would not fit on the filesystem|no space left on device|ENOSPC/i);
    const storage = engine.di.resolve(StorageDriverToken);
    const left = await storage.walk();
    assert.equal(
      left.filter((s) => s.labels[SnapshotLabels.ownerKind] !== 'image' || s.kind !== 'committed').map((s) => s.key),
      [],
      'an extraction or a container snapshot was left behind',
    );
    assert.equal((await engine.containers.list({ all: true })).length, 0);
    for (const name of await fs.readdir(dataRoot)) if (name.startsWith('fill-')) await fs.rm(path.join(dataRoot, name));
    const made = await engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
    await engine.containers.remove(made.Id);
  } finally {
    await engine?.close();
    loop?.release();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
