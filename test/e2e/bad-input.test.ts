import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { daemonSuite, type TestDaemon } from './harness';

/** Bad input gets a clear error with the right status, and leaves nothing behind. */
const test = daemonSuite('bad input', 'overlay');

/**
 * Nothing of a failed create may remain: no record, no snapshot, no mount. Directories
 * of earlier tests' removals still being deleted in the background (`.removing-*`) are
 * not this test's business.
 */
function containerDirs(daemon: TestDaemon): string[] {
  try {
    return readdirSync(path.join(daemon.dataRoot, 'containers')).filter((name) => !name.startsWith('.removing-'));
  } catch {
    return [];
  }
}

test('an unknown image is a 404 that names it, and creates nothing', async ({ daemon }) => {
  const before = containerDirs(daemon);
  const r = await daemon.request('POST', '/v1.41/containers/create', JSON.stringify({ Image: 'nosuchimage', Cmd: ['true'] }), {
    'Content-Type': 'application/json',
  });
  assert.is(r.status, 404);
  assert.match(JSON.parse(r.body).message, /No such image: nosuchimage:latest/);
  // --pull never: a pull would ask Docker Hub, and tests never leave the machine.
  const cli = await daemon.berth(['run', '--rm', '--pull', 'never', 'nosuchimage', 'true']);
  assert.is(cli.code, 125);
  assert.match(cli.stderr, /nosuchimage/);
  assert.equal(containerDirs(daemon), before);
  assert.equal(daemon.leaks(), []);
});

test('a bad reference is a 400 that names the problem', async ({ daemon }) => {
  const r = await daemon.request('POST', '/v1.41/containers/create', JSON.stringify({ Image: 'UPPER/Case', Cmd: ['true'] }), {
    'Content-Type': 'application/json',
  });
  assert.is(r.status, 400);
  assert.match(JSON.parse(r.body).message, /invalid reference format/);
  assert.equal(containerDirs(daemon), []);
});

test("a name in use is a 409 with Docker's message; the first container is untouched", async ({ daemon }) => {
  const first = await daemon.berth(['create', '--name', 'taken', 'busybox', 'true']);
  assert.is(first.code, 0, first.stderr);
  const before = containerDirs(daemon);
  const r = await daemon.request('POST', '/v1.41/containers/create?name=taken', JSON.stringify({ Image: 'busybox' }), {
    'Content-Type': 'application/json',
  });
  assert.is(r.status, 409);
  assert.match(JSON.parse(r.body).message, /The container name "\/taken" is already in use by container "[0-9a-f]{64}"/);
  assert.equal(containerDirs(daemon), before);
  assert.is((await daemon.berth(['rm', 'taken'])).code, 0);
});

test('an unknown container is a 404 naming it', async ({ daemon }) => {
  for (const [method, p] of [
    ['GET', '/v1.41/containers/ghost/json'],
    ['DELETE', '/v1.41/containers/ghost'],
    ['POST', '/v1.41/containers/ghost/start'],
  ]) {
    const r = await daemon.request(method, p);
    assert.is(r.status, 404, `${method} ${p}`);
    assert.is(JSON.parse(r.body).message, 'No such container: ghost');
  }
  const cli = await daemon.berth(['stop', 'ghost']);
  assert.is(cli.code, 1);
  assert.match(cli.stderr, /No such container: ghost/);
});

test('a malformed JSON body is a 400 and creates nothing', async ({ daemon }) => {
  const r = await daemon.request('POST', '/v1.41/containers/create', '{"Image": "busybox",', { 'Content-Type': 'application/json' });
  assert.is(r.status, 400);
  assert.ok(JSON.parse(r.body).message.length > 0);
  assert.equal(containerDirs(daemon), []);
});

test('a command that does not exist fails at start with 127 and leaves nothing running', async ({ daemon }) => {
  const r = await daemon.berth(['run', '--rm', 'busybox', 'nosuchcommand']);
  assert.is(r.code, 127);
  assert.match(r.stderr, /executable file not found/);
  assert.equal(containerDirs(daemon), [], 'the --rm container that could not start is removed');
  assert.equal(daemon.leaks(), []);
});

test('bad flag values are refused before anything is created', async ({ daemon }) => {
  for (const args of [
    ['--memory', '1k'],
    ['--cap-add', 'NOT_A_CAP'],
    ['--security-opt', 'seccomp=/nonexistent.json'],
    // -v makes a missing host directory, as dockerd does; --mount refuses it.
    ['--mount', 'type=bind,src=/nonexistent-berth-path,dst=/data'],
  ]) {
    const r = await daemon.berth(['run', '--rm', ...args, 'busybox', 'true']);
    assert.is.not(r.code, 0, args.join(' '));
    assert.ok(r.stderr.length > 0, `an error message for ${args.join(' ')}`);
  }
  assert.equal(containerDirs(daemon), []);
  assert.equal(daemon.leaks(), []);
});

test.run();
