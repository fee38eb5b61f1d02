import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  MAX_SNAPSHOT_LABEL_BYTES,
  type MountSpec,
  ownerLabels,
  REMOVING_PREFIX,
  type SnapshotChange,
  type SnapshotInfo,
  snapshotChanges,
} from '@berth/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rejectsWith, rejectsWithCode } from './expect-error.js';
import { runStorageCase, type StorageCase, type StorageDriverFactory } from './storage-case.js';
import { suiteTimeout, withTimeout } from './test-timeout.js';
import { getXattr, listTree, mknod, readText, setXattr, writeFiles } from './tree.js';

/** Options of `storageDriverSuite`. */
export interface StorageDriverSuiteOptions {
  /**
   * Prefix of each case's temporary directory, as `fs.mkdtemp` takes it; the driver's
   * root and every mount point live inside. Default: `<os.tmpdir()>/berth-storage-`.
   */
  tempPrefix?: string;
  /** Depth of the long-chain case (default 50, the "deep chain"). */
  chainLength?: number;
  /** Limit of each case in ms (default: the runner's 5 s); a driver that spawns a program per call needs more. */
  caseTimeoutMs?: number;
  /**
   * The module (a path `require` takes) whose default export is the driver's plugin
   * manifest: the crash case initialises it in a child process it kills with SIGKILL
   * in the middle of prepare, commit or remove. Without it the case says it does not apply.
   */
  crashModule?: string;
  /** Deletes what a driver left in a case's root that a recursive rm cannot (btrfs: read-only subvolumes). */
  clearRoot?: (root: string) => Promise<void>;
  /** Runs before the first case: make what `tempPrefix` points into (btrfs: a loop-mounted image). */
  before?: () => Promise<void>;
  /** Runs after the last case, also when cases failed: undo `before`. */
  after?: () => Promise<void>;
}

/**
 * The conformance suite of the StorageDriver contract, after containerd's snapshotter
 * testsuite: registers one uvu suite named `storage driver <name>` and runs it. Every
 * case builds a new driver with `makeDriver(root)` on an empty directory of its own,
 * performs the mounts the driver describes with @berth/native (so it needs root and a
 * real kernel), and unmounts and deletes everything at the end, even on failure.
 *
 * What it expects beyond the interface's types (the error names are core's classes):
 * - unknown key or parent → NotFound; a key or name that exists → Conflict;
 * - removing a snapshot with children → Conflict;
 * - a parent that is not committed, committing a view, asking a committed snapshot
 *   for mounts, labels that core's checkSnapshotLabels refuses → InvalidArgument (for
 *   labels, naming the label, with nothing created or changed);
 * - labels are what prepare, view and commit were given (commit's replace the active
 *   snapshot's), `{}` when none, a copy either way, and they survive a reopen;
 * - usage counts what a snapshot adds over its parent: each new or changed entry is an
 *   inode (a directory whose content changed is a changed entry), each such
 *   non-directory adds its size, hard links count once, the snapshot's root does not count;
 * - changes lists added, modified and deleted paths by the contract's rules, the same
 *   for every driver (overlay reads its upper, vfs compares copies).
 *
 * ```ts
 * import { storageDriverSuite } from '@berth/testkit';
 * storageDriverSuite('mydriver', (root) => MyDriver.open(root));
 * ```
 */
export function storageDriverSuite(name: string, makeDriver: StorageDriverFactory, options: StorageDriverSuiteOptions = {}): void {
  const tempPrefix = options.tempPrefix ?? path.join(os.tmpdir(), 'berth-storage-');
  const chainLength = options.chainLength ?? 50;
  const test = suite(`storage driver ${name}`);
  if (options.caseTimeoutMs !== undefined) suiteTimeout(test, options.caseTimeoutMs);
  if (options.before) test.before(options.before);
  if (options.after) test.after(options.after);
  const check = (title: string, body: (c: StorageCase) => Promise<void>, limitMs?: number) => {
    const run = () => runStorageCase(tempPrefix, makeDriver, body, options.clearRoot);
    test(title, limitMs === undefined ? run : withTimeout(Math.max(limitMs, options.caseTimeoutMs ?? 0), run));
  };

  check('prepare without a parent gives an empty, writable tree; mounts() describes it again', async (c) => {
    const mounts = await c.driver.prepare('base');
    assert.ok(mounts.length > 0, 'prepare returned no mounts');
    assert.equal(await c.driver.mounts('base'), mounts);
    const info = await c.driver.stat('base');
    assert.is(info.key, 'base');
    assert.is(info.kind, 'active');
    assert.is(info.parent, undefined);
    assert.ok(Math.abs(Date.parse(info.created) - Date.now()) < 60_000, `created is not a recent ISO time: ${info.created}`);
    const target = await c.mount(mounts);
    assert.equal(await listTree(target), []);
    await writeFiles(target, { 'hello.txt': 'hello', 'dir/nested.txt': 'nested' });
    c.unmount(target);
    const again = await c.mount(await c.driver.mounts('base'));
    assert.equal(await listTree(again), ['dir/', 'dir/nested.txt', 'hello.txt']);
    assert.is(await readText(path.join(again, 'hello.txt')), 'hello');
  });

  check('a volatile snapshot (PrepareOptions) is a writable snapshot like another, mounted again and again', async (c) => {
    await writeFilesIn(c, await c.driver.prepare('base'), { 'a.txt': 'A' });
    await c.driver.commit('base-c', 'base');
    const mounts = await c.driver.prepare('rm-container', 'base-c', { volatile: true });
    for (let round = 0; round < 2; round++) {
      const target = await c.mount(round === 0 ? mounts : await c.driver.mounts('rm-container'));
      await writeFiles(target, { [`round${round}.txt`]: String(round) });
      assert.is(await readText(path.join(target, 'a.txt')), 'A');
      c.unmount(target);
    }
    const last = await c.mount(await c.driver.mounts('rm-container'));
    assert.equal(await listTree(last), ['a.txt', 'round0.txt', 'round1.txt']);
    assert.is((await c.driver.stat('rm-container')).kind, 'active');
  });

  check('commit turns the active snapshot into a committed one under its new name', async (c) => {
    await writeFilesIn(c, await c.driver.prepare('active-key'), { 'a.txt': 'A' });
    await c.driver.commit('layer-1', 'active-key');
    await rejectsWith(c.driver.stat('active-key'), 'NotFound');
    await rejectsWith(c.driver.mounts('active-key'), 'NotFound');
    const info = await c.driver.stat('layer-1');
    assert.is(info.kind, 'committed');
    assert.is(info.key, 'layer-1');
    await rejectsWith(c.driver.mounts('layer-1'), 'InvalidArgument');
    const view = await c.mount(await c.driver.view('look', 'layer-1'));
    assert.is(await readText(path.join(view, 'a.txt')), 'A');
  });

  check("a child sees its parent's files, and its writes reach neither the parent nor a sibling", async (c) => {
    const base = await c.mount(await c.driver.prepare('base'));
    await writeFiles(base, { 'a.txt': 'A', 'dir/b.txt': 'B', 'private.txt': 'secret' });
    await fs.symlink('a.txt', path.join(base, 'link'));
    await fs.chmod(path.join(base, 'private.txt'), 0o640);
    await fs.chown(path.join(base, 'dir/b.txt'), 1234, 5678);
    const mtime = new Date('2001-02-03T04:05:06Z');
    await fs.utimes(path.join(base, 'a.txt'), mtime, mtime);
    c.unmount(base);
    await c.driver.commit('base-c', 'base');

    const child = await c.mount(await c.driver.prepare('child', 'base-c'));
    assert.equal(await listTree(child), ['a.txt', 'dir/', 'dir/b.txt', 'link', 'private.txt']);
    assert.is(await readText(path.join(child, 'link')), 'A');
    assert.is(await fs.readlink(path.join(child, 'link')), 'a.txt');
    assert.is((await fs.stat(path.join(child, 'private.txt'))).mode & 0o7777, 0o640);
    const owned = await fs.stat(path.join(child, 'dir/b.txt'));
    assert.equal([owned.uid, owned.gid], [1234, 5678]);
    assert.is((await fs.stat(path.join(child, 'a.txt'))).mtimeMs, mtime.getTime());
    await writeFiles(child, { 'a.txt': 'A changed', 'new.txt': 'new', 'dir/c.txt': 'C' });
    await fs.chmod(path.join(child, 'private.txt'), 0o600);

    const sibling = await c.mount(await c.driver.prepare('sibling', 'base-c'));
    const parentView = await c.mount(await c.driver.view('base-view', 'base-c'));
    for (const tree of [sibling, parentView]) {
      assert.equal(await listTree(tree), ['a.txt', 'dir/', 'dir/b.txt', 'link', 'private.txt']);
      assert.is(await readText(path.join(tree, 'a.txt')), 'A');
      assert.is((await fs.stat(path.join(tree, 'private.txt'))).mode & 0o7777, 0o640);
    }
    assert.is(await readText(path.join(child, 'a.txt')), 'A changed');
    assert.equal(await listTree(child), ['a.txt', 'dir/', 'dir/b.txt', 'dir/c.txt', 'link', 'new.txt', 'private.txt']);
  });

  check('device nodes, fifos, hard links and xattrs reach a child intact', async (c) => {
    const base = await c.mount(await c.driver.prepare('base'));
    await writeFiles(base, { file: 'content' });
    await fs.link(path.join(base, 'file'), path.join(base, 'hardlink'));
    await mknod(path.join(base, 'null'), 'c', 1, 3);
    await mknod(path.join(base, 'pipe'), 'p');
    await setXattr(path.join(base, 'file'), 'user.berth', 'kept');
    c.unmount(base);
    await c.driver.commit('base-c', 'base');

    const child = await c.mount(await c.driver.prepare('child', 'base-c'));
    const dev = await fs.lstat(path.join(child, 'null'));
    assert.ok(dev.isCharacterDevice(), 'null is not a character device');
    assert.is(dev.rdev, (await fs.stat('/dev/null')).rdev);
    assert.ok((await fs.lstat(path.join(child, 'pipe'))).isFIFO(), 'pipe is not a fifo');
    const [a, b] = await Promise.all([fs.stat(path.join(child, 'file')), fs.stat(path.join(child, 'hardlink'))]);
    assert.is(a.ino, b.ino, 'the hard link became a copy');
    assert.is(a.nlink, 2);
    assert.is(await getXattr(path.join(child, 'file'), 'user.berth'), 'kept');
  });

  check('a view is read-only with no parent, one parent and several', async (c) => {
    const chain = await commitChain(c, 3);
    for (const [key, parent, expected] of [
      ['view-0', undefined, []],
      ['view-1', chain[0], ['layer-0', 'top']],
      ['view-3', chain[2], ['layer-0', 'layer-1', 'layer-2', 'top']],
    ] as const) {
      const mounts = await c.driver.view(key, parent);
      assert.equal(await c.driver.mounts(key), mounts);
      const info = await c.driver.stat(key);
      assert.is(info.kind, 'view');
      assert.is(info.parent, parent);
      const target = await c.mount(mounts);
      assert.equal(await listTree(target), [...expected], `${key} shows the wrong files`);
      await rejectsWithCode(() => fs.writeFile(path.join(target, 'x'), 'x'), 'EROFS');
      await rejectsWithCode(() => fs.mkdir(path.join(target, 'd')), 'EROFS');
      if (expected.length > 0) await rejectsWithCode(() => fs.rm(path.join(target, 'layer-0')), 'EROFS');
      await rejectsWith(c.driver.commit(`${key}-c`, key), 'InvalidArgument');
    }
  });

  check("deleting a parent's files in a child hides them in the child only, and the deletion is inherited", async (c) => {
    const base = await c.mount(await c.driver.prepare('base'));
    await writeFiles(base, { 'gone.txt': 'g', 'keep.txt': 'k', 'dir/x': 'x', 'dir/y': 'y', 'empty/.keep': '' });
    c.unmount(base);
    await c.driver.commit('base-c', 'base');

    const child = await c.mount(await c.driver.prepare('child', 'base-c'));
    await fs.rm(path.join(child, 'gone.txt'));
    await fs.rm(path.join(child, 'dir'), { recursive: true });
    await writeFiles(child, { 'dir/z': 'z' });
    await fs.rename(path.join(child, 'keep.txt'), path.join(child, 'moved.txt'));
    const expected = ['dir/', 'dir/z', 'empty/', 'empty/.keep', 'moved.txt'];
    assert.equal(await listTree(child), expected);

    const parent = await c.mount(await c.driver.view('base-view', 'base-c'));
    assert.equal(await listTree(parent), ['dir/', 'dir/x', 'dir/y', 'empty/', 'empty/.keep', 'gone.txt', 'keep.txt']);
    c.unmount(child);
    await c.driver.commit('child-c', 'child');

    const grandchild = await c.mount(await c.driver.prepare('grandchild', 'child-c'));
    assert.equal(await listTree(grandchild), expected);
    await writeFiles(grandchild, { 'gone.txt': 'back' });
    assert.is(await readText(path.join(grandchild, 'gone.txt')), 'back');
    const viewOfTwo = await c.mount(await c.driver.view('child-view', 'child-c'));
    assert.equal(await listTree(viewOfTwo), expected);
  });

  check('remove refuses a snapshot that has children, then works once they are gone', async (c) => {
    await c.driver.prepare('base');
    await c.driver.commit('base-c', 'base');
    await c.driver.prepare('child', 'base-c');
    await c.driver.view('look', 'base-c');
    await rejectsWith(c.driver.remove('base-c'), 'Conflict', /base-c/);
    await c.driver.remove('child');
    await rejectsWith(c.driver.remove('base-c'), 'Conflict');
    await c.driver.remove('look');
    await c.driver.remove('base-c');
    assert.equal(await c.driver.walk(), []);
    await rejectsWith(c.driver.stat('base-c'), 'NotFound');
  });

  check('unknown keys and parents are NotFound', async (c) => {
    await rejectsWith(c.driver.remove('nope'), 'NotFound', /nope/);
    await rejectsWith(c.driver.stat('nope'), 'NotFound', /nope/);
    await rejectsWith(c.driver.mounts('nope'), 'NotFound', /nope/);
    await rejectsWith(c.driver.usage('nope'), 'NotFound', /nope/);
    await rejectsWith(c.driver.commit('name', 'nope'), 'NotFound', /nope/);
    await rejectsWith(c.driver.prepare('key', 'no-parent'), 'NotFound', /no-parent/);
    await rejectsWith(c.driver.view('key', 'no-parent'), 'NotFound', /no-parent/);
    assert.equal(await c.driver.walk(), [], 'a failed call left a snapshot behind');
  });

  check('keys and names are one namespace: reusing one is a Conflict', async (c) => {
    await c.driver.prepare('taken');
    await rejectsWith(c.driver.prepare('taken'), 'Conflict', /taken/);
    await rejectsWith(c.driver.view('taken'), 'Conflict');
    await c.driver.prepare('other');
    await c.driver.commit('name', 'other');
    await rejectsWith(c.driver.prepare('name'), 'Conflict');
    await c.driver.prepare('third');
    await rejectsWith(c.driver.commit('name', 'third'), 'Conflict', /name/);
    await rejectsWith(c.driver.commit('taken', 'third'), 'Conflict');
    assert.is((await c.driver.stat('third')).kind, 'active', 'a refused commit changed the snapshot');
  });

  check('a parent must be committed', async (c) => {
    await c.driver.prepare('active');
    await rejectsWith(c.driver.prepare('child', 'active'), 'InvalidArgument', /active/);
    await c.driver.view('view');
    await rejectsWith(c.driver.view('child', 'view'), 'InvalidArgument', /view/);
    assert.equal((await c.driver.walk()).map((s) => s.key).sort(), ['active', 'view']);
  });

  check('walk lists every snapshot with its kind and parent', async (c) => {
    await c.driver.prepare('l1');
    await c.driver.commit('c1', 'l1');
    await c.driver.prepare('l2', 'c1');
    await c.driver.commit('c2', 'l2');
    await c.driver.prepare('container', 'c2');
    await c.driver.view('view', 'c1');
    await c.driver.prepare('lonely');
    const brief = (s: SnapshotInfo) => `${s.key}:${s.kind}:${s.parent ?? '-'}`;
    const expected = ['c1:committed:-', 'c2:committed:c1', 'container:active:c2', 'lonely:active:-', 'view:view:c1'];
    assert.equal((await c.driver.walk()).map(brief).sort(), expected);
    for (const info of await c.driver.walk()) assert.equal(await c.driver.stat(info.key), info);
  });

  check('labels given to prepare, view and commit are what stat and walk return; none is {}', async (c) => {
    const extracting = { ...ownerLabels('image-extract', 'sha256:abc'), 'any=,:\nkey': 'ünï\ncode', empty: '' };
    await c.driver.prepare('extract', undefined, { labels: extracting });
    assert.equal((await c.driver.stat('extract')).labels, extracting);
    await c.driver.commit('layer', 'extract', { labels: ownerLabels('image', 'layer') });
    assert.equal((await c.driver.stat('layer')).labels, ownerLabels('image', 'layer'), "commit merged the active snapshot's labels in");
    await c.driver.prepare('container', 'layer', { labels: ownerLabels('container', 'c1'), volatile: true });
    await c.driver.view('view', 'layer', { labels: { purpose: 'look' } });
    await c.driver.prepare('bare', 'layer');
    await c.driver.view('bare-view');
    await c.driver.prepare('dropped', undefined, { labels: { temporary: 'yes' } });
    await c.driver.commit('dropped-c', 'dropped');
    assert.equal((await c.driver.stat('dropped-c')).labels, {}, "a commit without labels kept the active snapshot's");
    const expected: Record<string, Record<string, string>> = {
      layer: ownerLabels('image', 'layer'),
      container: ownerLabels('container', 'c1'),
      view: { purpose: 'look' },
      bare: {},
      'bare-view': {},
      'dropped-c': {},
    };
    const walked = await c.driver.walk();
    assert.equal(Object.fromEntries(walked.map((s) => [s.key, s.labels])), expected);
    for (const info of walked) assert.equal(await c.driver.stat(info.key), info);
  });

  check('labels survive re-creating the driver on the same root', async (c) => {
    await c.driver.prepare('extract', undefined, { labels: ownerLabels('image-extract', 'layer') });
    await c.driver.commit('layer', 'extract', { labels: ownerLabels('image', 'layer') });
    await c.driver.prepare('container', 'layer', { labels: ownerLabels('container', 'c1') });
    await c.driver.view('view', 'layer', { labels: { purpose: 'look' } });
    await c.driver.prepare('half-extracted', 'layer', { labels: ownerLabels('image-extract', 'next') });
    await c.driver.prepare('bare');
    const before = sortByKey(await c.driver.walk());
    assert.equal(
      before.map((s) => [s.key, Object.keys(s.labels).length > 0]),
      [
        ['bare', false],
        ['container', true],
        ['half-extracted', true],
        ['layer', true],
        ['view', true],
      ],
    );

    const driver = await c.reopen();
    assert.equal(sortByKey(await driver.walk()), before);
    assert.equal((await driver.stat('half-extracted')).labels, ownerLabels('image-extract', 'next'));
    await driver.commit('next', 'half-extracted', { labels: ownerLabels('image', 'next') });
    assert.equal((await (await c.reopen()).stat('next')).labels, ownerLabels('image', 'next'));
  });

  check('labels are copies: changing what was given or returned changes nothing in the driver', async (c) => {
    const given = { owner: 'first' };
    await c.driver.prepare('a', undefined, { labels: given });
    given.owner = 'changed after prepare';
    const info = await c.driver.stat('a');
    assert.equal(info.labels, { owner: 'first' });
    info.labels.owner = 'changed in the result';
    (await c.driver.walk())[0]!.labels.added = 'by walk';
    assert.equal((await c.driver.stat('a')).labels, { owner: 'first' });
  });

  check('invalid labels are refused with InvalidArgument naming the label, and nothing is created or changed', async (c) => {
    await c.driver.prepare('base');
    await c.driver.commit('base-c', 'base');
    await c.driver.prepare('active', 'base-c', { labels: { keep: 'me' } });
    const before = sortByKey(await c.driver.walk());
    const tree = await listTree(c.root);
    const tooMany = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`big-${i}`, 'x'.repeat(4000)]));
    const refused: Array<[unknown, RegExp]> = [
      [{ fine: 'yes', 'berth.owner.id': 42 }, /berth\.owner\.id.*string/],
      [{ nothing: null }, /nothing/],
      [{ '': 'x' }, /empty key/],
      [{ huge: 'x'.repeat(MAX_SNAPSHOT_LABEL_BYTES) }, /huge.*bytes/],
      [tooMany, /labels take \d+ bytes in all/],
      [['not', 'an', 'object'], /labels must be an object/],
      ['owner=me', /labels must be an object/],
    ];
    for (const [labels, message] of refused) {
      const options = { labels: labels as Record<string, string> };
      await rejectsWith(c.driver.prepare('new', 'base-c', options), 'InvalidArgument', message);
      await rejectsWith(c.driver.prepare('new-empty', undefined, options), 'InvalidArgument', message);
      await rejectsWith(c.driver.view('new-view', 'base-c', options), 'InvalidArgument', message);
      await rejectsWith(c.driver.commit('new-c', 'active', options), 'InvalidArgument', message);
    }
    assert.equal(sortByKey(await c.driver.walk()), before, 'a refused call changed the snapshots');
    assert.equal(await listTree(c.root), tree, 'a refused call left something on disk');
    await c.driver.commit('active-c', 'active', { labels: { fine: 'now' } });
    assert.equal((await c.driver.stat('active-c')).labels, { fine: 'now' });
  });

  check('usage counts the bytes and inodes a snapshot adds over its parent (exactly where the driver says exact)', async (c) => {
    // An approximate driver's figures (blocks, extents) only have to be in the right range.
    const usageIs = async (key: string, expected: { bytes: number; inodes: number }, message?: string) => {
      const usage = await c.driver.usage(key);
      if (c.driver.capabilities.usage === 'exact') return assert.equal(usage, expected, message);
      assert.ok(
        usage.bytes >= expected.bytes && usage.bytes <= expected.bytes + (1 << 20) + expected.inodes * 65536,
        `${key}: ${usage.bytes} bytes`,
      );
    };
    await c.driver.prepare('empty');
    await usageIs('empty', { bytes: 0, inodes: 0 });
    const base = await c.mount(await c.driver.prepare('base'));
    await writeFiles(base, { 'd/a': 1000, b: 3000 });
    await fs.link(path.join(base, 'b'), path.join(base, 'c'));
    await fs.symlink('b', path.join(base, 's'));
    c.unmount(base);
    // d, d/a, b (= c), s; bytes: 1000 + 3000 + the symlink's 1
    const baseUsage = { bytes: 4001, inodes: 4 };
    await usageIs('base', baseUsage);
    await c.driver.commit('base-c', 'base');
    await usageIs('base-c', baseUsage);

    const childMounts = await c.driver.prepare('child', 'base-c');
    await usageIs('child', { bytes: 0, inodes: 0 }, 'a fresh child adds nothing');
    const child = await c.mount(childMounts);
    await writeFiles(child, { 'd/new': 200, top: 50 });
    c.unmount(child);
    // d (changed), d/new, top
    await usageIs('child', { bytes: 250, inodes: 3 });
  });

  check('changes: a snapshot without parent adds everything; a fresh child changes nothing', async (c) => {
    const base = await c.mount(await c.driver.prepare('base'));
    await writeFiles(base, { 'a.txt': 'A', 'dir/b.txt': 'B' });
    await fs.symlink('a.txt', path.join(base, 'link'));
    c.unmount(base);
    assert.equal(await diffOf(c, 'base'), [
      { path: '/a.txt', kind: 'added' },
      { path: '/dir', kind: 'added' },
      { path: '/dir/b.txt', kind: 'added' },
      { path: '/link', kind: 'added' },
    ]);
    await c.driver.commit('base-c', 'base');
    await c.driver.prepare('child', 'base-c');
    assert.equal(await diffOf(c, 'child'), []);
  });

  check('changes: added, modified and deleted paths, with the directories above them modified', async (c) => {
    const base = await c.mount(await c.driver.prepare('base'));
    await writeFiles(base, { 'a.txt': 'A', 'same.txt': 'S', 'dir/b.txt': 'B', 'dir/sub/c.txt': 'C', 'gone/x.txt': 'X', 'keep/k.txt': 'K' });
    await fs.symlink('a.txt', path.join(base, 'link'));
    c.unmount(base);
    await c.driver.commit('base-c', 'base');
    const child = await c.mount(await c.driver.prepare('child', 'base-c'));
    await writeFiles(child, { 'a.txt': 'A changed', 'dir/new.txt': 'N', 'newdir/inner/deep.txt': 'D' });
    await fs.rm(path.join(child, 'gone'), { recursive: true });
    await fs.rm(path.join(child, 'dir/sub/c.txt'));
    await fs.chmod(path.join(child, 'keep'), 0o700);
    await fs.rm(path.join(child, 'link'));
    await fs.symlink('same.txt', path.join(child, 'link'));
    c.unmount(child);
    assert.equal(await diffOf(c, 'child'), [
      { path: '/a.txt', kind: 'modified' },
      { path: '/dir', kind: 'modified' },
      { path: '/dir/new.txt', kind: 'added' },
      // Its only entry is deleted: opaque by the contract's rule (SnapshotChange.opaque).
      { path: '/dir/sub', kind: 'modified', opaque: true },
      { path: '/dir/sub/c.txt', kind: 'deleted' },
      { path: '/gone', kind: 'deleted' },
      { path: '/keep', kind: 'modified' },
      { path: '/link', kind: 'modified' },
      { path: '/newdir', kind: 'added' },
      { path: '/newdir/inner', kind: 'added' },
      { path: '/newdir/inner/deep.txt', kind: 'added' },
    ]);
  });

  check('changes: a directory deleted and made again deletes what it held; deletions in lower layers are not changes', async (c) => {
    await writeFilesIn(c, await c.driver.prepare('l1'), { 'd/old1': '1', 'd/old2': '2', x: 'x', y: 'y' });
    await c.driver.commit('l1-c', 'l1');
    const l2 = await c.mount(await c.driver.prepare('l2', 'l1-c'));
    await fs.rm(path.join(l2, 'x'));
    c.unmount(l2);
    await c.driver.commit('l2-c', 'l2');
    const child = await c.mount(await c.driver.prepare('child', 'l2-c'));
    await fs.rm(path.join(child, 'd'), { recursive: true });
    await writeFiles(child, { 'd/new': 'N', x: 'again' });
    c.unmount(child);
    assert.equal(await diffOf(c, 'child'), [
      { path: '/d', kind: 'modified', opaque: true },
      { path: '/d/new', kind: 'added' },
      { path: '/d/old1', kind: 'deleted' },
      { path: '/d/old2', kind: 'deleted' },
      { path: '/x', kind: 'added' },
    ]);
  });

  check('changes: only an active snapshot has them (InvalidArgument), an unknown key is NotFound', async (c) => {
    await c.driver.prepare('base');
    await c.driver.commit('base-c', 'base');
    await c.driver.view('look', 'base-c');
    await rejectsWith(diffOf(c, 'base-c'), 'InvalidArgument', /base-c/);
    await rejectsWith(diffOf(c, 'look'), 'InvalidArgument', /look/);
    await rejectsWith(diffOf(c, 'nope'), 'NotFound', /nope/);
  });

  check(`a chain of ${chainLength} layers mounts with every layer's files`, async (c) => {
    const chain = await commitChain(c, chainLength);
    const top = await c.mount(await c.driver.prepare('container', chain[chain.length - 1]));
    const files = await listTree(top);
    assert.is(files.length, chainLength + 1);
    for (let i = 0; i < chainLength; i++) assert.ok(files.includes(`layer-${i}`), `layer-${i} is missing`);
    assert.is(await readText(path.join(top, 'top')), String(chainLength - 1));
    await writeFiles(top, { top: 'container' });
    const view = await c.mount(await c.driver.view('view', chain[chain.length - 1]));
    assert.is(await readText(path.join(view, 'top')), String(chainLength - 1));
  });

  check('state survives re-creating the driver on the same root', async (c) => {
    await writeFilesIn(c, await c.driver.prepare('base'), { 'base.txt': 'base' });
    await c.driver.commit('base-c', 'base');
    const childMounts = await c.driver.prepare('child', 'base-c');
    await writeFilesIn(c, childMounts, { 'child.txt': 'child' });
    await c.driver.view('view', 'base-c');
    const before = await c.driver.walk();

    const driver = await c.reopen();
    assert.equal(sortByKey(await driver.walk()), sortByKey(before));
    assert.equal(await driver.mounts('child'), childMounts);
    const child = await c.mount(await driver.mounts('child'));
    assert.equal(await listTree(child), ['base.txt', 'child.txt']);
    await rejectsWith(driver.remove('base-c'), 'Conflict');
    const fresh = await c.mount(await driver.prepare('fresh', 'base-c'));
    assert.equal(await listTree(fresh), ['base.txt'], "a new snapshot reused an old one's files");
  });

  check('keys may hold any character and never become paths', async (c) => {
    const keys = ['../../escape', 'a/b c:d,e', `sha256:${'f'.repeat(64)}`, 'ünï\ncode'];
    for (const key of keys) {
      const target = await c.mount(await c.driver.prepare(key));
      await writeFiles(target, { owner: key });
      c.unmount(target);
      await c.driver.commit(`${key}@c`, key);
      const child = await c.mount(await c.driver.prepare(`${key}@child`, `${key}@c`));
      assert.is(await readText(path.join(child, 'owner')), key);
    }
    const outside = (await fs.readdir(c.dir)).filter((n) => n !== 'root' && !n.startsWith('mnt-'));
    assert.equal(outside, [], 'the driver wrote outside its root');
    assert.is((await c.driver.walk()).length, keys.length * 2);
  });

  check('concurrent prepares on one parent get separate snapshots', async (c) => {
    await writeFilesIn(c, await c.driver.prepare('base'), { shared: 'base' });
    await c.driver.commit('base-c', 'base');
    const keys = Array.from({ length: 8 }, (_, i) => `c${i}`);
    const all = await Promise.all(keys.map((k) => c.driver.prepare(k, 'base-c')));
    const targets: string[] = [];
    for (const [i, mounts] of all.entries()) {
      const target = await c.mount(mounts);
      await writeFiles(target, { [`own-${i}`]: keys[i]! });
      targets.push(target);
    }
    for (const [i, target] of targets.entries()) assert.equal(await listTree(target), [`own-${i}`, 'shared']);
    const racing = await Promise.allSettled([c.driver.prepare('dup', 'base-c'), c.driver.prepare('dup', 'base-c')]);
    assert.equal(racing.map((r) => r.status).sort(), ['fulfilled', 'rejected'], 'two prepares of one key both ended the same way');
    const refused = racing.find((r) => r.status === 'rejected');
    assert.ok(refused, 'one of the racing prepares is refused');
    assert.is(((refused as PromiseRejectedResult).reason as Error).name, 'Conflict');
  });

  check('capabilities are declared, and a size limit is refused where it cannot be enforced', async (c) => {
    const caps = c.driver.capabilities;
    assert.ok(caps.usage === 'exact' || caps.usage === 'approximate', `usage capability ${String(caps.usage)}`);
    for (const flag of ['volatile', 'sizeQuota', 'nativeDiff'] as const) assert.type(caps[flag], 'boolean', flag);
    assert.is(typeof c.driver.changes === 'function', caps.nativeDiff, 'changes() is present exactly when nativeDiff says so');
    if (!caps.sizeQuota) {
      await rejectsWith(c.driver.prepare('sized', undefined, { sizeBytes: 1 << 30 }), 'InvalidArgument', new RegExp(c.driver.name));
      assert.equal(await c.driver.walk(), [], 'a refused prepare created a snapshot');
      return;
    }
    await rejectsWith(c.driver.prepare('sized', undefined, { sizeBytes: 0 }), 'InvalidArgument');
    await writeFilesIn(c, await c.driver.prepare('sized', undefined, { sizeBytes: 1 << 30 }), { small: 1000 });
  });

  check('whiteouts and opaque directories of a middle layer hide what the layers below hold', async (c) => {
    await writeFilesIn(c, await c.driver.prepare('l1'), { 'd/a': 'a', 'd/b': 'b', 'o/old1': '1', 'o/old2': '2', 'o/sub/x': 'x' });
    await c.driver.commit('l1-c', 'l1');
    const l2 = await c.mount(await c.driver.prepare('l2', 'l1-c'));
    await fs.rm(path.join(l2, 'd/a'));
    await fs.rm(path.join(l2, 'o'), { recursive: true });
    await writeFiles(l2, { 'o/new': 'n' });
    c.unmount(l2);
    await c.driver.commit('l2-c', 'l2');
    const child = await c.mount(await c.driver.prepare('child', 'l2-c'));
    assert.equal(await listTree(child), ['d/', 'd/b', 'o/', 'o/new']);
    const view = await c.mount(await c.driver.view('look', 'l2-c'));
    assert.equal(await listTree(view), ['d/', 'd/b', 'o/', 'o/new']);
  });

  check('hard links: linked in a child until one name is written; a link made in a child to a lower file shares its content', async (c) => {
    const base = await c.mount(await c.driver.prepare('base'));
    await writeFiles(base, { a: 'shared', other: 'o' });
    await fs.link(path.join(base, 'a'), path.join(base, 'b'));
    c.unmount(base);
    await c.driver.commit('base-c', 'base');
    const child = await c.mount(await c.driver.prepare('child', 'base-c'));
    const [a, b] = [await fs.stat(path.join(child, 'a')), await fs.stat(path.join(child, 'b'))];
    assert.is(a.ino, b.ino, 'a and b are one inode in the child');
    assert.ok(a.nlink >= 2, `nlink ${a.nlink}`);
    await fs.link(path.join(child, 'other'), path.join(child, 'other-link'));
    await fs.appendFile(path.join(child, 'other-link'), '+');
    assert.is(await readText(path.join(child, 'other')), 'o+', 'the new link and the copied-up file are one inode');
    await fs.appendFile(path.join(child, 'a'), ' and written');
    assert.is(await readText(path.join(child, 'a')), 'shared and written');
    // overlay without its index (berth pins index=off) breaks a lower hard link at copy-up: b keeps the old content there.
    assert.ok(['shared', 'shared and written'].includes(await readText(path.join(child, 'b'))));
    c.unmount(child);
    const changes = await diffOf(c, 'child');
    assert.ok(
      changes.some((ch) => ch.path === '/a' && ch.kind === 'modified'),
      JSON.stringify(changes),
    );
    assert.ok(
      changes.some((ch) => ch.path === '/other-link' && ch.kind === 'added'),
      JSON.stringify(changes),
    );
  });

  check('modes, owners and xattrs survive a copy-up, and a mode change alone is a change', async (c) => {
    const base = await c.mount(await c.driver.prepare('base'));
    await writeFiles(base, { 'bin/tool': '#!/bin/sh', 'tmp/.keep': '', 'data/file': 'd' });
    await fs.chmod(path.join(base, 'bin/tool'), 0o4755);
    await fs.chmod(path.join(base, 'tmp'), 0o1777);
    await fs.chown(path.join(base, 'data/file'), 4321, 8765);
    await setXattr(path.join(base, 'data/file'), 'user.berth', 'kept');
    c.unmount(base);
    await c.driver.commit('base-c', 'base');
    const child = await c.mount(await c.driver.prepare('child', 'base-c'));
    await fs.appendFile(path.join(child, 'data/file'), '+');
    await fs.chmod(path.join(child, 'bin/tool'), 0o755);
    const file = await fs.stat(path.join(child, 'data/file'));
    assert.equal([file.uid, file.gid], [4321, 8765], 'the owner survives the copy-up');
    assert.is(await getXattr(path.join(child, 'data/file'), 'user.berth'), 'kept', 'the xattr survives the copy-up');
    assert.is((await fs.stat(path.join(child, 'tmp'))).mode & 0o7777, 0o1777);
    assert.is((await fs.stat(path.join(child, 'bin/tool'))).mode & 0o7777, 0o755);
    c.unmount(child);
    assert.equal(await diffOf(c, 'child'), [
      { path: '/bin', kind: 'modified' },
      { path: '/bin/tool', kind: 'modified' },
      { path: '/data', kind: 'modified' },
      { path: '/data/file', kind: 'modified' },
    ]);
  });

  check('a file replaced by a directory and back, across layers and in a child', async (c) => {
    await writeFilesIn(c, await c.driver.prepare('l1'), { p: 'file', q: 'file' });
    await c.driver.commit('l1-c', 'l1');
    const l2 = await c.mount(await c.driver.prepare('l2', 'l1-c'));
    await fs.rm(path.join(l2, 'p'));
    await writeFiles(l2, { 'p/inside': 'i' });
    c.unmount(l2);
    await c.driver.commit('l2-c', 'l2');
    const l3 = await c.mount(await c.driver.prepare('l3', 'l2-c'));
    assert.equal(await listTree(l3), ['p/', 'p/inside', 'q']);
    await fs.rm(path.join(l3, 'p'), { recursive: true });
    await writeFiles(l3, { p: 'file again' });
    c.unmount(l3);
    await c.driver.commit('l3-c', 'l3');
    const child = await c.mount(await c.driver.prepare('child', 'l3-c'));
    assert.equal(await listTree(child), ['p', 'q']);
    assert.is(await readText(path.join(child, 'p')), 'file again');
    await fs.rm(path.join(child, 'q'));
    await writeFiles(child, { 'q/now-a-dir': 'd' });
    c.unmount(child);
    assert.equal(await diffOf(c, 'child'), [
      { path: '/q', kind: 'modified' },
      { path: '/q/now-a-dir', kind: 'added' },
    ]);
  });

  check('a lower directory renamed in a child: the old name deleted, the new one added with its content', async (c) => {
    await writeFilesIn(c, await c.driver.prepare('base'), { 'd/a': 'a', 'd/sub/b': 'b', keep: 'k' });
    await c.driver.commit('base-c', 'base');
    const child = await c.mount(await c.driver.prepare('child', 'base-c'));
    try {
      await fs.rename(path.join(child, 'd'), path.join(child, 'e'));
    } catch (err) {
      // overlay without redirect_dir answers EXDEV for a lower directory, and mv copies: so does this.
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await fs.cp(path.join(child, 'd'), path.join(child, 'e'), { recursive: true, preserveTimestamps: true });
      await fs.rm(path.join(child, 'd'), { recursive: true });
    }
    assert.equal(await listTree(child), ['e/', 'e/a', 'e/sub/', 'e/sub/b', 'keep']);
    c.unmount(child);
    assert.equal(await diffOf(c, 'child'), [
      { path: '/d', kind: 'deleted' },
      { path: '/e', kind: 'added' },
      { path: '/e/a', kind: 'added' },
      { path: '/e/sub', kind: 'added' },
      { path: '/e/sub/b', kind: 'added' },
    ]);
    await c.driver.commit('child-c', 'child');
    const next = await c.mount(await c.driver.prepare('next', 'child-c'));
    assert.equal(await listTree(next), ['e/', 'e/a', 'e/sub/', 'e/sub/b', 'keep']);
  });

  check('large and sparse files keep their size and content through a layer and a copy-up', async (c) => {
    const size = 256 << 20;
    const base = await c.mount(await c.driver.prepare('base'));
    const sparse = await fs.open(path.join(base, 'sparse'), 'w');
    await sparse.write(Buffer.from('start'), 0, 5, 0);
    await sparse.write(Buffer.from('end'), 0, 3, size - 3);
    await sparse.close();
    await writeFiles(base, { dense: 8 << 20 });
    c.unmount(base);
    await c.driver.commit('base-c', 'base');
    const child = await c.mount(await c.driver.prepare('child', 'base-c'));
    assert.is((await fs.stat(path.join(child, 'sparse'))).size, size);
    const fh = await fs.open(path.join(child, 'sparse'), 'r+');
    await fh.write(Buffer.from('middle'), 0, 6, size / 2);
    const tail = Buffer.alloc(3);
    await fh.read(tail, 0, 3, size - 3);
    await fh.close();
    assert.is(tail.toString(), 'end');
    const st = await fs.stat(path.join(child, 'sparse'));
    assert.is(st.size, size);
    assert.ok(st.blocks * 512 < size / 4, `the copied-up sparse file takes ${st.blocks * 512} bytes on disk`);
    assert.is((await fs.stat(path.join(child, 'dense'))).size, 8 << 20);
    c.unmount(child);
    if (c.driver.capabilities.usage === 'exact') assert.equal(await c.driver.usage('child'), { bytes: size, inodes: 1 });
  });

  check('concurrent containers on one image write, diff and go without touching each other', async (c) => {
    await writeFilesIn(c, await c.driver.prepare('image'), { 'etc/conf': 'base', shared: 's' });
    await c.driver.commit('image-c', 'image');
    const keys = Array.from({ length: 6 }, (_, i) => `ctr-${i}`);
    await Promise.all(
      keys.map(async (key, i) => {
        const target = await c.mount(await c.driver.prepare(key, 'image-c'));
        await writeFiles(target, { 'etc/conf': key, [`own-${i}`]: key });
        c.unmount(target);
      }),
    );
    const diffs = await Promise.all(keys.map((key) => diffOf(c, key)));
    for (const [i, changes] of diffs.entries()) {
      assert.equal(changes, [
        { path: '/etc', kind: 'modified' },
        { path: '/etc/conf', kind: 'modified' },
        { path: `/own-${i}`, kind: 'added' },
      ]);
    }
    await Promise.all(keys.map((key) => c.driver.remove(key)));
    const view = await c.mount(await c.driver.view('after', 'image-c'));
    assert.equal(await listTree(view), ['etc/', 'etc/conf', 'shared']);
    assert.is(await readText(path.join(view, 'etc/conf')), 'base');
  });

  check('the differ gives every driver the same changes and files for the same work (hence the same layer tar)', async (c) => {
    const stamp = new Date('2020-01-02T03:04:05Z');
    const base = await c.mount(await c.driver.prepare('base'));
    await writeFiles(base, { 'etc/a': 'a', 'etc/b': 'b', 'gone/x': 'x', 'opaque/1': '1', 'opaque/2': '2' });
    c.unmount(base);
    await c.driver.commit('base-c', 'base');
    const child = await c.mount(await c.driver.prepare('child', 'base-c'));
    await writeFiles(child, { 'etc/a': 'A', 'new/deep/file': 'n', 'opaque/3': '3' });
    await fs.rm(path.join(child, 'gone'), { recursive: true });
    await fs.rm(path.join(child, 'opaque/1'));
    await fs.rm(path.join(child, 'opaque/2'));
    await fs.symlink('../etc/a', path.join(child, 'new/link'));
    const changes = await diffOf(c, 'child');
    const canonical: string[] = [];
    for (const change of changes) {
      const file = path.join(child, change.path);
      if (change.kind !== 'deleted') await fs.lutimes(file, stamp, stamp);
      const st = change.kind === 'deleted' ? undefined : await fs.lstat(file);
      const content = st?.isFile() ? await readText(file) : st?.isSymbolicLink() ? `-> ${await fs.readlink(file)}` : '';
      canonical.push(
        `${change.kind} ${change.path}${change.opaque ? ' opaque' : ''} ${st ? (st.mode & 0o170000).toString(8) : ''} ${content}`,
      );
    }
    assert.equal(canonical, [
      'modified /etc 40000 ',
      'modified /etc/a 100000 A',
      'deleted /gone  ',
      'added /new 40000 ',
      'added /new/deep 40000 ',
      'added /new/deep/file 100000 n',
      'added /new/link 120000 -> ../etc/a',
      'modified /opaque opaque 40000 ',
      'deleted /opaque/1  ',
      'deleted /opaque/2  ',
      'added /opaque/3 100000 3',
    ]);
  });

  check(
    'after kill -9 in the middle of prepare, commit or remove, the driver opens whole and frees everything',
    async (c) => {
      if (!options.crashModule) {
        console.log(`  storage driver ${name}: the crash case does not apply: no crashModule given to run the driver in a child process`);
        return;
      }
      await c.driver.prepare('warm-up');
      await c.driver.remove('warm-up');
      await c.driver.close?.();
      const baseline = await settledTree(c.root);
      for (let round = 0; round < 4; round++) {
        const mountDir = path.join(c.dir, `crash-${round}`);
        await killMidway(options.crashModule, c.root, mountDir, 200 + Math.floor(Math.random() * 500));
        // What the engine does first after a crash: unmount what the dead process left mounted.
        c.unmount(mountDir);
        const driver = await c.reopen();
        const all = await driver.walk();
        const byKey = new Map(all.map((s) => [s.key, s]));
        for (const s of all) {
          if (s.parent === undefined) continue;
          assert.is(byKey.get(s.parent)?.kind, 'committed', `round ${round}: ${s.key}'s parent ${s.parent} is not a committed snapshot`);
        }
        for (const s of all) {
          if (s.kind === 'committed') {
            const view = await c.mount(await driver.view(`check-${round}-${s.key}`, s.key));
            assert.ok(
              (await listTree(view)).some((f) => f.startsWith('file-')),
              `round ${round}: committed ${s.key} lost its files`,
            );
            c.unmount(view);
            await driver.remove(`check-${round}-${s.key}`);
          } else {
            const target = await c.mount(await driver.mounts(s.key));
            await writeFiles(target, { 'after-crash': 'ok' });
            c.unmount(target);
          }
        }
      }
      // Everything removed, children first: nothing of what the crashes interrupted may stay.
      for (let left = await c.driver.walk(); left.length > 0; left = await c.driver.walk()) {
        const leaves = left.filter((s) => !left.some((o) => o.parent === s.key));
        for (const leaf of leaves) await c.driver.remove(leaf.key);
      }
      await c.driver.close?.();
      assert.equal(await settledTree(c.root), baseline, 'the interrupted operations left something in the root');
      // Four child processes started and killed: more than the runner's 5 s on a busy machine.
    },
    60_000,
  );

  check('removing snapshots frees their storage', async (c) => {
    await c.driver.prepare('warm-up');
    await c.driver.remove('warm-up');
    const baseline = await settledTree(c.root);
    await writeFilesIn(c, await c.driver.prepare('base'), { big: 1 << 20, 'dir/small': 'x' });
    await c.driver.commit('base-c', 'base');
    await writeFilesIn(c, await c.driver.prepare('child', 'base-c'), { more: 'y' });
    await c.driver.view('view', 'base-c');
    for (const key of ['child', 'view', 'base-c']) await c.driver.remove(key);
    assert.equal(await c.driver.walk(), []);
    assert.equal(await settledTree(c.root), baseline);
  });

  test.run();
}

/**
 * Run the crash child (storage-crash-child) on `root` until `afterMs` past its `ready`,
 * then SIGKILL it. Rejects with its stderr when it fails on its own.
 */
async function killMidway(crashModule: string, root: string, mountDir: string, afterMs: number): Promise<void> {
  const script = path.join(__dirname, `storage-crash-child${path.extname(__filename)}`);
  // From source (the unit tests), the child needs tsx as this process had it through uvu's `-r`.
  const loader = script.endsWith('.ts') ? ['-r', 'tsx/cjs'] : [];
  const child = spawn(process.execPath, [...loader, script, crashModule, root, mountDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
  });
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => child.stdout.once('data', () => resolve(true))),
    exited.then(() => false),
  ]);
  if (!ready) throw new Error(`the crash child ended before it was ready: ${stderr}`);
  await new Promise((r) => setTimeout(r, afterMs));
  child.kill('SIGKILL');
  await exited;
  if (stderr !== '') throw new Error(`the crash child failed on its own: ${stderr}`);
}

/**
 * The driver's tree once its background deletions (core's BackgroundRemoval renames to
 * `.removing-*`; the contract lets a driver free space a moment after `remove`) are done.
 * Waits up to 5 s: space never freed still fails the comparison.
 */
async function settledTree(root: string): Promise<string[]> {
  for (let i = 0; ; i++) {
    // A walk racing the deletion finds a directory gone under it: that is "not yet".
    const entries = await listTree(root).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT' || i >= 100) throw err;
      return undefined;
    });
    if (entries && (i >= 100 || !entries.some((e) => e.includes(REMOVING_PREFIX)))) return entries;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The differ's changes of `key` (core's snapshotChanges: the driver's own, or a tree comparison on the case's mounts). */
function diffOf(c: StorageCase, key: string): Promise<SnapshotChange[]> {
  return snapshotChanges(c.driver, key, { mount: (mounts) => c.mount(mounts), unmount: (dir) => c.unmount(dir) });
}

/** Mount `mounts`, write `files`, unmount. */
async function writeFilesIn(c: StorageCase, mounts: MountSpec[], files: Record<string, string | number>): Promise<void> {
  const target = await c.mount(mounts);
  await writeFiles(target, files);
  c.unmount(target);
}

/** Commit `depth` layers, each adding `layer-<i>` and rewriting `top` to i; returns their names, bottom first. */
async function commitChain(c: StorageCase, depth: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < depth; i++) {
    await writeFilesIn(c, await c.driver.prepare(`extract-${i}`, names[i - 1]), { [`layer-${i}`]: String(i), top: String(i) });
    names.push(`layer-${i}-c`);
    await c.driver.commit(names[i]!, `extract-${i}`);
  }
  return names;
}

function sortByKey(infos: SnapshotInfo[]): SnapshotInfo[] {
  return [...infos].sort((a, b) => a.key.localeCompare(b.key));
}
