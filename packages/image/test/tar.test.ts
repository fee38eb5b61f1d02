import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgument } from '@berth/core';
import { readTar, type TarEntry, type TarWriteEntry } from '@berth/image';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chunked, collect, rejects, tarBytes, withTempDir } from './helpers.js';

type Seen = Omit<TarEntry, 'body' | 'xattrs'> & { content?: string; xattrs: Record<string, string> };

async function readAll(data: Buffer, chunk = 333): Promise<Seen[]> {
  const out: Seen[] = [];
  for await (const e of readTar(chunked(data, chunk))) {
    const { body, xattrs, ...rest } = e;
    const seen: Seen = { ...rest, xattrs: Object.fromEntries([...xattrs].map(([k, v]) => [k, v.toString('hex')])) };
    if (e.type === 'file') seen.content = (await collect(body)).toString('latin1');
    out.push(seen);
  }
  return out;
}

test('what writeTar writes, readTar reads back, at any chunk size', async () => {
  const longDir = 'd'.repeat(120);
  const longName = `${longDir}/${'n'.repeat(150)}`;
  const big = Buffer.alloc(70000, 7).toString('latin1');
  const entries: TarWriteEntry[] = [
    { path: 'dir/', type: 'directory', mode: 0o750, uid: 1000, gid: 1001, mtime: new Date('2024-01-02T03:04:05Z') },
    { path: 'dir/file', type: 'file', body: 'hello', mode: 0o4755, uname: 'me', gname: 'us' },
    { path: 'dir/big', type: 'file', body: Buffer.from(big, 'latin1') },
    { path: 'dir/link', type: 'symlink', linkpath: '../elsewhere' },
    { path: 'dir/hard', type: 'hardlink', linkpath: 'dir/file' },
    { path: 'dev/null', type: 'char-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { path: 'fifo', type: 'fifo' },
    { path: longName, type: 'file', body: 'long', uid: 3000000 },
    { path: 'x', type: 'file', body: 'x', xattrs: { 'security.capability': Buffer.from([1, 0, 0, 2, 0x20, 0, 0, 0]), 'user.note': 'hi' } },
  ];
  const data = await tarBytes(entries);
  assert.is(data.length % 512, 0);
  for (const size of [1, 100, 512, 4096, data.length]) {
    const seen = await readAll(data, size);
    assert.equal(
      seen.map((e) => [e.path, e.type]),
      [
        ['dir/', 'directory'],
        ['dir/file', 'file'],
        ['dir/big', 'file'],
        ['dir/link', 'symlink'],
        ['dir/hard', 'hardlink'],
        ['dev/null', 'char-device'],
        ['fifo', 'fifo'],
        [longName, 'file'],
        ['x', 'file'],
      ],
    );
    assert.is(seen[0]!.mode, 0o750);
    assert.is(seen[0]!.uid, 1000);
    assert.is(seen[0]!.gid, 1001);
    assert.is(seen[0]!.mtime.toISOString(), '2024-01-02T03:04:05.000Z');
    assert.is(seen[1]!.mode, 0o4755);
    assert.is(seen[1]!.content, 'hello');
    assert.is(seen[1]!.uname, 'me');
    assert.is(seen[2]!.content, big);
    assert.is(seen[3]!.linkpath, '../elsewhere');
    assert.is(seen[4]!.linkpath, 'dir/file');
    assert.is(seen[5]!.devmajor, 1);
    assert.is(seen[5]!.devminor, 3);
    assert.is(seen[7]!.uid, 3000000);
    assert.is(seen[7]!.content, 'long');
    assert.equal(seen[8]!.xattrs, { 'security.capability': '0100000220000000', 'user.note': Buffer.from('hi').toString('hex') });
  }
});

test('reads what GNU tar writes (gnu and posix formats, long names, links)', () =>
  withTempDir('tar', async (dir) => {
    const src = path.join(dir, 'src');
    const longPath = path.join('a'.repeat(90), 'b'.repeat(90), 'c'.repeat(90));
    await fs.mkdir(path.join(src, longPath), { recursive: true });
    await fs.writeFile(path.join(src, longPath, 'f.txt'), 'deep');
    await fs.writeFile(path.join(src, 'top'), 'top');
    await fs.symlink('top', path.join(src, 'sym'));
    await fs.link(path.join(src, 'top'), path.join(src, 'hard'));
    await fs.chmod(path.join(src, 'top'), 0o640);
    for (const format of ['gnu', 'posix', 'ustar']) {
      if (format === 'ustar') await fs.rm(path.join(src, 'a'.repeat(90)), { recursive: true });
      const out = path.join(dir, `${format}.tar`);
      execFileSync('tar', ['--format', format, '--sort=name', '-cf', out, '-C', src, '.']);
      const seen = await readAll(await fs.readFile(out));
      const byPath = new Map(seen.map((e) => [e.path.replace(/^\.\//, ''), e]));
      // --sort=name stores `hard` first, with the content; `top` becomes a hardlink to it.
      assert.is(byPath.get('hard')?.type, 'file', format);
      assert.is(byPath.get('hard')?.content, 'top');
      assert.is(byPath.get('hard')?.mode, 0o640);
      assert.is(byPath.get('top')?.type, 'hardlink');
      assert.is(byPath.get('top')?.linkpath, './hard');
      assert.is(byPath.get('sym')?.type, 'symlink');
      assert.is(byPath.get('sym')?.linkpath, 'top');
      if (format !== 'ustar') assert.is(byPath.get(`${longPath}/f.txt`)?.content, 'deep', format);
    }
  }));

test('a stream without end-of-archive blocks is accepted; one cut inside an entry is not', async () => {
  const data = await tarBytes([
    { path: 'a', type: 'file', body: 'x'.repeat(600) },
    { path: 'b', type: 'file', body: 'y' },
  ]);
  const withoutEnd = data.subarray(0, data.length - 1024);
  assert.equal(
    (await readAll(withoutEnd)).map((e) => e.path),
    ['a', 'b'],
  );
  // Cut after b's last byte, before its padding (the docker CLI sends such tars).
  const noPadding = withoutEnd.subarray(0, withoutEnd.length - 511);
  assert.equal(
    (await readAll(noPadding)).map((e) => e.content),
    ['x'.repeat(600), 'y'],
  );
  const cut = data.subarray(0, 512 + 300);
  const err = await rejects(() => readAll(cut), InvalidArgument);
  assert.match(err.message, /stream ends inside "a"/);
  await rejects(() => readAll(data.subarray(0, 100)), /stream ends inside the header/);
});

test('a bad checksum and an unsupported entry type are refused by name', async () => {
  const data = await tarBytes([{ path: 'file', type: 'file', body: 'z' }]);
  const corrupt = Buffer.from(data);
  corrupt[0] = 'F'.charCodeAt(0);
  await rejects(() => readAll(corrupt), /header checksum mismatch at byte 0/);

  const sparse = Buffer.from(data);
  sparse[156] = 'S'.charCodeAt(0);
  // Recompute the checksum so only the type is wrong.
  sparse.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += sparse[i]!;
  sparse.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  await rejects(() => readAll(sparse), /unsupported entry type "S" for "file"/);

  await rejects(() => readAll(Buffer.from('this is not a tar archive at all'.repeat(20))), InvalidArgument);
});

test('an unread body is skipped and later bytes still line up', async () => {
  const data = await tarBytes([
    { path: 'skip-me', type: 'file', body: Buffer.alloc(5000, 1) },
    { path: 'read-me', type: 'file', body: 'ok' },
  ]);
  const names: string[] = [];
  let content = '';
  for await (const e of readTar(chunked(data, 999))) {
    names.push(e.path);
    if (e.path === 'read-me') content = (await collect(e.body)).toString();
  }
  assert.equal(names, ['skip-me', 'read-me']);
  assert.is(content, 'ok');
});

test.run();
