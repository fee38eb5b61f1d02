import {
  closeSync,
  constants,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyTree } from '../src/index.js';

/** A source tree and an empty target, both open as directories, removed after. */
async function withTrees(run: (t: { src: string; dst: string; copy: (threads: number) => ReturnType<typeof copyTree> }) => Promise<void>) {
  const dir = mkdtempSync('/tmp/berth-unit-native-copytree-');
  const src = path.join(dir, 'src');
  const dst = path.join(dir, 'dst');
  mkdirSync(src);
  mkdirSync(dst);
  const fds: number[] = [];
  try {
    await run({
      src,
      dst,
      copy: (threads) => {
        const s = openSync(src, constants.O_RDONLY | constants.O_DIRECTORY);
        const d = openSync(dst, constants.O_RDONLY | constants.O_DIRECTORY);
        fds.push(s, d);
        return copyTree(s, d, { threads });
      },
    });
  } finally {
    for (const fd of fds) closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const threads of [1, 4]) {
  test(`${threads} thread(s): a deep and wide tree whole, hard links across directories linked once every copy exists, directory times kept`, () =>
    withTrees(async ({ src, dst, copy }) => {
      writeFileSync(path.join(src, 'shared'), 'one inode');
      for (let d = 0; d < 30; d++) {
        const sub = path.join(src, `d${d}`, 'deeper');
        mkdirSync(sub, { recursive: true });
        for (let f = 0; f < 20; f++) writeFileSync(path.join(sub, `f${f}`), `${d}/${f}`);
        linkSync(path.join(src, 'shared'), path.join(sub, 'link'));
        utimesSync(sub, new Date('2003-03-03T00:00:00Z'), new Date('2004-04-04T00:00:00Z'));
      }
      const copied = await copy(threads);
      assert.equal(copied, { entries: 1 + 30 * (2 + 20 + 1), skipped: 0 });
      const ino = statSync(path.join(dst, 'shared')).ino;
      assert.is(statSync(path.join(dst, 'shared')).nlink, 31);
      for (let d = 0; d < 30; d++) {
        const sub = path.join(dst, `d${d}`, 'deeper');
        assert.is(statSync(path.join(sub, 'link')).ino, ino, `d${d}`);
        assert.is(readFileSync(path.join(sub, 'f19'), 'utf8'), `${d}/19`);
        assert.is(statSync(sub).mtime.toISOString(), '2004-04-04T00:00:00.000Z', 'times set again after the link went in');
        assert.is(readdirSync(sub).length, 21);
      }
    }));
}

test('a file above 64 KiB (copy_file_range) and one below (read and write) arrive byte for byte, an empty one too', () =>
  withTrees(async ({ src, dst, copy }) => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    writeFileSync(path.join(src, 'big'), big);
    writeFileSync(path.join(src, 'small'), big.subarray(0, 65536));
    writeFileSync(path.join(src, 'empty'), '');
    assert.equal(await copy(2), { entries: 3, skipped: 0 });
    assert.ok(readFileSync(path.join(dst, 'big')).equals(big));
    assert.ok(readFileSync(path.join(dst, 'small')).equals(big.subarray(0, 65536)));
    assert.is(statSync(path.join(dst, 'empty')).size, 0);
  }));

test('bad arguments throw at the call', () => {
  assert.throws(() => copyTree(0, 1, { threads: 0 }), /threads must be 1 to 8/);
  assert.throws(() => copyTree(0, 1, { threads: 9 }), /threads must be 1 to 8/);
});

test('a failure with several threads rejects once, naming the call and the path', () =>
  withTrees(async ({ src, dst, copy }) => {
    for (let d = 0; d < 8; d++) {
      mkdirSync(path.join(src, `d${d}`));
      writeFileSync(path.join(src, `d${d}`, 'f'), 'x');
    }
    // A name already in the target: the copy must not replace it.
    mkdirSync(path.join(dst, 'd5'));
    const err = await copy(4).then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    );
    assert.ok(err);
    assert.is(err!.code, 'EEXIST');
    assert.is(err!.syscall, 'mkdirat');
    assert.is(err!.path, 'd5');
  }));

test.run();
