import { createReadStream, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import * as path from 'node:path';
import { EventBus, ownerLabels, requiredPlugins, type StorageDriver, StorageDriverToken, silentLogger } from '@berth/core';
import { isMountPoint, mountAll } from '@berth/native';
import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import overlay from '@berth/storage-overlay';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createEngine, type Engine } from '../src/index.js';
import { removeAndAssertNoMounts } from './support/cleanup.js';

// What a crash leaves between two engines on one data root, and what the next engine's
// start-up makes of it: it decides from the snapshots' owner labels and the records.
const busybox = path.resolve(__dirname, '../../../test/fixtures/.cache/busybox.tar');

function open(dir: string): Promise<Engine> {
  return createEngine({
    dataRoot: path.join(dir, 'data'),
    execRoot: path.join(dir, 'exec'),
    cgroupParent: 'berth-unit-recovery',
    plugins: [overlay, runc, none],
  });
}

/** The storage driver of the engine's data root, opened as the engine opens it (the engine being closed). */
async function driverOf(dir: string): Promise<StorageDriver> {
  const root = path.join(dir, 'data', 'storage', 'overlay');
  const ctx = { root, execRoot: root, dataRoot: path.join(dir, 'data'), cgroupParent: 'berth-unit-recovery', config: {} };
  return overlay.init({
    ...ctx,
    events: new EventBus(),
    log: silentLogger,
    plugins: requiredPlugins('storage/overlay', [], () => undefined),
  });
}

test('a restart removes mounted writable layers without a record and interrupted extractions, and keeps the rest', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-recovery-');
  try {
    let engine = await open(dir);
    await engine.images.load(createReadStream(busybox));
    const kept = await engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
    const keptLayer = (await engine.containers.inspect(kept.Id)).GraphDriver;
    await engine.close();

    // The leftovers of a crash: a container's layer mounted on its rootfs, its record never
    // written; a layer half unpacked, mounted on its extraction directory.
    const storage = await driverOf(dir);
    const lost = 'd'.repeat(64);
    const lostRootfs = path.join(dir, 'data', 'containers', lost, 'rootfs');
    mkdirSync(lostRootfs, { recursive: true });
    mountAll(await storage.prepare(lost, undefined, { labels: ownerLabels('container', lost) }), lostRootfs);
    const extractDir = path.join(dir, 'data', 'tmp', 'extract-0011223344556677');
    mkdirSync(extractDir, { recursive: true });
    mountAll(
      await storage.prepare('extract-0011223344556677', undefined, { labels: ownerLabels('image-extract', 'sha256:x') }),
      extractDir,
    );
    // A snapshot with a 64-hex key that is not a container's: the builder's kind of key.
    await storage.prepare('e'.repeat(64), undefined, { labels: ownerLabels('build', 'b1') });
    await storage.close?.();

    engine = await open(dir);
    try {
      const keys = (await engine.di.resolve(StorageDriverToken).walk()).map((s) => s.key);
      assert.not.ok(keys.includes(lost), 'the orphan container layer is gone');
      assert.not.ok(keys.includes('extract-0011223344556677'), 'the interrupted extraction is gone');
      assert.ok(keys.includes('e'.repeat(64)), 'a snapshot owned by something else stays, whatever its key looks like');
      assert.ok(keys.includes(kept.Id), 'the layer of a container with a record stays');
      assert.not.ok(isMountPoint(lostRootfs), 'the orphan rootfs is unmounted');
      assert.not.ok(existsSync(extractDir), 'the extraction directory is unmounted and gone');
      assert.equal((await engine.containers.inspect(kept.Id)).GraphDriver, keptLayer);
      await engine.containers.remove(kept.Id);
      const storageAgain = engine.di.resolve(StorageDriverToken);
      await storageAgain.remove('e'.repeat(64));
    } finally {
      await engine.close();
    }
  } finally {
    removeAndAssertNoMounts(dir);
  }
});

test.run();
