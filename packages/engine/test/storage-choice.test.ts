import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { isBerthError, silentLogger } from '@berth/core';
import { mount, unmountAll } from '@berth/native';
import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import btrfs from '@berth/storage-btrfs';
import overlay from '@berth/storage-overlay';
import vfs from '@berth/storage-vfs';
import { suiteTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createEngine } from '../src/index.js';
import { removeAndAssertNoMounts } from './support/cleanup.js';
import { fuseOverlayfsTestPlugin } from './support/fuse-overlayfs-storage.js';
import { type LoopBtrfs, mountLoopBtrfs } from './support/loop-btrfs.js';

const busybox = path.resolve(__dirname, '../../../test/fixtures/.cache/busybox.tar');

// The storage driver berth picks when the operator names none, and the reason it gives
// (`docker info`'s DriverStatus, the plugin's status, the log): btrfs on a data root on
// btrfs, the first of the kind's priority (overlay, btrfs, fuse, vfs) that works elsewhere:
// fuse where kernel overlayfs cannot mount (a test driver named `fuse` stands in for
// storage-fuse), and an explicit choice that cannot work fails the start.
suiteTimeout(test, 60_000);

test('with no choice, a data root on btrfs runs btrfs, and info says why', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-storage-choice-');
  const dataRoot = path.join(dir, 'data');
  let loop: LoopBtrfs | undefined;
  try {
    loop = mountLoopBtrfs(dir, dataRoot);
    const engine = await createEngine({
      dataRoot: path.join(dataRoot, 'berth'),
      execRoot: path.join(dir, 'exec'),
      cgroupParent: `berth-unit-${path.basename(dir).slice(-6)}`,
      plugins: [overlay, vfs, btrfs, runc, none],
    });
    try {
      const info = await engine.info();
      assert.is(info.Driver, 'btrfs');
      const because = info.DriverStatus.find(([k]) => k === 'Chosen because');
      assert.match(because?.[1] ?? '', /is on btrfs/);
      const overlayStatus = engine.plugins().find((p) => p.kind === 'storage' && p.name === 'overlay');
      assert.match(overlayStatus?.reason ?? '', /not selected: this daemon uses btrfs/);
    } finally {
      await engine.close();
    }
  } finally {
    loop?.release();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('elsewhere, the first of the priority that works, named with the others', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-storage-choice-');
  try {
    const engine = await createEngine({
      dataRoot: path.join(dir, 'data'),
      execRoot: path.join(dir, 'exec'),
      cgroupParent: `berth-unit-${path.basename(dir).slice(-6)}`,
      plugins: [vfs, overlay, runc, none],
    });
    try {
      const info = await engine.info();
      assert.is(info.Driver, 'overlay');
      assert.equal(
        info.DriverStatus.find(([k]) => k === 'Chosen because'),
        ['Chosen because', 'the first of overlay, vfs that works here'],
      );
    } finally {
      await engine.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A data root on a kernel overlayfs mount (a host that is itself a container's overlay
 * root): overlay cannot take an upper layer there (this kernel says "filesystem on ... not
 * supported as upperdir"), FUSE can. The mount is the test's own, under `dir`, and goes
 * after `fn` whatever happens (helpers first: their mounts sit inside it).
 */
async function onOverlayfs(fn: (dir: string, dataRoot: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync('/tmp/berth-unit-storage-choice-');
  const host = path.join(dir, 'host');
  try {
    for (const d of ['lower', 'upper', 'work', 'host']) mkdirSync(path.join(dir, d));
    mount('overlay', host, 'overlay', 0, `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work`);
    await fn(dir, path.join(host, 'data'));
  } finally {
    // The test's own overlay goes; anything the engine left mounted inside it fails the test.
    const inside = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(`${host}/`));
    for (const target of inside.reverse()) unmountAll(target);
    unmountAll(host);
    removeAndAssertNoMounts(dir);
    assert.equal(inside, [], 'nothing left mounted in the data root');
  }
}

test('with no choice, a data root where kernel overlayfs cannot mount runs fuse, and info and the log say why', () =>
  onOverlayfs(async (dir, dataRoot) => {
    const logged: string[] = [];
    const log = { ...silentLogger, info: (message: string) => void logged.push(message) };
    const engine = await createEngine({
      dataRoot,
      execRoot: path.join(dir, 'exec'),
      cgroupParent: `berth-unit-${path.basename(dir).slice(-6)}`,
      plugins: [vfs, overlay, btrfs, fuseOverlayfsTestPlugin('fuse'), runc, none],
      logger: log,
    });
    try {
      const info = await engine.info();
      assert.is(info.Driver, 'fuse');
      const because = info.DriverStatus.find(([k]) => k === 'Chosen because')?.[1] ?? '';
      assert.match(because, /^the first of overlay, btrfs, fuse, vfs that works here \(overlay: .*; btrfs: .*\)$/);
      assert.match(because, /overlay: .*not supported as upperdir|overlay: .*(invalid argument|EINVAL)/i);
      assert.ok(
        logged.some((l) => l.startsWith('storage driver fuse: the first of overlay, btrfs, fuse, vfs')),
        logged.join('\n'),
      );
      const vfsStatus = engine.plugins().find((p) => p.kind === 'storage' && p.name === 'vfs');
      assert.match(vfsStatus?.reason ?? '', /not selected: this daemon uses fuse/);
      // And containers run on it, their rootfs served by the helper.
      await engine.images.load(createReadStream(busybox));
      const id = (await engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'echo on fuse > /where; cat /where'] })).Id;
      await engine.containers.start(id);
      assert.is((await engine.containers.wait(id)).StatusCode, 0);
      await engine.containers.remove(id, { force: true });
    } finally {
      await engine.close();
    }
  }));

test('an explicit overlay where it cannot mount fails the start with the reason, never a silent fallback', () =>
  onOverlayfs(async (dir, dataRoot) => {
    try {
      const engine = await createEngine({
        dataRoot,
        execRoot: path.join(dir, 'exec'),
        cgroupParent: `berth-unit-${path.basename(dir).slice(-6)}`,
        plugins: [vfs, overlay, fuseOverlayfsTestPlugin('fuse'), runc, none],
        storageDriver: 'overlay',
      });
      await engine.close();
      assert.unreachable('the start must fail');
    } catch (err) {
      assert.ok(isBerthError(err, 'InvalidArgument'), String(err));
      assert.match(
        (err as Error).message,
        /^storage driver overlay was chosen with --storage-driver, but it cannot be used here: overlay: /,
      );
    }
  }));

test.run();
