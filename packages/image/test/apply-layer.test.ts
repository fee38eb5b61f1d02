import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { zstdCompressSync } from 'node:zlib';
import { InvalidArgument } from '@berth/core';
import { applyLayer, sha256Digest, type TarWriteEntry } from '@berth/image';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chunked, exists, gzTarBytes, rejects, tarBytes, withTempDir } from './helpers.js';

const when = new Date('2023-05-06T07:08:09Z');

function list(dir: string): Promise<string[]> {
  return fs.readdir(dir).then((names) => names.sort());
}

test('unpacks files, dirs, links, fifos and devices with owners, modes and times; diffID of the uncompressed tar', () =>
  withTempDir('apply', async (tmp) => {
    const entries: TarWriteEntry[] = [
      { path: './', type: 'directory', mode: 0o755, mtime: when },
      { path: 'etc/', type: 'directory', mode: 0o755, mtime: when },
      { path: 'etc/passwd', type: 'file', body: 'root:x:0:0::/root:/bin/sh\n', mode: 0o644, mtime: when },
      { path: 'bin/', type: 'directory', mode: 0o755, mtime: when },
      { path: 'bin/su', type: 'file', body: 'pretend setuid binary', mode: 0o4755, mtime: when },
      { path: 'bin/sh', type: 'symlink', linkpath: 'busybox', uid: 7, gid: 8, mtime: when },
      { path: 'bin/passwd-again', type: 'hardlink', linkpath: 'etc/passwd' },
      { path: 'home/u/secret', type: 'file', body: 'mine', mode: 0o600, uid: 1000, gid: 1001, mtime: when },
      { path: 'run/fifo', type: 'fifo', mode: 0o620, mtime: when },
      { path: 'dev/null', type: 'char-device', devmajor: 1, devminor: 3, mode: 0o666, mtime: when },
      { path: 'tmp/', type: 'directory', mode: 0o1777, mtime: when },
      { path: '/abs/file', type: 'file', body: 'absolute names are relative to the root', mtime: when },
    ];
    const plain = await tarBytes(entries);
    const gz = await gzTarBytes(entries);
    const zst = zstdCompressSync(plain);
    const results = [];
    for (const [label, data] of [
      ['gzip', gz],
      ['none', plain],
      ['zstd', zst],
    ] as const) {
      const root = path.join(tmp, label);
      await fs.mkdir(root);
      const result = await applyLayer(root, chunked(data, 1000));
      assert.is(result.compression, label);
      assert.is(result.diffId, sha256Digest(plain));
      assert.is(result.tarSize, plain.length);
      assert.is(result.entries, entries.length);
      results.push(result);

      const st = (p: string) => fs.lstat(path.join(root, p));
      assert.is(await fs.readFile(path.join(root, 'etc/passwd'), 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
      assert.is((await st('bin/su')).mode & 0o7777, 0o4755);
      assert.is((await st('home/u/secret')).uid, 1000);
      assert.is((await st('home/u/secret')).gid, 1001);
      assert.is((await st('home/u/secret')).mode & 0o7777, 0o600);
      assert.is((await st('home/u')).mode & 0o7777, 0o755, 'implicit parent');
      assert.ok((await st('bin/sh')).isSymbolicLink());
      assert.is(await fs.readlink(path.join(root, 'bin/sh')), 'busybox');
      assert.is((await st('bin/sh')).uid, 7);
      assert.is((await st('bin/sh')).mtime.getTime(), when.getTime());
      assert.is((await st('bin/passwd-again')).ino, (await st('etc/passwd')).ino);
      assert.ok((await st('run/fifo')).isFIFO());
      assert.is((await st('run/fifo')).mode & 0o7777, 0o620);
      assert.ok((await st('dev/null')).isCharacterDevice());
      assert.is((await st('dev/null')).rdev, (1 << 8) | 3);
      assert.is((await st('tmp')).mode & 0o7777, 0o1777);
      assert.is((await st('etc')).mtime.getTime(), when.getTime(), 'directory times are set after their content');
      assert.is((await st('etc/passwd')).mtime.getTime(), when.getTime());
      assert.is((await st('.')).mtime.getTime(), when.getTime());
      assert.is(await fs.readFile(path.join(root, 'abs/file'), 'utf8'), 'absolute names are relative to the root');
    }
    const fileBytes = entries.filter((e) => e.type === 'file').reduce((n, e) => n + Buffer.byteLength(e.body as string), 0);
    assert.is(results[0]!.size, fileBytes);
  }));

test('two layers in sequence: whiteouts delete, opaque markers empty what lower layers put there', () =>
  withTempDir('apply', async (root) => {
    const lower = await tarBytes([
      { path: 'a/', type: 'directory' },
      { path: 'a/keep', type: 'file', body: 'k' },
      { path: 'a/gone', type: 'file', body: 'g' },
      { path: 'b/', type: 'directory' },
      { path: 'b/x', type: 'file', body: 'x' },
      { path: 'b/sub/', type: 'directory' },
      { path: 'b/sub/y', type: 'file', body: 'y' },
      { path: 'c/', type: 'directory' },
      { path: 'c/old', type: 'file', body: 'o' },
      { path: 'c/olddir/deep', type: 'file', body: 'd' },
      { path: 'd/', type: 'directory' },
      { path: 'd/file', type: 'file', body: 'f' },
    ]);
    const upper = await tarBytes([
      { path: 'a/.wh.gone', type: 'file' },
      // Opaque marker first, then the layer's own content.
      { path: 'c/', type: 'directory' },
      { path: 'c/.wh..wh..opq', type: 'file' },
      { path: 'c/new', type: 'file', body: 'n' },
      // Opaque marker after some of the layer's own files: those stay, lower ones go,
      // also below a directory this layer rewrote.
      { path: 'b/', type: 'directory' },
      { path: 'b/mine', type: 'file', body: 'm' },
      { path: 'b/sub/', type: 'directory' },
      { path: 'b/sub/z', type: 'file', body: 'z' },
      { path: 'b/.wh..wh..opq', type: 'file' },
      // A whole directory whited out; a whiteout whose parent does not exist is a no-op.
      { path: '.wh.d', type: 'file' },
      { path: 'e/.wh.nothing', type: 'file' },
      { path: '.wh..wh.plnk', type: 'directory' },
    ]);
    const r1 = await applyLayer(root, [lower]);
    const r2 = await applyLayer(root, [upper]);
    assert.is.not(r1.diffId, r2.diffId);
    assert.equal(await list(root), ['a', 'b', 'c']);
    assert.equal(await list(path.join(root, 'a')), ['keep']);
    assert.equal(await list(path.join(root, 'b')), ['mine', 'sub']);
    assert.equal(await list(path.join(root, 'b/sub')), ['z']);
    assert.equal(await list(path.join(root, 'c')), ['new']);
    assert.not.ok(await exists(path.join(root, 'e')), 'a whiteout creates no parent');
  }));

test('whiteouts: false takes .wh. entries as plain files (a docker cp tar, not a layer)', () =>
  withTempDir('apply', async (root) => {
    const target = path.join(root, 't');
    await fs.mkdir(target);
    await fs.writeFile(path.join(target, 'keep'), 'k');
    await applyLayer(target, [await tarBytes([{ path: '.wh.keep', type: 'file', body: 'w' }])], { whiteouts: false });
    assert.equal(await list(target), ['.wh.keep', 'keep']);
    await applyLayer(target, [await tarBytes([{ path: '.wh.keep', type: 'file', body: 'w' }])]);
    assert.equal(await list(target), ['.wh.keep'], 'a layer still deletes');
  }));

test('an entry replaces what is there unless both are directories', () =>
  withTempDir('apply', async (root) => {
    await applyLayer(root, [
      await tarBytes([
        { path: 'p/', type: 'directory' },
        { path: 'p/inside', type: 'file', body: 'i' },
        { path: 'q', type: 'symlink', linkpath: 'p' },
        { path: 'r', type: 'file', body: 'file' },
        { path: 's/', type: 'directory', mode: 0o700 },
        { path: 's/stays', type: 'file', body: 's' },
      ]),
    ]);
    await applyLayer(root, [
      await tarBytes([
        { path: 'p', type: 'file', body: 'now a file' },
        { path: 'q/', type: 'directory' },
        { path: 'r', type: 'symlink', linkpath: 'p' },
        { path: 's/', type: 'directory', mode: 0o755 },
      ]),
    ]);
    assert.is(await fs.readFile(path.join(root, 'p'), 'utf8'), 'now a file');
    assert.ok((await fs.lstat(path.join(root, 'q'))).isDirectory());
    assert.is(await fs.readlink(path.join(root, 'r')), 'p');
    assert.equal(await list(path.join(root, 's')), ['stays']);
    assert.is((await fs.lstat(path.join(root, 's'))).mode & 0o777, 0o755);
  }));

test('a symlink that stays inside the root is followed (merged /usr)', () =>
  withTempDir('apply', async (root) => {
    await applyLayer(root, [
      await tarBytes([
        { path: 'usr/lib/', type: 'directory' },
        { path: 'lib', type: 'symlink', linkpath: 'usr/lib' },
        { path: 'usr/bin/', type: 'directory' },
        { path: 'usr/bin/up', type: 'symlink', linkpath: '../../lib' },
      ]),
    ]);
    await applyLayer(root, [
      await tarBytes([
        { path: 'lib/libx.so', type: 'file', body: 'elf' },
        { path: 'usr/bin/up/liby.so', type: 'file', body: 'elf' },
      ]),
    ]);
    assert.ok((await fs.lstat(path.join(root, 'lib'))).isSymbolicLink());
    assert.equal(await list(path.join(root, 'usr/lib')), ['libx.so', 'liby.so']);
  }));

test('xattrs go to setXattr when given, and are counted when not; expectedDiffId is checked', () =>
  withTempDir('apply', async (root) => {
    const layer = await tarBytes([
      { path: 'bin/ping', type: 'file', body: 'p', xattrs: { 'security.capability': Buffer.from([1, 2, 3]) } },
      { path: 'plain', type: 'file', body: 'q' },
    ]);
    const calls: Array<[string, string, string]> = [];
    const result = await applyLayer(path.join(root), [layer], {
      setXattr: async (file, name, value) => {
        calls.push([path.relative(root, file), name, value.toString('hex')]);
      },
    });
    assert.equal(calls, [['bin/ping', 'security.capability', '010203']]);
    assert.is(result.xattrsSkipped, 0);
    const again = path.join(root, 'again');
    await fs.mkdir(again);
    assert.is((await applyLayer(again, [layer])).xattrsSkipped, 1);
    const third = path.join(root, 'third');
    await fs.mkdir(third);
    const err = await rejects(() => applyLayer(third, [layer], { expectedDiffId: sha256Digest('other') }), InvalidArgument);
    assert.match(err.message, /layer diffID mismatch/);
  }));

/** Every path under `dir`: type, mode, owner, links, size and content, sorted. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string): Promise<void> {
    for (const name of await list(d)) {
      const p = path.join(d, name);
      const st = await fs.lstat(p);
      const what = st.isSymbolicLink() ? `-> ${await fs.readlink(p)}` : st.isFile() ? (await fs.readFile(p)).toString('hex') : '';
      out.push(
        `${path.relative(dir, p)} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.nlink} ${st.size} ${st.isDirectory() ? '' : st.mtimeMs} ${what}`,
      );
      if (st.isDirectory()) await walk(p);
    }
  }
  await walk(dir);
  return out;
}

test('many small files written concurrently land as GNU tar lands them, replacements, links and refusals in order', () =>
  withTempDir('apply', async (tmp) => {
    const entries: TarWriteEntry[] = [];
    for (let d = 0; d < 20; d++) {
      entries.push({ path: `d${d}/`, type: 'directory', mode: 0o750, mtime: when });
      for (let f = 0; f < 40; f++) {
        entries.push({ path: `d${d}/f${f}`, type: 'file', body: `${d}:${f}:`.repeat(f * 7), mode: 0o600 + f, uid: f, gid: d, mtime: when });
      }
    }
    entries.push(
      // Right after their first version, while it may still be in flight: a new version,
      // a directory in its place, a hardlink to one, a symlink to one, a file under the symlink's target dir.
      { path: 'd19/f39', type: 'file', body: 'second version', mtime: when },
      { path: 'd19/f38/', type: 'directory', mtime: when },
      { path: 'd19/f38/inside', type: 'file', body: 'in the new dir', mtime: when },
      { path: 'hard', type: 'hardlink', linkpath: 'd19/f37' },
      { path: 'soft', type: 'symlink', linkpath: 'd19/f36', mtime: when },
      { path: 'd0link', type: 'symlink', linkpath: 'd1', mtime: when },
      { path: 'd0link/via-link', type: 'file', body: 'through d0link into d1', mtime: when },
    );
    const layer = await tarBytes(entries);
    const gnu = path.join(tmp, 'gnu');
    const ours = path.join(tmp, 'ours');
    await fs.mkdir(gnu);
    await fs.mkdir(ours);
    await fs.writeFile(path.join(tmp, 'layer.tar'), layer);
    execFileSync('tar', ['-C', gnu, '--same-owner', '-xpf', path.join(tmp, 'layer.tar')]);
    const result = await applyLayer(ours, chunked(layer, 1000));
    assert.is(result.entries, entries.length);
    assert.equal(await tree(ours), await tree(gnu));

    // A name through a file that may still be being written is refused, never made a directory.
    const refused = path.join(tmp, 'refused');
    await fs.mkdir(refused);
    const files: TarWriteEntry[] = Array.from({ length: 50 }, (_, i) => ({ path: `f${i}`, type: 'file' as const, body: 'x' }));
    const bad = await tarBytes([...files, { path: 'f49/x', type: 'file', body: 'y' }]);
    const err = await rejects(() => applyLayer(refused, chunked(bad, 1000)), InvalidArgument);
    assert.match(err.message, 'invalid tar entry "f49/x": "f49" is not a directory');
  }));

test.run();
