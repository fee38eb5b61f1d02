import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { daemonSuite, repo, sleep, type TestDaemon } from './harness';

/**
 * Docker's volume plugin protocol, end to end: a volume driver written in Python from
 * the protocol (test/fixtures/remote-volume-plugin.py) serves a socket in a plugin
 * directory of this file's own, which the daemon's `discovery/docker` plugin searches
 * (plugin-config `socketDirs`/`specDirs`; `timeoutMs` 3000, so a hanging driver fails a
 * start in 3 s). Its volumes are directories under `pyroot`; every call it gets is a
 * JSON line in `calls.log`, from which the tests read the per-container Mount/Unmount
 * sequence with its IDs. Everything goes through the real docker CLI (and `berth` for
 * `--volume-driver`).
 */
const dir = mkdtempSync('/tmp/berth-e2e-volplugins-');
const socketDir = path.join(dir, 'plugins');
const specDir = path.join(dir, 'specs');
const pluginRoot = path.join(dir, 'pyroot');
const callLog = path.join(dir, 'calls.log');
mkdirSync(socketDir);
mkdirSync(specDir);
const timeoutMs = 3000;
const configFile = path.join(dir, 'daemon.json');
writeFileSync(
  configFile,
  JSON.stringify({ 'plugin-config': { 'discovery/docker': { socketDirs: [socketDir], specDirs: [specDir], timeoutMs } } }),
);
const daemonArgs = ['--config-file', configFile];
const sfx = randomBytes(2).toString('hex');
/** The plugin's name, as `-d`, `--volume-driver` and `volume-driver=` select it. */
const plugin = `pyv${sfx}`;
const pluginSocket = path.join(socketDir, `${plugin}.sock`);
let pluginProcess: ChildProcess | undefined;
let pluginLog = '';

const test = daemonSuite('volume plugins', 'overlay', { args: daemonArgs });

async function startPlugin(): Promise<void> {
  const child = spawn(
    'python3',
    [
      path.join(repo, 'test/fixtures/remote-volume-plugin.py'),
      '--socket',
      pluginSocket,
      '--root',
      pluginRoot,
      '--log',
      callLog,
      '--scope',
      'global',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  pluginProcess = child;
  child.stderr?.on('data', (d) => (pluginLog += d));
  for (let i = 0; i < 200 && !existsSync(pluginSocket); i++) await sleep(25);
  assert.ok(existsSync(pluginSocket), `the Python plugin did not start: ${pluginLog}`);
}

/** SIGKILL the plugin (if it still runs) and take its socket away, as a plugin that went. */
async function stopPlugin(): Promise<void> {
  const child = pluginProcess;
  if (child && child.exitCode === null && child.signalCode === null) {
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
  }
  rmSync(pluginSocket, { force: true });
}

function cleanUp(): void {
  if (pluginProcess?.exitCode === null && pluginProcess.signalCode === null) pluginProcess.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
// A failed leak check in the harness's after hook would skip ours: the process's exit cleans up too.
process.on('exit', cleanUp);

interface Call {
  method: string;
  Name?: string;
  ID?: string;
  Opts?: Record<string, string>;
}

/** Every call the plugin got so far. */
function calls(): Call[] {
  if (!existsSync(callLog)) return [];
  return readFileSync(callLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Call);
}

/** The Mount and Unmount calls of a volume since `from` (a `calls().length`), as "Mount <id>"; ids shortened by `names`. */
function mountCalls(volume: string, from: number, names: Record<string, string>): string[] {
  return calls()
    .slice(from)
    .filter((c) => (c.method === 'Mount' || c.method === 'Unmount') && c.Name === volume)
    .map((c) => `${c.method} ${names[c.ID ?? ''] ?? c.ID}`);
}

/** The IDs the plugin holds a volume mounted for (its own state file). */
function heldBy(volume: string): string[] {
  return (JSON.parse(readFileSync(path.join(pluginRoot, volume, 'state.json'), 'utf8')) as { Mounts: string[] }).Mounts;
}

async function ok(daemon: TestDaemon, args: string[]): Promise<string> {
  const r = await daemon.docker(args);
  assert.is(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${pluginLog}`);
  return r.stdout.trim();
}

async function idOf(daemon: TestDaemon, name: string): Promise<string> {
  return ok(daemon, ['inspect', '-f', '{{.Id}}', name]);
}

test.before(async () => {
  await startPlugin();
});

test.after(async () => {
  cleanUp();
});

test('docker volume create -d <plugin> -o: made by the plugin; inspect shows its Driver, Scope global, Mountpoint and Status; rm removes it there', async ({
  daemon,
}) => {
  await ok(daemon, ['volume', 'create', '-d', plugin, '-o', 'note=hello', 'pv1']);
  const inspect = JSON.parse(await ok(daemon, ['volume', 'inspect', 'pv1']))[0];
  assert.is(inspect.Driver, plugin);
  assert.is(inspect.Scope, 'global');
  assert.is(inspect.Mountpoint, path.join(pluginRoot, 'pv1', 'data'));
  assert.equal(inspect.Options, { note: 'hello' });
  assert.equal(inspect.Status, { mounts: 0, note: 'hello' });
  assert.ok(existsSync(path.join(pluginRoot, 'pv1', 'data')));
  assert.match(await ok(daemon, ['volume', 'ls', '--filter', `driver=${plugin}`, '--format', '{{.Name}} {{.Driver}}']), `pv1 ${plugin}`);
  const plugins = await daemon.berth(['plugins', 'ls']);
  assert.match(plugins.stdout, new RegExp(`^volume\\s+${plugin}\\s+ok`, 'm'));
  await ok(daemon, ['volume', 'rm', 'pv1']);
  assert.not.ok(existsSync(path.join(pluginRoot, 'pv1')));
  assert.equal(
    calls()
      .filter((c) => c.method === 'Create' || c.method === 'Remove')
      .map((c) => [c.method, c.Name, c.Opts]),
    [
      ['Create', 'pv1', { note: 'hello' }],
      ['Remove', 'pv1', undefined],
    ],
  );
});

test('Mount and Unmount once per container, each with its ID, as Docker calls them: two containers sharing a volume, then data kept after both are removed', async ({
  daemon,
}) => {
  await ok(daemon, ['volume', 'create', '-d', plugin, 'shared']);
  const from = calls().length;
  // Mounted for each run only, as dockerd does: busybox has nothing at /data to copy in at create.
  await ok(daemon, ['run', '-d', '--name', 'pva', '-v', 'shared:/data', 'busybox', 'sh', '-c', 'echo from-a > /data/a; sleep 120']);
  await ok(daemon, ['run', '-d', '--name', 'pvb', '-v', 'shared:/data:nocopy', 'busybox', 'sleep', '120']);
  const a = await idOf(daemon, 'pva');
  const b = await idOf(daemon, 'pvb');
  const names = { [a]: 'a', [b]: 'b' };
  assert.equal(heldBy('shared').sort(), [a, b].sort());
  for (let i = 0; i < 100 && !existsSync(path.join(pluginRoot, 'shared', 'data', 'a')); i++) await sleep(50);
  assert.is(await ok(daemon, ['exec', 'pvb', 'cat', '/data/a']), 'from-a');
  await ok(daemon, ['stop', '-t', '0', 'pva']);
  assert.equal(heldBy('shared'), [b]);
  await ok(daemon, ['rm', '-f', 'pvb', 'pva']);
  assert.equal(heldBy('shared'), []);
  assert.equal(mountCalls('shared', from, names), ['Mount a', 'Mount b', 'Unmount a', 'Unmount b']);
  // The data outlives both containers.
  assert.is(await ok(daemon, ['run', '--rm', '-v', 'shared:/d:nocopy', 'busybox', 'cat', '/d/a']), 'from-a');
  assert.is(readFileSync(path.join(pluginRoot, 'shared', 'data', 'a'), 'utf8'), 'from-a\n');
  await ok(daemon, ['volume', 'rm', 'shared']);
});

test('--volume-driver (docker and berth CLIs) and --mount volume-driver=,volume-opt=: volumes made on first use by the plugin, with their options', async ({
  daemon,
}) => {
  await ok(daemon, ['run', '--rm', '--volume-driver', plugin, '-v', 'viaflag:/data', 'busybox', 'sh', '-c', 'echo x > /data/f']);
  assert.is(JSON.parse(await ok(daemon, ['volume', 'inspect', 'viaflag']))[0].Driver, plugin);
  assert.is(readFileSync(path.join(pluginRoot, 'viaflag', 'data', 'f'), 'utf8'), 'x\n');

  const berth = await daemon.berth([
    'run',
    '--rm',
    '--volume-driver',
    plugin,
    '-v',
    'viaberth:/data',
    'busybox',
    'sh',
    '-c',
    'echo y > /data/f',
  ]);
  assert.is(berth.code, 0, berth.stderr);
  assert.is(JSON.parse(await ok(daemon, ['volume', 'inspect', 'viaberth']))[0].Driver, plugin);
  assert.is(readFileSync(path.join(pluginRoot, 'viaberth', 'data', 'f'), 'utf8'), 'y\n');

  await ok(daemon, [
    'run',
    '--rm',
    '--mount',
    `type=volume,source=viamount,target=/m,volume-driver=${plugin},volume-opt=note=from-mount`,
    'busybox',
    'sh',
    '-c',
    'echo z > /m/f',
  ]);
  const viaMount = JSON.parse(await ok(daemon, ['volume', 'inspect', 'viamount']))[0];
  assert.is(viaMount.Driver, plugin);
  assert.equal(viaMount.Status, { mounts: 0, note: 'from-mount' });
  assert.is(readFileSync(path.join(pluginRoot, 'viamount', 'data', 'f'), 'utf8'), 'z\n');

  // An option the plugin refuses: its message, as a 400, and neither volume nor container made.
  const before = await ok(daemon, ['ps', '-aq']);
  const refused = await daemon.docker([
    'run',
    '--rm',
    '--mount',
    `type=volume,source=badopt,target=/m,volume-driver=${plugin},volume-opt=size=1G`,
    'busybox',
    'true',
  ]);
  assert.is(refused.code, 125, refused.stderr);
  assert.match(refused.stderr, `plugin ${plugin}: VolumeDriver.Create: unknown option "size"`);
  const badCreate = await daemon.request(
    'POST',
    '/volumes/create',
    JSON.stringify({ Name: 'badopt', Driver: plugin, DriverOpts: { size: '1G' } }),
    {
      'Content-Type': 'application/json',
    },
  );
  assert.is(badCreate.status, 400, badCreate.body);
  assert.is((await daemon.docker(['volume', 'inspect', 'badopt'])).code, 1);
  assert.not.ok(existsSync(path.join(pluginRoot, 'badopt')));
  assert.is(await ok(daemon, ['ps', '-aq']), before);
  await ok(daemon, ['volume', 'rm', 'viaflag', 'viaberth', 'viamount']);
});

test("a plugin whose Mount answers another path than Get's: the container binds the path of its start's Mount", async ({ daemon }) => {
  await ok(daemon, ['volume', 'create', '-d', plugin, '-o', 'mountdir=live', 'moving']);
  assert.is(JSON.parse(await ok(daemon, ['volume', 'inspect', 'moving']))[0].Mountpoint, path.join(pluginRoot, 'moving', 'data'));
  mkdirSync(path.join(pluginRoot, 'moving', 'live'), { recursive: true });
  writeFileSync(path.join(pluginRoot, 'moving', 'live', 'where'), 'live\n');
  // nocopy: the create asks only Get (the data directory); the start's Mount answers live/.
  assert.is(await ok(daemon, ['run', '--rm', '-v', 'moving:/v:nocopy', 'busybox', 'cat', '/v/where']), 'live');
  await ok(daemon, ['volume', 'rm', 'moving']);
});

test('a plugin named by a .spec or .json file in the spec directory is found as well', async ({ daemon }) => {
  writeFileSync(path.join(specDir, `specvol${sfx}.spec`), `unix://${pluginSocket}\n`);
  writeFileSync(path.join(specDir, `jsonvol${sfx}.json`), JSON.stringify({ Name: `jsonvol${sfx}`, Addr: `unix://${pluginSocket}` }));
  for (const driver of [`specvol${sfx}`, `jsonvol${sfx}`]) {
    await ok(daemon, ['volume', 'create', '-d', driver, `v-${driver}`]);
    assert.is(JSON.parse(await ok(daemon, ['volume', 'inspect', `v-${driver}`]))[0].Driver, driver);
    assert.ok(existsSync(path.join(pluginRoot, `v-${driver}`, 'data')));
    assert.is(await ok(daemon, ['run', '--rm', '-v', `v-${driver}:/d`, 'busybox', 'sh', '-c', 'echo ok > /d/f; cat /d/f']), 'ok');
    await ok(daemon, ['volume', 'rm', `v-${driver}`]);
  }
});

test('an unknown driver is a 404 naming it, and nothing is created', async ({ daemon }) => {
  const volumes = await ok(daemon, ['volume', 'ls', '-q']);
  const containers = await ok(daemon, ['ps', '-aq']);
  const created = await daemon.docker(['volume', 'create', '-d', 'nosuchdriver', 'nv1']);
  assert.is(created.code, 1);
  assert.match(created.stderr, 'plugin "nosuchdriver" not found');
  const api = await daemon.request('POST', '/volumes/create', JSON.stringify({ Name: 'nv1', Driver: 'nosuchdriver' }), {
    'Content-Type': 'application/json',
  });
  assert.is(api.status, 404, api.body);
  // A container create naming it: the API's 404 (through the API: on a 404 the docker CLI would try to pull the image).
  for (const hostConfig of [
    { VolumeDriver: 'nosuchdriver', Binds: ['nv2:/data'] },
    { Mounts: [{ Type: 'volume', Source: 'nv3', Target: '/d', VolumeOptions: { DriverConfig: { Name: 'nosuchdriver' } } }] },
  ]) {
    const r = await daemon.request(
      'POST',
      '/containers/create',
      JSON.stringify({ Image: 'busybox', Cmd: ['true'], HostConfig: hostConfig }),
      {
        'Content-Type': 'application/json',
      },
    );
    assert.is(r.status, 404, r.body);
    assert.match(r.body, 'plugin \\"nosuchdriver\\" not found');
  }
  assert.is(await ok(daemon, ['volume', 'ls', '-q']), volumes);
  assert.is(await ok(daemon, ['ps', '-aq']), containers);
});

test('a driver that hangs: the start fails after the timeout naming the driver and the call, nothing is mounted, berthd answers', async ({
  daemon,
}) => {
  await ok(daemon, ['volume', 'create', '-d', plugin, '-o', 'hang=Mount', 'hangs']);
  const began = Date.now();
  const running = daemon.docker(['run', '--name', 'pvhang', '-v', 'hangs:/data:nocopy', 'busybox', 'true']);
  // While the Mount hangs, berthd answers other clients at once.
  await sleep(500);
  const asked = Date.now();
  assert.match(await ok(daemon, ['ps', '-a', '--format', '{{.Names}}']), 'pvhang');
  assert.ok(Date.now() - asked < timeoutMs - 500, `ps took ${Date.now() - asked} ms during the hang`);
  const r = await running;
  const took = Date.now() - began;
  assert.is(r.code, 125, r.stderr);
  assert.match(r.stderr, `plugin ${plugin} did not answer VolumeDriver.Mount within ${timeoutMs} ms`);
  assert.ok(took >= timeoutMs && took < timeoutMs + 15_000, `took ${took} ms`);
  // berthd answers meanwhile and after; the container did not run and holds nothing.
  assert.match(await ok(daemon, ['version', '--format', '{{.Server.Version}}']), /\S/);
  assert.is(await ok(daemon, ['inspect', '-f', '{{.State.Running}}', 'pvhang']), 'false');
  assert.not.match(readFileSync('/proc/self/mountinfo', 'utf8'), pluginRoot);
  await ok(daemon, ['rm', 'pvhang']);
  // No holder left in the engine's records: the volume is free to go.
  await ok(daemon, ['volume', 'rm', 'hangs']);
  assert.not.ok(existsSync(path.join(pluginRoot, 'hangs')));
});

test('a driver that crashes mid-call, and a socket that vanishes and comes back: clear errors, then the next call works and the volume is still there', async ({
  daemon,
}) => {
  await ok(daemon, ['volume', 'create', '-d', plugin, 'survivor']);
  await ok(daemon, ['run', '--rm', '-v', 'survivor:/data', 'busybox', 'sh', '-c', 'echo still-here > /data/f']);
  await ok(daemon, ['volume', 'create', '-d', plugin, '-o', 'crash=Mount', 'crashes']);
  const crashed = await daemon.docker(['run', '--name', 'pvcrash', '-v', 'crashes:/data:nocopy', 'busybox', 'true']);
  assert.is(crashed.code, 125, crashed.stderr);
  assert.match(crashed.stderr, `plugin ${plugin} closed the connection during VolumeDriver.Mount without answering`);
  assert.match(await ok(daemon, ['version', '--format', '{{.Server.Version}}']), /\S/);
  await ok(daemon, ['rm', 'pvcrash']);

  // The plugin is gone (its socket too): calls name it as not running.
  await stopPlugin();
  const gone = await daemon.docker(['run', '--rm', '-v', 'survivor:/data:nocopy', 'busybox', 'true']);
  assert.is(gone.code, 125, gone.stderr);
  assert.match(gone.stderr, `plugin ${plugin} is not running`);
  // The list still shows its volumes, from the engine's records.
  assert.match(await ok(daemon, ['volume', 'ls', '--format', '{{.Name}} {{.Driver}}']), `survivor ${plugin}`);
  // It comes back on the same socket: the next call works, the data is there.
  await startPlugin();
  assert.is(await ok(daemon, ['run', '--rm', '-v', 'survivor:/data:nocopy', 'busybox', 'cat', '/data/f']), 'still-here');
  assert.equal(heldBy('survivor'), []);
  await ok(daemon, ['volume', 'rm', 'survivor']);
  await ok(daemon, ['volume', 'rm', 'crashes']);
});

test("berthd killed (-9): the mounts of a container that died meanwhile are unmounted at recovery with its ID, the running one's kept; the data survives", async ({
  daemon,
}) => {
  await ok(daemon, ['volume', 'create', '-d', plugin, 'durable']);
  await ok(daemon, ['run', '-d', '--name', 'pvkeep', '-v', 'durable:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f; sleep 120']);
  await ok(daemon, ['run', '-d', '--name', 'pvdie', '-v', 'durable:/data:nocopy', 'busybox', 'sleep', '120']);
  const keep = await idOf(daemon, 'pvkeep');
  const die = await idOf(daemon, 'pvdie');
  const diePid = Number(await ok(daemon, ['inspect', '-f', '{{.State.Pid}}', 'pvdie']));
  assert.equal(heldBy('durable').sort(), [keep, die].sort());
  const from = calls().length;
  await daemon.kill('SIGKILL');
  // While no berthd watches, one container dies.
  process.kill(diePid, 'SIGKILL');
  await sleep(200);
  await daemon.start(daemonArgs);
  // Recovery sees the dead container's exit (from its shim) and gives its ID back.
  for (let i = 0; i < 100 && mountCalls('durable', from, {}).length === 0; i++) await sleep(50);
  assert.equal(
    mountCalls('durable', from, { [keep]: 'keep', [die]: 'die' }),
    ['Unmount die'],
    JSON.stringify(calls().slice(from)) + daemon.daemonLogs().slice(-3000),
  );
  assert.equal(heldBy('durable'), [keep]);
  assert.is(await ok(daemon, ['inspect', '-f', '{{.State.Running}}', 'pvkeep']), 'true');
  assert.is(JSON.parse(await ok(daemon, ['volume', 'inspect', 'durable']))[0].Scope, 'global');
  await ok(daemon, ['rm', '-f', 'pvkeep', 'pvdie']);
  assert.equal(heldBy('durable'), []);
  // The data outlived the containers and the crash.
  assert.is(await ok(daemon, ['run', '--rm', '-v', 'durable:/data:nocopy', 'busybox', 'cat', '/data/f']), 'kept');
  await ok(daemon, ['volume', 'rm', 'durable']);
});

test.run();
