import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { isBerthError } from '@berth/core';
import { applyLayer, ImageStore, importRootfs, loadArchive, scanLayer, sha256Digest } from '@berth/image';
import { treeSnapshot } from '@berth/testkit';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chunked, tarBytes, withTempDir } from './helpers.js';
import { type HostileLayer, hostileLayers } from './hostile-layers.js';

const isRoot = process.getuid?.() === 0;

const etcBefore = Promise.all([fs.readFile('/etc/passwd'), fs.readFile('/etc/shadow').catch(() => Buffer.alloc(0))]);

async function hostUntouched(tmp: string, outside: string, before: string): Promise<void> {
  assert.is(await treeSnapshot(outside), before, 'the directory beside the root is unchanged');
  assert.equal(await fs.readdir(tmp).then((n) => n.sort()), ['outside', 'root'], 'nothing planted beside the root');
  const [passwd, shadow] = await etcBefore;
  assert.equal(await fs.readFile('/etc/passwd'), passwd);
  assert.equal(await fs.readFile('/etc/shadow').catch(() => Buffer.alloc(0)), shadow);
  assert.not.ok(
    await fs
      .lstat('/tmp/berth-planted')
      .then(() => true)
      .catch(() => false),
    'an absolute name never lands on the host',
  );
}

function expectation(c: HostileLayer): string {
  return c.refused ? `refused (${c.refused})` : 'kept';
}

for (const c of hostileLayers) {
  if (c.root && !isRoot) continue;

  test(`applyLayer: ${c.name} (${c.why}) is ${expectation(c)}`, () =>
    withTempDir('hostile', async (tmp) => {
      const root = path.join(tmp, 'root');
      const outside = path.join(tmp, 'outside');
      await fs.mkdir(root);
      await fs.mkdir(outside);
      await fs.writeFile(path.join(outside, 'sentinel'), 'do not touch');
      await fs.symlink('../outside', path.join(root, 'out-link'));
      const before = await treeSnapshot(outside);
      const bytes = await c.bytes();
      let error: unknown;
      try {
        await applyLayer(root, chunked(bytes, 4096));
      } catch (err) {
        error = err;
      }
      await hostUntouched(tmp, outside, before);
      if (c.refused) {
        assert.ok(isBerthError(error, 'InvalidArgument'), `an InvalidArgument, got ${String(error)}`);
        assert.match((error as Error).message, c.refused);
      } else {
        assert.is(error, undefined, `unpacked without error, got ${String(error)}`);
        await c.kept!(root);
      }
    }));

  test(`import: ${c.name} is ${c.refused ? 'refused at import, storing nothing' : 'imported, and then unpacks'}`, () =>
    withTempDir('hostile', async (tmp) => {
      const store = await ImageStore.open(path.join(tmp, 'data'));
      const bytes = await c.bytes();
      let error: unknown;
      let id: string | undefined;
      try {
        id = (await importRootfs(store, chunked(bytes, 65536), { repo: 'hostile', tag: c.name })).id;
      } catch (err) {
        error = err;
      }
      if (c.refused) {
        assert.ok(isBerthError(error, 'InvalidArgument'), `an InvalidArgument, got ${String(error)}`);
        assert.match((error as Error).message, c.refused);
        assert.equal(await store.list(), [], 'no image');
        assert.equal(store.layers.list(), [], 'no layer registered');
        assert.equal(await store.content.list(), [], 'no blob');
        assert.equal(await fs.readdir(path.join(tmp, 'data/blobs/ingest')), [], 'no partial blob');
      } else {
        assert.is(error, undefined, `imported without error, got ${String(error)}`);
        const image = await store.get(id!);
        const root = path.join(tmp, 'root');
        await fs.mkdir(root);
        const layer = image.layers[0]!;
        await applyLayer(root, await store.content.get(layer.digest), { expectedDiffId: layer.diffId });
        await c.kept!(root);
      }
    }));

  test(`load: an image whose only layer is ${c.name} is ${c.refused ? 'refused at load, naming nothing' : 'loaded'}`, () =>
    withTempDir('hostile', async (tmp) => {
      const store = await ImageStore.open(path.join(tmp, 'data'));
      const layer = await c.bytes();
      const plain = layer[0] === 0x1f && layer[1] === 0x8b ? Buffer.alloc(0) : layer;
      const config = JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [sha256Digest(plain)] },
      });
      const archive = await tarBytes([
        { path: 'layer.tar', type: 'file', body: layer },
        { path: 'config.json', type: 'file', body: config },
        {
          path: 'manifest.json',
          type: 'file',
          body: JSON.stringify([{ Config: 'config.json', RepoTags: ['hostile:1'], Layers: ['layer.tar'] }]),
        },
      ]);
      let error: unknown;
      await loadArchive(store, chunked(archive, 65536)).catch((err) => {
        error = err;
      });
      if (c.refused) {
        assert.ok(isBerthError(error, 'InvalidArgument'), `an InvalidArgument, got ${String(error)}`);
        // The archive's own prefix replaces the tar reader's.
        // A load keeps a gzip layer as it comes (nothing large is written), so the bomb is
        // refused for what reading it finds: its zeros end long before its 4 TiB.
        const expected =
          c.name === 'gzip-bomb-file' ? /stream ends inside "zeros"/ : new RegExp(c.refused.source.replace('invalid tar: ', ''));
        assert.match((error as Error).message, expected);
        assert.match((error as Error).message, /^invalid tar archive: layer layer\.tar (can never be unpacked|is not a tar archive)/);
        assert.equal(await store.list(), [], 'no image');
      } else {
        assert.is(error, undefined, String(error));
        assert.equal((await store.get('hostile:1')).diffIds, [sha256Digest(layer)]);
      }
    }));

  test(`the layer checker agrees with applyLayer on ${c.name}`, async () => {
    const bytes = await c.bytes();
    let error: unknown;
    try {
      await scanLayer(chunked(bytes, 65536), { check: true, spaceDir: '/tmp' });
    } catch (err) {
      error = err;
    }
    if (c.refused) assert.match(String((error as Error)?.message), c.refused);
    else assert.is(error, undefined, String(error));
  });
}

test('a layer with a wrong diffID is refused after unpacking, by digest', () =>
  withTempDir('hostile', async (tmp) => {
    const root = path.join(tmp, 'root');
    await fs.mkdir(root);
    const good = hostileLayers.find((c) => c.name === 'hardlink-inside-kept')!;
    const wrong = `sha256:${'0'.repeat(64)}` as const;
    let error: unknown;
    await applyLayer(root, [await good.bytes()], { expectedDiffId: wrong }).catch((err) => {
      error = err;
    });
    assert.match(String((error as Error)?.message), /layer diffID mismatch: expected sha256:0{64}, got sha256:[0-9a-f]{64}/);
  }));

test.run();
