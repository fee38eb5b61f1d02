import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { type BuildContext, contextFromTar, packDirectoryContext, packStdinContext, planCopy } from '@berth/builder';
import { readTar } from '@berth/image';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { collect, listTree, makeTree, rejection, withTempDir } from './context-helpers.js';

/** Pack `dir` as the CLI would, unpack it as the daemon would. */
async function roundTrip(dir: string, work: string, options: Parameters<typeof packDirectoryContext>[1] = {}): Promise<BuildContext> {
  const packed = await packDirectoryContext(dir, options);
  const bytes = await collect(packed.tar);
  return contextFromTar([bytes], { workDir: work, dockerfile: packed.dockerfile });
}

const copyAll = (ctx: BuildContext) =>
  planCopy(
    { root: ctx.root, ignore: ctx.ignore, symlinks: 'refuse', name: 'the build context' },
    { sources: ['.'], dest: '/' },
  ).entries.map((e) => e.target);

test('packing leaves ignored files out but always sends the Dockerfile and .dockerignore, which COPY . then leaves out', async () => {
  await withTempDir('pack', async (dir) => {
    const ctxDir = path.join(dir, 'ctx');
    await makeTree(ctxDir, {
      Dockerfile: 'FROM a',
      '.dockerignore': '*\n!src\nsrc/*.o\n!keep/this\n',
      'secret.key': 'k',
      'src/main.c': 'c',
      'src/main.o': 'o',
      'keep/this': 't',
      'keep/not': 'n',
    });
    await fs.chown(path.join(ctxDir, 'src/main.c'), 1234, 1234);
    const packed = await packDirectoryContext(ctxDir);
    assert.is(packed.dockerfile, 'Dockerfile');
    const names: string[] = [];
    for await (const entry of readTar(packed.tar)) {
      names.push(entry.path);
      assert.is(entry.uid, 0, 'sent as root, as the docker CLI does');
      for await (const _ of entry.body);
    }
    assert.equal(names, ['.dockerignore', 'Dockerfile', 'keep/this', 'src/', 'src/main.c']);
    const ctx = await roundTrip(ctxDir, path.join(dir, 'work'));
    try {
      assert.is(ctx.dockerfile.toString(), 'FROM a');
      assert.equal(copyAll(ctx), ['/keep', '/keep/this', '/src', '/src/main.c'], 'the parent of a re-included file comes with it');
    } finally {
      await ctx.dispose();
    }
  });
});

test('a Dockerfile outside the context or from stdin goes in as .dockerfile.<random>, listed in .dockerignore', async () => {
  await withTempDir('pack-out', async (dir) => {
    const ctxDir = path.join(dir, 'ctx');
    await makeTree(ctxDir, { 'app.txt': 'app', '.dockerignore': 'tmp\n', tmp: 'x' });
    await makeTree(dir, { 'elsewhere/Build.Dockerfile': 'FROM outside', 'elsewhere/Build.Dockerfile.dockerignore': 'app.txt\n' });
    const plain = await roundTrip(ctxDir, path.join(dir, 'work'), { dockerfile: 'ctx/../elsewhere/Build.Dockerfile', cwd: dir });
    try {
      assert.match(plain.dockerfilePath, /^\.dockerfile\.[0-9a-f]{20}$/);
      assert.is(plain.dockerfile.toString(), 'FROM outside');
      assert.is(plain.ignoreFile, `${plain.dockerfilePath}.dockerignore`, 'the Dockerfile-specific ignore file travels with it');
      assert.equal(
        copyAll(plain),
        ['/.dockerignore', '/tmp'],
        'the specific file rules (app.txt out, tmp and .dockerignore in); the added files out',
      );
    } finally {
      await plain.dispose();
    }
    const stdin = await roundTrip(ctxDir, path.join(dir, 'work'), { dockerfileContent: Buffer.from('FROM stdin') });
    try {
      assert.is(stdin.dockerfile.toString(), 'FROM stdin');
      assert.equal(
        copyAll(stdin),
        ['/.dockerignore', '/app.txt'],
        'tmp ignored; .dockerignore is copied as Docker copies it when it does not list itself',
      );
      assert.equal(await listTree(stdin.root), [stdin.dockerfilePath, '.dockerignore', 'app.txt']);
    } finally {
      await stdin.dispose();
    }
    const missing = await rejection(packDirectoryContext(ctxDir));
    assert.is(missing.code, 'NotFound');
    assert.match(missing.message, 'Cannot locate specified Dockerfile');
  });
});

test('build - < file: a Dockerfile becomes a context of just it; an archive passes as it is', async () => {
  await withTempDir('pack-stdin', async (dir) => {
    const work = path.join(dir, 'work');
    const fromText = packStdinContext(Buffer.from('FROM busybox\n'));
    const ctx = await contextFromTar([await collect(fromText.tar)], { workDir: work, dockerfile: fromText.dockerfile });
    assert.is(ctx.dockerfile.toString(), 'FROM busybox\n');
    assert.equal(await listTree(ctx.root), ['Dockerfile']);
    assert.equal(copyAll(ctx), ['/Dockerfile'], 'nothing ignores it: COPY . takes it, as Docker');
    await ctx.dispose();
    await makeTree(dir, { 'src/Dockerfile': 'FROM tarred' });
    const tarred = await collect((await packDirectoryContext(path.join(dir, 'src'))).tar);
    const gz = gzipSync(tarred);
    const passed = packStdinContext(gz);
    assert.equal(await collect(passed.tar), gz);
    const fromGz = await contextFromTar([gz], { workDir: work });
    assert.is(fromGz.dockerfile.toString(), 'FROM tarred');
    await fromGz.dispose();
  });
});

test.run();
