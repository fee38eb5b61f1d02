import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { daemonSuite, repo, sleep, type TestDaemon } from './harness';
import { poolSubnet } from './network-isolation';

/**
 * Docker's remote plugin protocols, end to end: a network driver and IPAM plugin written
 * in Python from the protocol (test/fixtures/remote-network-plugin.py) serves a socket
 * in a plugin directory of this file's own, which the daemon's `discovery/docker` plugin
 * searches (plugin-config `socketDirs`/`specDirs`). Networks of it are created with the
 * real docker CLI, busybox containers on them ping each other, and everything the
 * plugin made (links named with `prefix`, its networks, endpoints, pools and addresses)
 * is gone afterwards. The plugin's default pool is the last /24 of the daemon's own /21.
 */
const dir = mkdtempSync('/tmp/berth-e2e-plugins-');
const socketDir = path.join(dir, 'plugins');
const specDir = path.join(dir, 'specs');
mkdirSync(socketDir);
mkdirSync(specDir);
const configFile = path.join(dir, 'daemon.json');
writeFileSync(configFile, JSON.stringify({ 'plugin-config': { 'discovery/docker': { socketDirs: [socketDir], specDirs: [specDir] } } }));
const daemonArgs = ['--config-file', configFile];
const sfx = randomBytes(2).toString('hex');
/** Every link the plugin makes starts with this. */
const prefix = `bp${sfx}`;
/** The plugin's name, as `-d` and `--ipam-driver` select it. */
const plugin = `py${sfx}`;
const pluginSocket = path.join(socketDir, `${plugin}.sock`);
let pluginProcess: ChildProcess | undefined;
let pluginLog = '';

const test = daemonSuite('network plugins', 'overlay', { args: daemonArgs });

/** The plugin's own pool: the last /24 of the daemon's /21, which its default IPAM reaches last. */
function pluginPool(daemon: TestDaemon): string {
  return poolSubnet(daemon.network, 7);
}
const hostOf = (cidr: string, n: number) => cidr.replace(/0\/24$/, String(n));

/** What is left of the plugin's kernel objects: links whose names start with its prefix. */
function pluginLinks(): string[] {
  const links = JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string }>;
  return links.map((l) => l.ifname).filter((n) => n.startsWith(prefix));
}

/** Stop the plugin and delete whatever it left, even when a test failed midway. */
function cleanUpPlugin(): void {
  if (pluginProcess?.exitCode === null && pluginProcess.signalCode === null) pluginProcess.kill('SIGKILL');
  for (const link of pluginLinks().sort((x, y) => Number(x.includes(`${prefix}b`)) - Number(y.includes(`${prefix}b`)))) {
    try {
      execFileSync('ip', ['link', 'del', link], { stdio: 'ignore' });
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
}
// A failed leak check in the harness's after hook would skip ours: the process's exit cleans up too.
process.on('exit', cleanUpPlugin);

/** POST /<method> to the plugin, as berthd does. */
function callPlugin<T>(method: string, body: unknown = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: pluginSocket, method: 'POST', path: `/${method}` }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(JSON.parse(text) as T));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

interface PluginState {
  Networks: string[];
  Endpoints: string[];
  Pools: Record<string, string>;
  Addresses: string[];
}

async function ok(daemon: TestDaemon, args: string[]): Promise<string> {
  const r = await daemon.docker(args);
  assert.is(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${pluginLog}`);
  return r.stdout.trim();
}

/** Nothing of the plugin's is left: no link of its prefix, nothing in its state. */
async function assertPluginEmpty(): Promise<void> {
  assert.equal(pluginLinks(), []);
  assert.equal(await callPlugin<PluginState>('Debug.State'), { Networks: [], Endpoints: [], Pools: {}, Addresses: [] });
}

test.before(async ({ daemon }) => {
  pluginProcess = spawn(
    'python3',
    [path.join(repo, 'test/fixtures/remote-network-plugin.py'), '--socket', pluginSocket, '--prefix', prefix, '--pool', pluginPool(daemon)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  pluginProcess.stderr?.on('data', (d) => (pluginLog += d));
  for (let i = 0; i < 200 && !existsSync(pluginSocket); i++) await sleep(25);
  assert.ok(existsSync(pluginSocket), `the Python plugin did not start: ${pluginLog}`);
});

test.after(() => {
  cleanUpPlugin();
});

test('a network of the Python driver: two busybox containers ping each other over its veth pairs and bridge; all of it goes with them', async ({
  daemon,
}) => {
  const id = await ok(daemon, ['network', 'create', '-d', plugin, 'pynet']);
  const inspect = JSON.parse(await ok(daemon, ['network', 'inspect', 'pynet']))[0];
  assert.is(inspect.Id, id);
  assert.is(inspect.Driver, plugin);
  assert.is(inspect.IPAM.Driver, 'default');
  const subnet = inspect.IPAM.Config[0].Subnet as string;
  assert.equal(await callPlugin<PluginState>('Debug.State').then((s) => s.Networks), [id]);
  const plugins = await daemon.berth(['plugins', 'ls']);
  assert.match(plugins.stdout, new RegExp(`^network\\s+${plugin}\\s+ok`, 'm'));

  await ok(daemon, ['run', '-d', '--name', 'pyserver', '--network', 'pynet', 'busybox', 'sleep', '120']);
  const server = JSON.parse(await ok(daemon, ['inspect', 'pyserver']))[0].NetworkSettings.Networks.pynet;
  assert.ok(server.IPAddress.startsWith(subnet.replace(/0\/24$/, '')), server.IPAddress);
  // Inside: eth0 (the plugin's interface, renamed), the address and the plugin's gateway.
  const inside = await ok(daemon, ['exec', 'pyserver', 'sh', '-c', 'ip -4 -o addr show eth0; ip route']);
  assert.match(inside, `inet ${server.IPAddress}/24`);
  assert.match(inside, `default via ${hostOf(subnet, 1)} dev eth0`);
  assert.is(pluginLinks().filter((l) => l.startsWith(`${prefix}h`)).length, 1, pluginLinks().join());
  const ping = await ok(daemon, ['run', '--rm', '--network', 'pynet', 'busybox', 'ping', '-c', '1', '-W', '2', server.IPAddress]);
  assert.match(ping, '1 packets received');

  await ok(daemon, ['rm', '-f', 'pyserver']);
  assert.equal(await callPlugin<PluginState>('Debug.State').then((s) => s.Endpoints), []);
  await ok(daemon, ['network', 'rm', 'pynet']);
  await assertPluginEmpty();
});

test('--ipam-driver: the Python IPAM gives the pool, the gateway and addresses from the top; inspect shows IPAM.Driver and Options; released after', async ({
  daemon,
}) => {
  const pool = pluginPool(daemon);
  await ok(daemon, ['network', 'create', '-d', plugin, '--ipam-driver', plugin, '--ipam-opt', 'color=blue', 'pyipam']);
  const ipam = JSON.parse(await ok(daemon, ['network', 'inspect', 'pyipam']))[0].IPAM;
  assert.equal(ipam, { Driver: plugin, Options: { color: 'blue' }, Config: [{ Subnet: pool, Gateway: hostOf(pool, 1) }] });
  await ok(daemon, ['run', '-d', '--name', 'pyfirst', '--network', 'pyipam', 'busybox', 'sleep', '120']);
  const first = JSON.parse(await ok(daemon, ['inspect', 'pyfirst']))[0].NetworkSettings.Networks.pyipam.IPAddress;
  assert.is(first, hostOf(pool, 254)); // the plugin's own order: berth's default IPAM would have given .2
  const second = await ok(daemon, [
    'run',
    '--rm',
    '--network',
    'pyipam',
    'busybox',
    'sh',
    '-c',
    `ip -4 -o addr show eth0; ping -c 1 -W 2 ${first}`,
  ]);
  assert.match(second, `inet ${hostOf(pool, 253)}/24`);
  assert.match(second, '1 packets received');
  // A removed container's endpoint is released just after `run --rm` returns (in the background, as berthd reports the removal first).
  const held = [hostOf(pool, 1), hostOf(pool, 254)].sort();
  let addresses: string[] = [];
  for (let i = 0; i < 100; i++) {
    addresses = (await callPlugin<PluginState>('Debug.State')).Addresses.sort();
    if (JSON.stringify(addresses) === JSON.stringify(held)) break;
    await sleep(50);
  }
  assert.equal(addresses, held);
  await ok(daemon, ['rm', '-f', 'pyfirst']);
  await ok(daemon, ['network', 'rm', 'pyipam']);
  await assertPluginEmpty();

  // berth's own bridge driver on the Python IPAM (through berth's CLI): the pool is the plugin's, the bridge berth's.
  const made = await daemon.berth(['network', 'create', '-d', 'bridge', '--ipam-driver', plugin, '--ipam-opt', 'zone=x', 'pybridged']);
  assert.is(made.code, 0, made.stderr);
  const bridgedIpam = JSON.parse(await ok(daemon, ['network', 'inspect', 'pybridged']))[0].IPAM;
  assert.equal([bridgedIpam.Driver, bridgedIpam.Options, bridgedIpam.Config[0].Subnet], [plugin, { zone: 'x' }, pool]);
  const bridged = await ok(daemon, ['run', '--rm', '--network', 'pybridged', 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
  assert.match(bridged, `inet ${hostOf(pool, 254)}/24`);
  await ok(daemon, ['network', 'rm', 'pybridged']);
  await assertPluginEmpty();
});

test("unknown drivers are 404s that leave nothing; the plugin's refusal comes with its message; a plugin that is not running is named", async ({
  daemon,
}) => {
  const before = await ok(daemon, ['network', 'ls', '-q']);
  const unknown = await daemon.docker(['network', 'create', '-d', 'nosuchdriver', 'x1']);
  assert.is(unknown.code, 1);
  assert.match(unknown.stderr, 'plugin "nosuchdriver" not found');
  const unknownIpam = await daemon.docker(['network', 'create', '-d', plugin, '--ipam-driver', 'nosuchipam', 'x2']);
  assert.is(unknownIpam.code, 1);
  assert.match(unknownIpam.stderr, 'plugin "nosuchipam" not found');
  const status = await daemon.request('POST', '/networks/create', JSON.stringify({ Name: 'x3', Driver: 'nosuchdriver' }), {
    'Content-Type': 'application/json',
  });
  assert.is(status.status, 404, status.body);
  const badOptions = await daemon.request(
    'POST',
    '/networks/create',
    JSON.stringify({ Name: 'x3', Driver: plugin, IPAM: { Driver: plugin, Options: { size: 1 } } }),
    { 'Content-Type': 'application/json' },
  );
  assert.is(badOptions.status, 400, badOptions.body);
  assert.match(badOptions.body, 'IPAM.Options.size must be a string');

  const refused = await daemon.docker(['network', 'create', '-d', plugin, '-o', 'py.fail=asked to fail', 'x4']);
  assert.is(refused.code, 1);
  assert.match(refused.stderr, `plugin ${plugin}: NetworkDriver.CreateNetwork: refusing network: asked to fail`);

  // Spec files naming a socket nobody serves: the error says the plugin is not running.
  writeFileSync(path.join(specDir, `dead${sfx}.spec`), `unix://${path.join(dir, 'dead.sock')}\n`);
  writeFileSync(
    path.join(specDir, `deadj${sfx}.json`),
    JSON.stringify({ Name: `deadj${sfx}`, Addr: `unix://${path.join(dir, 'dead.sock')}` }),
  );
  for (const name of [`dead${sfx}`, `deadj${sfx}`]) {
    const dead = await daemon.docker(['network', 'create', '-d', name, 'x5']);
    assert.is(dead.code, 1);
    assert.match(dead.stderr, `plugin ${name} is not running`);
  }

  assert.is(await ok(daemon, ['network', 'ls', '-q']), before);
  await assertPluginEmpty();
});

test("berthd killed (-9) and started again: the plugin's network still serves the container that kept running and a new one", async ({
  daemon,
}) => {
  await ok(daemon, ['network', 'create', '-d', plugin, '--ipam-driver', plugin, 'pyrestart']);
  await ok(daemon, ['run', '-d', '--name', 'pykept', '--network', 'pyrestart', 'busybox', 'sleep', '120']);
  const kept = JSON.parse(await ok(daemon, ['inspect', 'pykept']))[0].NetworkSettings.Networks.pyrestart.IPAddress;
  await daemon.kill('SIGKILL');
  await daemon.start(daemonArgs);
  assert.is(JSON.parse(await ok(daemon, ['inspect', 'pykept']))[0].NetworkSettings.Networks.pyrestart.IPAddress, kept);
  const ping = await ok(daemon, ['run', '--rm', '--network', 'pyrestart', 'busybox', 'ping', '-c', '1', '-W', '2', kept]);
  assert.match(ping, '1 packets received');
  await ok(daemon, ['rm', '-f', 'pykept']);
  await ok(daemon, ['network', 'rm', 'pyrestart']);
  await assertPluginEmpty();
});

test.run();
