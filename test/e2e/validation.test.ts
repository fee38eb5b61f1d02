import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { daemonSuite, run, type TestDaemon } from './harness';

/**
 * Issue 16 through berthd and real clients: a mistyped create body is a 400 naming the
 * field and is never stored (so `docker ps -a` keeps working for everyone), and a setting
 * berth would not carry out is refused with a message naming it, leaving nothing; plain
 * `docker run`/`create` with the common flags still work.
 */
const test = daemonSuite('validation', 'overlay');

/** Container directories, not counting earlier tests' removals still being deleted. */
function containerDirs(daemon: TestDaemon): string[] {
  try {
    return readdirSync(path.join(daemon.dataRoot, 'containers')).filter((name) => !name.startsWith('.removing-'));
  } catch {
    return [];
  }
}

const hostile: Array<[string, string]> = [
  ['{"Image":"busybox","Labels":[1]}', 'invalid Labels: expected a map of strings, got [1]'],
  ['{"Image":"busybox","Cmd":[1,{}]}', 'invalid Cmd: expected a string or an array of strings, got [1,{}]'],
  ['{"Image":"busybox","Env":{"a":1}}', 'invalid Env: expected an array of strings, got {"a":1}'],
  ['{"Image":"busybox","HostConfig":{"Binds":5}}', 'invalid HostConfig.Binds: expected an array of strings, got 5'],
];

test('hostile create bodies are 400s naming the field; nothing is stored and docker ps -a still works', async ({ daemon }) => {
  for (const [body, message] of hostile) {
    const r = await daemon.request('POST', '/v1.41/containers/create', body, { 'Content-Type': 'application/json' });
    assert.is(r.status, 400, `${body}: ${r.body}`);
    assert.is(JSON.parse(r.body).message, message);
  }
  assert.equal(containerDirs(daemon), []);
  const ps = await daemon.docker(['ps', '-a', '--format', '{{.Names}} {{.Labels}}']);
  assert.is(ps.code, 0, ps.stderr);
  assert.is(ps.stdout.trim(), '');
});

const refusals: Array<[string[], RegExp]> = [
  [
    ['run', '--rm', '--mount', 'type=bind,src=/nonexistent-berth-src,dst=/t', 'busybox', 'true'],
    /bind source path does not exist: \/nonexistent-berth-src/,
  ],
  [['create', '--storage-opt', 'size=1G', 'busybox', 'true'], /HostConfig\.StorageOpt: size limits are not supported/],
  [['create', '-p', '8080:80/sctp', 'busybox', 'true'], /invalid port "80\/sctp": publishing sctp ports is not supported by berth/],
  [['create', '--link', 'db:db', 'busybox', 'true'], /could not get container for db/],
  [['create', '--init', 'busybox', 'true'], /HostConfig\.Init is not supported/],
];

for (const [args, message] of refusals) {
  test(`docker ${args.slice(0, 3).join(' ')} fails with a clear message and leaves nothing`, async ({ daemon }) => {
    const r = await daemon.docker(args);
    // The CLI's exit status for a daemon's refusal: 125 for run, 1 for create.
    assert.is(r.code, args[0] === 'run' ? 125 : 1, r.stderr);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /Error response from daemon/);
    assert.equal(containerDirs(daemon), []);
    const ps = await daemon.docker(['ps', '-aq']);
    assert.is(ps.stdout.trim(), '');
    assert.equal(daemon.leaks(), []);
  });
}

test('plain docker run and create with the common flags still work', async ({ daemon }) => {
  const hi = await daemon.docker(['run', '--rm', 'busybox', 'echo', 'hi']);
  assert.is(hi.code, 0, hi.stderr);
  assert.is(hi.stdout, 'hi\n');
  const created = await daemon.docker([
    'create',
    '--name',
    'v-common',
    '-e',
    'A=1',
    '-l',
    'k=v',
    '-v',
    '/tmp:/t:ro',
    '--memory',
    '64m',
    '--cpus',
    '1',
    '--user',
    '1000',
    '-w',
    '/tmp',
    '--hostname',
    'h',
    '--cap-add',
    'NET_ADMIN',
    '--cap-drop',
    'MKNOD',
    '--security-opt',
    'no-new-privileges',
    '--tmpfs',
    '/run',
    '--ulimit',
    'nofile=100:200',
    '--pids-limit',
    '10',
    '--read-only',
    '--restart',
    'no',
    '--shm-size',
    '64m',
    '--stop-signal',
    'SIGINT',
    '--stop-timeout',
    '5',
    '--expose',
    '99',
    '--log-driver',
    'json-file',
    'busybox',
    'sh',
    '-c',
    'echo $A; id -u',
  ]);
  assert.is(created.code, 0, created.stderr);
  const started = await daemon.docker(['start', '-a', 'v-common']);
  assert.is(started.code, 0, started.stderr);
  assert.is(started.stdout, '1\n1000\n');
  const labels = await daemon.docker(['inspect', '--format', '{{json .Config.Labels}}', 'v-common']);
  assert.is(labels.stdout.trim(), '{"k":"v"}');
  assert.is((await daemon.docker(['rm', 'v-common'])).code, 0);
});

test('docker-py: a mistyped body is an APIError 400 naming the field; a plain run works', async ({ daemon }) => {
  if (!existsSync('/usr/lib/python3/dist-packages/docker')) {
    console.log('  (python3-docker is not installed: apt-get install -y python3-docker)');
    return;
  }
  const script = `
import docker, sys
c = docker.DockerClient(base_url=sys.argv[1], version='1.41')
# docker-py's own helpers turn labels=[1] into {"1": ""}: the hostile body goes raw.
r = c.api._post_json(c.api._url('/containers/create'), data={'Image': 'busybox', 'Labels': [1]})
print(r.status_code, r.json()['message'])
try:
    c.containers.create('busybox', 'true', restart_policy={'Name': 'always', 'MaximumRetryCount': 2})
    print('accepted')
except docker.errors.APIError as e:
    print(e.status_code, e.explanation)
# containers.run() reads HostConfig.LogConfig from inspect, which berth fills only when the
# client sent it: create, start, wait and logs are what run does otherwise.
ok = c.containers.create('busybox', ['echo', 'py'])
ok.start()
ok.wait()
print(ok.logs().decode().strip())
ok.remove()
`;
  const r = await run('python3', ['-c', script, daemon.host], {});
  assert.is(r.code, 0, r.stderr);
  const [labels, restart, out] = r.stdout.trim().split('\n');
  assert.match(labels ?? '', /^400 invalid Labels: expected a map of strings/);
  assert.match(restart ?? '', /^400 invalid restart policy: maximum retry count can only be used with 'on-failure'/);
  assert.is(out, 'py');
  assert.equal(containerDirs(daemon), []);
});

test.run();
