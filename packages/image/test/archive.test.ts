import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { InvalidArgument, NotFound } from '@berth/core';
import {
  applyLayer,
  type Digest,
  digestHex,
  goArch,
  type ImageConfig,
  ImageStore,
  importRootfs,
  loadArchive,
  MediaTypes,
  readTar,
  saveArchive,
  scanLayer,
  sha256Digest,
  type TarWriteEntry,
} from '@berth/image';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chunked, collect, gzTarBytes, rejects, tarBytes, withTempDir } from './helpers.js';

const baseLayer: TarWriteEntry[] = [
  { path: 'bin/', type: 'directory' },
  { path: 'bin/tool', type: 'file', body: 'base layer' },
  { path: 'big', type: 'file', body: Buffer.alloc(3 << 20, 0x5a) },
];

/** An image whose layers are stored as given (gzip when asked), as a pull would store them. */
async function makeImage(store: ImageStore, layers: Buffer[], extra: Partial<ImageConfig> = {}) {
  const diffIds: Digest[] = [];
  for (const data of layers) {
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
    architecture: goArch(),
    os: 'linux',
    created: '2024-01-01T00:00:00Z',
    config: { Cmd: ['tool'], Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'test' })),
    ...extra,
  };
  const { digest } = await store.content.ingestBytes(JSON.stringify(config));
  return store.create(digest);
}

async function archiveFiles(data: Buffer): Promise<Map<string, { type: string; content?: Buffer; linkpath?: string }>> {
  const out = new Map<string, { type: string; content?: Buffer; linkpath?: string }>();
  for await (const e of readTar([data])) {
    const item: { type: string; content?: Buffer; linkpath?: string } = { type: e.type };
    if (e.type === 'file') item.content = await collect(e.body);
    if (e.linkpath) item.linkpath = e.linkpath;
    out.set(e.path, item);
  }
  return out;
}

test('save → load into a fresh store gives the same images, names and layers', () =>
  withTempDir('archive', async (tmp) => {
    const a = await ImageStore.open(path.join(tmp, 'a'));
    const base = await makeImage(a, [await gzTarBytes(baseLayer)]);
    const app = await makeImage(a, [await gzTarBytes(baseLayer), await tarBytes([{ path: 'app', type: 'file', body: 'app' }])]);
    await a.tag(base.id, 'trc/base:1');
    await a.tag(base.id, 'trc/base:2');
    await a.tag(app.id, '127.0.0.1:5010/trc/app:v1');

    const archive = await collect(await saveArchive(a, ['trc/base', '127.0.0.1:5010/trc/app:v1']));
    const files = await archiveFiles(archive);
    const manifest = JSON.parse(files.get('manifest.json')!.content!.toString());
    assert.equal(
      manifest.map((m: { RepoTags: string[] }) => m.RepoTags),
      [['trc/base:1', 'trc/base:2'], ['127.0.0.1:5010/trc/app:v1']],
    );
    assert.is(manifest[0].Config, `${digestHex(base.id)}.json`);
    assert.equal(files.get(manifest[0].Config)!.content, await a.content.readBytes(base.id), 'the config byte for byte');
    const appLayers: string[] = manifest[1].Layers;
    assert.is(appLayers.length, 2);
    for (const layerPath of appLayers) {
      const dir = path.posix.dirname(layerPath);
      assert.is(files.get(`${dir}/VERSION`)!.content!.toString(), '1.0');
      assert.ok(JSON.parse(files.get(`${dir}/json`)!.content!.toString()).id === dir);
    }
    // The base layer appears in both images; its bytes are written once, uncompressed.
    const baseTar = files.get(manifest[0].Layers[0])!;
    assert.is(baseTar.type, 'file');
    assert.is(sha256Digest(baseTar.content!), base.diffIds[0]);
    const shared = files.get(appLayers[0]!)!;
    assert.is(shared.type, 'symlink');
    assert.is(shared.linkpath, `../${manifest[0].Layers[0]}`);
    const repositories = JSON.parse(files.get('repositories')!.content!.toString());
    assert.equal(Object.keys(repositories).sort(), ['127.0.0.1:5010/trc/app', 'trc/base']);
    assert.equal(Object.keys(repositories['trc/base']).sort(), ['1', '2']);

    const b = await ImageStore.open(path.join(tmp, 'b'));
    const loaded = await loadArchive(b, chunked(archive, 65536));
    assert.equal(loaded.images, [
      { id: base.id, repoTags: ['trc/base:1', 'trc/base:2'] },
      { id: app.id, repoTags: ['127.0.0.1:5010/trc/app:v1'] },
    ]);
    const appB = await b.get('127.0.0.1:5010/trc/app:v1');
    assert.equal(appB.diffIds, app.diffIds);
    assert.is(appB.size, app.size);
    assert.equal(appB.config, app.config);
    // Saving again, from either store, gives the same bytes.
    assert.equal(await collect(await saveArchive(b, ['trc/base', '127.0.0.1:5010/trc/app:v1'])), archive);
    assert.equal(await collect(await saveArchive(a, ['trc/base', '127.0.0.1:5010/trc/app:v1'])), archive);
  }));

test('an OCI layout save is an image layout and a docker-archive: loads back by either, same ids, same digests every time', () =>
  withTempDir('archive', async (tmp) => {
    const a = await ImageStore.open(path.join(tmp, 'a'));
    const base = await makeImage(a, [await gzTarBytes(baseLayer)]);
    const app = await makeImage(a, [await gzTarBytes(baseLayer), await tarBytes([{ path: 'app', type: 'file', body: 'app' }])]);
    await a.tag(base.id, 'trc/base:1');
    await a.tag(app.id, '127.0.0.1:5010/trc/app:v1');
    const archive = await collect(await saveArchive(a, ['trc/base:1', '127.0.0.1:5010/trc/app:v1'], { format: 'oci' }));
    const files = await archiveFiles(archive);
    assert.equal(JSON.parse(files.get('oci-layout')!.content!.toString()), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(files.get('index.json')!.content!.toString());
    assert.is(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.equal(
      index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations),
      [
        { 'io.containerd.image.name': 'docker.io/trc/base:1', 'org.opencontainers.image.ref.name': '1' },
        { 'io.containerd.image.name': '127.0.0.1:5010/trc/app:v1', 'org.opencontainers.image.ref.name': 'v1' },
      ],
    );
    // Every blob is where its digest says, and hashes to it; layers uncompressed (digest = diffID).
    for (const [name, file] of files) {
      if (!name.startsWith('blobs/sha256/') || file.type !== 'file') continue;
      assert.is(sha256Digest(file.content!), `sha256:${name.slice('blobs/sha256/'.length)}`, name);
    }
    const appManifest = JSON.parse(files.get(`blobs/sha256/${digestHex(index.manifests[1].digest)}`)!.content!.toString());
    assert.is(appManifest.config.digest, app.id);
    assert.equal(
      appManifest.layers.map((l: { digest: string }) => l.digest),
      app.diffIds,
    );
    const manifest = JSON.parse(files.get('manifest.json')!.content!.toString());
    assert.equal(
      manifest[1].Layers,
      app.diffIds.map((d) => `blobs/sha256/${digestHex(d)}`),
    );
    assert.equal(await collect(await saveArchive(a, ['trc/base:1', '127.0.0.1:5010/trc/app:v1'], { format: 'oci' })), archive);

    // Read as a docker-archive (manifest.json wins), and as a bare OCI layout (without it).
    const b = await ImageStore.open(path.join(tmp, 'b'));
    const loaded = await loadArchive(b, chunked(archive, 65536));
    assert.equal(loaded.images, [
      { id: base.id, repoTags: ['trc/base:1'] },
      { id: app.id, repoTags: ['127.0.0.1:5010/trc/app:v1'] },
    ]);
    const ociOnly = await tarBytes(
      [...files]
        .filter(([name]) => name !== 'manifest.json' && name !== 'repositories')
        .map(([name, f]) =>
          f.type === 'directory' ? { path: name, type: 'directory' as const } : { path: name, type: 'file' as const, body: f.content! },
        ),
    );
    const c = await ImageStore.open(path.join(tmp, 'c'));
    const fromLayout = await loadArchive(c, chunked(ociOnly, 65536));
    assert.equal(fromLayout.images.map((i) => i.id).sort(), [base.id, app.id].sort());
    assert.equal((await c.get('127.0.0.1:5010/trc/app:v1')).diffIds, app.diffIds);
    // And saved again from the loaded store: the same bytes, so the same manifest digests.
    assert.equal(await collect(await saveArchive(b, ['trc/base:1', '127.0.0.1:5010/trc/app:v1'], { format: 'oci' })), archive);
  }));

test('save by id writes no names; a gzip-compressed archive loads too; unknown names fail before streaming', () =>
  withTempDir('archive', async (tmp) => {
    const a = await ImageStore.open(path.join(tmp, 'a'));
    const imported = await importRootfs(a, [await tarBytes([{ path: 'f', type: 'file', body: 'f' }])], { repo: 'x', tag: '1' });
    const archive = await collect(await saveArchive(a, [imported.id.slice(0, 19)]));
    const manifest = JSON.parse((await archiveFiles(archive)).get('manifest.json')!.content!.toString());
    assert.is(manifest[0].RepoTags, null);
    assert.not.ok((await archiveFiles(archive)).has('repositories'));
    const b = await ImageStore.open(path.join(tmp, 'b'));
    assert.equal((await loadArchive(b, [gzipSync(archive)])).images, [{ id: imported.id, repoTags: [] }]);
    assert.equal((await b.get(imported.id)).repoTags, []);
    assert.is((await rejects(() => saveArchive(a, ['x:1', 'nosuch']), NotFound)).message, 'No such image: nosuch:latest');
  }));

test('a gzip layer inside an archive is stored as it is, with the diffID of its content', () =>
  withTempDir('archive', async (tmp) => {
    const layer = await tarBytes([{ path: 'hello', type: 'file', body: 'hi' }]);
    const gz = gzipSync(layer);
    const diffId = sha256Digest(layer);
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } });
    const cfgName = `${digestHex(sha256Digest(config))}.json`;
    // Layers at the top level, named as go-containerregistry's tarballs name them.
    const archive = await tarBytes([
      { path: `${digestHex(sha256Digest(gz))}.tar.gz`, type: 'file', body: gz },
      { path: cfgName, type: 'file', body: config },
      {
        path: 'manifest.json',
        type: 'file',
        body: JSON.stringify([{ Config: cfgName, RepoTags: ['gz:1'], Layers: [`${digestHex(sha256Digest(gz))}.tar.gz`] }]),
      },
    ]);
    const store = await ImageStore.open(path.join(tmp, 'data'));
    await loadArchive(store, [archive]);
    const image = await store.get('gz:1');
    assert.is(image.layers[0]!.diffId, diffId);
    assert.is(image.layers[0]!.digest, sha256Digest(gz));
    assert.is(image.layers[0]!.compression, 'gzip');
    const root = path.join(tmp, 'root');
    await fs.mkdir(root);
    assert.is((await applyLayer(root, await store.content.get(image.layers[0]!.digest))).diffId, diffId);
    assert.is(await fs.readFile(path.join(root, 'hello'), 'utf8'), 'hi');
    // And it is saved uncompressed.
    const saved = await archiveFiles(await collect(await saveArchive(store, ['gz:1'])));
    const manifest = JSON.parse(saved.get('manifest.json')!.content!.toString());
    assert.equal(saved.get(manifest[0].Layers[0])!.content, layer);
  }));

/** An OCI image layout archive as podman/skopeo write it, optionally with a nested index. */
async function ociArchive(options: { nested?: boolean; name?: Record<string, string> } = {}) {
  const layer = await gzTarBytes(baseLayer);
  const diffId = sha256Digest(await tarBytes(baseLayer));
  const config = Buffer.from(JSON.stringify({ architecture: goArch(), os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } }));
  const desc = (mediaType: string, data: Buffer) => ({ mediaType, digest: sha256Digest(data), size: data.length });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: desc(MediaTypes.ociConfig, config),
      layers: [desc(MediaTypes.ociLayerGzip, layer)],
    }),
  );
  const otherConfig = Buffer.from(JSON.stringify({ architecture: 'other', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const otherManifest = Buffer.from(JSON.stringify({ schemaVersion: 2, config: desc(MediaTypes.ociConfig, otherConfig), layers: [] }));
  const blobs = [layer, config, manifest, otherConfig, otherManifest];
  let top = { ...desc(MediaTypes.ociManifest, manifest), annotations: options.name ?? {} };
  if (options.nested) {
    const nested = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [
          { ...desc(MediaTypes.ociManifest, otherManifest), platform: { architecture: 'other', os: 'linux' } },
          { ...desc(MediaTypes.ociManifest, manifest), platform: { architecture: goArch(), os: 'linux' } },
        ],
      }),
    );
    blobs.push(nested);
    top = { ...desc(MediaTypes.ociIndex, nested), annotations: options.name ?? {} };
  }
  const entries: TarWriteEntry[] = [
    { path: 'blobs/', type: 'directory' },
    { path: 'blobs/sha256/', type: 'directory' },
    ...blobs.map((b): TarWriteEntry => ({ path: `blobs/sha256/${digestHex(sha256Digest(b))}`, type: 'file', body: b })),
    { path: 'index.json', type: 'file', body: JSON.stringify({ schemaVersion: 2, manifests: [top] }) },
    { path: 'oci-layout', type: 'file', body: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
  ];
  return { archive: await tarBytes(entries), configDigest: sha256Digest(config), diffId };
}

test('an OCI image layout loads, by containerd name or full ref.name, nested index or not', () =>
  withTempDir('archive', async (tmp) => {
    const cases: Array<[Parameters<typeof ociArchive>[0], string[]]> = [
      [{ name: { 'io.containerd.image.name': 'docker.io/library/oci:1', 'org.opencontainers.image.ref.name': '1' } }, ['oci:1']],
      [{ nested: true, name: { 'org.opencontainers.image.ref.name': 'localhost/podman/img:latest' } }, ['localhost/podman/img:latest']],
      [{ name: { 'org.opencontainers.image.ref.name': 'latest' } }, []],
    ];
    for (const [i, [options, tags]] of cases.entries()) {
      const { archive, configDigest, diffId } = await ociArchive(options);
      const store = await ImageStore.open(path.join(tmp, `s${i}`));
      assert.equal((await loadArchive(store, chunked(archive, 10000))).images, [{ id: configDigest, repoTags: tags }]);
      const image = await store.get(configDigest);
      assert.equal(image.diffIds, [diffId]);
      assert.is(image.layers[0]!.compression, 'gzip');
      assert.is(image.size, 'base layer'.length + (3 << 20));
    }
  }));

test('bad archives are refused by what is wrong, and no image is created', () =>
  withTempDir('archive', async (tmp) => {
    const layer = await tarBytes([{ path: 'f', type: 'file', body: 'f' }]);
    const diffId = sha256Digest(layer);
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } });
    const cfg = `${digestHex(sha256Digest(config))}.json`;
    const manifest = (m: unknown): TarWriteEntry => ({ path: 'manifest.json', type: 'file', body: JSON.stringify(m) });
    const good = { Config: cfg, RepoTags: ['ok:1'], Layers: ['l/layer.tar'] };
    const layerEntry: TarWriteEntry = { path: 'l/layer.tar', type: 'file', body: layer };
    const cfgEntry: TarWriteEntry = { path: cfg, type: 'file', body: config };
    const cases: Array<[string, Buffer, RegExp]> = [
      ['no manifest', await tarBytes([layerEntry, cfgEntry]), /^invalid tar archive: manifest.json not found$/],
      [
        'manifest not JSON',
        await tarBytes([layerEntry, cfgEntry, { path: 'manifest.json', type: 'file', body: '[{' }]),
        /^invalid tar archive: manifest.json is not valid JSON/,
      ],
      ['config missing', await tarBytes([layerEntry, manifest([good])]), new RegExp(`^invalid tar archive: config ${cfg} not found$`)],
      ['layer missing', await tarBytes([cfgEntry, manifest([good])]), /^invalid tar archive: layer l\/layer.tar not found$/],
      [
        'layer not a tar',
        await tarBytes([{ path: 'l/layer.tar', type: 'file', body: 'garbage'.repeat(100) }, cfgEntry, manifest([good])]),
        /^invalid tar archive: layer l\/layer.tar is not a tar archive/,
      ],
      [
        'diffID mismatch',
        await tarBytes([
          { path: 'l/layer.tar', type: 'file', body: await tarBytes([{ path: 'g', type: 'file', body: 'g' }]) },
          cfgEntry,
          manifest([good]),
        ]),
        /^invalid tar archive: layer 0 of image .* \(l\/layer.tar\) has diffID sha256:[0-9a-f]{64}, but the config expects sha256:/,
      ],
      [
        'layer count',
        await tarBytes([layerEntry, cfgEntry, manifest([{ ...good, Layers: [] }])]),
        /has 0 layers but its config lists 1 diff_ids/,
      ],
      ['bad name', await tarBytes([layerEntry, cfgEntry, manifest([{ ...good, RepoTags: ['Bad:1'] }])]), /invalid image name "Bad:1"/],
      [
        'truncated',
        (await tarBytes([layerEntry, cfgEntry, manifest([good])])).subarray(0, 700),
        /^invalid tar archive: stream ends inside/,
      ],
      ['not a tar', Buffer.from('hello world, this is not an archive'.repeat(30)), /^invalid tar archive: header checksum mismatch/],
      // The second image is bad: the first must not be created either.
      [
        'second image bad',
        await tarBytes([layerEntry, cfgEntry, manifest([good, { ...good, Config: 'nope.json' }])]),
        /config nope.json not found/,
      ],
    ];
    for (const [label, archive, message] of cases) {
      const store = await ImageStore.open(path.join(tmp, label.replace(/ /g, '-')));
      const err = await rejects(() => loadArchive(store, [archive]), InvalidArgument);
      assert.match(err.message, message, label);
      assert.equal(await store.list(), [], label);
      assert.equal(store.layers.list(), [], label);
    }
  }));

test.run();
