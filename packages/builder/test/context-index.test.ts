import { existsSync, promises as fs, readdirSync } from 'node:fs';
import * as path from 'node:path';
import {
  type BuildContext,
  ContentHashCache,
  type CopySourceTree,
  contextFromTar,
  hashCopyPlan,
  indexedContextFromTar,
  indexRoot,
  isIndexedContext,
  packDirectoryContext,
  planCopy,
  RecentIndexes,
} from '@berth/builder';
import { writeTar } from '@berth/image';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { coalesceChunks } from '../src/context/coalesce-chunks.js';
import { collect, makeTree, rejection, withTempDir } from './context-helpers.js';

// A POST /build context kept as an index of its tar: COPY plans and cache keys from the
// index are those of the same context unpacked, and nothing is unpacked until asked.

async function packed(dir: string): Promise<Buffer> {
  return collect((await packDirectoryContext(dir)).tar);
}

const tree = (ctx: BuildContext, indexed: boolean): CopySourceTree =>
  indexed && isIndexedContext(ctx)
    ? { root: indexRoot, fs: ctx.index, ignore: ctx.ignore, symlinks: 'refuse', name: 'the build context' }
    : { root: ctx.root, ignore: ctx.ignore, symlinks: 'refuse', name: 'the build context' };

test('COPY plans and digests from the index are those of the unpacked context, for every kind of source', async () => {
  await withTempDir('index', async (dir) => {
    const src = path.join(dir, 'src');
    await makeTree(src, {
      Dockerfile: 'FROM a',
      '.dockerignore': '*.log\n!keep.log\n',
      'app/main.js': 'console.log(1)',
      'app/lib/util.js': 'exports.x = 1',
      'app/link': { link: 'main.js' },
      'app/skip.log': 'no',
      'keep.log': 'yes',
      'data/a.txt': 'a',
      'data/b.txt': 'b',
    });
    await fs.chmod(path.join(src, 'app/main.js'), 0o750);
    await fs.link(path.join(src, 'data/a.txt'), path.join(src, 'data/hard.txt'));
    const bytes = await packed(src);
    const indexed = await indexedContextFromTar([bytes], { workDir: path.join(dir, 'w1') });
    const unpacked = await contextFromTar([bytes], { workDir: path.join(dir, 'w2') });
    try {
      assert.ok(isIndexedContext(indexed));
      assert.is(indexed.dockerfile.toString(), 'FROM a');
      const requests = [
        { sources: ['.'], dest: '/' },
        { sources: ['app'], dest: '/srv/' },
        { sources: ['app/main.js'], dest: '/bin/main' },
        { sources: ['data/*.txt', 'keep.log'], dest: '/d/' },
        { sources: ['app/link'], dest: '/l' },
        { sources: ['app'], dest: '/x/', exclude: ['lib'] },
      ];
      for (const request of requests) {
        const fromIndex = planCopy(tree(indexed, true), request);
        const fromDisk = planCopy(tree(unpacked, false), request);
        const shape = (p: typeof fromIndex) => ({
          entries: p.entries.map((e) => [e.kind, e.target, e.mode, e.size, e.link ?? '']),
          directories: p.directories,
        });
        assert.equal(shape(fromIndex), shape(fromDisk), JSON.stringify(request));
        const cache = new ContentHashCache();
        if (isIndexedContext(indexed)) indexed.index.seed(cache);
        assert.is(await hashCopyPlan(fromIndex, {}, cache), await hashCopyPlan(fromDisk), JSON.stringify(request));
      }
      assert.not.ok(existsSync(indexed.root), 'nothing was unpacked');
      if (isIndexedContext(indexed)) await indexed.ready();
      assert.equal(readdirSync(indexed.root).sort(), readdirSync(unpacked.root).sort(), 'ready() unpacks the same files');
    } finally {
      await indexed.dispose();
      await unpacked.dispose();
    }
    assert.equal(readdirSync(path.join(dir, 'w1')), [], 'dispose leaves nothing');
  });
});

test('a tar a context may not hold is refused while it is read, and nothing is left', async () => {
  await withTempDir('index-bad', async (dir) => {
    const work = path.join(dir, 'w');
    const notTar = await rejection(indexedContextFromTar([Buffer.from('not a tar at all, just text')], { workDir: work }));
    assert.match(notTar.message, 'the build context is not a valid tar archive');
    const hostile = await collect(writeTar([{ path: '../escape', type: 'file', body: 'x' }]));
    const escaped = await rejection(indexedContextFromTar([hostile], { workDir: work }));
    assert.match(escaped.message, 'a name that leaves the context');
    const device = await collect(writeTar([{ path: 'dev', type: 'char-device', devmajor: 1, devminor: 3 }]));
    assert.match((await rejection(indexedContextFromTar([device], { workDir: work }))).message, 'device');
    const noDockerfile = await collect(writeTar([{ path: 'a.txt', type: 'file', body: 'a' }]));
    assert.match((await rejection(indexedContextFromTar([noDockerfile], { workDir: work }))).message, 'Cannot locate specified Dockerfile');
    assert.equal(readdirSync(work), [], 'no context directory is left');
  });
});

test('coalesceChunks gathers small chunks into pieces of at least the size asked, bytes unchanged', async () => {
  const chunks = Array.from({ length: 3000 }, (_, i) => Buffer.alloc(1 + (i % 700), i % 251));
  const out: Buffer[] = [];
  for await (const piece of coalesceChunks(chunks, 64 << 10)) out.push(piece);
  assert.ok(out.length < 30, `${out.length} pieces`);
  for (const piece of out.slice(0, -1)) assert.ok(piece.length >= 64 << 10);
  assert.ok(Buffer.concat(out).equals(Buffer.concat(chunks)));
  const none: Buffer[] = [];
  for await (const piece of coalesceChunks([Buffer.alloc(0)])) none.push(piece);
  assert.equal(none, [], 'nothing in, nothing out');
});

test('the same tar sent again is indexed once: its index is taken again; a tar that only begins the same is indexed anew', async () => {
  await withTempDir('index-again', async (dir) => {
    const work = path.join(dir, 'w');
    // Files enough that the tar is longer than the 64 KiB compared first.
    const entries = (last: string) => [
      { path: 'Dockerfile', type: 'file' as const, body: 'FROM scratch\nCOPY . /\n' },
      ...Array.from({ length: 200 }, (_, i) => ({ path: `f/${String(i).padStart(3, '0')}`, type: 'file' as const, body: `file ${i}\n` })),
      { path: 'zlast', type: 'file' as const, body: last },
    ];
    const one = await collect(writeTar(entries('one')));
    const other = await collect(writeTar(entries('two, longer')));
    assert.ok(one.length > 64 << 10 && one.subarray(0, 64 << 10).equals(other.subarray(0, 64 << 10)), 'the tars begin alike');
    const recentIndexes = new RecentIndexes();
    const open = async (bytes: Buffer, recent: RecentIndexes | 'none' = recentIndexes) => {
      const ctx = await indexedContextFromTar(coalesceChunks([bytes], 4096), {
        workDir: work,
        ...(recent === 'none' ? {} : { recentIndexes: recent }),
      });
      assert.ok(isIndexedContext(ctx));
      return ctx;
    };
    const digestOf = async (ctx: BuildContext) => {
      const cache = new ContentHashCache();
      if (isIndexedContext(ctx)) ctx.index.seed(cache);
      return hashCopyPlan(planCopy(tree(ctx, true), { sources: ['.'], dest: '/' }), {}, cache);
    };
    const first = await open(one);
    const again = await open(one);
    assert.ok(isIndexedContext(first) && isIndexedContext(again) && again.index === first.index, 'the index is taken again');
    assert.is(await digestOf(again), await digestOf(first));
    const elsewhere = await open(one, new RecentIndexes());
    assert.ok(isIndexedContext(elsewhere) && elsewhere.index !== first.index, "another owner's indexes are its own");
    const without = await open(one, 'none');
    assert.ok(isIndexedContext(without) && without.index !== first.index, 'without recent indexes, a context is indexed anew');
    const changed = await open(other);
    assert.ok(isIndexedContext(changed) && changed.index !== first.index, 'a different tar is indexed');
    assert.is.not(await digestOf(changed), await digestOf(first), 'and its digest is its own');
    // Its bytes are what a step unpacks.
    if (isIndexedContext(changed)) await changed.ready();
    assert.is(await fs.readFile(path.join(changed.root, 'zlast'), 'utf8'), 'two, longer');
    for (const ctx of [first, again, elsewhere, without, changed]) await ctx.dispose();
    assert.equal(readdirSync(work), [], 'no context directory is left');
  });
});

test.run();
