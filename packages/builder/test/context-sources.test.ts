import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  contextFromDockerfile,
  contextFromGit,
  contextFromTar,
  contextFromUrl,
  isGitUrl,
  openBuildContext,
  openDirectoryContext,
  parseGitSource,
  planCopy,
} from '@berth/builder';
import { type TarWriteEntry, writeTar } from '@berth/image';
import { withTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { collect, listTree, makeTree, rejection, withTempDir } from './context-helpers.js';

const tar = (entries: TarWriteEntry[]) => collect(writeTar(entries));
const basic: TarWriteEntry[] = [
  { path: 'Dockerfile', type: 'file', body: 'FROM scratch\n' },
  { path: 'src/', type: 'directory' },
  { path: 'src/a.txt', type: 'file', body: 'a', uid: 1000, gid: 1000, mode: 0o640 },
];

function compress(data: Buffer, program: 'bzip2' | 'xz'): Buffer {
  return execFileSync(program, ['-c'], { input: data });
}

test('a tar context, plain, gzip, bzip2, xz and zstd, is unpacked into a directory berth owns', async () => {
  await withTempDir('ctx-tar', async (work) => {
    const plain = await tar(basic);
    const { zstdCompressSync } = await import('node:zlib');
    for (const [name, body] of [
      ['plain', plain],
      ['gzip', gzipSync(plain)],
      ['bzip2', compress(plain, 'bzip2')],
      ['xz', compress(plain, 'xz')],
      ['zstd', zstdCompressSync(plain)],
    ] as const) {
      const ctx = await contextFromTar([body], { workDir: work });
      try {
        assert.ok(ctx.owned, name);
        assert.ok(ctx.root.startsWith(work), name);
        assert.is(ctx.dockerfilePath, 'Dockerfile');
        assert.is(ctx.dockerfile.toString(), 'FROM scratch\n', name);
        assert.equal(await listTree(ctx.root), ['Dockerfile', 'src/', 'src/a.txt'], name);
        const st = await fs.stat(path.join(ctx.root, 'src/a.txt'));
        assert.is(st.uid, 1000, 'owners kept');
        assert.is(st.mode & 0o777, 0o640);
      } finally {
        await ctx.dispose();
      }
      assert.equal(await fs.readdir(work), [], `${name}: dispose removes the context`);
    }
  });
});

test('a context that is not a tar, or a hostile one, is refused and leaves nothing', async () => {
  await withTempDir('ctx-bad', async (work) => {
    const notTar = await rejection(contextFromTar([Buffer.from('FROM busybox\nRUN true\n'.repeat(40))], { workDir: work }));
    assert.is(notTar.code, 'InvalidArgument');
    assert.match(notTar.message, 'the build context is not a valid tar archive');
    const corruptGzip = await rejection(contextFromTar([Buffer.from([0x1f, 0x8b, 0x08, 0, 1, 2, 3, 4, 5])], { workDir: work }));
    assert.is(corruptGzip.code, 'InvalidArgument');
    const empty = await rejection(contextFromTar([], { workDir: work }));
    assert.match(empty.message, 'empty');
    const dotdot = await rejection(contextFromTar([await tar([{ path: '../evil', type: 'file', body: 'x' }])], { workDir: work }));
    assert.is(dotdot.code, 'InvalidArgument');
    assert.match(dotdot.message, '../evil');
    const throughLink = await rejection(
      contextFromTar(
        [
          await tar([
            { path: 'Dockerfile', type: 'file', body: 'FROM scratch' },
            { path: 'out', type: 'symlink', linkpath: '/tmp' },
            { path: 'out/evil', type: 'file', body: 'x' },
          ]),
        ],
        { workDir: work },
      ),
    );
    assert.is(throughLink.code, 'InvalidArgument');
    assert.match(throughLink.message, 'out/evil');
    const device = await rejection(
      contextFromTar([await tar([{ path: 'null', type: 'char-device', devmajor: 1, devminor: 3 }])], { workDir: work }),
    );
    assert.match(device.message, 'device');
    const noDockerfile = await rejection(contextFromTar([await tar([{ path: 'x', type: 'file', body: '' }])], { workDir: work }));
    assert.is(noDockerfile.code, 'NotFound');
    assert.match(noDockerfile.message, 'Cannot locate specified Dockerfile: Dockerfile');
    assert.equal(await fs.readdir(work), [], 'nothing left');
  });
});

test('a client that goes away mid-context: the error passes through and nothing is left', async () => {
  await withTempDir('ctx-gone', async (work) => {
    const whole = await tar([...basic, { path: 'big', type: 'file', body: Buffer.alloc(200_000, 1) }]);
    let closed = false;
    async function* halfThenGone(): AsyncGenerator<Buffer> {
      try {
        yield whole.subarray(0, 100_000);
        throw new Error('client went away');
      } finally {
        closed = true;
      }
    }
    const err = await rejection(contextFromTar(halfThenGone(), { workDir: work }));
    assert.match(err.message, 'client went away');
    assert.ok(closed);
    assert.equal(await fs.readdir(work), []);
    const gz = gzipSync(whole);
    const cut = await rejection(contextFromTar([gz.subarray(0, gz.length / 2)], { workDir: work }));
    assert.is(cut.code, 'InvalidArgument', 'a truncated gzip is bad input');
    assert.equal(await fs.readdir(work), []);
  });
});

test('openBuildContext: the body without a remote; an unsupported remote is refused', async () => {
  await withTempDir('ctx-open', async (work) => {
    const fromBody = await openBuildContext({ body: [await tar(basic)], workDir: work });
    assert.is(fromBody.dockerfile.toString(), 'FROM scratch\n');
    await fromBody.dispose();
    const session = await rejection(openBuildContext({ remote: 'client-session', body: [], workDir: work }));
    assert.is(session.code, 'InvalidArgument');
    assert.match(session.message, 'client-session');
    assert.equal(await fs.readdir(work), []);
  });
});

test('Dockerfile selection: -f inside the context, lowercase fallback, outside (as the docker CLI sends it), out of the context refused', async () => {
  await withTempDir('ctx-df', async (work) => {
    const lower = await contextFromTar([await tar([{ path: 'dockerfile', type: 'file', body: 'FROM lower' }])], { workDir: work });
    assert.is(lower.dockerfilePath, 'dockerfile');
    await lower.dispose();
    const nested = await contextFromTar([await tar([{ path: 'build/Dev.Dockerfile', type: 'file', body: 'FROM dev' }])], {
      workDir: work,
      dockerfile: './build/Dev.Dockerfile',
    });
    assert.is(nested.dockerfilePath, 'build/Dev.Dockerfile');
    assert.is(nested.dockerfile.toString(), 'FROM dev');
    await nested.dispose();
    // `docker build -f ../other/Dockerfile .`: the CLI adds the file under a random name and ignores it.
    const outside = await contextFromTar(
      [
        await tar([
          { path: '.dockerfile.4f2a9c', type: 'file', body: 'FROM outside' },
          { path: '.dockerignore', type: 'file', body: '.dockerfile.4f2a9c\n.dockerignore\n' },
          { path: 'app.txt', type: 'file', body: 'app' },
        ]),
      ],
      { workDir: work, dockerfile: '.dockerfile.4f2a9c' },
    );
    try {
      assert.is(outside.dockerfile.toString(), 'FROM outside');
      const plan = planCopy(
        { root: outside.root, ignore: outside.ignore, symlinks: 'refuse', name: 'the build context' },
        { sources: ['.'], dest: '/app/' },
      );
      assert.equal(
        plan.entries.map((e) => e.target),
        ['/app/app.txt'],
        'COPY . leaves out the Dockerfile and .dockerignore the ignore file names',
      );
    } finally {
      await outside.dispose();
    }
    const out = await rejection(contextFromTar([await tar(basic)], { workDir: work, dockerfile: '../Dockerfile' }));
    assert.is(out.code, 'InvalidArgument');
    assert.match(out.message, 'must be within the build context');
    assert.equal(await fs.readdir(work), []);
  });
});

test('<Dockerfile>.dockerignore wins over .dockerignore', async () => {
  await withTempDir('ctx-ign', async (work) => {
    const body = await tar([
      { path: 'web.Dockerfile', type: 'file', body: 'FROM x' },
      { path: 'web.Dockerfile.dockerignore', type: 'file', body: 'a\n' },
      { path: '.dockerignore', type: 'file', body: 'b\n' },
      { path: 'a', type: 'file', body: 'a' },
      { path: 'b', type: 'file', body: 'b' },
    ]);
    const specific = await contextFromTar([body], { workDir: work, dockerfile: 'web.Dockerfile' });
    assert.is(specific.ignoreFile, 'web.Dockerfile.dockerignore');
    assert.ok(specific.ignore.ignores('a'));
    assert.not.ok(specific.ignore.ignores('b'));
    await specific.dispose();
    const general = await contextFromTar(
      [
        await tar([
          { path: 'Dockerfile', type: 'file', body: 'FROM x' },
          { path: '.dockerignore', type: 'file', body: 'b\n' },
        ]),
      ],
      {
        workDir: work,
      },
    );
    assert.is(general.ignoreFile, '.dockerignore');
    assert.ok(general.ignore.ignores('b'));
    await general.dispose();
  });
});

test('a Dockerfile alone (build - < Dockerfile) has an empty context; a directory is read in place', async () => {
  await withTempDir('ctx-stdin', async (work) => {
    const ctx = await contextFromDockerfile(Buffer.from('FROM busybox\n'), { workDir: path.join(work, 'build') });
    assert.is(ctx.dockerfile.toString(), 'FROM busybox\n');
    assert.equal(await fs.readdir(ctx.root), []);
    await ctx.dispose();
    assert.equal(await fs.readdir(path.join(work, 'build')), []);

    const dir = path.join(work, 'dir');
    await makeTree(dir, { Dockerfile: 'FROM y', 'f.txt': 'f' });
    const inPlace = await openDirectoryContext(dir);
    assert.not.ok(inPlace.owned);
    assert.is(inPlace.root, dir);
    await inPlace.dispose();
    assert.equal(await listTree(dir), ['Dockerfile', 'f.txt'], 'dispose of an in-place context removes nothing');
  });
});

function git(cwd: string, ...args: string[]): string {
  return execFileSync(
    'git',
    ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', '-c', 'protocol.file.allow=always', ...args],
    {
      cwd,
      env: { PATH: process.env.PATH, HOME: cwd, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
    },
  )
    .toString()
    .trim();
}

test('git URL parsing: #ref:subdir, what counts as a git URL', () => {
  assert.equal(parseGitSource('file:///r.git#v1:sub/dir'), { repository: 'file:///r.git', ref: 'v1', subdir: 'sub/dir' });
  assert.equal(parseGitSource('https://h/r.git#:docs'), { repository: 'https://h/r.git', ref: undefined, subdir: 'docs' });
  assert.equal(parseGitSource('git@h:r.git'), { repository: 'git@h:r.git', ref: undefined, subdir: '' });
  assert.ok(isGitUrl('git://h/r'));
  assert.ok(isGitUrl('https://h/r.git#main'));
  assert.ok(isGitUrl('github.com/a/b'));
  assert.ok(isGitUrl('file:///srv/r.git'));
  assert.not.ok(isGitUrl('https://h/ctx.tar.gz'));
  assert.match(
    String(
      (() => {
        try {
          parseGitSource('file:///r#main:../x');
        } catch (e) {
          return (e as Error).message;
        }
      })(),
    ),
    'leaves the repository',
  );
  assert.match(
    String(
      (() => {
        try {
          parseGitSource('file:///r#--upload-pack=x');
        } catch (e) {
          return (e as Error).message;
        }
      })(),
    ),
    'invalid git reference',
  );
});

test(
  'a git context: file:// and bare paths (also as POST /build remote=), #ref:subdir, .git removed unless kept, submodules checked out',
  withTimeout(30_000, async () => {
    await withTempDir('ctx-git', async (dir) => {
      const sub = path.join(dir, 'sub');
      await makeTree(sub, { 'lib.txt': 'from the submodule' });
      git(sub, 'init', '-q');
      git(sub, 'add', '.');
      git(sub, 'commit', '-qm', 'sub');
      const repo = path.join(dir, 'repo');
      await makeTree(repo, { Dockerfile: 'FROM v1', 'app/Dockerfile': 'FROM app-v1', 'app/x': 'x1' });
      git(repo, 'init', '-q');
      git(repo, 'submodule', '-q', 'add', `file://${sub}`, 'vendor/sub');
      git(repo, 'add', '.');
      git(repo, 'commit', '-qm', 'one');
      git(repo, 'tag', 'v1');
      const first = git(repo, 'rev-parse', 'HEAD');
      await fs.writeFile(path.join(repo, 'Dockerfile'), 'FROM v2');
      git(repo, 'commit', '-qam', 'two');
      const bare = path.join(dir, 'bare.git');
      git(dir, 'clone', '-q', '--bare', repo, bare);
      const work = path.join(dir, 'work');

      const head = await contextFromGit(`file://${bare}`, { workDir: work });
      try {
        assert.is(head.dockerfile.toString(), 'FROM v2');
        assert.equal(await listTree(head.root), [
          '.gitmodules',
          'Dockerfile',
          'app/',
          'app/Dockerfile',
          'app/x',
          'vendor/',
          'vendor/sub/',
          'vendor/sub/.git',
          'vendor/sub/lib.txt',
        ]);
      } finally {
        await head.dispose();
      }
      const tagged = await contextFromGit(`${bare}#v1:app`, { workDir: work });
      assert.is(tagged.dockerfile.toString(), 'FROM app-v1');
      assert.equal(await listTree(tagged.root), ['Dockerfile', 'x']);
      await tagged.dispose();
      // POST /build?remote=<absolute path>: a repository on the daemon's host, as the tests give it.
      const byPath = await openBuildContext({ remote: `${bare}#v1:app`, body: [], workDir: work });
      assert.is(byPath.dockerfile.toString(), 'FROM app-v1', 'openBuildContext takes an absolute path as a git repository');
      await byPath.dispose();
      const byCommit = await contextFromGit(`file://${bare}#${first}`, { workDir: work, keepGitDir: true });
      assert.is(byCommit.dockerfile.toString(), 'FROM v1');
      assert.ok((await fs.stat(path.join(byCommit.root, '.git'))).isDirectory(), 'keepGitDir keeps .git');
      await byCommit.dispose();

      const missing = await rejection(contextFromGit(`file://${bare}#nope`, { workDir: work }));
      assert.is(missing.code, 'InvalidArgument');
      assert.match(missing.message, 'nope');
      const noSubdir = await rejection(contextFromGit(`file://${bare}#main:absent`, { workDir: work }));
      assert.match(noSubdir.message, 'subdirectory absent not found');
      assert.equal(await fs.readdir(work), [], 'every clone removed');
    });
  }),
);

async function serve(handler: http.RequestListener, fn: (base: string) => Promise<void>): Promise<void> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('a URL context: a tarball, a plain Dockerfile, a failing server', async () => {
  await withTempDir('ctx-url', async (work) => {
    const tarball = gzipSync(await tar(basic));
    await serve(
      (req, res) => {
        if (req.url === '/ctx.tar.gz') res.end(tarball);
        else if (req.url === '/Dockerfile') res.end('FROM remote\n');
        else {
          res.statusCode = 404;
          res.end('no');
        }
      },
      async (base) => {
        const fromTar = await contextFromUrl(`${base}/ctx.tar.gz`, { workDir: work });
        assert.is(fromTar.dockerfile.toString(), 'FROM scratch\n');
        assert.equal(await listTree(fromTar.root), ['Dockerfile', 'src/', 'src/a.txt']);
        await fromTar.dispose();
        const fromFile = await contextFromUrl(`${base}/Dockerfile`, { workDir: work });
        assert.is(fromFile.dockerfile.toString(), 'FROM remote\n');
        assert.equal(await fs.readdir(fromFile.root), []);
        await fromFile.dispose();
        const detected = await openBuildContext({ remote: `${base}/ctx.tar.gz`, body: [], workDir: work, dockerfile: 'Dockerfile' });
        assert.is(detected.dockerfile.toString(), 'FROM scratch\n', 'openBuildContext takes an http remote as a URL context');
        await detected.dispose();
        const missing = await rejection(contextFromUrl(`${base}/gone`, { workDir: work }));
        assert.is(missing.code, 'InvalidArgument');
        assert.match(missing.message, `${base}/gone`);
        assert.match(missing.message, '404');
      },
    );
    assert.equal(await fs.readdir(work), []);
  });
});

test.run();
