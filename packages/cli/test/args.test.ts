import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type FlagSpec, parseArgs } from '../src/argv.js';
import { splitTag } from '../src/commands/images.js';
import { apiTimestamp, parseGoDuration } from '../src/commands/logs.js';
import { imageWithTag, startErrorStatus } from '../src/commands/run.js';
import { buildCreateRequest, CONTAINER_FLAGS } from '../src/container-options.js';
import { CLI_VERSION } from '../src/version.js';

const specs: FlagSpec[] = [
  { long: 'detach', short: 'd', kind: 'bool', help: '' },
  { long: 'interactive', short: 'i', kind: 'bool', help: '' },
  { long: 'env', short: 'e', kind: 'list', help: '' },
  { long: 'name', kind: 'string', help: '' },
  { long: 'time', short: 't', kind: 'int', help: '' },
  { long: 'rm', kind: 'bool', help: '' },
];

test('pflag forms: --x v, --x=v, -x v, -xv, -x=v, bundles, --bool=false', () => {
  const p = parseArgs(['-di', '--name', 'web', '-eA=1', '-e', 'B=2', '-e=C', '--env=D=4', '--rm=false', '-t5', 'img'], specs);
  assert.ok(p.flags.bool('detach'));
  assert.ok(p.flags.bool('interactive'));
  assert.is(p.flags.string('name'), 'web');
  assert.equal(p.flags.list('env'), ['A=1', 'B=2', 'C', 'D=4']);
  assert.is(p.flags.bool('rm', true), false);
  assert.ok(p.flags.has('rm'));
  assert.is(p.flags.int('time'), 5);
  assert.equal(p.args, ['img']);
});

test('interspersed flags for most commands; run stops at the image', () => {
  assert.equal(parseArgs(['a', '-d', 'b'], specs).args, ['a', 'b']);
  const run = parseArgs(['-d', 'busybox', 'sh', '-c', 'echo -d', '--rm'], specs, false);
  assert.equal(run.args, ['busybox', 'sh', '-c', 'echo -d', '--rm']);
  assert.not.ok(run.flags.has('rm'));
  assert.equal(parseArgs(['--', '-d'], specs).args, ['-d']);
  assert.equal(parseArgs(['-'], specs).args, ['-']);
});

test('pflag error messages', () => {
  assert.throws(() => parseArgs(['--bogus'], specs), /^unknown flag: --bogus$/);
  assert.throws(() => parseArgs(['-dz'], specs), /^unknown shorthand flag: 'z' in -dz$/);
  assert.throws(() => parseArgs(['--name'], specs), /^flag needs an argument: --name$/);
  assert.throws(() => parseArgs(['-e'], specs), /^flag needs an argument: 'e' in -e$/);
  assert.throws(() => parseArgs(['-t', 'x'], specs), /invalid argument "x" for "-t, --time" flag: strconv.ParseInt/);
  assert.throws(() => parseArgs(['--rm=maybe'], specs), /invalid argument "maybe" for "--rm" flag/);
  assert.ok(parseArgs(['--help'], specs).help);
});

function build(argv: string[], options: Partial<Parameters<typeof buildCreateRequest>[3]> = {}) {
  const p = parseArgs(argv, CONTAINER_FLAGS, false);
  return buildCreateRequest(p.flags, p.args[0]!, p.args.slice(1), {
    detach: false,
    env: { HOME_VAR: 'from-env' },
    readFile: (f) => fs.readFileSync(f, 'utf8'),
    cwd: '/work',
    ...options,
  });
}

test('create body: the plain foreground case', () => {
  const { body, name } = build(['--rm', 'busybox', 'echo', 'hi']);
  assert.is(name, undefined);
  assert.equal(body, {
    Image: 'busybox',
    Cmd: ['echo', 'hi'],
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: null,
    Labels: {},
    HostConfig: { NetworkMode: 'default', RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, AutoRemove: true },
  });
});

test('create body: --network-alias and --ip on the endpoint of the network joined, --link in HostConfig.Links', () => {
  const { body } = build([
    '--network',
    'front',
    '--network-alias',
    'www',
    '--net-alias',
    'web2',
    '--ip',
    '10.1.0.9',
    '--link',
    'db:database',
    'busybox',
  ]);
  assert.equal(body.NetworkingConfig, {
    EndpointsConfig: { front: { IPAMConfig: { IPv4Address: '10.1.0.9' }, Aliases: ['www', 'web2'] } },
  });
  assert.equal(body.HostConfig?.Links, ['db:database']);
  assert.equal(build(['--network-alias', 'x', 'busybox']).body.NetworkingConfig, { EndpointsConfig: { bridge: { Aliases: ['x'] } } });
  assert.is(build(['busybox']).body.NetworkingConfig, undefined);
});

test('create body: every supported flag lands where docker puts it', () => {
  const { body, name } = build([
    '--name',
    'web',
    '-e',
    'A=1',
    '-e',
    'HOME_VAR',
    '-e',
    'UNSET_VAR',
    '-w',
    '/srv',
    '-u',
    '1000:1000',
    '--entrypoint',
    'sh',
    '-h',
    'box',
    '-v',
    '/data',
    '--volume-driver',
    'pyvol',
    '-v',
    '/tmp/x:/x:ro',
    '-v',
    'named:/n',
    '-v',
    './rel:/r',
    '--read-only',
    '--privileged',
    '--cap-add',
    'NET_ADMIN',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '-m',
    '64m',
    '--memory-swap',
    '128m',
    '--cpus',
    '1.5',
    '--pids-limit',
    '100',
    '--network',
    'none',
    '-l',
    'a=b',
    '-l',
    'flag',
    '--stop-signal',
    'SIGINT',
    '--stop-timeout',
    '5',
    '--runtime',
    'runc',
    '-p',
    '8080:80',
    '-p',
    '127.0.0.1:53:53/udp',
    '--expose',
    '9000-9001',
    '--restart',
    'on-failure:3',
    '--tmpfs',
    '/run:size=1m',
    '--add-host',
    'db=10.0.0.2',
    '--ulimit',
    'nofile=1024:2048',
    '--init',
    '--shm-size',
    '1g',
    '-i',
    'busybox',
    '-c',
    'echo hi',
  ]);
  assert.is(name, 'web');
  assert.equal(body.Cmd, ['-c', 'echo hi']);
  assert.equal(body.Entrypoint, ['sh']);
  assert.equal(body.Env, ['A=1', 'HOME_VAR=from-env', 'UNSET_VAR']);
  assert.is(body.WorkingDir, '/srv');
  assert.is(body.User, '1000:1000');
  assert.is(body.Hostname, 'box');
  assert.equal(body.Volumes, { '/data': {} });
  assert.equal(body.Labels, { a: 'b', flag: '' });
  assert.is(body.StopSignal, 'SIGINT');
  assert.is(body.StopTimeout, 5);
  assert.equal(body.ExposedPorts, { '80/tcp': {}, '53/udp': {}, '9000/tcp': {}, '9001/tcp': {} });
  assert.is(body.OpenStdin, true);
  assert.is(body.AttachStdin, true);
  assert.is(body.StdinOnce, true);
  const h = body.HostConfig!;
  assert.equal(h.Binds, ['/tmp/x:/x:ro', 'named:/n', '/work/rel:/r']);
  assert.is(h.VolumeDriver, 'pyvol');
  assert.is(h.ReadonlyRootfs, true);
  assert.is(h.Privileged, true);
  assert.equal(h.CapAdd, ['NET_ADMIN']);
  assert.equal(h.CapDrop, ['ALL']);
  assert.equal(h.SecurityOpt, ['no-new-privileges']);
  assert.is(h.Memory, 67108864);
  assert.is(h.MemorySwap, 134217728);
  assert.is(h.NanoCpus, 1_500_000_000);
  assert.is(h.PidsLimit, 100);
  assert.is(h.NetworkMode, 'none');
  assert.is(h.Runtime, 'runc');
  assert.equal(h.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '53' }] });
  assert.equal(h.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.equal(h.Tmpfs, { '/run': 'size=1m' });
  assert.equal(h.ExtraHosts, ['db:10.0.0.2']);
  assert.equal(h.Ulimits, [{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
  assert.is(h.Init, true);
  assert.is(h.ShmSize, 1073741824);
});

test('create body: -d attaches nothing; --entrypoint "" resets; --memory-swap -1; --net alias', () => {
  const { body } = build(['-i', '--entrypoint', '', '--memory-swap', '-1', '--net', 'host', 'busybox'], { detach: true });
  assert.equal([body.AttachStdin, body.AttachStdout, body.AttachStderr, body.StdinOnce], [false, false, false, false]);
  assert.equal(body.Entrypoint, ['']);
  assert.is(body.Cmd, null);
  assert.is(body.HostConfig!.MemorySwap, -1);
  assert.is(body.HostConfig!.NetworkMode, 'host');
});

test('create body: env files and seccomp profiles are read like docker reads them', () => {
  const dir = fs.mkdtempSync('/tmp/berth-unit-cli-');
  try {
    fs.writeFileSync(path.join(dir, 'env'), '# comment\nA=1\n\nHOME_VAR\nB=two words\n');
    fs.writeFileSync(path.join(dir, 'seccomp.json'), '{\n  "defaultAction": "SCMP_ACT_ERRNO"\n}\n');
    const { body } = build([
      '--env-file',
      path.join(dir, 'env'),
      '-e',
      'C=3',
      '--security-opt',
      `seccomp=${path.join(dir, 'seccomp.json')}`,
      'busybox',
    ]);
    assert.equal(body.Env, ['A=1', 'HOME_VAR=from-env', 'B=two words', 'C=3']);
    assert.equal(body.HostConfig!.SecurityOpt, ['seccomp={"defaultAction":"SCMP_ACT_ERRNO"}']);
    assert.throws(() => build(['--env-file', path.join(dir, 'nope'), 'busybox']), /open .*nope: no such file or directory/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('create body: -it asks for a tty and an open stdin attached once', () => {
  const { body } = build(['-it', 'busybox', 'sh']);
  assert.equal([body.Tty, body.OpenStdin, body.StdinOnce, body.AttachStdin], [true, true, true, true]);
  assert.is(build(['busybox']).body.Tty, false);
});

test('create body: refused values carry docker messages', () => {
  assert.throws(() => build(['-m', 'lots', 'busybox']), /invalid argument "lots" for "-m, --memory" flag: invalid size: 'lots'/);
  assert.throws(() => build(['--cpus', 'x', 'busybox']), /invalid argument "x" for "--cpus" flag: failed to parse x as a rational number/);
  assert.throws(() => build(['--rm', '--restart', 'always', 'busybox']), /Conflicting options: --restart and --rm/);
  assert.throws(() => build(['-a', 'stdout', 'busybox'], { detach: true }), /Conflicting options: -a and -d/);
  assert.throws(() => build(['-v', 'rel', 'busybox']), /mount path must be absolute/);
  assert.throws(() => build(['-p', '1-3:80-81', 'busybox']), /invalid ranges/);
});

test('run helpers: image names, start error statuses', () => {
  assert.is(imageWithTag('busybox'), 'busybox:latest');
  assert.is(imageWithTag('docker.io/library/busybox'), 'busybox:latest');
  assert.is(imageWithTag('127.0.0.1:5010/trc/busybox'), '127.0.0.1:5010/trc/busybox:latest');
  assert.is(imageWithTag('127.0.0.1:5010/trc/busybox:v1'), '127.0.0.1:5010/trc/busybox:v1');
  assert.is(imageWithTag('busybox@sha256:abc'), 'busybox@sha256:abc');
  const api = (message: string) => Object.assign(new Error(message), { name: 'ApiError', status: 400 });
  assert.is(startErrorStatus(api('exec: "nosuchcmd": executable file not found in $PATH: unknown')), 127);
  assert.is(startErrorStatus(api('exec: "/etc/passwd": permission denied: unknown')), 126);
  assert.is(startErrorStatus(api('port is already allocated')), 125);
  assert.equal(splitTag('127.0.0.1:5010/trc/busybox:v1'), ['127.0.0.1:5010/trc/busybox', 'v1']);
  assert.equal(splitTag('127.0.0.1:5010/trc/busybox'), ['127.0.0.1:5010/trc/busybox', undefined]);
});

test('logs --since: durations count back from now, timestamps become seconds.nanos', () => {
  const now = 1795378400_500;
  assert.is(parseGoDuration('1h30m'), 5_400_000);
  assert.is(parseGoDuration('1.5s'), 1500);
  assert.is(parseGoDuration('10'), null);
  assert.is(apiTimestamp('10m', now, 'since'), '1795377800');
  assert.is(apiTimestamp('1795378306', now, 'since'), '1795378306');
  assert.is(apiTimestamp('2026-11-22T20:11:46.223270490Z', now, 'since'), `${Date.parse('2026-11-22T20:11:46Z') / 1000}.223270490`);
  assert.throws(() => apiTimestamp('yesterday', now, 'since'), /invalid value for "since"/);
});

test('the CLI version is the package version', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  assert.is(CLI_VERSION, pkg.version);
});

test.run();
