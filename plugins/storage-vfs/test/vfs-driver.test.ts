import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PluginSkipped } from '@berth/core';
import { mountAll, unmountAll } from '@berth/native';
import plugin, { type VfsDriver } from '@berth/storage-vfs';
import { pluginContext } from '@berth/testkit';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const init = (root: string) => plugin.init(pluginContext(root)) as Promise<VfsDriver>;

/** A temp dir under /tmp/berth-unit-vfsd-*, unmounted and removed after `body` whatever happens. */
async function inTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp('/tmp/berth-unit-vfsd-');
  try {
    await body(dir);
  } finally {
    unmountAll(dir);
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Bytes stored under `dir` (apparent sizes of regular files). */
async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await fs.stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

test('mount specs are binds: read-write of the own copy, read-only of the parent for a view', () =>
  inTempDir(async (root) => {
    const d = await init(root);
    const [active] = await d.prepare('a');
    assert.is(active!.type, 'bind');
    assert.equal(active!.options, ['rbind', 'rw']);
    assert.match(active!.source, new RegExp(`^${root}/snapshots/[0-9a-f]{16}/fs$`));
    await d.commit('A', 'a');
    assert.equal(await d.view('v', 'A'), [{ type: 'bind', source: active!.source, options: ['rbind', 'ro'] }]);
    const [child] = await d.prepare('b', 'A');
    assert.is.not(child!.source, active!.source);
  }));

test('a child is a full copy; a view copies nothing', () =>
  inTempDir(async (root) => {
    const d = await init(root);
    const target = path.join(root, '..', `${path.basename(root)}-mnt`);
    await fs.mkdir(target);
    try {
      mountAll(await d.prepare('base'), target);
      await fs.writeFile(path.join(target, 'big'), Buffer.alloc(1 << 20));
    } finally {
      unmountAll(target);
      await fs.rm(target, { recursive: true });
    }
    await d.commit('base-c', 'base');
    const one = await bytesUnder(root);
    await d.view('view', 'base-c');
    assert.ok((await bytesUnder(root)) - one < 4096, 'the view copied its parent');
    await d.prepare('child', 'base-c');
    assert.ok((await bytesUnder(root)) - one >= 1 << 20, 'the child did not copy its parent');
  }));

test('open deletes unfinished copies and half-removed snapshots left by a crash', () =>
  inTempDir(async (root) => {
    const d = await init(root);
    await d.prepare('kept');
    await fs.mkdir(path.join(root, 'snapshots', '.new-0123456789abcdef', 'fs'), { recursive: true });
    await fs.mkdir(path.join(root, 'snapshots', '.removing-fedcba9876543210-0a0b0c0d', 'fs'), { recursive: true });
    const again = await init(root);
    assert.equal(
      (await again.walk()).map((s) => s.key),
      ['kept'],
    );
    await again.close?.(); // the half-removed one is deleted in the background
    assert.is((await fs.readdir(path.join(root, 'snapshots'))).length, 1);
  }));

test('status is empty, as Docker reports for vfs', async () => {
  await inTempDir(async (root) => assert.equal(await (await init(root)).status(), []));
});

test('init skips, with the reason, when it cannot copy under its root', () =>
  inTempDir(async (dir) => {
    const root = path.join(dir, 'readonly');
    await fs.mkdir(root);
    mountAll([{ type: 'tmpfs', source: 'tmpfs', options: ['ro', 'size=1m'] }], root);
    const err = await init(root).catch((e: unknown) => e);
    assert.instance(err, PluginSkipped);
    assert.match((err as PluginSkipped).reason, /vfs: a test copy \(cp -a --reflink=auto\) under .*readonly failed: EROFS/);
  }));

test.run();
