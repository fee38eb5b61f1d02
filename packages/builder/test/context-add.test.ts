import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { type CopySourceTree, hashAddPlan, IgnoreMatcher, planAdd, writeAddPlan } from '@berth/builder';
import { writeTar } from '@berth/image';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { collect, listTree, makeTree, rejection, withTempDir } from './context-helpers.js';

const tree = (root: string): CopySourceTree => ({ root, ignore: new IgnoreMatcher([]), symlinks: 'refuse', name: 'the build context' });

test('ADD unpacks local tars (plain, gzip, bzip2, xz), copies other files, even a .gz that is no tar', async () => {
  await withTempDir('add-tar', async (dir) => {
    const ctx = path.join(dir, 'ctx');
    const target = path.join(dir, 'rootfs');
    const work = path.join(dir, 'work');
    await fs.mkdir(target);
    const plain = await collect(
      writeTar([
        { path: 'pkg/', type: 'directory' },
        { path: 'pkg/file', type: 'file', body: 'inside', uid: 7, gid: 8 },
      ]),
    );
    await makeTree(ctx, { 'plain.tar': '', 'x.tar.gz': '', 'x.tar.bz2': '', 'x.txz': '', 'notar.gz': '', 'readme.txt': 'r' });
    await fs.writeFile(path.join(ctx, 'plain.tar'), plain);
    await fs.writeFile(path.join(ctx, 'x.tar.gz'), gzipSync(plain));
    await fs.writeFile(path.join(ctx, 'x.tar.bz2'), execFileSync('bzip2', ['-c'], { input: plain }));
    await fs.writeFile(path.join(ctx, 'x.txz'), execFileSync('xz', ['-c'], { input: plain }));
    await fs.writeFile(path.join(ctx, 'notar.gz'), gzipSync(Buffer.from('just text, not a tar')));
    for (const [source, dest] of [
      ['plain.tar', '/p'],
      ['x.tar.gz', '/g/'],
      ['x.tar.bz2', '/b'],
      ['x.txz', '/x'],
    ]) {
      const plan = await planAdd(tree(ctx), { sources: [source!], dest: dest! }, { workDir: work });
      try {
        assert.is(plan.archives.length, 1, source);
        assert.match(await hashAddPlan(plan), /^sha256:/);
        await writeAddPlan(plan, target);
      } finally {
        await plan.dispose();
      }
      const file = path.join(target, dest!, 'pkg/file');
      assert.is(await fs.readFile(file, 'utf8'), 'inside', source);
      assert.is((await fs.stat(file)).uid, 7, 'an archive keeps its owners');
    }
    const copied = await planAdd(tree(ctx), { sources: ['notar.gz', 'readme.txt'], dest: '/c/' }, { workDir: work });
    assert.is(copied.archives.length, 0);
    await writeAddPlan(copied, target);
    await copied.dispose();
    assert.equal(await fs.readdir(path.join(target, 'c')), ['notar.gz', 'readme.txt']);
    const hostile = await collect(writeTar([{ path: '../../escape', type: 'file', body: 'x' }]));
    await fs.writeFile(path.join(ctx, 'evil.tar'), hostile);
    const evil = await planAdd(tree(ctx), { sources: ['evil.tar'], dest: '/e/' }, { workDir: work });
    const err = await rejection(writeAddPlan(evil, target));
    await evil.dispose();
    assert.is(err.code, 'InvalidArgument');
    assert.match(err.message, 'ADD evil.tar');
    await fs.access(path.join(dir, 'escape')).then(
      () => assert.unreachable('written out'),
      () => {},
    );
  });
});

test('ADD of a URL: named after its path, mode 0600, mtime from Last-Modified, never unpacked; a 404 names the URL', async () => {
  await withTempDir('add-url', async (dir) => {
    const target = path.join(dir, 'rootfs');
    const work = path.join(dir, 'work');
    await fs.mkdir(target);
    const tarball = gzipSync(await collect(writeTar([{ path: 'f', type: 'file', body: 'f' }])));
    const server = http.createServer((req, res) => {
      if (req.url === '/files/tool.tar.gz') {
        res.setHeader('Last-Modified', 'Wed, 21 Oct 2015 07:28:00 GMT');
        res.end(tarball);
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const plan = await planAdd(tree(dir), { sources: [`${base}/files/tool.tar.gz`], dest: '/dl/' }, { workDir: work });
      assert.is(plan.archives.length, 0, 'a download is not unpacked');
      await writeAddPlan(plan, target);
      await plan.dispose();
      const st = await fs.stat(path.join(target, 'dl/tool.tar.gz'));
      assert.is(st.mode & 0o777, 0o600);
      assert.is(st.mtime.toISOString(), '2015-10-21T07:28:00.000Z');
      assert.equal(await fs.readFile(path.join(target, 'dl/tool.tar.gz')), tarball);
      const named = await planAdd(tree(dir), { sources: [`${base}/files/tool.tar.gz`], dest: '/opt/t.tgz' }, { workDir: work });
      await writeAddPlan(named, target);
      await named.dispose();
      assert.ok((await fs.stat(path.join(target, 'opt/t.tgz'))).isFile());
      const { createHash } = await import('node:crypto');
      const right = `sha256:${createHash('sha256').update(tarball).digest('hex')}`;
      const checked = await planAdd(tree(dir), { sources: [`${base}/files/tool.tar.gz`], dest: '/c/', checksum: right }, { workDir: work });
      await checked.dispose();
      const wrong = await rejection(
        planAdd(
          tree(dir),
          { sources: [`${base}/files/tool.tar.gz`], dest: '/c/', checksum: `sha256:${'0'.repeat(64)}` },
          { workDir: work },
        ),
      );
      assert.is(wrong.code, 'InvalidArgument');
      assert.match(wrong.message, `checksum of ${base}/files/tool.tar.gz is ${right}`);
      const local = await rejection(planAdd(tree(dir), { sources: ['x'], dest: '/c/', checksum: right }, { workDir: work }));
      assert.match(local.message, 'only be given for http(s) sources');
      const missing = await rejection(planAdd(tree(dir), { sources: [`${base}/gone.txt`], dest: '/x' }, { workDir: work }));
      assert.match(missing.message, `${base}/gone.txt`);
      assert.match(missing.message, '404');
      assert.equal(await fs.readdir(work), [], 'downloads removed by dispose and after a failure');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

test('ADD of a git URL copies the checkout without .git', async () => {
  await withTempDir('add-git', async (dir) => {
    const repo = path.join(dir, 'repo');
    await makeTree(repo, { 'src/a': 'a', README: 'r' });
    const env = { PATH: process.env.PATH, HOME: dir, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: repo, env });
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'one');
    const target = path.join(dir, 'rootfs');
    await fs.mkdir(target);
    const plan = await planAdd(tree(dir), { sources: [`file://${repo}#:src`], dest: '/code' }, { workDir: path.join(dir, 'work') });
    await writeAddPlan(plan, target);
    await plan.dispose();
    assert.equal(await listTree(target), ['code/', 'code/a']);
  });
});

test.run();
