import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { daemonSuite, type TestDaemon } from './harness';
import { LocalRegistry } from './local-registry';

/**
 * `docker build` through the real docker CLI (the classic builder: CLI 28 without buildx
 * uses `POST /build?version=1`, berthd's `/_ping` says `Builder-Version: 1`): the image,
 * the layer cache, failures with their exit codes, bad Dockerfiles, a Dockerfile from
 * stdin, `-f` and `.dockerignore`, and berthd killed with SIGKILL in the middle of a RUN.
 */
const test = daemonSuite('build', 'overlay');

/** A context directory of this test's own, with these files. */
function context(daemon: TestDaemon, files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(daemon.dir, 'ctx-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

const app = `FROM busybox
ARG WHO=nobody
RUN echo "built for $WHO" > /built.txt
COPY greeting.txt /app/
WORKDIR /app
CMD ["sh", "-c", "cat /built.txt greeting.txt"]
`;

test('docker build makes a tagged image that runs; a rebuild takes every step from the cache', async ({ daemon }) => {
  const dir = context(daemon, { Dockerfile: app, 'greeting.txt': 'hello\n' });
  const first = await daemon.docker(['build', '-t', 'e2e-built:1', '--build-arg', 'WHO=e2e', dir]);
  assert.is(first.code, 0, first.stderr);
  assert.match(first.stdout, 'Step 1/6 : FROM busybox');
  assert.match(first.stdout, / ---> Running in [0-9a-f]{12}/);
  assert.match(first.stdout, /Successfully built [0-9a-f]{12}/);
  assert.match(first.stdout, 'Successfully tagged e2e-built:1');
  assert.is(await daemon.ok(['run', '--rm', 'e2e-built:1']), 'built for e2e\nhello');

  const again = await daemon.docker(['build', '-t', 'e2e-built:2', '--build-arg', 'WHO=e2e', dir]);
  assert.is(again.code, 0, again.stderr);
  assert.is(again.stdout.split('Using cache').length - 1, 5, again.stdout);
  assert.is(await daemon.ok(['images', '-q', 'e2e-built:2']), await daemon.ok(['images', '-q', 'e2e-built:1']));
  assert.is(await daemon.ok(['ps', '-aq']), '', 'no step container is left');
});

test('the layer cache survives a berthd restart; a changed file rebuilds from its COPY on', async ({ daemon }) => {
  const dir = context(daemon, { Dockerfile: 'FROM busybox\nRUN echo one > /one\nCOPY f /f\nRUN cat /f > /g\n', f: 'first\n' });
  assert.is((await daemon.docker(['build', '-q', dir])).code, 0);
  await daemon.kill('SIGTERM');
  await daemon.start();
  const again = await daemon.docker(['build', dir]);
  assert.is(again.code, 0, again.stderr);
  assert.is(again.stdout.split('Using cache').length - 1, 3, again.stdout);
  writeFileSync(path.join(dir, 'f'), 'second\n');
  const changed = await daemon.docker(['build', dir]);
  assert.is(changed.stdout.split('Using cache').length - 1, 1, 'only the RUN before the COPY is taken from the cache');
  assert.is(await daemon.ok(['run', '--rm', /Successfully built ([0-9a-f]{12})/.exec(changed.stdout)![1]!, 'cat', '/g']), 'second');
});

test('--pull takes the base from the registry again; without it the local image is used', async ({ daemon }) => {
  const registry = new LocalRegistry();
  await registry.start();
  try {
    const ref = `${registry.address}/e2e/base:1`;
    // The registry holds a newer base (with /marker) than the local name (plain busybox).
    const newer = context(daemon, { Dockerfile: 'FROM busybox\nRUN echo newer > /marker\n' });
    assert.is((await daemon.docker(['build', '-q', '-t', ref, newer])).code, 0);
    const pushed = await daemon.docker(['push', ref]);
    assert.is(pushed.code, 0, pushed.stderr);
    assert.is((await daemon.docker(['tag', 'busybox', ref])).code, 0);
    const dir = context(daemon, { Dockerfile: `FROM ${ref}\nRUN (cat /marker 2>/dev/null || echo local) > /seen\n` });
    const seen = async (args: string[]) => {
      const r = await daemon.docker(['build', '-q', '--no-cache', ...args, dir]);
      assert.is(r.code, 0, r.stderr);
      return daemon.ok(['run', '--rm', r.stdout.trim(), 'cat', '/seen']);
    };
    assert.is(await seen([]), 'local');
    assert.is(await seen(['--pull']), 'newer');
  } finally {
    await registry.stop();
  }
});

test('a failing RUN exits with its code and leaves no container; a bad Dockerfile names the file and line', async ({ daemon }) => {
  const failing = context(daemon, { Dockerfile: 'FROM busybox\nRUN echo going; exit 3\n' });
  const r = await daemon.docker(['build', '-t', 'e2e-never:1', failing]);
  assert.is(r.code, 3, r.stderr);
  assert.match(r.stdout + r.stderr, "The command '/bin/sh -c echo going; exit 3' returned a non-zero code: 3");
  assert.match(r.stdout, 'going');
  assert.is(await daemon.ok(['ps', '-aq']), '');
  assert.is(await daemon.ok(['images', '-q', 'e2e-never:1']), '');
  // Quiet: the same exit code, and what the build said is shown with the error.
  const quiet = await daemon.docker(['build', '-q', failing]);
  assert.is(quiet.code, 3, quiet.stderr);
  assert.match(quiet.stderr, 'going');
  assert.match(quiet.stderr, 'returned a non-zero code: 3');
  const berthQuiet = await daemon.berth(['build', '-q', failing]);
  assert.is(berthQuiet.code, 3, berthQuiet.stderr);
  assert.match(berthQuiet.stderr, 'going');

  const typo = context(daemon, { Dockerfile: 'FROM busybox\nCOPPY a /a\n' });
  const bad = await daemon.docker(['build', typo]);
  assert.is.not(bad.code, 0);
  assert.match(bad.stderr, 'Dockerfile:2: unknown instruction: COPPY');
});

test('a Dockerfile on stdin, -f in a subdirectory, and .dockerignore', async ({ daemon }) => {
  const piped = await daemon.docker(['build', '-q', '-'], 'FROM busybox\nCMD ["echo", "from stdin"]\n');
  assert.is(piped.code, 0, piped.stderr);
  const id = piped.stdout.trim();
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.is(await daemon.ok(['run', '--rm', id]), 'from stdin');

  const dir = context(daemon, {
    'build/app.Dockerfile': 'FROM busybox\nCOPY . /ctx/\nCMD ["ls", "/ctx"]\n',
    'keep.txt': 'k',
    'secret.key': 's',
    '.dockerignore': '*.key\n',
  });
  const built = await daemon.docker(['build', '-q', '-f', path.join(dir, 'build/app.Dockerfile'), dir]);
  assert.is(built.code, 0, built.stderr);
  const listed = (await daemon.ok(['run', '--rm', built.stdout.trim()])).split('\n');
  assert.ok(listed.includes('keep.txt'), listed.join(','));
  assert.not.ok(listed.includes('secret.key'), 'the ignored file was not copied');
});

test("berth build: the same builds through berth, with -f from stdin, --iidfile and a failing RUN's exit code", async ({ daemon }) => {
  const dir = context(daemon, { Dockerfile: app, 'greeting.txt': 'hi\n' });
  const built = await daemon.berth(['build', '-t', 'e2e-berth:1', '--build-arg', 'WHO=berth', '--label', 'via=berth', dir]);
  assert.is(built.code, 0, built.stderr);
  assert.match(built.stdout, 'Step 1/7 : FROM busybox');
  assert.match(built.stdout, 'Successfully tagged e2e-berth:1');
  assert.is(await daemon.ok(['run', '--rm', 'e2e-berth:1']), 'built for berth\nhi');
  assert.is(await daemon.ok(['inspect', '-f', '{{.Config.Labels.via}}', 'e2e-berth:1']), 'berth');

  const iid = path.join(daemon.dir, 'iid');
  const piped = await daemon.berth(
    ['build', '-q', '--iidfile', iid, '-f', '-', dir],
    'FROM busybox\nCOPY greeting.txt /\nCMD ["cat", "/greeting.txt"]\n',
  );
  assert.is(piped.code, 0, piped.stderr);
  const id = readFileSync(iid, 'utf8');
  assert.is(piped.stdout.trim(), id);
  assert.is(await daemon.ok(['run', '--rm', id]), 'hi');

  const secretFile = path.join(daemon.dir, 'token.txt');
  writeFileSync(secretFile, 'from-a-file');
  const withSecret = context(daemon, { Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=token cat /run/secrets/token\n' });
  const secretBuild = await daemon.berth(['build', '--no-cache', '--secret', `id=token,src=${secretFile}`, withSecret]);
  assert.is(secretBuild.code, 0, secretBuild.stderr);
  assert.match(secretBuild.stdout, 'from-a-file');

  const failing = context(daemon, { Dockerfile: 'FROM busybox\nRUN exit 5\n' });
  const failed = await daemon.berth(['build', failing]);
  assert.is(failed.code, 5, failed.stderr);
  assert.match(failed.stderr, "The command '/bin/sh -c exit 5' returned a non-zero code: 5");
});

test('a missing base image fails naming it; a body that is no tar is refused; --network none reaches no network', async ({ daemon }) => {
  // A registry on loopback that is not there: nothing is pulled from the internet.
  const missing = context(daemon, { Dockerfile: 'FROM 127.0.0.1:9/nosuch/base:1\nRUN true\n' });
  const r = await daemon.docker(['build', missing]);
  assert.is.not(r.code, 0);
  assert.match(r.stdout + r.stderr, '127.0.0.1:9');
  const bad = await daemon.request('POST', '/v1.41/build', 'this is not a tar archive at all', { 'Content-Type': 'application/x-tar' });
  assert.is(bad.status, 400, bad.body);
  assert.match(bad.body, 'the build context');
  const offline = context(daemon, { Dockerfile: 'FROM busybox\nRUN ip -o link | grep -v " lo:" | wc -l > /links\n' });
  const built = await daemon.docker(['build', '-q', '--network', 'none', offline]);
  assert.is(built.code, 0, built.stderr);
  assert.is(await daemon.ok(['run', '--rm', built.stdout.trim(), 'cat', '/links']), '0');
  assert.is(await daemon.ok(['ps', '-aq']), '');
});

test('a client that goes away mid-build stops it: the RUN is killed and its container removed', async ({ daemon }) => {
  const dir = context(daemon, { Dockerfile: 'FROM busybox\nRUN echo $((6*7)); sleep 30\n' });
  const cli = spawn('/usr/local/bin/docker', ['build', dir], {
    env: { ...process.env, DOCKER_HOST: daemon.host, DOCKER_CONFIG: path.join(daemon.dir, 'docker-config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => cli.once('exit', resolve));
  let out = '';
  cli.stdout.on('data', (d) => (out += d));
  try {
    const deadline = Date.now() + 20_000;
    while (!/^42$/m.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /^42$/m);
    cli.kill('SIGKILL');
    await exited;
    const gone = Date.now() + 10_000;
    while ((await daemon.ok(['ps', '-aq'])) !== '' && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    assert.is(await daemon.ok(['ps', '-aq']), '', 'the step container went with the client');
  } finally {
    cli.kill('SIGKILL');
    await exited;
  }
});

test('docker system df counts the build cache, and docker builder prune empties it', async ({ daemon }) => {
  const dir = context(daemon, { Dockerfile: 'FROM busybox\nRUN head -c 300000 /dev/zero > /blob\n' });
  assert.is((await daemon.docker(['build', '-q', dir])).code, 0);
  const df = await daemon.ok(['system', 'df']);
  assert.match(df, /Build Cache\s+[1-9]\d*\s+0\s+\d/);
  const pruned = await daemon.docker(['builder', 'prune', '-a', '-f']);
  assert.is(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, 'Total reclaimed space');
  assert.match(await daemon.ok(['system', 'df']), /Build Cache\s+0\s+0\s+0B/);
});

test('berthd killed with SIGKILL during a RUN: the next start removes the step container and the build directory', async ({ daemon }) => {
  // The RUN prints 42 once it runs (the step line shows `$((6*7))`, not 42).
  const dir = context(daemon, { Dockerfile: 'FROM busybox\nRUN echo $((6*7)); sleep 30\n' });
  const cli = spawn('/usr/local/bin/docker', ['build', dir], {
    env: { ...process.env, DOCKER_HOST: daemon.host, DOCKER_CONFIG: path.join(daemon.dir, 'docker-config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => cli.once('exit', resolve));
  let out = '';
  cli.stdout.on('data', (d) => (out += d));
  try {
    const deadline = Date.now() + 20_000;
    while (!/^42$/m.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /^42$/m);
    assert.is.not(await daemon.ok(['ps', '-q']), '', 'the step container runs');
    await daemon.kill('SIGKILL');
    await daemon.start();
    assert.is(await daemon.ok(['ps', '-aq']), '', 'the step container is gone');
    const work = path.join(daemon.dataRoot, 'builder', 'work');
    assert.ok(!existsSync(work) || readdirSync(work).length === 0, 'no build directory is left');
  } finally {
    cli.kill('SIGKILL');
    await exited;
  }
});

test('contexts: a gzip tar on stdin, a tarball URL on loopback, a git repository by path with #ref:subdir', async ({ daemon }) => {
  const dir = context(daemon, { Dockerfile: 'FROM busybox\nCOPY a.txt /a.txt\nCMD ["cat", "/a.txt"]\n', 'a.txt': 'from a tarball\n' });
  const tgz = execFileSync('tar', ['-cz', '-C', dir, '.']);
  const piped = await daemon.docker(['build', '-q', '-'], tgz);
  assert.is(piped.code, 0, piped.stderr);
  assert.is(await daemon.ok(['run', '--rm', piped.stdout.trim()]), 'from a tarball');

  // The docker CLI sends an http(s) URL as remote=: berthd downloads it (here from this test, on loopback).
  const server = http.createServer((req, res) => {
    if (req.url === '/ctx.tar.gz') res.end(tgz);
    else res.writeHead(404).end('no such file');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const fromUrl = await daemon.docker(['build', '-q', `${base}/ctx.tar.gz`]);
    assert.is(fromUrl.code, 0, fromUrl.stderr);
    assert.is(fromUrl.stdout.trim(), piped.stdout.trim(), 'the same context gives the same image');
    const missing = await daemon.docker(['build', '-q', `${base}/nothing.tar.gz`]);
    assert.is.not(missing.code, 0);
    assert.match(missing.stderr, '404');
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  const repo = mkdtempSync(path.join(daemon.dir, 'repo-'));
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.email=e2e@berth', '-c', 'user.name=e2e', '-C', repo, ...args], { encoding: 'utf8' });
  git('init', '-q', '-b', 'main');
  mkdirSync(path.join(repo, 'app'));
  writeFileSync(path.join(repo, 'app/Dockerfile'), 'FROM busybox\nCOPY v /v\nCMD ["cat", "/v"]\n');
  writeFileSync(path.join(repo, 'app/v'), 'one\n');
  git('add', '-A');
  git('commit', '-qm', 'one');
  git('tag', 'v1');
  writeFileSync(path.join(repo, 'app/v'), 'two\n');
  git('commit', '-qam', 'two');
  const bare = `${repo}.git`;
  execFileSync('git', ['clone', '-q', '--bare', repo, bare]);
  for (const [remote, expected] of [
    [`${bare}#v1:app`, 'one'],
    [`file://${bare}#main:app`, 'two'],
  ] as const) {
    const r = await daemon.request('POST', `/v1.41/build?q=1&remote=${encodeURIComponent(remote)}`);
    assert.is(r.status, 200, r.body);
    const id = /"stream":"(sha256:[0-9a-f]{64})\\n"/.exec(r.body)?.[1];
    assert.ok(id, r.body);
    assert.is(await daemon.ok(['run', '--rm', id!]), expected, remote);
  }
});

test('bad input names the Dockerfile line: a COPY source outside the context, a symlink out of it, a typo', async ({ daemon }) => {
  const dir = context(daemon, { x: 'x' });
  symlinkSync('/etc/passwd', path.join(dir, 'out'));
  for (const [dockerfile, message] of [
    ['FROM busybox\nCOPY ../x /x\n', 'Dockerfile:2: forbidden path outside the build context: ../x'],
    [
      'FROM busybox\nRUN true\nCOPY out /x\n',
      'Dockerfile:3: forbidden path outside the build context: out (a symlink in it points to /etc/passwd)',
    ],
    ['FROM busybox\nCOPY nothere /x\n', 'Dockerfile:2: file not found in the build context or excluded by .dockerignore: nothere'],
    ['FROM busybox\nCOPPY x /x\n', 'Dockerfile:2: unknown instruction: COPPY (did you mean COPY?)'],
  ]) {
    writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
    const r = await daemon.docker(['build', dir]);
    assert.is.not(r.code, 0, dockerfile);
    assert.match(r.stderr, message, dockerfile);
  }
  assert.is(await daemon.ok(['ps', '-aq']), '', 'no step container is left');
});

test('reproducible through docker build: SOURCE_DATE_EPOCH and --no-cache twice give one id; a failing RUN leaves no snapshot', async ({
  daemon,
}) => {
  const dir = context(daemon, { Dockerfile: 'FROM busybox\nRUN echo hi > /hi && mkdir /d\nCOPY f /d/f\n', f: 'data\n' });
  const args = ['build', '-q', '--no-cache', '--build-arg', 'SOURCE_DATE_EPOCH=1700000000', dir];
  const first = await daemon.docker(args);
  assert.is(first.code, 0, first.stderr);
  await new Promise((r) => setTimeout(r, 1100)); // a second later: any unclamped time would differ
  writeFileSync(path.join(dir, 'f'), 'data\n'); // rewritten: a new mtime, the same content
  const second = await daemon.docker(args);
  assert.is(second.stdout.trim(), first.stdout.trim());
  assert.match(await daemon.ok(['inspect', '-f', '{{.Created}}', first.stdout.trim()]), /^2023-11-14T22:13:20(\.0+)?Z$/);

  const snapshots = path.join(daemon.dataRoot, 'storage', 'overlay', 'snapshots');
  const before = readdirSync(snapshots).sort();
  const failing = context(daemon, { Dockerfile: 'FROM busybox\nRUN echo doomed > /file; exit 4\n' });
  const failed = await daemon.docker(['build', '--no-cache', failing]);
  assert.is(failed.code, 4, failed.stderr);
  // A removed snapshot is renamed `.removing-*` and deleted in the background: wait for it.
  const until = Date.now() + 10_000;
  while (readdirSync(snapshots).length !== before.length && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  assert.equal(readdirSync(snapshots).sort(), before, 'no snapshot of the failed step is left');
  assert.is(await daemon.ok(['ps', '-aq']), '');
});

test('docker builder prune --keep-storage removes the least recently used entries down to the size', async ({ daemon }) => {
  assert.is((await daemon.docker(['builder', 'prune', '-a', '-f'])).code, 0);
  for (const kb of [100, 200, 300]) {
    const dir = context(daemon, { Dockerfile: `FROM busybox\nRUN head -c ${kb}000 /dev/urandom > /blob\n` });
    const r = await daemon.docker(['build', '-q', dir]);
    assert.is(r.code, 0, r.stderr);
  }
  const sizeOf = async () => {
    const line = (await daemon.ok(['system', 'df', '--format', '{{.Type}} {{.Size}}']))
      .split('\n')
      .find((l) => l.startsWith('Build Cache'));
    return line!.split(' ').at(-1)!;
  };
  assert.is(await sizeOf(), '600kB');
  const pruned = await daemon.docker(['builder', 'prune', '-f', '--keep-storage', '350kB']);
  assert.is(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, 'Total reclaimed space: 300kB');
  assert.is(await sizeOf(), '300kB', 'the newest, the 300 kB step, stays');
});

test.run();
