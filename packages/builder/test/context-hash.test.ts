import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ContentHashCache, type CopySourceTree, hashCopyPlan, parseChmod, planCopy, writeLayerTar } from '@berth/builder';
import { readTar } from '@berth/image';
import { setXattr } from '@berth/native';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { collect, makeTree, withTempDir } from './context-helpers.js';

const tree = (root: string): CopySourceTree => ({ root, symlinks: 'refuse', name: 'the build context' });
const digestOf = (root: string, cache?: ContentHashCache, options = {}) =>
  hashCopyPlan(planCopy(tree(root), { sources: ['.'], dest: '/app/' }), options, cache);

test('the input digest follows content and metadata, never mtimes', async () => {
  await withTempDir('hash', async (dir) => {
    const a = path.join(dir, 'a');
    await makeTree(a, { 'x.txt': 'x', 'd/y.txt': 'y', 'd/l': { link: 'y.txt' } });
    const first = await digestOf(a);
    assert.match(first, /^sha256:[0-9a-f]{64}$/);
    const later = new Date('2030-01-01T00:00:00Z');
    await fs.utimes(path.join(a, 'x.txt'), later, later);
    await fs.utimes(path.join(a, 'd'), later, later);
    assert.is(await digestOf(a), first, 'a touched file hashes the same');

    const b = path.join(dir, 'b');
    await makeTree(b, { 'd/l': { link: 'y.txt' }, 'd/y.txt': 'y', 'x.txt': 'x' });
    assert.is(await digestOf(b), first, 'the same tree made at another time, in another order, hashes the same');

    await fs.writeFile(path.join(b, 'x.txt'), 'X');
    const content = await digestOf(b);
    assert.is.not(content, first, 'content');
    await fs.writeFile(path.join(b, 'x.txt'), 'x');
    await fs.chmod(path.join(b, 'x.txt'), 0o600);
    assert.is.not(await digestOf(b), first, 'mode');
    await fs.chmod(path.join(b, 'x.txt'), (await fs.stat(path.join(a, 'x.txt'))).mode & 0o7777);
    assert.is(await digestOf(b), first);
    assert.is.not(await digestOf(b, undefined, { owner: { uid: 1, gid: 1 } }), first, '--chown');
    assert.is.not(await digestOf(b, undefined, { chmod: parseChmod('700') }), first, '--chmod');
    await fs.rm(path.join(b, 'd/l'));
    await fs.symlink('x', path.join(b, 'd/l'));
    assert.is.not(await digestOf(b), first, 'symlink target');
    await fs.rm(path.join(b, 'd/l'));
    await fs.symlink('y.txt', path.join(b, 'd/l'));
    await fs.rename(path.join(b, 'x.txt'), path.join(b, 'z.txt'));
    assert.is.not(await digestOf(b), first, 'names');
    await fs.rename(path.join(b, 'z.txt'), path.join(b, 'x.txt'));
    setXattr(path.join(b, 'x.txt'), 'security.capability', Buffer.from('0100000200100000000000000000000000000000', 'hex'));
    assert.is.not(await digestOf(b), first, 'security.capability');
  });
});

test('1,000 small files: each hashed once per build through the cache', async () => {
  await withTempDir('hash-many', async (dir) => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 1000; i++) files[`d${i % 10}/f${i}`] = `content ${i}`;
    await makeTree(dir, files);
    const cache = new ContentHashCache();
    const first = await digestOf(dir, cache);
    assert.is(cache.size, 1000);
    assert.is(await digestOf(dir, cache), first);
    assert.is(cache.size, 1000, 'a second COPY of the same files reads none again');
    // A changed file has a new (size, mtime) identity and is hashed again.
    await fs.writeFile(path.join(dir, 'd3/f3'), 'changed');
    assert.is.not(await digestOf(dir, cache), first);
    assert.is(cache.size, 1001);
    const expected = createHash('sha256').update('changed').digest('hex');
    assert.is(
      await cache.digest(path.join(dir, 'd3/f3'), {
        ...(await fs.stat(path.join(dir, 'd3/f3'))),
        mtimeMs: (await fs.stat(path.join(dir, 'd3/f3'))).mtimeMs,
      }),
      expected,
    );
  });
});

async function layerDigest(dir: string, epoch?: number): Promise<{ digest: string; bytes: Buffer }> {
  const bytes = await collect(writeLayerTar(dir, { sourceDateEpoch: epoch }));
  return { digest: createHash('sha256').update(bytes).digest('hex'), bytes };
}

test('layer tars are deterministic: two trees made at different times give the same bytes', async () => {
  await withTempDir('layer', async (dir) => {
    const make = async (root: string, order: string[], when: Date) => {
      const files: Record<string, string | { link: string }> = {
        'etc/app.conf': 'conf',
        'usr/bin/tool': 'bin',
        'usr/lib/a': 'a'.repeat(3000),
        [`usr/share/${'long-name-'.repeat(12)}`]: 'long',
        'usr/bin/link': { link: 'tool' },
      };
      for (const name of order) await makeTree(root, { [name]: files[name]! });
      await fs.chmod(path.join(root, 'usr/bin/tool'), 0o4755);
      await fs.link(path.join(root, 'usr/lib/a'), path.join(root, 'usr/lib/b'));
      await fs.chown(path.join(root, 'etc/app.conf'), 1000, 1000);
      const walk = async (p: string) => {
        await fs.lutimes(p, when, when);
        if ((await fs.lstat(p)).isDirectory()) for (const n of await fs.readdir(p)) await walk(path.join(p, n));
      };
      await walk(root);
    };
    const names = ['etc/app.conf', 'usr/bin/tool', 'usr/lib/a', `usr/share/${'long-name-'.repeat(12)}`, 'usr/bin/link'];
    const one = path.join(dir, 'one');
    const two = path.join(dir, 'two');
    await make(one, names, new Date('2031-05-05T00:00:00Z'));
    await make(two, [...names].reverse(), new Date('2032-06-06T00:00:00Z'));
    const epoch = Date.parse('2024-01-01T00:00:00Z') / 1000;
    const a = await layerDigest(one, epoch);
    const b = await layerDigest(two, epoch);
    assert.is(a.digest, b.digest, 'same content, different times and creation order, same layer');
    assert.is.not((await layerDigest(one)).digest, (await layerDigest(two)).digest, 'without SOURCE_DATE_EPOCH the mtimes count');

    const entries = [];
    for await (const e of readTar([a.bytes])) {
      entries.push({
        path: e.path,
        type: e.type,
        uid: e.uid,
        mtime: e.mtime.getTime() / 1000,
        mode: e.mode,
        link: e.linkpath,
        uname: e.uname ?? '',
      });
      for await (const _ of e.body);
    }
    assert.equal(
      entries.map((e) => e.path),
      [
        'etc/',
        'etc/app.conf',
        'usr/',
        'usr/bin/',
        'usr/bin/link',
        'usr/bin/tool',
        'usr/lib/',
        'usr/lib/a',
        'usr/lib/b',
        'usr/share/',
        `usr/share/${'long-name-'.repeat(12)}`,
      ],
    );
    assert.ok(
      entries.every((e) => e.mtime === epoch),
      'every mtime clamped',
    );
    assert.ok(
      entries.every((e) => e.uname === ''),
      'numeric owners only',
    );
    assert.is(entries.find((e) => e.path === 'etc/app.conf')!.uid, 1000);
    assert.is(entries.find((e) => e.path === 'usr/bin/tool')!.mode, 0o4755);
    assert.is(entries.find((e) => e.path === 'usr/lib/b')!.type, 'hardlink');
    assert.is(entries.find((e) => e.path === 'usr/lib/b')!.link, 'usr/lib/a');
    assert.is(entries.find((e) => e.path === 'usr/bin/link')!.link, 'tool');

    // An mtime older than the epoch is kept.
    const old = new Date('2000-01-01T00:00:00Z');
    await fs.utimes(path.join(one, 'etc/app.conf'), old, old);
    let seen = 0;
    for await (const e of readTar([(await layerDigest(one, epoch)).bytes])) {
      if (e.path === 'etc/app.conf') seen = e.mtime.getTime();
      for await (const _ of e.body);
    }
    assert.is(seen, old.getTime());
  });
});

test.run();
