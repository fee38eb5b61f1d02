import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { type TarWriteEntry, writeTar } from '@berth/image';
import { withTimeout } from '@berth/testkit/timeout';
import * as assert from 'uvu/assert';
import { hostileLayers } from '../../packages/image/test/hostile-layers';
import { busyboxTar, daemonSuite, run, type TestDaemon } from './harness';

/** import (file, stdin, URL), load and cp of hostile and good tarballs through the real docker CLI and berth's own. */
const test = daemonSuite('image io', 'overlay');

const dockerCli = '/usr/local/bin/docker';

async function tarFile(file: string, entries: TarWriteEntry[]): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of writeTar(entries)) parts.push(chunk as Buffer);
  await fs.writeFile(file, Buffer.concat(parts));
  return file;
}

/** A rootfs that runs: a static busybox and sh. */
async function busyboxRootfs(daemon: TestDaemon): Promise<string> {
  return tarFile(path.join(daemon.dir, 'rootfs.tar'), [
    { path: 'bin/', type: 'directory' },
    { path: 'bin/busybox', type: 'file', body: await fs.readFile('/bin/busybox'), mode: 0o755 },
    { path: 'bin/sh', type: 'symlink', linkpath: 'busybox' },
    { path: 'tmp/', type: 'directory', mode: 0o1777 },
  ]);
}

/** A docker command with a file as its standard input. */
function dockerWithStdin(daemon: TestDaemon, args: string[], file: string) {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return run('sh', ['-c', `${dockerCli} ${quoted} < '${file}'`], {
    DOCKER_HOST: daemon.host,
    DOCKER_CONFIG: path.join(daemon.dir, 'docker-config'),
  });
}

async function imageIds(daemon: TestDaemon): Promise<string> {
  return (await daemon.docker(['images', '-aq', '--no-trunc'])).stdout;
}

const hostUntouched = Promise.all([fs.readFile('/etc/passwd', 'utf8'), fs.readFile('/etc/shadow', 'utf8').catch(() => '')]);

async function assertHostUntouched(): Promise<void> {
  const [passwd, shadow] = await hostUntouched;
  assert.is(await fs.readFile('/etc/passwd', 'utf8'), passwd);
  assert.is(await fs.readFile('/etc/shadow', 'utf8').catch(() => ''), shadow);
  assert.not.ok(
    await fs
      .lstat('/tmp/berth-planted')
      .then(() => true)
      .catch(() => false),
  );
}

test(
  'docker import refuses at import every hostile layer of the corpus, and imports the ones Docker keeps',
  withTimeout(180_000, async ({ daemon }) => {
    const before = await imageIds(daemon);
    const dir = path.join(daemon.dir, 'corpus');
    await fs.mkdir(dir);
    for (const c of hostileLayers) {
      const file = path.join(dir, `${c.name}.tar`);
      await fs.writeFile(file, await c.bytes());
      const started = Date.now();
      const r = await daemon.docker(['import', file, `hostile:${c.name}`]);
      if (process.env.BERTH_E2E_VERBOSE) console.log(c.name, Date.now() - started, 'ms');
      if (c.refused) {
        assert.is.not(r.code, 0, `${c.name}: refused`);
        // The API shortens a message past a few kilobytes (a 5000-byte name): its head must still say what.
        assert.match(r.stderr, r.stderr.includes('…') ? /invalid tar entry "/ : c.refused, `${c.name}: ${r.stderr.slice(0, 300)}`);
        assert.is(await imageIds(daemon), before, `${c.name}: no image left`);
      } else {
        assert.is(r.code, 0, `${c.name}: ${r.stderr}`);
        // The layer unpacks: a container can be created on it.
        const created = await daemon.docker(['create', `hostile:${c.name}`, 'x']);
        assert.is(created.code, 0, `${c.name}: ${created.stderr}`);
        assert.is((await daemon.docker(['rm', created.stdout.trim()])).code, 0);
        assert.is((await daemon.docker(['rmi', `hostile:${c.name}`])).code, 0);
      }
    }
    await assertHostUntouched();
    const stored = await fs.readdir(path.join(daemon.dataRoot, 'blobs/ingest'));
    assert.equal(stored, [], 'no partial blob');
  }),
);

test('import from a file, stdin and a URL, with -c changes; a URL that answers 404 is an error', async ({ daemon }) => {
  const rootfs = await busyboxRootfs(daemon);
  const bytes = await fs.readFile(rootfs);
  const server = http.createServer((req, res) => {
    if (req.url === '/rootfs.tar') {
      res.writeHead(200, { 'Content-Type': 'application/x-tar', 'Content-Length': bytes.length });
      res.end(bytes);
    } else {
      res.writeHead(404);
      res.end('not here');
    }
  });
  // The port range of this suite's author (5300-5399): loopback only.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(5301, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const fromUrl = await daemon.docker([
      'import',
      '-c',
      'CMD ["/bin/sh", "-c", "echo from $WHERE"]',
      '-c',
      'ENV WHERE=url',
      `${url}/rootfs.tar`,
      'imp:url',
    ]);
    assert.is(fromUrl.code, 0, fromUrl.stderr);
    const ran = await daemon.docker(['run', '--rm', 'imp:url']);
    assert.is(ran.stdout, 'from url\n', ran.stderr);
    const history = await daemon.docker(['history', '--no-trunc', '--format', '{{.Comment}}', 'imp:url']);
    assert.is(history.stdout.trim(), `Imported from ${url}/rootfs.tar`);

    const missing = await daemon.docker(['import', `${url}/nope.tar`, 'imp:missing']);
    assert.is.not(missing.code, 0);
    assert.match(missing.stderr, `error downloading ${url}/nope.tar: 404 Not Found`);

    const fromStdin = await dockerWithStdin(daemon, ['import', '-c', 'ENTRYPOINT ["/bin/sh", "-c"]', '-', 'imp:stdin'], rootfs);
    assert.is(fromStdin.code, 0, fromStdin.stderr);
    const viaStdin = await daemon.docker(['run', '--rm', 'imp:stdin', 'echo stdin']);
    assert.is(viaStdin.stdout, 'stdin\n', viaStdin.stderr);

    const byBerth = await daemon.berth(['import', '--change', 'CMD ["/bin/sh", "-c", "echo berth"]', rootfs, 'imp:berth']);
    assert.is(byBerth.code, 0, byBerth.stderr);
    assert.is((await daemon.docker(['run', '--rm', 'imp:berth'])).stdout, 'berth\n');
    // One layer, stored once: the three imports share their layer's diffID.
    const layers = await daemon.docker(['inspect', '--format', '{{index .RootFS.Layers 0}}', 'imp:url', 'imp:stdin', 'imp:berth']);
    assert.is(new Set(layers.stdout.trim().split('\n')).size, 1, layers.stdout);
  } finally {
    server.close();
    await daemon.docker(['rmi', 'imp:url', 'imp:stdin', 'imp:berth']);
  }
});

test("docker load of a bad tarball fails with the daemon's reason, from inside the progress stream", async ({ daemon }) => {
  const before = await imageIds(daemon);
  const notTar = path.join(daemon.dir, 'not-a.tar');
  await fs.writeFile(notTar, 'this is not a tar archive, not even close'.repeat(30));
  const r = await daemon.docker(['load', '-i', notTar]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /invalid tar archive: /);
  const noManifest = await tarFile(path.join(daemon.dir, 'no-manifest.tar'), [{ path: 'hello.txt', type: 'file', body: 'hi' }]);
  const b = await daemon.berth(['load', '-i', noManifest]);
  assert.is(b.code, 1);
  assert.match(b.stderr, 'invalid tar archive: manifest.json not found');
  // An image whose base layer writes through a symlink to /etc: refused at load, not at run.
  const hostile = hostileLayers.find((l) => l.name === 'symlink-write-through')!;
  const layer = await hostile.bytes();
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(layer).digest('hex')}`] },
  });
  const archive = await tarFile(path.join(daemon.dir, 'hostile-image.tar'), [
    { path: 'layer.tar', type: 'file', body: layer },
    { path: 'config.json', type: 'file', body: config },
    {
      path: 'manifest.json',
      type: 'file',
      body: JSON.stringify([{ Config: 'config.json', RepoTags: ['hostile:load'], Layers: ['layer.tar'] }]),
    },
  ]);
  const h = await daemon.docker(['load', '-i', archive]);
  assert.is(h.code, 1);
  assert.match(
    h.stderr,
    'invalid tar archive: layer layer.tar can never be unpacked: invalid tar entry "a/passwd": "a" is a symlink to /etc',
  );
  assert.is(await imageIds(daemon), before);
  await assertHostUntouched();
});

test('docker cp of hostile tarballs into a container writes nothing outside it', async ({ daemon }) => {
  const ctr = await daemon.docker(['run', '-d', 'busybox', 'sleep', '60']);
  assert.is(ctr.code, 0, ctr.stderr);
  const id = ctr.stdout.trim();
  const passwd = (await daemon.docker(['exec', id, 'cat', '/etc/passwd'])).stdout;
  const dir = path.join(daemon.dir, 'cp-corpus');
  await fs.mkdir(dir);
  const refusedByCp = [
    'dotdot',
    'symlink-write-through',
    'symlink-relative-escape',
    'dir-replaced-by-symlink',
    'hardlink-dotdot',
    'bad-checksum',
    'truncated-body',
    'gzip-bomb-file',
    'gzip-bomb-trailer',
    'pax-bad-uid',
    'long-component',
  ];
  try {
    for (const name of refusedByCp) {
      const c = hostileLayers.find((l) => l.name === name)!;
      const file = path.join(dir, `${name}.tar`);
      await fs.writeFile(file, await c.bytes());
      const r = await dockerWithStdin(daemon, ['cp', '-', `${id}:/tmp`], file);
      assert.is.not(r.code, 0, `${name}: refused`);
      // cp has its own wording for an escape (it resolves through descriptors), the same for the rest.
      assert.match(r.stderr, /Error response from daemon: invalid tar/, `${name}: ${r.stderr}`);
    }
    assert.is((await daemon.docker(['exec', id, 'cat', '/etc/passwd'])).stdout, passwd, "the container's /etc/passwd is untouched");
    await assertHostUntouched();
  } finally {
    await daemon.docker(['rm', '-f', id]);
  }
});

test('docker save then load of several images keeps their IDs and tags; the CLI and berth agree', async ({ daemon }) => {
  const rootfs = await busyboxRootfs(daemon);
  assert.is((await daemon.docker(['import', rootfs, 'two:1'])).code, 0);
  assert.is((await daemon.docker(['tag', 'two:1', 'two:2'])).code, 0);
  const ids = async () => (await daemon.docker(['inspect', '--format', '{{.Id}}', 'busybox:latest', 'two:1', 'two:2'])).stdout;
  const before = await ids();
  const archive = path.join(daemon.dir, 'several.tar');
  const saved = await daemon.docker(['save', '-o', archive, 'busybox:latest', 'two']);
  assert.is(saved.code, 0, saved.stderr);
  assert.is((await daemon.docker(['rmi', 'two:1', 'two:2'])).code, 0);
  const loaded = await daemon.berth(['load', '-i', archive]);
  assert.is(loaded.code, 0, loaded.stderr);
  assert.match(loaded.stdout, 'Loaded image: two:1');
  assert.match(loaded.stdout, 'Loaded image: two:2');
  assert.is(await ids(), before);
  await daemon.docker(['rmi', 'two:1', 'two:2']);
  // The archive is the CLI's to read too (it only pipes it): the same bytes through docker load.
  const again = await daemon.docker(['load', '-i', busyboxTar]);
  assert.is(again.code, 0, again.stderr);
});
test('berth save --format oci writes an OCI layout skopeo reads, and that docker load and berth load take back with the same id', async ({
  daemon,
}) => {
  const archive = path.join(daemon.dir, 'busybox-oci.tar');
  const saved = await daemon.berth(['save', '--format', 'oci', '-o', archive, 'busybox:latest']);
  assert.is(saved.code, 0, saved.stderr);
  const id = (await daemon.docker(['inspect', '--format', '{{.Id}}', 'busybox:latest'])).stdout.trim();
  const inspected = await run('skopeo', ['inspect', '--config', '--raw', `oci-archive:${archive}:latest`], {});
  assert.is(inspected.code, 0, inspected.stderr);
  assert.is(`sha256:${createHash('sha256').update(inspected.stdout).digest('hex')}`, id, 'skopeo reads the config byte for byte');
  assert.is((await daemon.docker(['rmi', 'busybox:latest'])).code, 0);
  const loaded = await daemon.docker(['load', '-i', archive]);
  assert.is(loaded.code, 0, loaded.stderr);
  assert.match(loaded.stdout, 'Loaded image: busybox:latest');
  assert.is((await daemon.docker(['inspect', '--format', '{{.Id}}', 'busybox:latest'])).stdout.trim(), id);
  const bad = await daemon.berth(['save', '--format', 'tarball', 'busybox']);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, 'invalid --format "tarball"');
});

test.run();
