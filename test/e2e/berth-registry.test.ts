import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { htpasswdLine, selfSignedCertificate } from '@berth/testkit/registry';
import * as assert from 'uvu/assert';
import { binEnv, type Started, startBerthRegistry } from '../registry/support';
import { daemonSuite, repo, run, TestDaemon } from './harness';

/**
 * berthd against berth's own registry (`bin/berth-registry`) through the real docker CLI:
 * push from the suite's berthd, pull into a fresh berthd and run; with htpasswd Basic auth
 * (`docker login`), with berth's token auth over TLS, and a `berth-registry gc` after a
 * manifest is deleted that keeps every blob the remaining images need. The registry is on
 * loopback, which berthd (like dockerd) treats as insecure: TLS without checking the
 * certificate. Trusting a registry's CA through certs.d is covered by
 * packages/image/test/registry-certs.test.ts, where the certificate is checked.
 */
const test = daemonSuite('berth-registry', 'vfs');
const dir = mkdtempSync('/tmp/berth-e2e-registry-');
const root = path.join(dir, 'root');
let basic: Started | undefined;
let token: Started | undefined;
const daemons: TestDaemon[] = [];

/** A berthd of its own with an empty image store (stopped and checked for leaks in `after`). */
async function freshDaemon(): Promise<TestDaemon> {
  const daemon = new TestDaemon('vfs');
  daemons.push(daemon);
  await daemon.start();
  return daemon;
}

function digestOf(pushOutput: string): string {
  const digest = /digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(pushOutput)?.[1];
  assert.ok(digest, pushOutput);
  return digest!;
}

test.before(async () => {
  const htpasswd = path.join(dir, 'htpasswd');
  writeFileSync(htpasswd, `${htpasswdLine('alice', 'pw-alice', 5)}\n`);
  const { cert, key } = selfSignedCertificate(dir, 'tls', { cn: '127.0.0.1', ip: '127.0.0.1' });
  basic = await startBerthRegistry(root, ['--htpasswd', htpasswd]);
  token = await startBerthRegistry(path.join(dir, 'token-root'), [
    '--htpasswd',
    htpasswd,
    '--token-auth',
    '--tls-cert',
    cert,
    '--tls-key',
    key,
  ]);
  assert.match(token.url, /^https:/);
});

test.after(async () => {
  const leaks: string[] = [];
  for (const daemon of daemons) leaks.push(...(await daemon.destroy()));
  await basic?.stop();
  await token?.stop();
  rmSync(dir, { recursive: true, force: true });
  assert.equal(leaks, []);
});

test('htpasswd: a push without login is refused; after docker login, push, pull into a fresh berthd and run', async ({ daemon }) => {
  const name = `${basic!.host}/team/busybox:v1`;
  let r = await daemon.docker(['tag', 'busybox', name]);
  assert.is(r.code, 0, r.stderr);
  r = await daemon.docker(['push', name]);
  assert.is.not(r.code, 0, 'a push without credentials fails');
  assert.match(r.stderr + r.stdout, /unauthorized|authentication required|no basic auth credentials/i);
  r = await daemon.docker(['login', '-u', 'alice', '--password-stdin', basic!.host], 'wrong');
  assert.is.not(r.code, 0, 'a wrong password is refused');
  r = await daemon.docker(['login', '-u', 'alice', '--password-stdin', basic!.host], 'pw-alice');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /Login Succeeded/);
  r = await daemon.docker(['push', name]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /: Pushed/);
  digestOf(r.stdout);

  const fresh = await freshDaemon();
  // (No anonymous `docker pull` here: the docker CLI answers a refused pull with a login
  // prompt that waits on the terminal even with stdin closed.)
  r = await fresh.docker(['login', '-u', 'alice', '--password-stdin', basic!.host], 'pw-alice');
  assert.is(r.code, 0, r.stderr);
  r = await fresh.docker(['pull', name]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /Pull complete/);
  r = await fresh.docker(['run', '--rm', name, 'echo', 'from berth-registry']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.trim(), 'from berth-registry');
});

test('token auth over TLS: docker login gets a token from the registry itself; push, pull into a fresh berthd, run', async ({ daemon }) => {
  const name = `${token!.host}/private/busybox:v2`;
  let r = await daemon.docker(['tag', 'busybox', name]);
  assert.is(r.code, 0, r.stderr);
  r = await daemon.docker(['login', '-u', 'alice', '--password-stdin', token!.host], 'nope');
  assert.is.not(r.code, 0, 'a wrong password is refused by the token endpoint');
  r = await daemon.docker(['login', '-u', 'alice', '--password-stdin', token!.host], 'pw-alice');
  assert.is(r.code, 0, r.stderr);
  r = await daemon.docker(['push', name]);
  assert.is(r.code, 0, r.stderr);
  const digest = digestOf(r.stdout);

  const fresh = await freshDaemon();
  r = await fresh.docker(['login', '-u', 'alice', '--password-stdin', token!.host], 'pw-alice');
  assert.is(r.code, 0, r.stderr);
  r = await fresh.docker(['pull', name]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Digest: ${digest}`));
  r = await fresh.docker(['run', '--rm', name, 'cat', '/etc/hostname']);
  assert.is(r.code, 0, r.stderr);
});

test('gc after a manifest is deleted: the blobs a remaining image needs stay (pulled again), the deleted image`s own go', async ({
  daemon,
}) => {
  const host = basic!.host;
  // `derived` is busybox plus a layer of its own: it shares busybox's layer with `base`.
  let r = await daemon.docker(['run', '--name', 'gc-maker', 'busybox', 'sh', '-c', 'echo derived > /derived.txt']);
  assert.is(r.code, 0, r.stderr);
  r = await daemon.docker(['commit', 'gc-maker', `${host}/gc/derived:v1`]);
  assert.is(r.code, 0, r.stderr);
  r = await daemon.docker(['tag', 'busybox', `${host}/gc/base:v1`]);
  assert.is(r.code, 0, r.stderr);
  // `unique` shares nothing with the others: its layer must go with its manifest.
  const tarDir = path.join(dir, 'unique');
  mkdirSync(tarDir);
  writeFileSync(path.join(tarDir, 'only-here.txt'), `unique ${Date.now()}\n`);
  execFileSync('tar', ['-C', tarDir, '-cf', path.join(dir, 'unique.tar'), 'only-here.txt']);
  r = await daemon.docker(['import', path.join(dir, 'unique.tar'), `${host}/gc/unique:v1`]);
  assert.is(r.code, 0, r.stderr + r.stdout);
  r = await daemon.docker(['login', '-u', 'alice', '--password-stdin', host], 'pw-alice');
  assert.is(r.code, 0, r.stderr);
  const digests: Record<string, string> = {};
  for (const repoName of ['base', 'derived', 'unique']) {
    r = await daemon.docker(['push', `${host}/gc/${repoName}:v1`]);
    assert.is(r.code, 0, r.stderr);
    digests[repoName] = digestOf(r.stdout);
  }
  const uniqueLayers = (await daemon.docker(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', `${host}/gc/unique:v1`])).stdout;
  assert.ok(uniqueLayers.includes('sha256:'), uniqueLayers);
  const manifest = (await fetch(`${basic!.url}/v2/gc/unique/manifests/v1`, {
    headers: { Authorization: auth(), Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  }).then((res) => res.json())) as { layers: Array<{ digest: string }> };
  const uniqueBlob = manifest.layers[0]!.digest;
  assert.ok(existsSync(blobPath(uniqueBlob)), 'the unique layer was stored');

  for (const repoName of ['base', 'unique']) {
    const res = await fetch(`${basic!.url}/v2/gc/${repoName}/manifests/${digests[repoName]}`, {
      method: 'DELETE',
      headers: { Authorization: auth() },
    });
    assert.is(res.status, 202, `DELETE ${repoName}'s manifest`);
  }
  const before = countBlobs();
  r = await run(path.join(repo, 'bin/berth-registry'), ['gc', '--root', root, '--grace', '0s'], binEnv() as Record<string, string>);
  assert.is(r.code, 0, r.stderr + r.stdout);
  assert.ok(countBlobs() < before, `the collection deleted blobs (${before} before, ${countBlobs()} after)\n${r.stdout}`);
  assert.not.ok(existsSync(blobPath(uniqueBlob)), 'the deleted image`s own layer is gone');

  const fresh = await freshDaemon();
  r = await fresh.docker(['login', '-u', 'alice', '--password-stdin', host], 'pw-alice');
  assert.is(r.code, 0, r.stderr);
  r = await fresh.docker(['pull', `${host}/gc/derived:v1`]);
  assert.is(r.code, 0, r.stderr);
  r = await fresh.docker(['run', '--rm', `${host}/gc/derived:v1`, 'cat', '/derived.txt']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.trim(), 'derived');
  r = await fresh.docker(['pull', `${host}/gc/unique:v1`]);
  assert.is.not(r.code, 0, 'the deleted image is gone');
  assert.match(r.stderr, /not found|manifest unknown/i);
});

function auth(): string {
  return `Basic ${Buffer.from('alice:pw-alice').toString('base64')}`;
}

function blobPath(digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return path.join(root, 'blobs', 'sha256', hex.slice(0, 2), hex);
}

function countBlobs(): number {
  const base = path.join(root, 'blobs', 'sha256');
  return readdirSync(base).reduce((n, sub) => n + readdirSync(path.join(base, sub)).length, 0);
}

test.run();
