import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  commitImage,
  type Digest,
  digestHex,
  goArch,
  type ImageConfig,
  ImageStore,
  importRootfs,
  loadArchive,
  saveArchive,
  scanLayer,
  sha256Digest,
  type TarWriteEntry,
} from '@berth/image';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { collect, rejects, tarBytes, withTempDir } from './helpers.js';

/**
 * Crash consistency of the image store, one durable step at a time: an operation runs
 * against a store whose steps (blob ingest, layer record, the write-ahead record of an
 * operation, image metadata, names, and on the way out layer records and blobs) are
 * counted; before step N the data root is copied as it is on disk at that instant (what a
 * SIGKILL there would leave) and the operation abandoned. Every copy must open as a whole
 * store: every image listed with its config and layers present and matching their
 * digests, every name on an existing image, no blob, layer record, temporary file or
 * pending record that nothing uses; and each operation whole or absent: never an image
 * that a cut-short load, import, commit or rmi left without its names.
 */

class Crash extends Error {}

/** The store's methods that each make one durable step. */
function instrument(store: ImageStore, before: () => Promise<void>): void {
  const wrap = <T extends object>(target: T, names: Array<keyof T & string>) => {
    for (const name of names) {
      const original = (target[name] as (...args: unknown[]) => Promise<unknown>).bind(target);
      Object.defineProperty(target, name, {
        value: async (...args: unknown[]) => {
          await before();
          return original(...args);
        },
      });
    }
  };
  wrap(store.content, ['ingest', 'delete']);
  wrap(store.layers, ['register', 'remove']);
  // The store's own durable steps are private methods, one per kind of write.
  type Steps = Record<'writePending' | 'removePending' | 'writeMetadata' | 'removeMetadata' | 'saveReferences', () => Promise<void>>;
  wrap(store as unknown as Steps, ['writePending', 'removePending', 'writeMetadata', 'removeMetadata', 'saveReferences']);
}

/**
 * Run `op` on the store at `root` once per crash point: a copy of `root` is made before
 * the N-th durable step (N = 0, 1, ...), then the operation is abandoned. Returns the
 * copies (`<root>-crash-<N>`) until the run in which `op` finished without reaching N.
 */
async function crashCopies(root: string, op: (store: ImageStore) => Promise<unknown>): Promise<string[]> {
  const copies: string[] = [];
  for (let n = 0; n < 200; n++) {
    const scratch = `${root}-run-${n}`;
    await fs.cp(root, scratch, { recursive: true });
    const store = await ImageStore.open(scratch);
    let steps = 0;
    const copy = `${root}-crash-${n}`;
    instrument(store, async () => {
      if (steps++ === n) {
        await fs.cp(scratch, copy, { recursive: true });
        throw new Crash(`crash before step ${n}`);
      }
    });
    try {
      await op(store);
      await fs.rm(scratch, { recursive: true });
      return copies;
    } catch (err) {
      if (!(err instanceof Crash)) throw err;
      copies.push(copy);
    }
    await fs.rm(scratch, { recursive: true });
  }
  throw new Error('the operation never finished');
}

/** Open the store at `root` and check it is whole and holds no garbage; returns it. */
async function assertWhole(root: string, where: string): Promise<ImageStore> {
  const store = await ImageStore.open(root);
  const images = await store.list();
  const usedBlobs = new Set<Digest>();
  for (const image of images) {
    usedBlobs.add(image.id);
    assert.is(sha256Digest(await store.content.readBytes(image.id)), image.id, `${where}: config of ${image.id}`);
    for (const layer of image.layers) {
      usedBlobs.add(layer.digest);
      const data = await collect(await store.content.get(layer.digest));
      assert.is(sha256Digest(data), layer.digest, `${where}: layer blob ${layer.digest}`);
    }
  }
  const usedDiffs = new Set(images.flatMap((i) => i.diffIds));
  const blobs = (await store.content.list()).map((b) => b.digest);
  assert.equal(
    blobs.filter((b) => !usedBlobs.has(b)),
    [],
    `${where}: blobs no image uses`,
  );
  assert.equal(
    store.layers.list().filter((l) => !usedDiffs.has(l.diffId)),
    [],
    `${where}: layer records no image uses`,
  );
  const reposFile = path.join(root, 'images', 'repositories.json');
  const onDisk = await fs
    .readFile(reposFile, 'utf8')
    .then((t) => JSON.parse(t) as { references: Record<string, string> })
    .catch(() => ({ references: {} }));
  for (const [ref, id] of Object.entries(onDisk.references)) {
    assert.ok(
      images.some((i) => i.id === id),
      `${where}: repositories.json names ${ref} → ${id}, which is not an image`,
    );
  }
  assert.equal(await fs.readdir(path.join(root, 'blobs', 'ingest')), [], `${where}: temporary ingests`);
  for (const dir of ['images', 'images/metadata', 'images/layers']) {
    assert.equal(
      (await fs.readdir(path.join(root, dir))).filter((n) => n.endsWith('.tmp')),
      [],
      `${where}: temporary files in ${dir}`,
    );
  }
  // Recovery is done once: opening again finds nothing more to repair.
  const again = await ImageStore.open(root);
  assert.not.ok(await exists(path.join(root, 'images', 'pending.json')), `${where}: no pending operation record after open`);
  assert.equal(again.recovery, nothingRepaired, `${where}: a second open repairs nothing`);
  return store;
}

const nothingRepaired = { temporaryFiles: 0, brokenImages: [], danglingReferences: [], unusedLayers: [], unusedBlobs: [], operations: [] };

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

const layerA: TarWriteEntry[] = [
  { path: 'bin/', type: 'directory' },
  { path: 'bin/tool', type: 'file', body: 'layer a' },
];
const layerB: TarWriteEntry[] = [{ path: 'app', type: 'file', body: 'layer b' }];
const layerC: TarWriteEntry[] = [{ path: 'other', type: 'file', body: 'layer c' }];

async function makeImage(store: ImageStore, layers: TarWriteEntry[][], label: string, parent?: Digest) {
  const diffIds: Digest[] = [];
  for (const entries of layers) {
    const data = await tarBytes(entries);
    const blob = await store.content.ingestBytes(data);
    const scan = await scanLayer([data]);
    await store.layers.register({ diffId: scan.diffId, digest: blob.digest, compression: 'none', size: scan.size, tarSize: scan.tarSize });
    diffIds.push(scan.diffId);
  }
  const config: ImageConfig = {
    architecture: goArch(),
    os: 'linux',
    created: '2024-01-01T00:00:00Z',
    config: { Cmd: ['tool'], Labels: { label } },
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
  const { digest } = await store.content.ingestBytes(JSON.stringify(config));
  return store.create(digest, parent ? { parent } : {});
}

test('import: at every crash point the image is whole and named, or absent with its blobs; never stored without its name', () =>
  withTempDir('crash', async (dir) => {
    const root = path.join(dir, 'data');
    await ImageStore.open(root);
    const rootfs = await tarBytes([...layerA, ...layerB]);
    const copies = await crashCopies(root, (store) => importRootfs(store, [rootfs], { repo: 'imported', tag: 'v1' }));
    assert.ok(copies.length >= 6, `import has ${copies.length} crash points`);
    const outcomes = new Set<string>();
    for (const [n, copy] of copies.entries()) {
      const store = await assertWhole(copy, `import, crash before step ${n}`);
      const images = await store.list();
      for (const op of store.recovery.operations) outcomes.add(op.outcome);
      if (images.length) {
        assert.is(images.length, 1, `crash before step ${n}: at most the one image`);
        assert.equal(images[0]!.repoTags, ['imported:v1'], `crash before step ${n}: the imported image has its name`);
        assert.ok(images[0]!.lastTagTime, `crash before step ${n}: and its tag time`);
      } else {
        // What was stored before the image was named is garbage, which open removed.
        assert.equal(await fs.readdir(path.join(copy, 'blobs', 'sha256')), [], `crash before step ${n}: blobs collected`);
        assert.equal(await fs.readdir(path.join(copy, 'images', 'metadata')), [], `crash before step ${n}: no metadata`);
      }
    }
    assert.equal([...outcomes].sort(), ['finished', 'undone'], 'crash points on both sides of the commit point were exercised');
  }));

test('commit: at every crash point the new image is whole, named and on its parent, or absent; the parent is untouched', () =>
  withTempDir('crash', async (dir) => {
    const root = path.join(dir, 'data');
    const setup = await ImageStore.open(root);
    const parent = await makeImage(setup, [layerA], 'parent');
    await setup.tag(parent.id, 'parent:v1');
    const layer = await tarBytes(layerB);
    const copies = await crashCopies(root, (store) =>
      commitImage(store, { parent: parent.id, layer: [layer], config: { Cmd: ['sh'] }, repo: 'committed', tag: 'v1' }),
    );
    assert.ok(copies.length >= 6, `commit has ${copies.length} crash points`);
    for (const [n, copy] of copies.entries()) {
      const store = await assertWhole(copy, `commit, crash before step ${n}`);
      assert.is((await store.get('parent:v1')).id, parent.id, `crash before step ${n}: the parent keeps its name`);
      const others = (await store.list()).filter((i) => i.id !== parent.id);
      if (others.length) {
        assert.equal(others[0]!.repoTags, ['committed:v1'], `crash before step ${n}: the committed image has its name`);
        assert.is(others[0]!.parent, parent.id);
        assert.equal(store.children(parent.id), [others[0]!.id]);
      } else assert.equal(store.children(parent.id), [], `crash before step ${n}: no child left`);
    }
  }));

test('load: every crash point of a two-image archive leaves whole images, names only on them, no garbage', () =>
  withTempDir('crash', async (dir) => {
    const source = await ImageStore.open(path.join(dir, 'source'));
    const one = await makeImage(source, [layerA, layerB], 'one');
    const two = await makeImage(source, [layerA, layerC], 'two');
    await source.tag(one.id, 'one:v1');
    await source.tag(two.id, 'two:v1');
    const archive = await collect(await saveArchive(source, ['one:v1', 'two:v1']));

    const root = path.join(dir, 'data');
    await ImageStore.open(root);
    const copies = await crashCopies(root, (store) => loadArchive(store, [archive]));
    assert.ok(copies.length >= 10, `load has ${copies.length} crash points`);
    const seen = new Set<number>();
    for (const [n, copy] of copies.entries()) {
      const store = await assertWhole(copy, `load, crash before step ${n}`);
      const images = await store.list();
      seen.add(images.length);
      // All or nothing: both images with their names, or neither (one load, one operation).
      if (images.length) {
        assert.equal(
          images.map((i) => [i.id, i.repoTags]).sort(),
          [
            [one.id, ['one:v1']],
            [two.id, ['two:v1']],
          ].sort(),
          `crash before step ${n}: the whole load`,
        );
      } else assert.equal(await fs.readdir(path.join(copy, 'blobs', 'sha256')), [], `crash before step ${n}: blobs collected`);
    }
    assert.equal([...seen].sort(), [0, 2], 'crash points before and after the commit point were exercised');
  }));

test('load: an image the store had is only named; undoing a cut-short load leaves it and what it had', () =>
  withTempDir('crash', async (dir) => {
    const source = await ImageStore.open(path.join(dir, 'source'));
    const one = await makeImage(source, [layerA, layerB], 'one');
    const two = await makeImage(source, [layerA, layerC], 'two');
    await source.tag(one.id, 'one:v1');
    await source.tag(two.id, 'two:v1');
    const archive = await collect(await saveArchive(source, ['one:v1', 'two:v1']));

    const root = path.join(dir, 'data');
    const setup = await ImageStore.open(root);
    await loadArchive(setup, [await collect(await saveArchive(source, ['one:v1']))]);
    await setup.tag('one:v1', 'mine:v1');
    await setup.untag('one:v1');
    const copies = await crashCopies(root, (store) => loadArchive(store, [archive]));
    for (const [n, copy] of copies.entries()) {
      const store = await assertWhole(copy, `load over an existing image, crash before step ${n}`);
      const kept = await store.get(one.id);
      assert.ok(kept.repoTags.includes('mine:v1'), `crash before step ${n}: the image it had keeps its name`);
      const undone = store.recovery.operations.filter((o) => o.outcome === 'undone');
      for (const op of undone) assert.equal(op.images, [two.id], `crash before step ${n}: only the new image is undone`);
      if (!(await store.find(two.id))) assert.equal(kept.repoTags, ['mine:v1'], `crash before step ${n}: no name of the undone load`);
      else assert.equal(kept.repoTags, ['mine:v1', 'one:v1'], `crash before step ${n}: every name of the finished load`);
    }
  }));

test('delete: every crash point leaves the other image intact and the deleted one whole or gone without garbage', () =>
  withTempDir('crash', async (dir) => {
    const root = path.join(dir, 'data');
    const setup = await ImageStore.open(root);
    const keep = await makeImage(setup, [layerA, layerB], 'keep');
    const drop = await makeImage(setup, [layerA, layerC], 'drop');
    await setup.tag(keep.id, 'keep:v1');
    await setup.tag(drop.id, 'drop:v1');
    await setup.tag(drop.id, 'drop:v2');

    const copies = await crashCopies(root, (store) => store.delete('drop:v1'));
    assert.ok(copies.length >= 3, `delete has ${copies.length} crash points`);
    let gone = 0;
    for (const [n, copy] of copies.entries()) {
      const store = await assertWhole(copy, `delete, crash before step ${n}`);
      const kept = await store.get('keep:v1');
      assert.is(kept.id, keep.id, `crash before step ${n}: the other image keeps its name`);
      const dropped = await store.find(drop.id);
      if (dropped) {
        // Not deleted yet: whole, with both its names (an rmi is never left as an unnamed image).
        assert.equal(dropped.repoTags, ['drop:v1', 'drop:v2'], `crash before step ${n}: the image keeps every name`);
      } else {
        gone++;
        assert.is(await store.find('drop:v2'), undefined);
        // layer A is shared: it stays; layer C was the deleted image's alone.
        assert.ok(store.layers.get(drop.diffIds[0]!), 'the shared layer stays');
        assert.is(store.layers.get(drop.diffIds[1]!), undefined, 'the deleted image’s own layer is gone');
      }
    }
    assert.ok(gone >= 2 && gone < copies.length, 'crash points on both sides of the commit point were exercised');
  }));

test('untagImage (rmi -f of an image a container uses): every name goes in one step, or none', () =>
  withTempDir('crash', async (dir) => {
    const root = path.join(dir, 'data');
    const setup = await ImageStore.open(root);
    const image = await makeImage(setup, [layerA], 'x');
    await setup.tag(image.id, 'x:v1');
    await setup.tag(image.id, 'x:v2');
    const copies = await crashCopies(root, (store) => store.untagImage('x:v1'));
    assert.is(copies.length, 1, 'one durable step');
    const store = await assertWhole(copies[0]!, 'untagImage, crash before its write');
    assert.equal((await store.get(image.id)).repoTags, ['x:v1', 'x:v2']);
    const live = await ImageStore.open(root);
    assert.equal(await live.untagImage('x:v2'), { id: image.id, untagged: ['x:v1', 'x:v2'] });
    assert.equal((await (await ImageStore.open(root)).get(image.id)).repoTags, [], 'the image stays, unnamed');
  }));

test('a pending operation record naming an image something else names or builds on: the undo keeps it', () =>
  withTempDir('crash', async (dir) => {
    const root = path.join(dir, 'data');
    const setup = await ImageStore.open(root);
    const named = await makeImage(setup, [layerA], 'named');
    const base = await makeImage(setup, [layerB], 'base');
    await makeImage(setup, [layerB, layerC], 'child', base.id);
    const lone = await makeImage(setup, [layerC], 'lone');
    await setup.tag(named.id, 'other:v1');
    // Written by hand: the store never writes this (its images are invisible until named).
    const pending = {
      op: 'load',
      started: new Date().toISOString(),
      images: [named.id, base.id, lone.id],
      references: { 'docker.io/library/x:v1': lone.id },
    };
    await fs.writeFile(path.join(root, 'images', 'pending.json'), JSON.stringify(pending));

    const store = await ImageStore.open(root);
    assert.equal(store.recovery.operations, [{ op: 'load', outcome: 'undone', images: pending.images, kept: [named.id, base.id] }]);
    assert.ok(await store.find(named.id), 'named by another operation: kept');
    assert.ok(await store.find(base.id), 'the parent of another image: kept');
    assert.is(await store.find(lone.id), undefined, 'the image only the operation made: undone');
    await assertWhole(root, 'after the undo');
  }));

test('an unreadable pending record is reported and removed; nothing is undone on its word', () =>
  withTempDir('crash', async (dir) => {
    const root = path.join(dir, 'data');
    const setup = await ImageStore.open(root);
    const image = await makeImage(setup, [layerA], 'x');
    await fs.writeFile(path.join(root, 'images', 'pending.json'), '{"op": 1}');
    const store = await ImageStore.open(root);
    assert.equal(store.recovery.operations, []);
    assert.ok(await store.find(image.id));
    await assertWhole(root, 'after an unreadable record');
  }));

test('a load that fails before its names are written (a disk error, not a crash) removes what it wrote', () =>
  withTempDir('crash', async (dir) => {
    const source = await ImageStore.open(path.join(dir, 'source'));
    const one = await makeImage(source, [layerA, layerB], 'one');
    await source.tag(one.id, 'one:v1');
    const archive = await collect(await saveArchive(source, ['one:v1']));
    const root = path.join(dir, 'data');
    const store = await ImageStore.open(root);
    Object.defineProperty(store, 'saveReferences', {
      value: async () => {
        throw new Error('EIO: a disk error');
      },
    });
    await rejects(() => loadArchive(store, [archive]), /EIO/);
    assert.equal(await store.list(), [], 'nothing visible');
    assert.equal(await fs.readdir(path.join(root, 'images', 'metadata')), [], 'no metadata left');
    assert.not.ok(await exists(path.join(root, 'images', 'pending.json')), 'no record left');
    await assertWhole(root, 'after a failed load');
  }));

test('open removes what interrupted writes left: ingests of any age, atomic-write temporaries', () =>
  withTempDir('crash', async (dir) => {
    const root = path.join(dir, 'data');
    const setup = await ImageStore.open(root);
    const image = await makeImage(setup, [layerA], 'x');
    await fs.writeFile(path.join(root, 'blobs', 'ingest', `${Date.now()}-0123456789abcdef`), 'half a blob');
    await fs.writeFile(path.join(root, 'images', 'metadata', `.${digestHex(image.id)}.json.abc123.tmp`), '{"id":');
    await fs.writeFile(path.join(root, 'images', '.repositories.json.def456.tmp'), '{');
    const store = await ImageStore.open(root);
    assert.is(store.recovery.temporaryFiles, 3);
    assert.equal(await fs.readdir(path.join(root, 'blobs', 'ingest')), []);
    await assertWhole(root, 'after temporaries');
    assert.is((await store.get(image.id)).id, image.id);
  }));

test('open forgets an image missing its config blob or a layer, with its names, and keeps the rest', () =>
  withTempDir('crash', async (dir) => {
    const root = path.join(dir, 'data');
    const setup = await ImageStore.open(root);
    const good = await makeImage(setup, [layerA], 'good');
    const noConfig = await makeImage(setup, [layerA, layerB], 'no-config');
    const noLayer = await makeImage(setup, [layerC], 'no-layer');
    await setup.tag(good.id, 'good:v1');
    await setup.tag(noConfig.id, 'noconfig:v1');
    await setup.tag(noLayer.id, 'nolayer:v1');
    await fs.rm(path.join(root, 'blobs', 'sha256', digestHex(noConfig.id)));
    await fs.rm(path.join(root, 'images', 'layers', `${digestHex(noLayer.diffIds[0]!)}.json`));

    const store = await ImageStore.open(root);
    assert.equal(store.recovery.brokenImages.map((b) => b.id).sort(), [noConfig.id, noLayer.id].sort());
    assert.equal(store.recovery.danglingReferences, ['docker.io/library/noconfig:v1', 'docker.io/library/nolayer:v1']);
    assert.equal(
      (await store.list()).map((i) => i.id),
      [good.id],
    );
    assert.is((await store.get('good:v1')).id, good.id);
    // Layer B was only the broken image's: collected; layer C's blob lost its record: collected.
    assert.is(store.layers.get(noConfig.diffIds[1]!), undefined);
    await assertWhole(root, 'after broken images');
  }));

test('open drops names that point to no image and rewrites repositories.json', () =>
  withTempDir('crash', async (dir) => {
    const root = path.join(dir, 'data');
    const setup = await ImageStore.open(root);
    const image = await makeImage(setup, [layerA], 'x');
    await setup.tag(image.id, 'real:v1');
    const file = path.join(root, 'images', 'repositories.json');
    const repos = JSON.parse(await fs.readFile(file, 'utf8'));
    repos.references['docker.io/library/ghost:v1'] = sha256Digest('no such image');
    await fs.writeFile(file, JSON.stringify(repos));
    const store = await ImageStore.open(root);
    assert.equal(store.recovery.danglingReferences, ['docker.io/library/ghost:v1']);
    assert.equal(Object.keys(JSON.parse(await fs.readFile(file, 'utf8')).references), ['docker.io/library/real:v1']);
    await assertWhole(root, 'after a dangling name');
  }));

test.run();
