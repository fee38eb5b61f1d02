import { createHash } from 'node:crypto';
import { closeSync, constants, promises as fs, mkdtempSync } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { type StorageDriver, snapshotChanges } from '@berth/core';
import { readTar, writeTar } from '@berth/image';
import { AT, mountAll, O_PATH, openAt, unmountAll } from '@berth/native';
import { BtrfsDriver } from '@berth/storage-btrfs';
import { OverlayDriver } from '@berth/storage-overlay';
import { VfsDriver } from '@berth/storage-vfs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { changeEntries } from '../src/rootfs/tree-tar.js';
import { type LoopBtrfs, mountLoopBtrfs } from './support/loop-btrfs.js';

// The differ's layer tar (core's snapshotChanges, then changeEntries): overlay's fast path
// and the tree comparison vfs and btrfs use must give the same bytes for the same work.

const test = suite('layer differ');
let dir: string;

test.before(() => {
  dir = mkdtempSync('/tmp/berth-unit-differ-');
});
let loop: LoopBtrfs | undefined;
test.after(async () => {
  loop?.release();
  unmountAll(dir);
  await fs.rm(dir, { recursive: true, force: true });
});

let mounts = 0;
async function mount(specs: Parameters<typeof mountAll>[0]): Promise<string> {
  const target = path.join(dir, `mnt-${++mounts}`);
  await fs.mkdir(target);
  mountAll(specs, target);
  return target;
}

/** The same work on `driver`: a base layer, then a container that changes it; returns the container's layer tar. */
async function layerTar(driver: StorageDriver): Promise<Buffer> {
  const stamp = new Date('2021-02-03T04:05:06Z');
  const base = await mount(await driver.prepare('base'));
  for (const [name, body] of Object.entries({ 'etc/a': 'a', 'gone/x': 'x', 'opaque/1': '1', 'opaque/2': '2', keep: 'k' })) {
    await fs.mkdir(path.dirname(path.join(base, name)), { recursive: true });
    await fs.writeFile(path.join(base, name), body);
  }
  unmountAll(base);
  await driver.commit('base-c', 'base');
  const child = await mount(await driver.prepare('child', 'base-c'));
  await fs.writeFile(path.join(child, 'etc/a'), 'changed');
  await fs.rm(path.join(child, 'gone'), { recursive: true });
  await fs.rm(path.join(child, 'opaque/1'));
  await fs.rm(path.join(child, 'opaque/2'));
  await fs.writeFile(path.join(child, 'opaque/3'), '3');
  await fs.mkdir(path.join(child, 'new'));
  await fs.link(path.join(child, 'opaque/3'), path.join(child, 'new/hard'));
  for (const name of ['etc/a', 'etc', 'opaque/3', 'opaque', 'new/hard', 'new']) await fs.utimes(path.join(child, name), stamp, stamp);
  const changes = await snapshotChanges(driver, 'child', { mount, unmount: (d) => unmountAll(d) });
  const rootfd = openAt(AT.FDCWD, child, O_PATH | constants.O_DIRECTORY);
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of writeTar(changeEntries(rootfd, changes))) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } finally {
    closeSync(rootfd);
    unmountAll(child);
  }
}

/** A btrfs of the test's own, loop-mounted under `dir` (unmounted by the suite's after hook, detached here). */
function loopBtrfs(): string {
  const mnt = path.join(dir, 'btrfs');
  loop = mountLoopBtrfs(dir, mnt);
  return mnt;
}

test('overlay (its upper directory), vfs and btrfs (a tree comparison) write the same layer tar, with whiteouts and an opaque directory', async () => {
  const overlay = await OverlayDriver.open(path.join(dir, 'overlay'));
  const vfs = await VfsDriver.open(path.join(dir, 'vfs'));
  const btrfs = await BtrfsDriver.open(path.join(loopBtrfs(), 'root'));
  assert.ok(overlay.capabilities.nativeDiff && !vfs.capabilities.nativeDiff && !btrfs.capabilities.nativeDiff);
  const [a, b, c] = [await layerTar(overlay), await layerTar(vfs), await layerTar(btrfs)];
  const names: string[] = [];
  for await (const entry of readTar(Readable.from([a]))) {
    names.push(`${entry.type} ${entry.path}`);
    for await (const _ of entry.body);
  }
  assert.equal(names, [
    'directory etc/',
    'file etc/a',
    'file .wh.gone',
    'directory new/',
    'file new/hard',
    'directory opaque/',
    'file opaque/.wh..wh..opq',
    'hardlink opaque/3',
  ]);
  const digest = (tar: Buffer) => createHash('sha256').update(tar).digest('hex');
  assert.is(digest(b), digest(a), 'vfs wrote another tar than overlay');
  assert.is(digest(c), digest(a), 'btrfs wrote another tar than overlay');
  await overlay.close();
  await vfs.close();
});

test.run();
