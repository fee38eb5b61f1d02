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

/**
 * Fill the data pool: preallocated files of 16 MiB, then 1 MiB, then 64 KiB, each size
 * until the filesystem says no (btrfs's free-space figure is an estimate).
 */
function fill(dataRoot: string): void {
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
}

async function unfill(dataRoot: string): Promise<void> {
  for (const name of await fs.readdir(dataRoot)) if (name.startsWith('fill-')) await fs.rm(path.join(dataRoot, name));
}

/** Every btrfs subvolume of the filesystem mounted at `mountPoint`, by path. */
function subvolumes(mountPoint: string): string[] {
  return execFileSync('btrfs', ['subvolume', 'list', '-o', mountPoint], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((line) => line.slice(line.indexOf(' path ') + 6))
    .sort();
}

/** Every file below `dir`, relative, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  return ((await fs.readdir(dir, { recursive: true })) as string[]).sort();
}

/**
 * Run `body` with an engine on a small loop-mounted btrfs data root holding busybox;
 * the engine, the loop mount and the directory go afterwards, also when it fails.
 */
async function onSmallBtrfs(body: (engine: Engine, dataRoot: string) => Promise<void>): Promise<void> {
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
    await body(engine, dataRoot);
  } finally {
    await engine?.close();
    loop?.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('ENOSPC while a layer is unpacked on btrfs: a clear error, no half-committed layer, no leaked subvolume, and it works once there is room', async () => {
  await onSmallBtrfs(async (engine, dataRoot) => {
    fill(dataRoot);
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
    // Each snapshot is one subvolume: any more is a leak (moby#9939).
    assert.is(subvolumes(dataRoot).length, left.length, `no subvolume was leaked: ${subvolumes(dataRoot).join(', ')}`);
    await unfill(dataRoot);
    const made = await engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
    await engine.containers.remove(made.Id);
  });
});

test('ENOSPC in the middle of docker commit on btrfs: a clear error, no image, no half-written blob, no leaked subvolume; it works with room', async () => {
  await onSmallBtrfs(async (engine, dataRoot) => {
    // 24 MiB of incompressible changes: the layer tar the commit writes is bigger than what is left.
    const id = (await engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'head -c 25165824 /dev/urandom > /big'] })).Id;
    await engine.containers.start(id);
    assert.is((await engine.containers.wait(id)).StatusCode, 0);
    const storage = engine.di.resolve(StorageDriverToken);
    const snapshotsBefore = (await storage.walk()).map((s) => s.key).sort();
    const subvolumesBefore = subvolumes(dataRoot);
    const blobsBefore = await filesUnder(path.join(dataRoot, 'blobs'));
    const imagesBefore = (await engine.images.list({})).length;
    fill(dataRoot);
    let failure: Error | undefined;
    try {
      await engine.filesystems.commit(id, { repo: 'full/commit', tag: 'v1' });
    } catch (err) {
      failure = err as Error;
    }
    assert.ok(failure, 'a commit on a full btrfs succeeded');
    assert.match(failure!.message, /no space left on device|ENOSPC|would not fit/i);
    assert.is((await engine.images.list({})).length, imagesBefore, 'no image was made');
    assert.equal(await filesUnder(path.join(dataRoot, 'blobs')), blobsBefore, 'no blob, whole or half, was left');
    assert.equal((await storage.walk()).map((s) => s.key).sort(), snapshotsBefore, 'no snapshot was added');
    assert.equal(subvolumes(dataRoot), subvolumesBefore, 'no subvolume was leaked');
    await unfill(dataRoot);
    const image = await engine.filesystems.commit(id, { repo: 'full/commit', tag: 'v1' });
    const fromIt = (await engine.containers.create({ Image: image, Cmd: ['test', '-s', '/big'] })).Id;
    await engine.containers.start(fromIt);
    assert.is((await engine.containers.wait(fromIt)).StatusCode, 0, 'the committed layer runs');
    for (const c of await engine.containers.list({ all: true })) await engine.containers.remove(c.Id, { force: true });
  });
});

test.run();
