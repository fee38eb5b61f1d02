import { execFileSync } from 'node:child_process';
import { promises as fs, mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkSizeOption,
  isBerthError,
  type MountSpec,
  readOnlyMounts,
  type SnapshotInfo,
  type StorageDriver,
  snapshotChanges,
  treeChanges,
} from '../src/index.js';

// The generic differ on plain directories: treeChanges' rules (opaque directories
// included) and snapshotChanges' choice between a driver's fast path and the comparison.

const test = suite('snapshot differ');
let dir: string;
test.before(() => {
  dir = mkdtempSync('/tmp/berth-unit-core-differ-');
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function write(root: string, files: Record<string, string>): Promise<void> {
  for (const [name, body] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await fs.writeFile(path.join(root, name), body);
  }
}

/** `base` copied to `child` as vfs copies (GNU cp -a: mtimes to the nanosecond, owners, modes). */
async function copy(base: string, child: string): Promise<void> {
  execFileSync('cp', ['-a', base, child]);
}

test('treeChanges: opaque only where every entry the parent held in a directory is gone', async () => {
  const base = path.join(dir, 't1-base');
  const child = path.join(dir, 't1-child');
  await write(base, { 'all/a': 'a', 'all/b': 'b', 'some/a': 'a', 'some/b': 'b', 'file-to-dir': 'f' });
  await copy(base, child);
  await fs.rm(path.join(child, 'all/a'));
  await fs.rm(path.join(child, 'all/b'));
  await fs.writeFile(path.join(child, 'all/c'), 'c');
  await fs.rm(path.join(child, 'some/a'));
  await fs.rm(path.join(child, 'file-to-dir'));
  await write(child, { 'file-to-dir/x': 'x' });
  assert.equal(await treeChanges(child, base), [
    { path: '/all', kind: 'modified', opaque: true },
    { path: '/all/a', kind: 'deleted' },
    { path: '/all/b', kind: 'deleted' },
    { path: '/all/c', kind: 'added' },
    { path: '/file-to-dir', kind: 'modified' },
    { path: '/file-to-dir/x', kind: 'added' },
    { path: '/some', kind: 'modified' },
    { path: '/some/a', kind: 'deleted' },
  ]);
});

/** A driver over plain directories: enough of the contract for snapshotChanges. */
function fakeDriver(
  snapshots: Record<string, SnapshotInfo & { dir: string }>,
  fastPath?: () => Promise<[]>,
): StorageDriver & { removed: string[] } {
  const removed: string[] = [];
  const driver = {
    name: 'fake',
    capabilities: { usage: 'exact', volatile: false, sizeQuota: false, nativeDiff: fastPath !== undefined },
    removed,
    async stat(key: string) {
      const s = snapshots[key];
      if (!s) throw Object.assign(new Error(`no such snapshot: ${key}`), { name: 'NotFound' });
      return s;
    },
    async mounts(key: string): Promise<MountSpec[]> {
      return [{ type: 'bind', source: snapshots[key]!.dir, options: ['rbind', 'rw'] }];
    },
    async view(key: string, parent: string, options: { labels: Record<string, string> }): Promise<MountSpec[]> {
      snapshots[key] = { key, kind: 'view', parent, created: '', labels: options.labels, dir: snapshots[parent]!.dir };
      return [{ type: 'bind', source: snapshots[parent]!.dir, options: ['rbind', 'ro'] }];
    },
    async remove(key: string) {
      removed.push(key);
      delete snapshots[key];
    },
    ...(fastPath ? { changes: fastPath } : {}),
  };
  return driver as unknown as StorageDriver & { removed: string[] };
}

/** "Mounts" a bind by handing back its source: what matters here is which mounts were asked for and undone. */
function recordingMounter() {
  const asked: MountSpec[][] = [];
  const undone: string[] = [];
  return {
    asked,
    undone,
    mount: async (mounts: MountSpec[]) => {
      asked.push(mounts);
      return mounts[0]!.source;
    },
    unmount: (d: string) => {
      undone.push(d);
    },
  };
}

test('snapshotChanges: the fast path when the driver has one, nothing mounted', async () => {
  let called = 0;
  const driver = fakeDriver({}, async () => {
    called++;
    return [];
  });
  const mounter = recordingMounter();
  assert.equal(await snapshotChanges(driver, 'any', mounter), []);
  assert.is(called, 1);
  assert.equal(mounter.asked, []);
});

test('snapshotChanges: without one, a read-only view of the parent labelled `differ`, compared, unmounted and removed', async () => {
  const base = path.join(dir, 't3-base');
  const child = path.join(dir, 't3-child');
  await write(base, { a: 'a' });
  await copy(base, child);
  await write(child, { b: 'b' });
  const snapshots: Record<string, SnapshotInfo & { dir: string }> = {
    parent: { key: 'parent', kind: 'committed', created: '', labels: {}, dir: base },
    ctr: { key: 'ctr', kind: 'active', parent: 'parent', created: '', labels: {}, dir: child },
  };
  const driver = fakeDriver(snapshots);
  const mounter = recordingMounter();
  assert.equal(await snapshotChanges(driver, 'ctr', mounter), [{ path: '/b', kind: 'added' }]);
  assert.ok(
    mounter.asked.every((m) => m[0]!.options.includes('ro') && !m[0]!.options.includes('rw')),
    'mounted writable',
  );
  assert.equal(mounter.undone.sort(), [base, child].sort());
  assert.is(driver.removed.length, 1);
  assert.match(driver.removed[0]!, /^differ-/);
  assert.equal(Object.keys(snapshots).sort(), ['ctr', 'parent']);
});

test('snapshotChanges: the view goes even when the comparison fails; a committed snapshot is InvalidArgument', async () => {
  const snapshots: Record<string, SnapshotInfo & { dir: string }> = {
    parent: { key: 'parent', kind: 'committed', created: '', labels: {}, dir: path.join(dir, 'missing-parent') },
    ctr: { key: 'ctr', kind: 'active', parent: 'parent', created: '', labels: {}, dir: path.join(dir, 'missing-child') },
  };
  const driver = fakeDriver(snapshots);
  const mounter = recordingMounter();
  await snapshotChanges(driver, 'ctr', mounter).then(
    () => assert.unreachable('a comparison of missing trees succeeded'),
    (err: NodeJS.ErrnoException) => assert.is(err.code, 'ENOENT'),
  );
  assert.is(driver.removed.length, 1, 'the view was left behind');
  assert.is(mounter.undone.length, 2);
  await snapshotChanges(driver, 'parent', mounter).then(
    () => assert.unreachable('changes of a committed snapshot'),
    (err) => assert.ok(isBerthError(err, 'InvalidArgument'), String(err)),
  );
});

test('checkSizeOption and readOnlyMounts', () => {
  assert.is(checkSizeOption('btrfs', true, {}), undefined);
  assert.is(checkSizeOption('btrfs', true, { sizeBytes: 1024 }), 1024);
  assert.throws(() => checkSizeOption('overlay', false, { sizeBytes: 1024 }), /not supported by the overlay storage driver/);
  assert.throws(() => checkSizeOption('btrfs', true, { sizeBytes: 1.5 }), /positive number of bytes/);
  assert.equal(readOnlyMounts([{ type: 'bind', source: '/x', options: ['rbind', 'rw'] }]), [
    { type: 'bind', source: '/x', options: ['rbind', 'ro'] },
  ]);
});

test.run();
