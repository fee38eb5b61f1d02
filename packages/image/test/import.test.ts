import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgument } from '@berth/core';
import { applyChanges, applyLayer, goArch, ImageStore, importRootfs, scanLayer, sha256Digest, type TarWriteEntry } from '@berth/image';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chunked, gzTarBytes, rejects, tarBytes, withTempDir } from './helpers.js';

const rootfs: TarWriteEntry[] = [
  { path: 'bin/', type: 'directory' },
  { path: 'bin/hello', type: 'file', body: '#!/bin/sh\necho hello\n', mode: 0o755 },
  { path: 'etc/', type: 'directory' },
  { path: 'etc/motd', type: 'file', body: 'welcome\n' },
];

test('a gzip rootfs becomes a one-layer image stored uncompressed, with changes applied', () =>
  withTempDir('import', async (root) => {
    const store = await ImageStore.open(path.join(root, 'data'));
    const plain = await tarBytes(rootfs);
    const created = new Date('2024-02-03T04:05:06Z');
    const result = await importRootfs(store, chunked(await gzTarBytes(rootfs), 100), {
      repo: 'trc/imported',
      tag: 'v1',
      created,
      changes: [
        'ENV A=1 B="two words"',
        'ENV PATH /usr/bin:/bin',
        'CMD ["hello", "world"]',
        'ENTRYPOINT /bin/hello',
        'WORKDIR /srv',
        'WORKDIR app',
        'USER nobody',
        'LABEL org.example.name="my app" other=x',
        'EXPOSE 80 8000-8001/udp',
        'VOLUME ["/data"]',
        'STOPSIGNAL SIGINT',
      ],
    });
    assert.equal(result.diffIds, [sha256Digest(plain)]);
    const image = await store.get('trc/imported:v1');
    assert.is(image.id, result.id);
    assert.equal(image.repoTags, ['trc/imported:v1']);
    const layer = image.layers[0]!;
    assert.is(layer.digest, layer.diffId, 'stored uncompressed: blob digest = diffID');
    assert.is(layer.compression, 'none');
    assert.is(layer.size, Buffer.byteLength('#!/bin/sh\necho hello\n') + Buffer.byteLength('welcome\n'));
    assert.is(layer.tarSize, plain.length);
    const c = image.config;
    assert.is(c.architecture, goArch());
    assert.is(c.os, 'linux');
    assert.is(c.created, created.toISOString());
    assert.equal(c.rootfs, { type: 'layers', diff_ids: [layer.diffId] });
    assert.equal(c.history, [{ created: created.toISOString(), created_by: '', comment: 'Imported from -' }]);
    assert.equal(c.config?.Env, ['A=1', 'B=two words', 'PATH=/usr/bin:/bin']);
    assert.equal(c.config?.Cmd, ['hello', 'world'], 'CMD given in the same changes survives ENTRYPOINT');
    assert.equal(c.config?.Entrypoint, ['/bin/sh', '-c', '/bin/hello']);
    assert.is(c.config?.WorkingDir, '/srv/app');
    assert.is(c.config?.User, 'nobody');
    assert.equal(c.config?.Labels, { 'org.example.name': 'my app', other: 'x' });
    assert.equal(c.config?.ExposedPorts, { '80/tcp': {}, '8000/udp': {}, '8001/udp': {} });
    assert.equal(c.config?.Volumes, { '/data': {} });
    assert.is(c.config?.StopSignal, 'SIGINT');

    // The stored layer unpacks to the rootfs (the engine does this into a snapshot).
    const target = path.join(root, 'rootfs');
    await fs.mkdir(target);
    const applied = await applyLayer(target, await store.content.get(layer.digest), { expectedDiffId: layer.diffId });
    assert.is(applied.diffId, layer.diffId);
    assert.is(await fs.readFile(path.join(target, 'etc/motd'), 'utf8'), 'welcome\n');
    assert.is((await fs.stat(path.join(target, 'bin/hello'))).mode & 0o777, 0o755);
  }));

test('scanLayer with plainDigest: a plain tar takes the digest given (hashed once, by ingest), a compressed one is still hashed', async () => {
  const plain = await tarBytes(rootfs);
  const given = sha256Digest(Buffer.from('the digest ingest computed'));
  let asked = 0;
  const plainDigest = async () => {
    asked++;
    return given;
  };
  const scanned = await scanLayer(chunked(plain), { plainDigest });
  assert.equal([scanned.diffId, scanned.tarSize, scanned.compression, asked], [given, plain.length, 'none', 1]);
  const zipped = await scanLayer(chunked(await gzTarBytes(rootfs)), { plainDigest });
  assert.equal([zipped.diffId, zipped.tarSize, zipped.compression, asked], [sha256Digest(plain), plain.length, 'gzip', 1]);
  // Through import: the layer's diffID is the tar's digest and the blob is named by it.
  await withTempDir('import-once', async (root) => {
    const store = await ImageStore.open(path.join(root, 'data'));
    const { diffIds } = await importRootfs(store, chunked(plain));
    assert.equal(diffIds, [sha256Digest(plain)]);
    assert.ok((await store.content.readBytes(sha256Digest(plain))).equals(plain));
  });
});

test('without a repository the image is untagged; a message replaces the comment', () =>
  withTempDir('import', async (root) => {
    const store = await ImageStore.open(root);
    const result = await importRootfs(store, [await tarBytes(rootfs)], { message: 'from a test', source: 'http://example.com/r.tar' });
    assert.is(result.reference, undefined);
    const image = await store.get(result.id);
    assert.equal(image.repoTags, []);
    assert.is(image.config.history?.[0]?.comment, 'from a test');
    const other = await importRootfs(store, [await tarBytes(rootfs)], { source: 'http://example.com/r.tar', repo: 'x' });
    assert.is((await store.get(other.id)).config.history?.[0]?.comment, 'Imported from http://example.com/r.tar');
    assert.equal((await store.get('x')).repoTags, ['x:latest']);
  }));

test('a bad change, a bad name or a stream that is not a tar stores no image', () =>
  withTempDir('import', async (root) => {
    const store = await ImageStore.open(root);
    let read = false;
    async function* watched(): AsyncGenerator<Buffer> {
      read = true;
      yield await tarBytes(rootfs);
    }
    assert.is(
      (await rejects(() => importRootfs(store, watched(), { changes: ['RUN rm -rf /'] }), InvalidArgument)).message,
      'RUN is not a valid change command',
    );
    await rejects(() => importRootfs(store, watched(), { repo: 'Bad/Name' }), /must be lowercase/);
    assert.not.ok(read, 'the stream is not read when the request is bad');
    await rejects(() => importRootfs(store, [Buffer.from('definitely not a tar archive\n'.repeat(40))], { repo: 'x' }), InvalidArgument);
    const truncated = (await tarBytes([{ path: 'big', type: 'file', body: Buffer.alloc(5000) }])).subarray(0, 2000);
    await rejects(() => importRootfs(store, [truncated], { repo: 'x' }), /stream ends inside "big"/);
    assert.equal(await store.list(), []);
    assert.equal(await store.content.list(), []);
    assert.equal(await fs.readdir(path.join(root, 'blobs', 'ingest')), []);
  }));

test('applyChanges: old ENV form, variable expansion, ENTRYPOINT drops an inherited CMD', () => {
  const base = { Env: ['PATH=/bin'], Cmd: ['sh'], WorkingDir: '/a' };
  const c = applyChanges(base, [
    'ENV GREETING hello there',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${HOME} is Dockerfile syntax under test, not a template
    'ENV PATH=/opt/bin:$PATH HOME=${HOME}x',
    "LABEL 'quoted key'=v",
    'ENTRYPOINT ["/init"]',
    'WORKDIR b/c',
    'expose 53/UDP',
  ]);
  assert.equal(c.Env, ['PATH=/opt/bin:/bin', 'GREETING=hello there', 'HOME=x']);
  assert.equal(c.Labels, { 'quoted key': 'v' });
  assert.equal(c.Entrypoint, ['/init']);
  assert.is(c.Cmd, null);
  assert.is(c.WorkingDir, '/a/b/c');
  assert.equal(c.ExposedPorts, { '53/udp': {} });
  assert.equal(base.Cmd, ['sh'], 'the base is not modified');
  assert.throws(() => applyChanges({}, ['FROM busybox']), /FROM is not a valid change command/);
  assert.throws(() => applyChanges({}, ['EXPOSE http']), /invalid port for EXPOSE: http/);
  assert.throws(() => applyChanges({}, ['CMD']), /CMD requires at least one argument/);
  assert.throws(() => applyChanges({}, ['ENV A="unterminated']), /unmatched quote/);
});

test('applyChanges: ONBUILD triggers and HEALTHCHECK, as docker import -c takes them', () => {
  const c = applyChanges({}, [
    'ONBUILD run echo built',
    'HEALTHCHECK --interval=30s --timeout=5s --start-period=1m30s --retries=3 CMD wget -q localhost || exit 1',
  ]);
  assert.equal(c.OnBuild, ['RUN echo built']);
  assert.equal(c.Healthcheck, {
    Interval: 30e9,
    Timeout: 5e9,
    StartPeriod: 90e9,
    Retries: 3,
    Test: ['CMD-SHELL', 'wget -q localhost || exit 1'],
  });
  assert.equal(applyChanges({}, ['HEALTHCHECK CMD ["/bin/check", "--fast"]']).Healthcheck, { Test: ['CMD', '/bin/check', '--fast'] });
  assert.equal(applyChanges({}, ['HEALTHCHECK NONE']).Healthcheck, { Test: ['NONE'] });
  assert.throws(() => applyChanges({}, ['HEALTHCHECK --interval=10 CMD x']), /invalid duration for --interval: 10/);
  assert.throws(() => applyChanges({}, ['HEALTHCHECK --interval=10us CMD x']), /cannot be less than 1ms/);
  assert.throws(() => applyChanges({}, ['HEALTHCHECK --every=1s CMD x']), /unknown flag: --every/);
  assert.throws(() => applyChanges({}, ['ONBUILD ONBUILD RUN x']), /Chaining ONBUILD/);
  assert.throws(() => applyChanges({}, ['RUN x']), /RUN is not a valid change command/);
});

test.run();
