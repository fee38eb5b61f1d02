import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgument, NotFound } from '@berth/core';
import {
  chainIds,
  type Digest,
  digestHex,
  familiarString,
  type ImageConfig,
  ImageStore,
  importRootfs,
  scanLayer,
  shortId,
  type TarWriteEntry,
} from '@berth/image';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rejects, tarBytes, withTempDir } from './helpers.js';

/** Store layers and a config the way a pull or a build does, then create the image. */
async function makeImage(store: ImageStore, layers: TarWriteEntry[][], extra: Partial<ImageConfig> = {}) {
  const diffIds: Digest[] = [];
  for (const entries of layers) {
    const data = await tarBytes(entries);
    const blob = await store.content.ingestBytes(data);
    const scan = await scanLayer([data]);
    await store.layers.register({
      diffId: scan.diffId,
      digest: blob.digest,
      compression: scan.compression,
      size: scan.size,
      tarSize: scan.tarSize,
    });
    diffIds.push(scan.diffId);
  }
  const config: ImageConfig = {
    architecture: 'amd64',
    os: 'linux',
    created: '2024-01-01T00:00:00Z',
    config: { Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    ...extra,
  };
  const { digest } = await store.content.ingestBytes(JSON.stringify(config));
  return store.create(digest);
}

const base: TarWriteEntry[] = [
  { path: 'bin/', type: 'directory' },
  { path: 'bin/tool', type: 'file', body: 'base layer' },
];

test("an image is found by id, id prefix and name; unknown names get Docker's message", () =>
  withTempDir('store', async (root) => {
    const store = await ImageStore.open(root);
    const image = await makeImage(store, [base, [{ path: 'app', type: 'file', body: 'top' }]]);
    assert.is(image.id, (await store.content.list()).find((b) => b.digest === image.id)?.digest);
    assert.equal(image.chainIds, chainIds(image.diffIds));
    assert.is(image.size, 'base layer'.length + 'top'.length);
    assert.is(image.created, '2024-01-01T00:00:00Z');
    assert.equal(image.repoTags, []);
    const hex = digestHex(image.id);
    for (const name of [image.id, hex, shortId(image.id), `sha256:${hex.slice(0, 5)}`, hex.slice(0, 3)]) {
      assert.is((await store.get(name)).id, image.id, name);
    }
    await store.tag(image.id, 'trc/app:v1');
    assert.is((await store.get('trc/app:v1')).id, image.id);
    assert.is((await store.get('docker.io/trc/app:v1')).id, image.id);
    assert.equal((await store.get(image.id)).repoTags, ['trc/app:v1']);

    const missing = await rejects(() => store.get('nosuch'), NotFound);
    assert.is(missing.message, 'No such image: nosuch:latest');
    assert.is((await rejects(() => store.get('trc/app:v2'), NotFound)).message, 'No such image: trc/app:v2');
    assert.is((await rejects(() => store.get(`sha256:${'0'.repeat(64)}`), NotFound)).message, `No such image: sha256:${'0'.repeat(64)}`);
    await rejects(() => store.get('Bad:Name'), /repository name must be lowercase/);
    assert.is(await store.find('nosuch'), undefined);
  }));

test('tags move between images, untag removes one, digest references are repo digests', () =>
  withTempDir('store', async (root) => {
    const store = await ImageStore.open(root);
    const a = await makeImage(store, [base]);
    const b = await makeImage(store, [base, [{ path: 'b', type: 'file', body: 'b' }]]);
    assert.equal(await store.tag(a.id, 'busybox'), { reference: { domain: 'docker.io', path: 'library/busybox', tag: 'latest' } });
    await store.tag(a.id, 'busybox:1');
    const moved = await store.tag(b.id, 'busybox:latest');
    assert.is(moved.previous, a.id);
    assert.equal((await store.get(a.id)).repoTags, ['busybox:1']);
    assert.equal((await store.get(b.id)).repoTags, ['busybox:latest']);
    assert.ok((await store.get(b.id)).lastTagTime);
    const digest = `sha256:${'ab'.repeat(32)}`;
    await store.tag(a.id, `busybox@${digest}`);
    assert.equal((await store.get(a.id)).repoDigests, [`busybox@${digest}`]);
    assert.is((await store.get(`busybox@${digest}`)).id, a.id);
    await rejects(() => store.tag(a.id, `busybox:2@${digest}`), /refusing to create a tag with a digest reference/);
    await rejects(() => store.tag('nosuch', 'x:1'), /No such image: nosuch:latest/);

    assert.equal(await store.untag('busybox:1'), { id: a.id, reference: { domain: 'docker.io', path: 'library/busybox', tag: '1' } });
    assert.is((await rejects(() => store.untag('busybox:1'), NotFound)).message, 'No such image: busybox:1');
    assert.equal(
      store.repository('docker.io/library/busybox').map((r) => [familiarString(r.reference), r.id]),
      [
        ['busybox:latest', b.id],
        [`busybox@${digest}`, a.id],
      ],
    );

    // Everything survives a reopen.
    const again = await ImageStore.open(root);
    assert.equal((await again.list()).map((i) => i.id).sort(), [a.id, b.id].sort());
    assert.equal((await again.get(b.id)).repoTags, ['busybox:latest']);
    assert.equal((await again.get(a.id)).repoDigests, [`busybox@${digest}`]);
    const repos = JSON.parse(await fs.readFile(path.join(root, 'images', 'repositories.json'), 'utf8'));
    assert.equal(repos.references['docker.io/library/busybox:latest'], b.id);

    // A name given again to the image it names (a rebuild's -t) rewrites no names; its tag time moves on.
    const file = path.join(root, 'images', 'repositories.json');
    const before = await fs.stat(file);
    const tagged = (await again.get(b.id)).lastTagTime;
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(await again.tag(b.id, 'busybox:latest'), { reference: { domain: 'docker.io', path: 'library/busybox', tag: 'latest' } });
    assert.is((await fs.stat(file)).ino, before.ino, 'repositories.json was not rewritten (a rewrite renames a new file over it)');
    assert.ok((await again.get(b.id)).lastTagTime! > tagged!, 'the tag time is recorded');
  }));

test('an id prefix that matches several images is refused as ambiguous', () =>
  withTempDir('store', async (root) => {
    const store = await ImageStore.open(root);
    const ids: Digest[] = [];
    // 17 images: two of them must share their first hex digit.
    for (let i = 0; i < 17; i++) ids.push((await makeImage(store, [base], { author: `n${i}` })).id);
    const byFirst = new Map<string, number>();
    for (const id of ids) byFirst.set(digestHex(id)[0]!, (byFirst.get(digestHex(id)[0]!) ?? 0) + 1);
    const shared = [...byFirst].find(([, n]) => n > 1)![0];
    const err = await rejects(() => store.get(`sha256:${shared}`), InvalidArgument);
    assert.match(err.message, /ambiguous/);
  }));

test('delete removes the image, its names, and the layers and blobs no other image uses', () =>
  withTempDir('store', async (root) => {
    const store = await ImageStore.open(root);
    const a = await makeImage(store, [base, [{ path: 'a', type: 'file', body: 'a' }]]);
    const b = await makeImage(store, [base, [{ path: 'b', type: 'file', body: 'b' }]]);
    await store.tag(a.id, 'a:1');
    await store.tag(a.id, 'a:2');
    const result = await store.delete('a:1');
    assert.is(result.id, a.id);
    assert.equal(result.untagged, ['a:1', 'a:2']);
    assert.equal(
      result.removedLayers.map((l) => l.diffId),
      [a.diffIds[1]],
    );
    assert.equal(result.unusedChainIds, [a.chainIds[1]]);
    assert.not.ok(await store.content.has(a.id));
    assert.not.ok(await store.content.has(a.layers[1]!.digest));
    assert.ok(await store.content.has(a.layers[0]!.digest), 'the shared layer stays');
    await rejects(() => store.get(a.id), NotFound);
    assert.is((await store.get(b.id)).id, b.id);
    await store.delete(b.id);
    assert.equal(await store.content.list(), []);
    assert.equal(store.layers.list(), []);
    assert.equal(await store.list(), []);
  }));

test('collectGarbage removes the blobs and layer records no image uses, never a used one, and waits for adding operations', () =>
  withTempDir('store', async (root) => {
    const store = await ImageStore.open(root);
    const image = await makeImage(store, [[{ path: 'kept', type: 'file', body: 'kept' }]]);
    const kept = (await store.content.list()).map((b) => b.digest).sort();
    // What a failed load leaves: a layer blob and its record, and a config no image was made of.
    const orphanLayer = await tarBytes([{ path: 'orphan', type: 'file', body: 'orphan' }]);
    const orphanBlob = await store.content.ingestBytes(orphanLayer);
    const scan = await scanLayer([orphanLayer]);
    await store.layers.register({
      diffId: scan.diffId,
      digest: orphanBlob.digest,
      compression: 'none',
      size: scan.size,
      tarSize: scan.tarSize,
    });
    const orphanConfig = await store.content.ingestBytes('{"orphan":true}');

    // While an operation adds images, nothing goes: its blobs are no image's yet.
    let during: Awaited<ReturnType<ImageStore['collectGarbage']>> | undefined;
    await store.adding(async () => {
      during = await store.collectGarbage();
    });
    assert.equal(during, { layers: [], blobs: [] });

    const again = await store.collectGarbage();
    // Put off by the adding operation, the collection ran when it ended, or runs now.
    const left = (await store.content.list()).map((b) => b.digest).sort();
    assert.equal(left, kept, "only the image's blobs remain");
    assert.not.ok(left.includes(orphanConfig.digest));
    assert.equal(
      store.layers.list().map((l) => l.diffId),
      image.diffIds,
    );
    assert.ok(again.blobs.length === 0 || again.blobs.includes(orphanBlob.digest));
    assert.equal((await store.get(image.id)).id, image.id, 'the image is whole');
    assert.equal(await store.collectGarbage(), { layers: [], blobs: [] }, 'nothing more to collect');
  }));

test('create refuses a config with unknown layers or a bad shape', () =>
  withTempDir('store', async (root) => {
    const store = await ImageStore.open(root);
    const unknownLayer = `sha256:${'cd'.repeat(32)}`;
    const { digest } = await store.content.ingestBytes(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [unknownLayer] } }),
    );
    assert.match((await rejects(() => store.create(digest), NotFound)).message, `layer ${unknownLayer} is not in the store`);
    const bad = await store.content.ingestBytes(JSON.stringify({ os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    assert.match((await rejects(() => store.create(bad.digest), InvalidArgument)).message, /architecture is missing/);
    assert.equal(await store.list(), []);
  }));

test('a delete while an import stores the same layer again: the image it makes is whole; what no image uses goes when it ends', () =>
  withTempDir('store', async (dir) => {
    const store = await ImageStore.open(dir);
    const shared = await tarBytes([{ path: 'shared', type: 'file', body: 'both images have it' }]);
    const own = await tarBytes([{ path: 'own', type: 'file', body: 'only the deleted image has it' }]);
    const first = await importRootfs(store, [shared], { repo: 'first', tag: 'v1' });
    const gone = await importRootfs(store, [own], { repo: 'gone', tag: 'v1' });
    // A second import of the shared layer, held after it stored its blob and layer record.
    let stored!: () => void;
    let resume!: () => void;
    const reached = new Promise<void>((resolve) => (stored = resolve));
    const held = new Promise<void>((resolve) => (resume = resolve));
    const { ingest } = store.content;
    Object.defineProperty(store.content, 'ingest', {
      configurable: true,
      value: async (...args: Parameters<typeof ingest>) => {
        const blob = await ingest.apply(store.content, args);
        if (blob.digest === first.diffIds[0]) {
          stored();
          await held;
        }
        return blob;
      },
    });
    const second = importRootfs(store, [shared], { repo: 'second', tag: 'v1', created: new Date('2020-01-01T00:00:00Z') });
    await reached;
    // Both images go while the import is under way: the shared layer's files must stay for it.
    await store.delete(first.id);
    await store.delete(gone.id);
    assert.ok(await store.content.has(first.diffIds[0]!), 'the shared blob stays while the import runs');
    assert.ok(await store.content.has(gone.diffIds[0]!), 'and so does every file until it ends');
    resume();
    const made = await second;
    const image = await store.get('second:v1');
    assert.is(image.id, made.id);
    assert.ok(await store.content.has(image.layers[0]!.digest), 'the import made a whole image');
    await store.tag(made.id, 'second:v2'); // queued behind the removal that followed the import
    assert.not.ok(await store.content.has(gone.diffIds[0]!), 'the deleted image’s own layer went when the import ended');
    assert.not.ok(await store.content.has(first.id), 'and the deleted image’s config');
    assert.equal(
      store.layers.list().map((l) => l.diffId),
      [first.diffIds[0]],
    );
  }));

test.run();
