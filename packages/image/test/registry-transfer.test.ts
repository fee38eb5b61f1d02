import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, readdirSync, readlinkSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { gunzipSync, gzipSync, zstdCompressSync } from 'node:zlib';
import { htpasswdLine, LocalRegistry, TokenServer } from '@berth/testkit/registry';
import { suiteTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type Digest,
  endpointFor,
  ImageStore,
  importRootfs,
  MediaTypes,
  normalizeReference,
  parsePlatform,
  pullImage,
  pushImage,
  RegistryClient,
  registryEndpoints,
  sha256Digest,
} from '../src/index.js';
import { rejects, tarBytes, withTempDir } from './helpers.js';

// Each test starts Debian's reference registry (`npm run setup` installs it): real
// HTTP, real uploads, real auth; only the token server of the bearer test is ours.
suiteTimeout(test, 30_000);

async function withRegistry<T>(
  fn: (registry: LocalRegistry, dir: string) => Promise<T>,
  auth?: Parameters<LocalRegistry['start']>[0],
  options?: Parameters<LocalRegistry['start']>[1],
): Promise<T> {
  const registry = new LocalRegistry('/tmp/berth-unit-image-registry-');
  try {
    await registry.start(auth, options);
    return await withTempDir('transfer', (dir) => fn(registry, dir));
  } finally {
    await registry.stop();
  }
}

async function storeWithImage(dir: string, name: string): Promise<{ store: ImageStore; id: Digest }> {
  const store = await ImageStore.open(path.join(dir, 'a'));
  const layer = await tarBytes([
    { path: 'etc/', type: 'directory' },
    { path: 'etc/hello', type: 'file', body: 'x'.repeat(20_000) },
  ]);
  const { id } = await importRootfs(store, [layer], { repo: name });
  return { store, id };
}

test('push (chunked PATCH uploads) then pull into another store: the same image, repo digests, no second transfer', () =>
  withRegistry(async (registry, dir) => {
    const name = `${registry.address}/trc/unit:1`;
    const { store, id } = await storeWithImage(dir, name);
    const progress: string[] = [];
    const pushed = await pushImage(store, {
      reference: normalizeReference(name),
      chunkSize: 4096,
      progress: (m) => progress.push(`${m.id ?? ''} ${m.status}`),
    });
    assert.is(pushed.uploaded, 2);
    assert.ok(progress.includes(`${(await store.get(id)).diffIds[0]!.slice(7, 19)} Pushed`), progress.join('\n'));
    assert.equal((await store.get(id)).repoDigests, [`${registry.address}/trc/unit@${pushed.digest}`]);
    const again = await pushImage(store, { reference: normalizeReference(name) });
    assert.is(again.uploaded, 0);
    assert.is(again.digest, pushed.digest);

    const other = await ImageStore.open(path.join(dir, 'b'));
    const lines: string[] = [];
    const pulled = await pullImage(other, { reference: normalizeReference(name), progress: (m) => lines.push(m.status ?? '') });
    assert.is(pulled.id, id);
    assert.is(pulled.digest, pushed.digest);
    assert.ok(pulled.changed);
    assert.is(pulled.downloadedLayers, 1);
    for (const status of ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete']) {
      assert.ok(lines.includes(status), `${status} in ${lines.join(', ')}`);
    }
    const image = await other.get(name);
    assert.is(image.layers[0]!.compression, 'gzip');
    assert.equal(image.repoTags, [`${registry.address}/trc/unit:1`]);
    const second = await pullImage(other, { reference: normalizeReference(name) });
    assert.is(second.downloadedLayers, 0);
    assert.not.ok(second.changed);
    // A single-platform image asked for another platform: refused in dockerd's words.
    const arch = (await other.get(name)).config.architecture;
    const wrong = arch === 'arm64' ? 'linux/amd64' : 'linux/arm64';
    await rejects(
      () => pullImage(other, { reference: normalizeReference(name), platform: parsePlatform(wrong) }),
      new RegExp(
        `image with reference .*trc/unit:1 was found but does not match the specified platform: wanted ${wrong}, actual: linux/${arch}`,
      ),
    );
  }));

test('a layer of several MiB is pushed as one gzip member per MiB, which zlib and GNU gzip read whole; pulled back, the same image', () =>
  withRegistry(async (registry, dir) => {
    const name = `${registry.address}/trc/members:1`;
    const store = await ImageStore.open(path.join(dir, 'a'));
    const text = Buffer.from(Array.from({ length: 120_000 }, (_, i) => `line ${i} ${(i * 7919) % 100_003}\n`).join(''));
    const layer = await tarBytes([
      { path: 'text', type: 'file', body: text },
      { path: 'random', type: 'file', body: randomBytes(1_500_000) },
    ]);
    const { id } = await importRootfs(store, [layer], { repo: name });
    const pushed = await pushImage(store, { reference: normalizeReference(name) });
    const client = new RegistryClient({ endpoints: registryEndpoints(registry.address, {}, 'pull') });
    await client.ping();
    const manifest = JSON.parse((await client.getManifest('trc/members', pushed.digest)).bytes.toString());
    assert.is(manifest.layers[0].mediaType, MediaTypes.dockerLayerGzip);
    const blobFile = path.join(dir, 'blob.gz');
    const parts: Buffer[] = [];
    for await (const chunk of client.blob('trc/members', manifest.layers[0].digest, manifest.layers[0].size))
      parts.push(Buffer.from(chunk));
    const blob = Buffer.concat(parts);
    await fs.writeFile(blobFile, blob);
    // One member per MiB of the tar: a gzip header at each member's start.
    const members = blob.toString('latin1').split('\x1f\x8b\x08').length - 1;
    assert.ok(members >= Math.ceil(layer.length / (1 << 20)), `${members} members for ${layer.length} bytes`);
    assert.ok(gunzipSync(blob).equals(layer), 'zlib reads every member');
    const gnu = spawnSync('gzip', ['-dc', blobFile], { maxBuffer: 64 << 20 });
    assert.is(gnu.status, 0, String(gnu.stderr));
    assert.ok(gnu.stdout.equals(layer), 'GNU gzip reads every member');
    const other = await ImageStore.open(path.join(dir, 'b'));
    const pulled = await pullImage(other, { reference: normalizeReference(name) });
    assert.is(pulled.id, id);
    // The gzip's digest is in the layer record: after a restart (the store opened again) a
    // push asks the registry first and compresses nothing, as dockerd's distribution metadata.
    const reopened = await ImageStore.open(path.join(dir, 'a'));
    const lines: string[] = [];
    const third = await pushImage(reopened, { reference: normalizeReference(name), progress: (m) => lines.push(m.status ?? '') });
    assert.is(third.uploaded, 0);
    assert.ok(lines.includes('Layer already exists'), lines.join(', '));
    assert.is(reopened.layers.list()[0]!.pushedGzip?.digest, manifest.layers[0].digest);
    // Under a name alone in its repository (nothing to mount from), the layer is compressed
    // again: the same bytes, so the digest remembered from the first push (pushImage checks).
    const again = `${registry.address}/trc/members-again:1`;
    await store.tag(id, again);
    await store.untag(name);
    await store.untag(`${registry.address}/trc/members@${pushed.digest}`);
    const second = await pushImage(store, { reference: normalizeReference(again) });
    assert.is(second.uploaded, 2);
    assert.is(second.digest, pushed.digest);
  }));

test('a registry answering 500: a blob asked again after a pause is pulled; a blob or manifest it never serves fails the pull in its words, nothing kept', () =>
  withRegistry(async (registry, dir) => {
    const name = `${registry.address}/trc/flaky:1`;
    const { store, id } = await storeWithImage(dir, name);
    await pushImage(store, { reference: normalizeReference(name) });
    // A proxy in front of the registry that answers the next `failBlobs` blob GETs, and
    // every manifest GET while `failManifests`, with a 500.
    let failBlobs = 0;
    let failManifests = false;
    // Blob GETs let through before the failures start (1: the config, fetched before any layer).
    let passBlobs = 0;
    const failed: string[] = [];
    const proxy = http.createServer((req, res) => {
      const url = req.url ?? '';
      if (req.method === 'GET' && url.includes('/blobs/') && passBlobs > 0) passBlobs--;
      else if (req.method === 'GET' && ((url.includes('/blobs/') && failBlobs > 0) || (url.includes('/manifests/') && failManifests))) {
        if (url.includes('/blobs/')) failBlobs--;
        failed.push(url);
        res.writeHead(500, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'unknown error' }] }));
      }
      const upstream = http.request(
        { host: '127.0.0.1', port: registry.port, path: url, method: req.method, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const via = `${address}/trc/flaky:1`;
    const client = async () => {
      const c = new RegistryClient({ endpoints: registryEndpoints(address, {}, 'pull'), maxResumes: 2, retryDelayMs: 10 });
      await c.ping();
      return c;
    };
    const nothingKept = async (storeDir: string, other: ImageStore) => {
      assert.equal(await fs.readdir(path.join(storeDir, 'blobs', 'sha256')), []);
      assert.equal(await fs.readdir(path.join(storeDir, 'blobs', 'ingest')), []);
      assert.equal(await other.list(), []);
    };
    try {
      passBlobs = 1;
      failBlobs = 2;
      const b = await ImageStore.open(path.join(dir, 'b'));
      const lines: string[] = [];
      const progress = (m: { status?: string }) => void (m.status && lines.push(m.status));
      assert.is((await pullImage(b, { reference: normalizeReference(via), client: await client(), progress })).id, id);
      assert.is(failed.length, 2);
      // Each pause before a layer is asked again is told as dockerd tells it.
      assert.equal(
        lines.filter((l) => l.startsWith('Retrying')),
        ['Retrying in 1 second', 'Retrying in 1 second'],
      );

      failBlobs = 3; // more than maxResumes allows
      const c = await ImageStore.open(path.join(dir, 'c'));
      await rejects(
        async () => pullImage(c, { reference: normalizeReference(via), client: await client() }),
        /^cannot fetch blob sha256:[0-9a-f]{64}: unknown: unknown error$/,
      );
      await nothingKept(path.join(dir, 'c'), c);

      failBlobs = 0;
      failManifests = true;
      const d = await ImageStore.open(path.join(dir, 'd'));
      await rejects(async () => pullImage(d, { reference: normalizeReference(via), client: await client() }), /^unknown: unknown error$/);
      await nothingKept(path.join(dir, 'd'), d);
    } finally {
      proxy.close();
    }
  }));

/** Upload bytes as a blob of `repository`. */
async function putBlob(client: RegistryClient, repository: string, bytes: Buffer): Promise<Digest> {
  const digest = sha256Digest(bytes);
  const location = await client.startUpload(repository);
  await client.upload(repository, location, digest, bytes.length, [bytes] as unknown as AsyncIterable<Uint8Array>);
  return digest;
}

test('a mirror that lacks the image is passed over for the registry behind it', () =>
  withRegistry(async (registry, dir) => {
    const name = `${registry.address}/library/fallback:1`;
    const { store, id } = await storeWithImage(dir, name);
    await pushImage(store, { reference: normalizeReference(name) });
    const mirror = new LocalRegistry('/tmp/berth-unit-image-registry-');
    try {
      await mirror.start();
      // As registryEndpoints lists them for docker.io: the mirror first, then the registry itself.
      const client = new RegistryClient({
        endpoints: [{ ...endpointFor(mirror.address, {}), mirror: true }, endpointFor(registry.address, {})],
      });
      await client.ping();
      assert.ok(client.usingMirror);
      const other = await ImageStore.open(path.join(dir, 'b'));
      const pulled = await pullImage(other, { reference: normalizeReference(name), client });
      assert.is(pulled.id, id);
    } finally {
      await mirror.stop();
    }
  }));

test('HTTPS: a loopback registry is reached over TLS without checking its certificate; elsewhere the certificate is checked', () =>
  withRegistry(
    async (registry, dir) => {
      const name = `${registry.address}/trc/tls:1`;
      const { store, id } = await storeWithImage(dir, name);
      const client = new RegistryClient({ endpoints: registryEndpoints(registry.address, {}, 'push') });
      await client.ping();
      assert.is(client.baseUrl, `https://${registry.address}`, 'HTTPS first, and it answered');
      await pushImage(store, { reference: normalizeReference(name) });
      const other = await ImageStore.open(path.join(dir, 'b'));
      assert.is((await pullImage(other, { reference: normalizeReference(name) })).id, id);
      // The same registry as a secure one (what any non-loopback host not listed insecure is): its self-signed certificate is refused.
      const strict = new RegistryClient({
        endpoints: [{ host: registry.address, urls: [`https://${registry.address}`], verifyTls: true, mirror: false }],
      });
      await rejects(() => strict.ping(), /cannot reach the registry 127\.0\.0\.1:\d+: .*self[- ]signed certificate/);
    },
    undefined,
    { tls: true },
  ));

test('a five-layer image with two downloads at a time: Waiting for the rest, never more than two under way', () =>
  withRegistry(async (registry, dir) => {
    const client = new RegistryClient({ endpoints: registryEndpoints(registry.address, {}, 'push') });
    await client.ping();
    const layers = [];
    const diffIds = [];
    for (let i = 0; i < 5; i++) {
      const tar = await tarBytes([{ path: `layer-${i}`, type: 'file', body: `${i}`.repeat(300_000) }]);
      const gz = gzipSync(tar);
      layers.push({ mediaType: MediaTypes.dockerLayerGzip, digest: await putBlob(client, 'trc/five', gz), size: gz.length });
      diffIds.push(sha256Digest(tar));
    }
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds }, config: {} }),
    );
    const configDigest = await putBlob(client, 'trc/five', config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.dockerManifest,
        config: { mediaType: MediaTypes.dockerConfig, digest: configDigest, size: config.length },
        layers,
      }),
    );
    await client.putManifest('trc/five', '1', MediaTypes.dockerManifest, manifest);
    const store = await ImageStore.open(path.join(dir, 'pull'));
    const active = new Set<string>();
    let peak = 0;
    const waiting: string[] = [];
    await pullImage(store, {
      reference: normalizeReference(`${registry.address}/trc/five:1`),
      maxConcurrentDownloads: 2,
      progress: (m) => {
        if (m.status === 'Waiting') waiting.push(m.id!);
        if (m.status === 'Downloading') active.add(m.id!);
        if (m.status === 'Download complete') active.delete(m.id!);
        peak = Math.max(peak, active.size);
      },
    });
    assert.is(waiting.length, 3);
    assert.ok(peak <= 2 && peak >= 1, `peak ${peak}`);
    const image = await store.get(`${registry.address}/trc/five:1`);
    assert.equal(image.diffIds, diffIds);
  }));

test('an OCI index of zstd images: the platform asked is pulled, the repo digest is the index', () =>
  withRegistry(async (registry, dir) => {
    const client = new RegistryClient({ endpoints: registryEndpoints(registry.address, {}, 'push') });
    await client.ping();
    const manifests = [];
    for (const architecture of ['amd64', 'arm64']) {
      const tar = await tarBytes([{ path: `arch-${architecture}`, type: 'file', body: architecture }]);
      const layer = zstdCompressSync(tar);
      const layerDigest = await putBlob(client, 'trc/multi', layer);
      const config = Buffer.from(
        JSON.stringify({ architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] }, config: {} }),
      );
      const configDigest = await putBlob(client, 'trc/multi', config);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          config: { mediaType: MediaTypes.ociConfig, digest: configDigest, size: config.length },
          layers: [{ mediaType: MediaTypes.ociLayerZstd, digest: layerDigest, size: layer.length }],
        }),
      );
      const digest = await client.putManifest('trc/multi', sha256Digest(manifest), MediaTypes.ociManifest, manifest);
      manifests.push({ mediaType: MediaTypes.ociManifest, digest, size: manifest.length, platform: { os: 'linux', architecture } });
    }
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }));
    const indexDigest = await client.putManifest('trc/multi', 'v1', MediaTypes.ociIndex, index);

    const store = await ImageStore.open(path.join(dir, 'pull'));
    const ref = normalizeReference(`${registry.address}/trc/multi:v1`);
    const arm = await pullImage(store, { reference: ref, platform: parsePlatform('linux/arm64') });
    assert.is(arm.digest, indexDigest);
    let image = await store.get(arm.id);
    assert.is(image.config.architecture, 'arm64');
    assert.is(image.layers[0]!.compression, 'zstd');
    assert.equal(image.repoDigests, [`${registry.address}/trc/multi@${indexDigest}`]);
    const amd = await pullImage(store, { reference: ref, platform: parsePlatform('linux/amd64') });
    image = await store.get(amd.id);
    assert.is(image.config.architecture, 'amd64');
    await rejects(
      () => pullImage(store, { reference: ref, platform: parsePlatform('linux/s390x') }),
      /no matching manifest for linux\/s390x/,
    );
    await rejects(
      () => pullImage(store, { reference: normalizeReference(`${registry.address}/trc/multi:nope`) }),
      /manifest for .*trc\/multi:nope not found: manifest unknown/,
    );
  }));

test('a push whose streamed layer upload is cut: refused, nothing left locally (no scratch file, the layer file closed); the next push sends it', () =>
  withRegistry(async (registry, dir) => {
    const name = `${registry.address}/trc/cut:1`;
    const store = await ImageStore.open(path.join(dir, 'a'));
    // Incompressible, so the gzip is large enough to be cut in the middle.
    const layer = await tarBytes([{ path: 'noise', type: 'file', body: randomBytes(4 << 20) }]);
    const { id } = await importRootfs(store, [layer], { repo: name });
    const layerFile = store.content.path((await store.get(id)).layers[0]!.digest);
    // A registry that takes the upload's first MiB and then drops the connection.
    let received = 0;
    const cutter = http.createServer((req, res) => {
      if (req.method === 'GET') return res.writeHead(200, { 'Docker-Distribution-API-Version': 'registry/2.0' }).end('{}');
      if (req.method === 'POST') return res.writeHead(202, { Location: '/v2/trc/cut/blobs/uploads/u1', 'Content-Length': 0 }).end();
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > 1 << 20) req.socket.destroy();
      });
    });
    await new Promise<void>((resolve) => cutter.listen(0, '127.0.0.1', resolve));
    try {
      const port = (cutter.address() as AddressInfo).port;
      await store.tag(id, `127.0.0.1:${port}/trc/cut:1`);
      await rejects(
        () => pushImage(store, { reference: normalizeReference(`127.0.0.1:${port}/trc/cut:1`) }),
        /socket hang up|ECONNRESET|EPIPE/,
      );
      assert.ok(received > 1 << 20, 'the upload was under way when it was cut');
    } finally {
      await new Promise((resolve) => cutter.close(resolve));
    }
    assert.equal(await fs.readdir(path.join(dir, 'a', 'blobs', 'ingest')), []);
    for (let i = 0; i < 50 && openFds().includes(layerFile); i++) await new Promise((r) => setTimeout(r, 20));
    assert.not.ok(openFds().includes(layerFile), 'the layer file was closed');
    const pushed = await pushImage(store, { reference: normalizeReference(name) });
    assert.is(pushed.uploaded, 2);
  }));

/** What this process has open. */
function openFds(): string[] {
  return readdirSync('/proc/self/fd').map((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return '';
    }
  });
}

test('a blob the registry serves corrupt is refused and nothing of it is kept', () =>
  withRegistry(async (registry, dir) => {
    const name = `${registry.address}/trc/corrupt:1`;
    const { store, id } = await storeWithImage(dir, name);
    const pushed = await pushImage(store, { reference: normalizeReference(name) });
    const client = new RegistryClient({ endpoints: registryEndpoints(registry.address, {}, 'pull') });
    await client.ping();
    const manifest = JSON.parse((await client.getManifest('trc/corrupt', pushed.digest)).bytes.toString());
    const digest: string = manifest.layers[0].digest;
    assert.ok(id);
    // Flip a byte of the layer as the registry stores it.
    const file = path.join(
      registry.dir,
      'data',
      'docker',
      'registry',
      'v2',
      'blobs',
      'sha256',
      digest.slice(7, 9),
      digest.slice(7),
      'data',
    );
    const bytes = await fs.readFile(file);
    bytes[bytes.length - 10]! ^= 0xff;
    await fs.writeFile(file, bytes);
    const other = await ImageStore.open(path.join(dir, 'b'));
    await rejects(() => pullImage(other, { reference: normalizeReference(name) }), /filesystem layer verification failed for digest/);
    assert.not.ok(await other.content.has(digest as Digest));
    assert.equal(await fs.readdir(path.join(dir, 'b', 'blobs', 'ingest')), []);
    assert.is(await other.find(name), undefined);
  }));

test("a schema 1 manifest is refused in Docker 28's words, by its media type or (served as application/json) by its schemaVersion; nothing is stored", async () => {
  // The reference registry 2.8 no longer takes schema 1 pushes, so a loopback server
  // stands in for an old registry that still serves them.
  const schema1 = Buffer.from(
    JSON.stringify({
      schemaVersion: 1,
      name: 'old/img',
      tag: '1',
      architecture: 'amd64',
      fsLayers: [{ blobSum: sha256Digest(Buffer.from('x')) }],
      history: [{ v1Compatibility: '{}' }],
    }),
  );
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.url === '/v2/') return res.end('{}');
    const contentType = req.url === '/v2/old/img/manifests/1' ? MediaTypes.dockerSchema1SignedManifest : 'application/json';
    if (req.url?.startsWith('/v2/old/img/manifests/')) {
      res.setHeader('Content-Type', contentType);
      return res.end(schema1);
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await withTempDir('schema1', async (dir) => {
      const store = await ImageStore.open(dir);
      for (const tag of ['1', '2']) {
        await rejects(
          () => pullImage(store, { reference: normalizeReference(`${address}/old/img:${tag}`) }),
          new RegExp(
            `^Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed\\. Suggest the author of ${address.replace(/\./g, '\\.')}/old/img:${tag} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2\\. More information at https://docs\\.docker\\.com/go/deprecated-image-specs/$`,
          ),
        );
      }
      assert.ok(
        requests.every((r) => !r.includes('/blobs/')),
        requests.join('\n'),
      );
      assert.equal(await store.list(), []);
      assert.equal(await fs.readdir(path.join(dir, 'blobs', 'sha256')), []);
    });
  } finally {
    server.close();
  }
});

test('Basic auth: login checks the credentials; a push without them is unauthorized', () =>
  withRegistry(
    async (registry, dir) => {
      const endpoints = registryEndpoints(registry.address, {}, 'push');
      await new RegistryClient({ endpoints, auth: { username: 'trc', password: 'trcpass' } }).login();
      await rejects(
        () => new RegistryClient({ endpoints, auth: { username: 'trc', password: 'bad' } }).login(),
        /login attempt to http:\/\/127\.0\.0\.1:\d+\/v2\/ failed with status: 401 Unauthorized/,
      );
      const name = `${registry.address}/trc/basic:1`;
      const { store } = await storeWithImage(dir, name);
      await rejects(() => pushImage(store, { reference: normalizeReference(name) }), /unauthorized: authentication required/);
      const pushed = await pushImage(store, {
        reference: normalizeReference(name),
        auth: { username: 'trc', password: 'trcpass' },
      });
      assert.match(pushed.digest, /^sha256:/);
    },
    { htpasswd: htpasswdLine('trc', 'trcpass') },
  ));

test('Bearer tokens: scoped tokens with credentials for push, anonymous for pull, refused credentials named', async () => {
  const tokenDir = await fs.mkdtemp('/tmp/berth-unit-image-token-');
  const tokens = new TokenServer(tokenDir, { trc: 'trcpass' });
  try {
    await tokens.start();
    await withRegistry(
      async (registry, dir) => {
        const name = `${registry.address}/trc/bearer:1`;
        const { store, id } = await storeWithImage(dir, name);
        await rejects(() => pushImage(store, { reference: normalizeReference(name) }), /denied|unauthorized/);
        await pushImage(store, { reference: normalizeReference(name), auth: { username: 'trc', password: 'trcpass' } });
        assert.ok(
          tokens.requests.some((r) => r.user === 'trc' && r.query.includes('scope=repository%3Atrc%2Fbearer%3Apull%2Cpush')),
          JSON.stringify(tokens.requests),
        );
        const other = await ImageStore.open(path.join(dir, 'b'));
        const pulled = await pullImage(other, { reference: normalizeReference(name) });
        assert.is(pulled.id, id);
        assert.ok(tokens.requests.some((r) => r.user === undefined && r.query.includes('scope=repository%3Atrc%2Fbearer%3Apull')));
        const endpoints = registryEndpoints(registry.address, {}, 'push');
        const { identityToken } = await new RegistryClient({ endpoints, auth: { username: 'trc', password: 'trcpass' } }).login();
        assert.ok(identityToken, 'a login gets a refresh token');
        await rejects(() => new RegistryClient({ endpoints, auth: { username: 'trc', password: 'bad' } }).login(), /bad credentials/);
        // The identity token (what `docker login` stored) stands for the password: OAuth2 refresh.
        await store.tag(id, `${registry.address}/trc/bearer:2`);
        await pushImage(store, {
          reference: normalizeReference(`${registry.address}/trc/bearer:2`),
          auth: { identitytoken: identityToken },
        });
        assert.ok(tokens.requests.some((r) => r.query.startsWith('?refresh') && r.user === 'trc'));
        await rejects(
          () =>
            pushImage(store, {
              reference: normalizeReference(`${registry.address}/trc/bearer:2`),
              auth: { identitytoken: 'forged' },
            }),
          /invalid refresh token/,
        );
      },
      { token: tokens },
    );
  } finally {
    await tokens.stop();
    await fs.rm(tokenDir, { recursive: true, force: true });
  }
});

test.run();
