import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { type CopyRequest, type CopySourceTree, IgnoreMatcher, parseChmod, planCopy, resolveChown, writeCopyPlan } from '@berth/builder';
import { getXattr, setXattr } from '@berth/native';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listTree, makeTree, rejection, withTempDir } from './context-helpers.js';

const contextTree = (root: string, ignore: string[] = []): CopySourceTree => ({
  root,
  ignore: new IgnoreMatcher(ignore),
  symlinks: 'refuse',
  name: 'the build context',
});

/** Plan and write `request` from `ctx` into `target`; what the target holds afterwards. */
async function copy(
  ctx: CopySourceTree,
  target: string,
  request: CopyRequest,
  options: Parameters<typeof writeCopyPlan>[2] = {},
): Promise<string[]> {
  await writeCopyPlan(planCopy(ctx, request), target, options);
  return listTree(target);
}

async function fixture(dir: string): Promise<{ ctx: string; target: string }> {
  const ctx = path.join(dir, 'ctx');
  const target = path.join(dir, 'rootfs');
  await makeTree(ctx, {
    Dockerfile: 'FROM x',
    'a.txt': 'a',
    'b.txt': 'b',
    'c.md': 'c',
    'src/main.c': 'int main;',
    'src/lib/util.c': 'util',
    'src/lib/util.h': 'h',
    'src/link': { link: 'main.c' },
    'docs/x/y/readme.md': 'r',
  });
  await fs.mkdir(target);
  return { ctx, target };
}

test('a file, a directory (its contents), several files into a directory, wildcards', async () => {
  await withTempDir('copy-basic', async (dir) => {
    const { ctx, target } = await fixture(dir);
    const tree = contextTree(ctx);
    assert.equal(await copy(tree, target, { sources: ['a.txt'], dest: '/f' }), ['f']);
    assert.is(await fs.readFile(path.join(target, 'f'), 'utf8'), 'a');
    assert.equal(await copy(tree, target, { sources: ['src'], dest: '/app' }), [
      'app/',
      'app/lib/',
      'app/lib/util.c',
      'app/lib/util.h',
      'app/link',
      'app/main.c',
      'f',
    ]);
    assert.is(await fs.readlink(path.join(target, 'app/link')), 'main.c', 'a symlink inside a directory is copied as one');
    await fs.rm(target, { recursive: true });
    await fs.mkdir(target);
    assert.equal(await copy(tree, target, { sources: ['*.txt', 'c.md'], dest: 'out/', workdir: '/w' }), [
      'w/',
      'w/out/',
      'w/out/a.txt',
      'w/out/b.txt',
      'w/out/c.md',
    ]);
    assert.equal(
      planCopy(tree, { sources: ['src/*/*.[ch]'], dest: '/x/' }).entries.map((e) => e.target),
      ['/x/util.c', '/x/util.h'],
      'each wildcard component matches one level',
    );
    // A single file to an existing directory without a trailing slash goes under it.
    await copy(tree, target, { sources: ['a.txt'], dest: '/w/out' });
    assert.ok((await fs.stat(path.join(target, 'w/out/a.txt'))).isFile());
    // A symlink named as a source is followed.
    await copy(tree, target, { sources: ['src/link'], dest: '/followed' });
    assert.is(await fs.readFile(path.join(target, 'followed'), 'utf8'), 'int main;');
  });
});

test('source errors: several sources to a non-directory, no match, missing, ignored, outside the context', async () => {
  await withTempDir('copy-errors', async (dir) => {
    const { ctx } = await fixture(dir);
    await makeTree(ctx, { up: { link: '../../etc' }, abs: { link: '/etc/passwd' }, 'deep/esc': { link: '../../../x' } });
    const tree = contextTree(ctx, ['c.md', 'docs']);
    const several = await rejection(() => planCopy(tree, { sources: ['a.txt', 'b.txt'], dest: '/d' }));
    assert.match(several.message, 'must be a directory and end with a /');
    const wildcardSeveral = await rejection(() => planCopy(tree, { sources: ['*.txt'], dest: '/d' }));
    assert.match(wildcardSeveral.message, 'must be a directory');
    const none = await rejection(() => planCopy(tree, { sources: ['*.nothing'], dest: '/d/' }));
    assert.match(none.message, '*.nothing');
    const missing = await rejection(() => planCopy(tree, { sources: ['nope'], dest: '/d' }));
    assert.is(missing.code, 'NotFound');
    assert.match(missing.message, 'nope');
    const ignored = await rejection(() => planCopy(tree, { sources: ['c.md'], dest: '/d' }));
    assert.is(ignored.code, 'NotFound');
    assert.match(ignored.message, 'excluded by .dockerignore');
    await makeTree(ctx, { 'to-ignored': { link: 'c.md' } });
    const viaLink = await rejection(() => planCopy(tree, { sources: ['to-ignored'], dest: '/d' }));
    assert.match(viaLink.message, 'excluded by .dockerignore', 'a symlink to an ignored file finds nothing');
    const onlyIgnored = await rejection(() => planCopy(tree, { sources: ['*.md'], dest: '/d/' }));
    assert.match(onlyIgnored.message, 'matches *.md', 'a wildcard never matches an ignored file');
    for (const [source, shows] of [
      ['../x', '../x'],
      ['src/../../x', 'src/../../x'],
      ['up/passwd', 'up/passwd'],
      ['abs', 'points to /etc/passwd'],
      ['deep/esc', 'deep/esc'],
    ]) {
      const err = await rejection(() => planCopy(tree, { sources: [source!], dest: '/d' }));
      assert.is(err.code, 'InvalidArgument', source);
      assert.match(err.message, 'forbidden path outside the build context');
      assert.match(err.message, shows!);
    }
    // `/a.txt` means the context's a.txt, as Docker reads it.
    assert.is(planCopy(tree, { sources: ['/a.txt'], dest: '/d' }).entries[0]!.source, path.join(ctx, 'a.txt'));
  });
});

test('.dockerignore applies to COPY . with exceptions, --exclude, --parents', async () => {
  await withTempDir('copy-ignore', async (dir) => {
    const { ctx } = await fixture(dir);
    const tree = contextTree(ctx, ['docs', '!docs/x/y/readme.md', 'src/lib', 'Dockerfile']);
    const all = planCopy(tree, { sources: ['.'], dest: '/app' }).entries.map((e) => e.target);
    assert.equal(all, [
      '/app/a.txt',
      '/app/b.txt',
      '/app/c.md',
      '/app/docs',
      '/app/docs/x',
      '/app/docs/x/y',
      '/app/docs/x/y/readme.md',
      '/app/src',
      '/app/src/link',
      '/app/src/main.c',
    ]);
    const excluded = planCopy(tree, { sources: ['.'], dest: '/app', exclude: ['*.txt', 'docs'] }).entries.map((e) => e.target);
    assert.equal(excluded, ['/app/c.md', '/app/src', '/app/src/link', '/app/src/main.c']);
    const noTxt = planCopy(contextTree(ctx), { sources: ['*'], dest: '/d/', exclude: ['*.txt', 'lib'] }).entries.map((e) => e.target);
    assert.not.ok(
      noTxt.some((t) => t.endsWith('.txt') || t.includes('/lib')),
      noTxt.join(' '),
    );
    assert.equal(
      planCopy(contextTree(ctx), { sources: ['src/lib/*'], dest: '/d/', exclude: ['src/lib/util.h'] }).entries.map((e) => e.target),
      ['/d/util.c'],
      '--exclude also matches the path from the root',
    );
    const parents = planCopy(contextTree(ctx), { sources: ['src/lib/*.c', 'docs/x/y/readme.md'], dest: '/p/', parents: true }).entries.map(
      (e) => e.target,
    );
    assert.equal(parents, ['/p/src/lib/util.c', '/p/docs/x/y/readme.md']);
    const pivot = planCopy(contextTree(ctx), { sources: ['src/./lib/*.h'], dest: '/p/', parents: true }).entries.map((e) => e.target);
    assert.equal(pivot, ['/p/lib/util.h'], 'the part after /./ is kept');
  });
});

test('the destination stays inside the target root through symlinks in the image', async () => {
  await withTempDir('copy-dest', async (dir) => {
    const { ctx, target } = await fixture(dir);
    const outside = path.join(dir, 'outside');
    await fs.mkdir(outside);
    await fs.symlink(outside, path.join(target, 'abs'));
    await fs.symlink('../../../../../..', path.join(target, 'rel'));
    await fs.mkdir(path.join(target, 'real'));
    await fs.symlink('/real', path.join(target, 'inside'));
    const tree = contextTree(ctx);
    await copy(tree, target, { sources: ['a.txt'], dest: '/abs/' });
    await copy(tree, target, { sources: ['b.txt'], dest: '/rel/tmp/' });
    await copy(tree, target, { sources: ['src'], dest: '/inside/src' });
    assert.equal(await fs.readdir(outside), [], 'nothing written through an absolute symlink out');
    assert.ok((await fs.stat(path.join(target, dir.slice(1), 'outside', 'a.txt'))).isFile(), 'the absolute link resolved inside the root');
    assert.ok((await fs.stat(path.join(target, 'tmp/b.txt'))).isFile(), '.. stops at the root');
    assert.ok((await fs.stat(path.join(target, 'real/src/main.c'))).isFile(), 'a link inside the root is followed inside it');
    const overDir = await rejection(
      copy(tree, target, { sources: ['a.txt'], dest: '/real/src/lib/' }).then(() =>
        copy(tree, target, { sources: ['a.txt'], dest: '/real/src/lib/a.txt/x' }),
      ),
    );
    assert.match(overDir.message, 'not a directory');
  });
});

test('--chown by name and number, --chmod octal and symbolic, modes, mtimes, hardlinks and security.capability kept', async () => {
  await withTempDir('copy-meta', async (dir) => {
    const { ctx, target } = await fixture(dir);
    await makeTree(target, {
      'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002::/home/app:/bin/sh\n',
      'etc/group': 'root:x:0:\napp:x:1003:\nstaff:x:50:\n',
    });
    assert.equal(resolveChown('app', target), { uid: 1001, gid: 1003 }, 'the user name is also the group name (classic builder)');
    assert.equal(resolveChown('app:staff', target), { uid: 1001, gid: 50 });
    assert.equal(resolveChown('10', target), { uid: 10, gid: 10 });
    assert.equal(resolveChown('10:20', target), { uid: 10, gid: 20 });
    assert.equal(resolveChown(undefined, target), { uid: 0, gid: 0 });
    assert.match((await rejection(() => resolveChown('nobody', target))).message, "can't find uid for user nobody");
    assert.match((await rejection(() => resolveChown('app:wheel', target))).message, "can't find gid for group wheel");
    assert.match((await rejection(() => resolveChown('a:b:c', target))).message, 'invalid chown string format');

    const exe = path.join(ctx, 'tool');
    await fs.writeFile(exe, 'bin');
    await fs.chmod(exe, 0o4750);
    const cap = Buffer.from('0100000200100000000000000000000000000000', 'hex');
    setXattr(exe, 'security.capability', cap);
    await fs.link(path.join(ctx, 'a.txt'), path.join(ctx, 'src/a-link'));
    await fs.link(path.join(ctx, 'a.txt'), path.join(ctx, 'src/lib/a-link'));
    const old = new Date('2001-02-03T04:05:06Z');
    await fs.utimes(path.join(ctx, 'src/main.c'), old, old);

    await copy(contextTree(ctx), target, { sources: ['tool'], dest: '/bin/tool' }, { owner: resolveChown('app', target) });
    const tool = await fs.stat(path.join(target, 'bin/tool'));
    assert.is(tool.uid, 1001);
    assert.is(tool.gid, 1003);
    assert.is(tool.mode & 0o7777, 0o4750, 'setuid survives the chown');
    assert.is(Buffer.from(getXattr(path.join(target, 'bin/tool'), 'security.capability')!, 'latin1').toString('hex'), cap.toString('hex'));
    assert.is((await fs.stat(path.join(target, 'bin'))).uid, 1001, 'a directory COPY makes is owned like the files');

    await copy(contextTree(ctx), target, { sources: ['src'], dest: '/s' }, { chmod: parseChmod('640') });
    assert.is((await fs.stat(path.join(target, 's/main.c'))).mode & 0o7777, 0o640);
    assert.is((await fs.stat(path.join(target, 's/main.c'))).mtime.getTime(), old.getTime(), 'mtimes kept');
    assert.is((await fs.stat(path.join(target, 's/main.c'))).uid, 0, 'root without --chown');
    const a = await fs.stat(path.join(target, 's/a-link'));
    const b = await fs.stat(path.join(target, 's/lib/a-link'));
    assert.is(a.ino, b.ino, 'hardlinks stay hardlinks');

    const sym = parseChmod('u=rwX,go=rX,+t');
    assert.is(sym(0o600, true), 0o1755);
    assert.is(sym(0o600, false), 0o1644);
    assert.is(sym(0o700, false), 0o1755);
    assert.is(parseChmod('g-w,o-rwx')(0o777, false), 0o750);
    assert.is(parseChmod('u+s')(0o755, false), 0o4755);
    assert.match((await rejection(() => parseChmod('bogus'))).message, 'invalid --chmod');
  });
});

test('COPY --from a root filesystem: absolute symlinks resolve inside it; named pipes and devices are copied', async () => {
  await withTempDir('copy-from', async (dir) => {
    const stage = path.join(dir, 'stage');
    const target = path.join(dir, 'rootfs');
    await fs.mkdir(target);
    await makeTree(stage, {
      'bin/busybox': 'bb',
      'bin/sh': { link: '/bin/busybox' },
      'usr/bin/env': { link: '../../bin/busybox' },
      'dev/': { dir: true },
    });
    execFileSync('mknod', [path.join(stage, 'dev/null'), 'c', '1', '3']);
    execFileSync('mknod', [path.join(stage, 'dev/fifo'), 'p']);
    const from: CopySourceTree = { root: stage, symlinks: 'in-root', name: 'stage builder' };
    await copy(from, target, { sources: ['/bin/sh'], dest: '/sh' });
    assert.is(await fs.readFile(path.join(target, 'sh'), 'utf8'), 'bb', 'an absolute link is followed inside the stage');
    const outOfContext = await rejection(() => planCopy(contextTree(stage), { sources: ['bin/sh'], dest: '/x' }));
    assert.match(outOfContext.message, 'forbidden path outside', 'the same link in a context is refused');
    await copy(from, target, { sources: ['dev'], dest: '/dev' });
    const nul = await fs.stat(path.join(target, 'dev/null'));
    assert.ok(nul.isCharacterDevice());
    assert.is(nul.rdev, (await fs.stat(path.join(stage, 'dev/null'))).rdev);
    assert.ok((await fs.stat(path.join(target, 'dev/fifo'))).isFIFO());
  });
});

test('a context of 1,000 files copies into a root with exactly those files', async () => {
  await withTempDir('copy-many', async (dir) => {
    const ctx = path.join(dir, 'ctx');
    const target = path.join(dir, 'rootfs');
    await fs.mkdir(target);
    const files: Record<string, string> = {};
    for (let i = 0; i < 1000; i++) files[`d${i % 10}/f${i}`] = `content ${i}`;
    await makeTree(ctx, files);
    const listed = await copy(contextTree(ctx), target, { sources: ['.'], dest: '/data' });
    assert.is(listed.filter((p) => !p.endsWith('/')).length, 1000);
    assert.is(await fs.readFile(path.join(target, 'data/d7/f997'), 'utf8'), 'content 997');
    execFileSync('diff', ['-r', ctx, path.join(target, 'data')]);
  });
});

test.run();
