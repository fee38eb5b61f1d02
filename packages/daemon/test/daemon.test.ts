import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main, type RunningDaemon, writePidfile } from '../src/index.js';
import { type StubEngine, stubParts } from './support/stub-engine.js';

let dir: string;
// Daemons a failed test left serving: stopped after each test so the run cannot hang.
const started: RunningDaemon[] = [];
test.before.each(() => {
  dir = mkdtempSync('/tmp/berth-unit-daemon-');
});
test.after.each(async () => {
  for (const d of started.splice(0)) await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c) => (text += c));
  return { stream, text: () => text };
}

function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (predicate()) return resolve();
      if (Date.now() - start > timeoutMs) return reject(new Error('condition not met in time'));
      setTimeout(tick, 10);
    };
    tick();
  });
}

function ping(socketPath: string): Promise<{ status: number; server: string | undefined }> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path: '/_ping' }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, server: res.headers.server as string | undefined }));
      })
      .on('error', reject);
  });
}

function baseArgs(sock: string, sub = ''): string[] {
  return [
    '-H',
    `unix://${sock}`,
    '--data-root',
    join(dir, `data${sub}`),
    '--exec-root',
    join(dir, `exec${sub}`),
    '--config-file',
    join(dir, 'none.json'),
  ];
}

async function startMain(args: string[], made: StubEngine[] = []) {
  const err = capture();
  let daemon: RunningDaemon | undefined;
  const exit = main(args, {
    parts: stubParts(made),
    stderr: err.stream,
    stdout: err.stream,
    onStarted: (d) => {
      daemon = d;
      started.push(d);
    },
  });
  let code: number | undefined;
  void exit.then((c) => (code = c));
  await until(() => daemon !== undefined || code !== undefined);
  return { daemon, exit, err, made };
}

test('starts: socket 0660 root-owned, pid file, startup line, engine config, API answers; SIGTERM stops it cleanly', async () => {
  const sock = join(dir, 'run', 'berth.sock');
  const made: StubEngine[] = [];
  const { daemon, exit, err } = await startMain([...baseArgs(sock), '--storage-driver', 'stubfs', '--cgroup-parent', 'berth-bapi'], made);
  assert.ok(daemon, err.text());
  const st = statSync(sock);
  assert.ok(st.isSocket());
  assert.is(st.mode & 0o777, 0o660);
  assert.is(st.uid, 0);
  assert.is(st.gid, 0, 'no berth group on this host: root');
  const pidfile = join(dir, 'exec', 'berthd.pid');
  assert.is(readFileSync(pidfile, 'utf8'), `${process.pid}\n`);
  assert.match(
    err.text(),
    `berthd 9.9.9-test listening on unix://${sock}; plugins: storage/stubfs ok, runtime/stubrun skipped (not on this host)`,
  );
  const cfg = made[0]!.config;
  assert.is(cfg.dataRoot, join(dir, 'data'));
  assert.is(cfg.execRoot, join(dir, 'exec'));
  assert.is(cfg.storageDriver, 'stubfs');
  assert.is(cfg.cgroupParent, 'berth-bapi');
  assert.is(cfg.serverVersion, '9.9.9-test');
  assert.equal(
    cfg.plugins.map((p) => p.name),
    ['stubfs', 'stubrun'],
  );
  assert.ok(cfg.logger);
  const r = await ping(sock);
  assert.is(r.status, 200);
  assert.is(r.server, 'berth/9.9.9-test (linux)');

  process.emit('SIGTERM');
  assert.is(await exit, 0);
  assert.not.ok(existsSync(sock), 'socket removed');
  assert.not.ok(existsSync(pidfile), 'pid file removed');
  assert.is(made[0]!.closed, 1);
  assert.match(err.text(), 'berthd stopped');
});

test('the docker CLI talks to berthd', async () => {
  if (!existsSync('/usr/local/bin/docker')) return;
  const sock = join(dir, 's.sock');
  const { daemon, exit } = await startMain(baseArgs(sock));
  assert.ok(daemon);
  try {
    // Asynchronously: the server under test lives in this process's event loop.
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        '/usr/local/bin/docker',
        ['version', '--format', '{{.Server.Version}} {{.Server.APIVersion}}'],
        { env: { DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, 'dockercfg'), PATH: process.env.PATH } },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message} ${stderr}`)) : resolve(stdout)),
      ),
    );
    assert.is(out, '9.9.9-test 1.41\n');
  } finally {
    process.emit('SIGINT');
    assert.is(await exit, 0);
  }
});

test('a second berthd on the same socket is refused; the first keeps serving', async () => {
  const sock = join(dir, 's.sock');
  const first = await startMain(baseArgs(sock));
  assert.ok(first.daemon);
  try {
    const second = await startMain(baseArgs(sock, '2'));
    assert.is(await second.exit, 1);
    assert.match(second.err.text(), `another berthd is listening on ${sock}`);
    assert.is(second.made[0], undefined, 'no engine was created');
    assert.not.ok(existsSync(join(dir, 'exec2', 'berthd.pid')), 'its pid file was taken back');
    assert.is((await ping(sock)).status, 200);
  } finally {
    process.emit('SIGTERM');
    assert.is(await first.exit, 0);
  }
});

test('a stale socket file is replaced; a non-socket file is refused', async () => {
  const sock = join(dir, 'stale.sock');
  // A socket bound by a process that exited without removing it.
  execFileSync('python3', ['-c', `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(sock)})`]);
  assert.ok(statSync(sock).isSocket());
  const { daemon, exit, err } = await startMain(baseArgs(sock));
  assert.ok(daemon, err.text());
  assert.is((await ping(sock)).status, 200);
  process.emit('SIGTERM');
  assert.is(await exit, 0);

  const file = join(dir, 'file.sock');
  writeFileSync(file, 'x');
  const r = await startMain(baseArgs(file));
  assert.is(await r.exit, 1);
  assert.match(r.err.text(), `${file} exists and is not a socket`);
});

test('a pid file naming a live process is refused: at once when it serves, after the wait when it does not exit', async () => {
  const pidfile = join(dir, 'p.pid');
  writeFileSync(pidfile, '1\n');
  await writePidfile(pidfile, { serving: async () => true }).then(
    () => assert.unreachable('should refuse'),
    (e: Error) =>
      assert.match(
        e.message,
        `pid file found, ensure berthd is not running or delete ${pidfile} (it names running process 1, which is serving)`,
      ),
  );
  await writePidfile(pidfile, { exitWaitMs: 200 }).then(
    () => assert.unreachable('should refuse'),
    (e: Error) => assert.match(e.message, 'it names running process 1, which did not exit within 0.2 s'),
  );
  writeFileSync(pidfile, '999999999\n');
  await writePidfile(pidfile);
  assert.is(readFileSync(pidfile, 'utf8'), `${process.pid}\n`);
});

test('bad flags, bad config and flag/file conflicts exit 1 with a message', async () => {
  const out = capture();
  assert.is(await main(['--nope'], { parts: stubParts(), stderr: out.stream }), 1);
  assert.match(out.text(), "berthd: unknown flag: --nope\nSee 'berthd --help'.");
  const cfg = join(dir, 'daemon.json');
  writeFileSync(cfg, JSON.stringify({ 'data-root': '/tmp/bapi-elsewhere' }));
  const out2 = capture();
  assert.is(await main(['--config-file', cfg, '--data-root', '/tmp/bapi-x'], { parts: stubParts(), stderr: out2.stream }), 1);
  assert.match(
    out2.text(),
    'specified both as a flag and in the configuration file: data-root: (from flag: /tmp/bapi-x, from file: /tmp/bapi-elsewhere)',
  );
  writeFileSync(cfg, '{"hosts": ["tcp://0.0.0.0:2375"]}');
  const out3 = capture();
  assert.is(await main(['--config-file', cfg], { parts: stubParts(), stderr: out3.stream }), 1);
  assert.match(out3.text(), 'berthd serves UNIX sockets only');
});

test('--help and --version', async () => {
  const out = capture();
  assert.is(await main(['--help'], { parts: stubParts(), stdout: out.stream }), 0);
  assert.match(out.text(), /^Usage: berthd \[OPTIONS\]/);
  const v = capture();
  assert.is(await main(['-v'], { parts: stubParts(), stdout: v.stream }), 0);
  assert.is(v.text(), 'berthd version 9.9.9-test\n');
});

test('third-party plugins from daemon.json are loaded with require and passed to the engine', async () => {
  const pkg = join(dir, 'node_modules', 'bapi-plugin-x');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), '{"name":"bapi-plugin-x","main":"index.js"}');
  writeFileSync(
    join(pkg, 'index.js'),
    "exports.default = { kind: 'volume', name: 'bapix', description: 'test volume plugin', init() { return {}; } };",
  );
  const cfg = join(dir, 'daemon.json');
  writeFileSync(cfg, JSON.stringify({ plugins: ['bapi-plugin-x'], 'plugin-config': { 'volume/bapix': { size: 1 } } }));
  const sock = join(dir, 's.sock');
  const made: StubEngine[] = [];
  const args = baseArgs(sock).slice(0, -2).concat(['--config-file', cfg]);
  const { daemon, exit, err } = await startMain(args, made);
  assert.ok(daemon, err.text());
  assert.equal(
    made[0]!.config.plugins.map((p) => `${p.kind}/${p.name}`),
    ['storage/stubfs', 'runtime/stubrun', 'volume/bapix'],
  );
  assert.equal(made[0]!.config.pluginConfig, { 'volume/bapix': { size: 1 } });
  assert.match(err.text(), 'volume/bapix ok');
  process.emit('SIGTERM');
  assert.is(await exit, 0);

  // Another package: require caches the first one for the life of the process.
  const badPkg = join(dir, 'node_modules', 'bapi-plugin-bad');
  mkdirSync(badPkg, { recursive: true });
  writeFileSync(join(badPkg, 'index.js'), 'module.exports = { hello: 1 };');
  writeFileSync(cfg, JSON.stringify({ plugins: ['bapi-plugin-bad'] }));
  const bad = await startMain(args);
  assert.is(await bad.exit, 1);
  assert.match(bad.err.text(), 'plugin package \\"bapi-plugin-bad\\" does not export a plugin manifest');
  writeFileSync(cfg, JSON.stringify({ plugins: ['bapi-no-such-plugin'] }));
  const missing = await startMain(args);
  assert.is(await missing.exit, 1);
  assert.match(missing.err.text(), 'plugin package \\"bapi-no-such-plugin\\" not found');
});

test('as a process: real SIGTERM and SIGINT shut it down with exit 0 and remove the socket', async () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const sock = join(dir, `${signal}.sock`);
    const child = spawn(
      process.execPath,
      [
        '--conditions=@berth/source',
        '-r',
        'tsx/cjs',
        join(__dirname, 'support', 'run-main.ts'),
        ...baseArgs(sock, signal),
        '--log-format',
        'json',
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, NODE_OPTIONS: '' },
      },
    );
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until(() => existsSync(sock) && stderr.includes('listening on'), 15_000);
      assert.is((await ping(sock)).status, 200);
      child.kill(signal);
      assert.is(await exited, 0, stderr);
      assert.not.ok(existsSync(sock));
      const lines = stderr
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.ok(lines.some((l) => l.msg === `received ${signal}`));
      assert.is(lines.at(-1).msg, 'berthd stopped');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }
});

test.run();
