import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { isBerthError } from '@berth/core';
import { readTar, type TarWriteEntry, writeTar } from '@berth/image';
import { getXattr, isMountPoint } from '@berth/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Engine } from '../src/index.js';
import { startTestEngine, stopTestEngine } from './support/test-engine.js';

// ContainerFilesystems through the engine with real plugins: diff, export, commit and cp
// of a container that ran and exited (its root mounted only for each operation).

interface Ctx {
  dir: string;
  engine: Engine;
  container: string;
}

const test = suite<Ctx>('container filesystems');

test.before(async (ctx) => {
  Object.assign(ctx, await startTestEngine('fs'));
  const script = 'echo hi > /tmp/new; rm /etc/group; mkdir -p /work/sub; ln -s /etc/shadow /work/shadow; ln -s /etc /work/etc';
  ctx.container = (await ctx.engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', script] }, 'fs-src')).Id;
  await ctx.engine.containers.start(ctx.container);
  assert.is((await ctx.engine.containers.wait(ctx.container)).StatusCode, 0);
});

test.after((ctx) => stopTestEngine(ctx));

async function entries(tar: Readable): Promise<Map<string, { type: string; body: string; linkpath?: string }>> {
  const found = new Map<string, { type: string; body: string; linkpath?: string }>();
  for await (const entry of readTar(tar)) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry.body) chunks.push(chunk);
    found.set(entry.path, { type: entry.type, body: Buffer.concat(chunks).toString(), linkpath: entry.linkpath });
  }
  return found;
}

async function rejectsCode(promise: Promise<unknown>, code: string): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isBerthError(err, code as never), `expected ${code}, got ${String(err)}`);
    return err as Error;
  }
  throw new Error(`expected ${code}, it resolved`);
}

test("changes lists what the container's layer adds, changes and deletes, Docker's kinds", async ({ engine, container }) => {
  const changes = await engine.filesystems.changes(container);
  for (const expected of [
    { Path: '/etc', Kind: 0 },
    { Path: '/etc/group', Kind: 2 },
    { Path: '/tmp', Kind: 0 },
    { Path: '/tmp/new', Kind: 1 },
    { Path: '/work', Kind: 1 },
    { Path: '/work/sub', Kind: 1 },
  ]) {
    assert.ok(
      changes.some((c) => c.Path === expected.Path && c.Kind === expected.Kind),
      `${JSON.stringify(expected)} in ${JSON.stringify(changes)}`,
    );
  }
  assert.not.ok(
    changes.some((c) => c.Path === '/bin' || c.Path === '/etc/passwd'),
    'untouched paths are not changes',
  );
  await rejectsCode(engine.filesystems.changes('nope'), 'NotFound');
});

test('export of a stopped container is its merged root, mounted read-only only meanwhile', async ({ engine, container, dir }) => {
  const rootfs = path.join(dir, 'data', 'containers', container, 'rootfs');
  assert.not.ok(isMountPoint(rootfs), 'an exited container holds no mount');
  const found = await entries(await engine.filesystems.export(container));
  assert.is(found.get('tmp/new')?.body, 'hi\n');
  assert.is(found.get('etc/passwd')?.type, 'file');
  assert.is(found.get('bin/')?.type, 'directory');
  assert.is(found.get('work/shadow')?.linkpath, '/etc/shadow');
  assert.not.ok(found.has('etc/group'), 'a deleted file is not exported');
  assert.not.ok(isMountPoint(rootfs), 'unmounted after the export');
});

test('commit makes an image of the changes that runs, with -c changes, author and comment', async ({ engine, container }) => {
  const id = await engine.filesystems.commit(container, {
    repo: 'fs-committed',
    tag: 'v1',
    author: 'tester',
    comment: 'from the unit test',
    changes: ['ENV COMMITTED=yes', 'CMD ["sh", "-c", "cat /tmp/new; echo $COMMITTED; test -e /etc/group || echo gone"]'],
  });
  const image = await engine.images.inspect('fs-committed:v1');
  assert.is(image.Id, id);
  assert.is(image.Author, 'tester');
  assert.is(image.Comment, 'from the unit test');
  const run = (await engine.containers.create({ Image: 'fs-committed:v1' })).Id;
  await engine.containers.start(run);
  assert.is((await engine.containers.wait(run)).StatusCode, 0);
  const { lines } = await engine.containers.logs(run, { stdout: true, stderr: true });
  let out = '';
  for await (const line of lines) out += line.data.toString();
  assert.is(out, 'hi\nyes\ngone\n');
});

test('cp out: stat and archive of a path; a symlink is archived as itself, followed only inside the root', async ({
  engine,
  container,
}) => {
  const stat = await engine.filesystems.statPath(container, '/tmp/new');
  assert.equal(
    { name: stat.name, size: stat.size, mode: stat.mode, linkTarget: stat.linkTarget },
    { name: 'new', size: 3, mode: 0o644, linkTarget: '' },
  );
  const dirStat = await engine.filesystems.statPath(container, '/work');
  assert.ok(dirStat.mode >= 2 ** 31, 'a directory carries Go’s ModeDir');
  const link = await engine.filesystems.statPath(container, '/work/shadow');
  assert.is(link.linkTarget, '/etc/shadow');
  assert.ok(link.mode & (2 ** 27), 'a symlink carries ModeSymlink');
  const out = await engine.filesystems.getArchive(container, '/work/shadow');
  const linkEntries = await entries(out.tar);
  assert.equal([...linkEntries.keys()], ['shadow']);
  assert.is(linkEntries.get('shadow')?.type, 'symlink');
  // Followed (what `docker cp -L` asks for): the container's /etc/shadow, which busybox lacks, never the host's.
  await rejectsCode(engine.filesystems.getArchive(container, '/etc/shadow'), 'NotFound');
  await rejectsCode(engine.filesystems.getArchive(container, '/work/etc/shadow'), 'NotFound');
  const viaLink = await entries((await engine.filesystems.getArchive(container, '/work/etc/passwd')).tar);
  assert.match(viaLink.get('passwd')!.body, /^root:/);
  const tree = await entries((await engine.filesystems.getArchive(container, '/tmp')).tar);
  assert.is(tree.get('tmp/new')?.body, 'hi\n');
});

test('cp in: a tar lands in the directory; `..` and writing through an escaping symlink are refused and write nothing on the host', async ({
  engine,
  container,
  dir,
}) => {
  const put = (entriesToWrite: TarWriteEntry[], to = '/work') => engine.filesystems.putArchive(container, to, writeTar(entriesToWrite));
  await put([{ path: 'copied.txt', type: 'file', body: 'copied', mode: 0o600 }]);
  const back = await entries((await engine.filesystems.getArchive(container, '/work/copied.txt')).tar);
  assert.is(back.get('copied.txt')?.body, 'copied');

  const outside = path.join(dir, 'escaped');
  const climbing = path.relative('/work', outside);
  await rejectsCode(put([{ path: `../../../../../../..${outside}`, type: 'file', body: 'x' }]), 'InvalidArgument');
  await rejectsCode(put([{ path: climbing, type: 'file', body: 'x' }]), 'InvalidArgument');
  await rejectsCode(
    put([
      { path: 'up', type: 'symlink', linkpath: dir },
      { path: 'up/escaped', type: 'file', body: 'x' },
    ]),
    'InvalidArgument',
  );
  // The extraction point itself is taken inside the root: /work/etc is the container's /etc.
  await put([{ path: 'via-link.txt', type: 'file', body: 'in' }], '/work/etc');
  assert.is((await entries((await engine.filesystems.getArchive(container, '/etc/via-link.txt')).tar)).get('via-link.txt')?.body, 'in');
  assert.not.ok(existsSync(outside), 'nothing was written outside the root');
  assert.not.ok(existsSync('/etc/via-link.txt'), 'nothing was written in the host /etc');
  await rejectsCode(put([{ path: 'x', type: 'file' }], '/tmp/new'), 'InvalidArgument');
  await rejectsCode(put([{ path: 'x', type: 'file' }], '/nope'), 'NotFound');
});

test('cp in with noOverwriteDirNonDir (as the docker CLI sends it): a directory and a file never replace each other; without it they do', async ({
  engine,
  container,
}) => {
  const put = (entriesToWrite: TarWriteEntry[], noOverwriteDirNonDir: boolean) =>
    engine.filesystems.putArchive(container, '/work', writeTar(entriesToWrite), { noOverwriteDirNonDir });
  await put(
    [
      { path: 'kept-dir', type: 'directory' },
      { path: 'kept-dir/inside', type: 'file', body: 'inside' },
      { path: 'kept-file', type: 'file', body: 'file' },
    ],
    true,
  );
  await rejectsCode(put([{ path: 'kept-dir', type: 'file', body: 'x' }], true), 'InvalidArgument');
  await rejectsCode(put([{ path: 'kept-file', type: 'directory' }], true), 'InvalidArgument');
  const still = await entries((await engine.filesystems.getArchive(container, '/work')).tar);
  assert.is(still.get('work/kept-dir/inside')?.body, 'inside');
  assert.is(still.get('work/kept-file')?.body, 'file');
  // A directory over a directory merges, a file over a file replaces: both allowed.
  await put(
    [
      { path: 'kept-dir', type: 'directory' },
      { path: 'kept-file', type: 'file', body: 'new' },
    ],
    true,
  );
  await put([{ path: 'kept-dir', type: 'file', body: 'now a file' }], false);
  const after = await entries((await engine.filesystems.getArchive(container, '/work')).tar);
  assert.is(after.get('work/kept-dir')?.body, 'now a file');
  assert.is(after.get('work/kept-file')?.body, 'new');
});

test("extended attributes of a layer and of a cp'd tar land on the files (a file capability too), as dockerd keeps them", async ({
  engine,
  dir,
}) => {
  // `setcap cap_net_raw+ep`: binary, with NUL bytes.
  const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
  const layer: Buffer[] = [];
  const tar = writeTar([
    { path: 'bin/', type: 'directory' },
    { path: 'bin/pinger', type: 'file', body: 'x', mode: 0o755, xattrs: { 'security.capability': cap, 'user.berth': 'layer' } },
    { path: 'kept/', type: 'directory', xattrs: { 'user.dir': 'yes' } },
  ]);
  for await (const chunk of tar) layer.push(Buffer.from(chunk));
  const image = await engine.images.import(Readable.from([Buffer.concat(layer)]), { repo: 'berth-unit-xattrs', tag: 'v1' });
  const { Id } = await engine.containers.create({ Image: image, Cmd: ['/bin/pinger'] }, 'fs-xattrs');
  try {
    const rootfs = path.join(dir, 'data', 'containers', Id, 'rootfs');
    assert.ok(isMountPoint(rootfs), 'a created container has its root mounted');
    assert.is(getXattr(path.join(rootfs, 'bin/pinger'), 'security.capability'), cap.toString('latin1'));
    assert.is(getXattr(path.join(rootfs, 'bin/pinger'), 'user.berth'), 'layer');
    assert.is(getXattr(path.join(rootfs, 'kept'), 'user.dir'), 'yes');
    await engine.filesystems.putArchive(
      Id,
      '/kept',
      writeTar([
        { path: 'copied', type: 'file', body: 'y', xattrs: { 'security.capability': cap, 'user.berth': 'cp' } },
        { path: 'sub/', type: 'directory', xattrs: { 'user.dir': 'cp' } },
      ]),
    );
    assert.is(getXattr(path.join(rootfs, 'kept/copied'), 'security.capability'), cap.toString('latin1'));
    assert.is(getXattr(path.join(rootfs, 'kept/copied'), 'user.berth'), 'cp');
    assert.is(getXattr(path.join(rootfs, 'kept/sub'), 'user.dir'), 'cp');
  } finally {
    await engine.containers.remove(Id, { force: true });
    await engine.images.remove(image, { force: true });
  }
});

test.run();
