import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { isPluginSkipped, ownerLabels, type PluginSkipped, type StorageDriver } from '@berth/core';
import { mount, mountAll, umount, unmountAll } from '@berth/native';
import plugin, { MAX_MOUNT_DATA, type OverlayDriver } from '@berth/storage-overlay';
import { pluginContext, rejectsWith } from '@berth/testkit';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const init = (root: string) => plugin.init(pluginContext(root)) as Promise<OverlayDriver>;

/**
 * A temp dir under /tmp/berth-unit-ovl-*, unmounted and removed after `body` whatever
 * happens. Short: the depth test needs room for a root as long as the default one.
 */
async function inTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp('/tmp/berth-unit-ovl-');
  try {
    await body(dir);
  } finally {
    unmountAll(dir);
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('mount specs: bind without parent, overlay with the parents nearest first, read-only views', () =>
  inTempDir(async (dir) => {
    const root = path.join(dir, 'root');
    await fs.mkdir(root);
    const d = await init(root);
    const fsOf = (id: number) => `${root}/snapshots/${id}/fs`;
    assert.equal(await d.prepare('a'), [{ type: 'bind', source: fsOf(1), options: ['rbind', 'rw'] }]);
    await d.commit('A', 'a');
    assert.equal(await d.view('v1', 'A'), [{ type: 'bind', source: fsOf(1), options: ['rbind', 'ro'] }]);
    assert.equal(await d.view('v0'), [{ type: 'bind', source: fsOf(3), options: ['rbind', 'ro'] }]);
    const b = await d.prepare('b', 'A');
    assert.equal(b, [
      { type: 'overlay', source: 'overlay', options: [`lowerdir=${fsOf(1)}`, `upperdir=${fsOf(4)}`, `workdir=${root}/snapshots/4/work`] },
    ]);
    await d.commit('B', 'b');
    assert.equal(await d.view('v2', 'B'), [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${fsOf(4)}:${fsOf(1)}`, 'ro'] }]);
    const c = await d.prepare('c', 'B');
    assert.is(c[0]!.options[0], `lowerdir=${fsOf(4)}:${fsOf(1)}`);
  }));

test('a volatile snapshot mounts with overlay volatile, and mounts again after an unmount', () =>
  inTempDir(async (dir) => {
    const root = path.join(dir, 'root');
    await fs.mkdir(root);
    const d = await init(root);
    await d.prepare('base');
    await d.commit('BASE', 'base');
    const plain = await d.prepare('plain', 'BASE');
    const specs = await d.prepare('c', 'BASE', { volatile: true });
    // This kernel (6.18) has it: the plugin's probe found it.
    assert.ok(specs[0]!.options!.includes('volatile'), JSON.stringify(specs));
    assert.not.ok(plain[0]!.options!.includes('volatile'));
    assert.ok(JSON.parse(await fs.readFile(path.join(root, 'metadata.json'), 'utf8')).snapshots.c.volatile);
    const target = path.join(dir, 'merged');
    await fs.mkdir(target);
    for (let round = 0; round < 2; round++) {
      // The second round is a remount, which overlay refuses while the last volatile mount's marker is there.
      mountAll(await d.mounts('c'), target);
      const line = (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.includes(` ${target} `));
      assert.match(line ?? '', /[ ,](fsync=)?volatile(,|$)/, 'the kernel shows it as volatile or fsync=volatile');
      await fs.writeFile(path.join(target, `file${round}`), 'x');
      unmountAll(target);
    }
    assert.equal((await fs.readdir(path.join(root, 'snapshots/3/fs'))).sort(), ['file0', 'file1']);
  }));

test('metadata.json records every snapshot; ids are never reused', () =>
  inTempDir(async (root) => {
    const d = await init(root);
    await d.prepare('one');
    await d.remove('one');
    await d.prepare('two');
    const meta = JSON.parse(await fs.readFile(path.join(root, 'metadata.json'), 'utf8'));
    assert.is(meta.version, 1);
    assert.equal(Object.keys(meta.snapshots), ['two']);
    assert.is(meta.snapshots.two.id, 2);
    assert.is(meta.snapshots.two.kind, 'active');
    await d.close(); // the removed snapshot's directory is deleted in the background: once that is done
    assert.equal(await fs.readdir(path.join(root, 'snapshots')), ['2']);
  }));

test('labels are stored in the record in metadata.json, and only when there are some', () =>
  inTempDir(async (root) => {
    const d = await init(root);
    await d.prepare('extract', undefined, { labels: ownerLabels('image-extract', 'L') });
    await d.commit('L', 'extract', { labels: ownerLabels('image', 'L') });
    await d.prepare('plain', 'L');
    const meta = JSON.parse(await fs.readFile(path.join(root, 'metadata.json'), 'utf8'));
    assert.is(meta.version, 1, 'labels need no new format version');
    assert.equal(meta.snapshots.L.labels, ownerLabels('image', 'L'));
    assert.equal(Object.keys(meta.snapshots.plain).sort(), ['created', 'id', 'kind', 'parent'], 'an unlabelled record changed shape');
  }));

test('a data root written before labels reads back with labels {} and keeps working', () =>
  inTempDir(async (dir) => {
    // metadata.json and directories as the driver wrote them before labels existed.
    const root = path.join(dir, 'root');
    const container = 'c'.repeat(64);
    const created = '2025-01-02T03:04:05.000Z';
    const before = {
      version: 1,
      nextId: 3,
      snapshots: {
        'sha256:old': { id: 1, kind: 'committed', created },
        [container]: { id: 2, parent: 'sha256:old', kind: 'active', created, volatile: true },
      },
    };
    await fs.mkdir(path.join(root, 'snapshots', '1', 'fs'), { recursive: true });
    await fs.writeFile(path.join(root, 'snapshots', '1', 'fs', 'old.txt'), 'old');
    await fs.mkdir(path.join(root, 'snapshots', '2', 'fs'), { recursive: true });
    await fs.mkdir(path.join(root, 'snapshots', '2', 'work'));
    await fs.writeFile(path.join(root, 'metadata.json'), JSON.stringify(before));

    const d = await init(root);
    assert.equal(
      (await d.walk()).map((s) => [s.key, s.labels]),
      [
        ['sha256:old', {}],
        [container, {}],
      ],
    );
    const target = path.join(dir, 'mnt');
    await fs.mkdir(target);
    mountAll(await d.mounts(container), target);
    try {
      assert.is(await fs.readFile(path.join(target, 'old.txt'), 'utf8'), 'old');
      await fs.writeFile(path.join(target, 'new.txt'), 'new');
    } finally {
      unmountAll(target);
    }
    await d.commit('sha256:new', container, { labels: ownerLabels('image', 'sha256:new') });
    await d.prepare('fresh', 'sha256:new', { labels: ownerLabels('container', 'fresh') });
    const after = JSON.parse(await fs.readFile(path.join(root, 'metadata.json'), 'utf8'));
    assert.equal(after.snapshots['sha256:old'], before.snapshots['sha256:old'], 'an untouched old record was rewritten differently');
    assert.equal(after.snapshots['sha256:new'].labels, ownerLabels('image', 'sha256:new'));
    assert.equal((await (await init(root)).stat('fresh')).labels, ownerLabels('container', 'fresh'));
  }));

test('open removes snapshot directories that have no record (a crash between mkdir and the metadata write)', () =>
  inTempDir(async (root) => {
    const d = await init(root);
    await d.prepare('kept');
    await fs.mkdir(path.join(root, 'snapshots', '77', 'fs'), { recursive: true });
    await fs.writeFile(path.join(root, 'snapshots', '77', 'fs', 'junk'), 'x');
    await init(root);
    assert.equal(await fs.readdir(path.join(root, 'snapshots')), ['1']);
  }));

test('a failed prepare leaves neither a record nor a directory', () =>
  inTempDir(async (root) => {
    const d = await init(root);
    await d.prepare('active');
    await rejectsWith(d.prepare('child', 'active'), 'InvalidArgument');
    await rejectsWith(d.prepare('active'), 'Conflict');
    assert.equal(await fs.readdir(path.join(root, 'snapshots')), ['1']);
    assert.equal(
      (await d.walk()).map((s) => s.key),
      ['active'],
    );
  }));

test('status reports the backing filesystem: extfs here, tmpfs on a tmpfs root', () =>
  inTempDir(async (dir) => {
    const expected = execFileSync('stat', ['-f', '-c', '%t', dir], { encoding: 'utf8' }).trim() === 'ef53' ? 'extfs' : undefined;
    const onDisk = path.join(dir, 'disk');
    await fs.mkdir(onDisk);
    const status = await (await init(onDisk)).status();
    if (expected)
      assert.equal(status.slice(0, 2), [
        ['Backing Filesystem', 'extfs'],
        ['Supports d_type', 'true'],
      ]);
    assert.equal(status.slice(2), [
      ['Using metacopy', 'false'],
      ['Native Overlay Diff', 'true'],
    ]);

    const onTmpfs = path.join(dir, 'tmpfs');
    await fs.mkdir(onTmpfs);
    mountAll([{ type: 'tmpfs', source: 'tmpfs', options: ['size=16m'] }], onTmpfs);
    const d = await init(onTmpfs);
    assert.equal((await d.status())[0], ['Backing Filesystem', 'tmpfs']);
    const target = path.join(dir, 'mnt');
    await fs.mkdir(target);
    await d.prepare('x');
    await d.commit('X', 'x');
    mountAll(await d.prepare('y', 'X'), target);
    await fs.writeFile(path.join(target, 'f'), 'on tmpfs');
    umount(target);
    assert.is(await fs.readFile(path.join(onTmpfs, 'snapshots', '2', 'fs', 'f'), 'utf8'), 'on tmpfs');
  }));

test('init skips, with the reason, where overlay cannot work: on overlayfs, and under a path with a colon', () =>
  inTempDir(async (dir) => {
    for (const name of ['lower', 'upper', 'work', 'merged']) await fs.mkdir(path.join(dir, name));
    mountAll(
      [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${dir}/lower`, `upperdir=${dir}/upper`, `workdir=${dir}/work`] }],
      path.join(dir, 'merged'),
    );
    const onOverlay = path.join(dir, 'merged', 'root');
    await fs.mkdir(onOverlay);
    let err = await init(onOverlay).catch((e: unknown) => e);
    assert.ok(isPluginSkipped(err), String(err));
    assert.match((err as PluginSkipped).reason, /test mount under .*merged\/root failed/);
    assert.equal(await fs.readdir(onOverlay), [], 'the probe left files behind');

    const colon = path.join(dir, 'a:b');
    await fs.mkdir(colon);
    err = await init(colon).catch((e: unknown) => e);
    assert.ok(isPluginSkipped(err), String(err));
    assert.match((err as PluginSkipped).reason, /a:b contains one of , :/);
  }));

test(`the kernel reads ${MAX_MOUNT_DATA} bytes of overlay options and silently cuts the rest`, () =>
  inTempDir(async (dir) => {
    for (const name of ['upper', 'work', 'wor', 'merged']) await fs.mkdir(path.join(dir, name));
    const merged = path.join(dir, 'merged');
    const tail = `,upperdir=${dir}/upper,workdir=${dir}/work`;
    const mountedWorkdir = async (length: number) => {
      const lower = pathOfLength(dir, length - tail.length - 'lowerdir='.length);
      await fs.mkdir(lower, { recursive: true });
      const data = `lowerdir=${lower}${tail}`;
      assert.is(data.length, length);
      mount('overlay', merged, 'overlay', 0, data);
      try {
        const line = (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.includes(` ${merged} `));
        return /workdir=([^,\s]*)/.exec(line ?? '')?.[1];
      } finally {
        umount(merged);
      }
    };
    assert.is(await mountedWorkdir(MAX_MOUNT_DATA), `${dir}/work`);
    // One character more and the last one is dropped: here that names another directory that
    // exists, and the mount succeeds with the wrong workdir. The driver refuses such lengths.
    assert.is(await mountedWorkdir(MAX_MOUNT_DATA + 1), `${dir}/wor`);
  }));

test('the deepest chain under a root as long as /var/lib/berth/storage/overlay mounts; one more layer is refused', () =>
  inTempDir(async (dir) => {
    const defaultRoot = '/var/lib/berth/storage/overlay';
    const root = `${dir}/${'r'.repeat(defaultRoot.length - dir.length - 1)}`;
    assert.is(root.length, defaultRoot.length);
    await fs.mkdir(root);
    const d: StorageDriver = await init(root);
    const target = path.join(dir, 'mnt');
    await fs.mkdir(target);
    let parent: string | undefined;
    let depth = 0;
    for (; ; depth++) {
      let mounts: Awaited<ReturnType<typeof d.prepare>>;
      try {
        mounts = await d.prepare(`extract-${depth}`, parent);
      } catch (err) {
        assert.is((err as Error).name, 'NotImplemented', String(err));
        assert.match((err as Error).message, new RegExp(`chain of ${depth} layers`));
        break;
      }
      mountAll(mounts, target);
      await fs.writeFile(path.join(target, `layer-${depth}`), String(depth));
      umount(target);
      await d.commit(`layer-${depth}`, `extract-${depth}`);
      parent = `layer-${depth}`;
    }
    // extract-<depth> had `depth` parents and was refused: a container fits on depth-1 of them.
    const maxParents = depth - 1;
    assert.ok(maxParents >= 60, `only ${maxParents} layers fit`);
    mountAll(await d.prepare('container', `layer-${maxParents - 1}`), target);
    assert.is((await fs.readdir(target)).length, maxParents);
    umount(target);
    await rejectsWith(d.prepare('one-too-many', `layer-${maxParents}`), 'NotImplemented');
    // A view has no upper and work dirs, so it takes the whole chain.
    mountAll(await d.view('view', `layer-${maxParents}`), target);
    assert.is((await fs.readdir(target)).length, maxParents + 1);
    umount(target);
    console.log(`\n  overlay: a container snapshot mounts on at most ${maxParents} layers under a ${root.length}-character root`);
  }));

/** `base` followed by short enough components (NAME_MAX is 255) to make a path of exactly `length` characters. */
function pathOfLength(base: string, length: number): string {
  let p = base;
  while (p.length < length) {
    let segment = Math.min(200, length - p.length - 1);
    if (length - p.length - segment - 1 === 1) segment--; // never leave room for just a '/'
    p += `/${'l'.repeat(segment)}`;
  }
  return p;
}

test.run();
