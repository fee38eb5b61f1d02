import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { type EndpointSpec, type NetworkSpec, type PublishedPort, silentLogger } from '@berth/core';
import { BridgeDriver, bridgeNameOption, renderRuleset } from '@berth/network-bridge';
import { suiteTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freeTestSubnets, type TestNetns, testNetns } from './netns.js';

suiteTimeout(test, 20_000);

// Every kernel object here carries this suffix; the cleanup below removes only ours.
const sfx = randomBytes(3).toString('hex');
const table = `berth_unitp_${sfx}`;
const bridge = `bunitp${sfx}`;
const [subnet] = freeTestSubnets(1) as [string];
const hostPart = (n: number) => subnet.replace(/0\/24$/, String(n));
const namespaces: TestNetns[] = [];
const servers: Array<{ kill(): void }> = [];
const www = mkdtempSync('/tmp/berth-unit-bridge-www-');
writeFileSync(`${www}/hello`, 'from the container\n');

const spec: NetworkSpec = {
  id: randomBytes(32).toString('hex'),
  name: 'p',
  driver: 'bridge',
  options: { [bridgeNameOption]: bridge },
  labels: {},
  internal: false,
  ipv4: { subnet, gateway: hostPart(1) },
};

test.after(() => {
  for (const s of servers) s.kill();
  for (const ns of namespaces) ns.close();
  try {
    execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
  } catch {}
  try {
    execFileSync('nft', ['delete', 'table', 'ip', table], { stdio: 'ignore' });
  } catch {}
  rmSync(www, { recursive: true, force: true });
});

const tcp = (hostIp: string, hostPort: number, containerPort = 80): PublishedPort => ({ protocol: 'tcp', hostIp, hostPort, containerPort });

test('ruleset: DNAT per binding (on every local address, or one), one forward accept per container port, only DNATed traffic let in', () => {
  const script = renderRuleset(
    't',
    [{ bridge: 'br0', subnet: '10.1.2.0/24', internal: false }],
    [
      { bridge: 'br0', address: '10.1.2.3', binding: tcp('0.0.0.0', 8080) },
      { bridge: 'br0', address: '10.1.2.3', binding: tcp('127.0.0.1', 8081) },
      { bridge: 'br0', address: '10.1.2.3', binding: { protocol: 'udp', hostIp: '0.0.0.0', hostPort: 5353, containerPort: 53 } },
    ],
  );
  assert.ok(script.startsWith('table ip t {}\ndelete table ip t\n'), 'the table is replaced whole');
  for (const line of [
    'tcp dport 8080 dnat to 10.1.2.3:80',
    'ip daddr 127.0.0.1 tcp dport 8081 dnat to 10.1.2.3:80',
    'udp dport 5353 dnat to 10.1.2.3:53',
    'oifname "br0" ip daddr 10.1.2.3 tcp dport 80 ct status dnat accept',
    'oifname "br0" ip daddr 10.1.2.3 udp dport 53 ct status dnat accept',
    'fib daddr type local ip daddr != 127.0.0.0/8 jump published',
    'fib daddr type local jump published',
    'iifname "br0" ip daddr 127.0.0.0/8 counter drop',
    'iifname "br0" ip saddr 127.0.0.0/8 counter drop',
    'oifname "br0" ip saddr 127.0.0.0/8 masquerade',
    'oifname "br0" ip saddr 10.1.2.0/24 ct status dnat masquerade',
  ]) {
    assert.ok(script.includes(`    ${line}\n`), `missing: ${line}\n${script}`);
  }
  assert.is(script.split('tcp dport 80 ct status dnat accept').length - 1, 1, 'two host ports to one container port: one accept');
  // Without ports (a daemon starting): the port chains are declared, never flushed or deleted.
  const starting = renderRuleset('t', [{ bridge: 'br0', subnet: '10.1.2.0/24', internal: false }]);
  assert.not.match(starting, 'delete table');
  assert.not.match(starting, 'flush chain ip t published');
  assert.match(starting, 'flush chain ip t forward\n');
  assert.is(renderRuleset('t', []), 'table ip t {}\ndelete table ip t\n');
});

/** A free TCP port of the host. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function get(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/hello', timeout: 2000, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve(`error: ${err.message}`));
  });
}

/** The DNAT rules of the table, as the kernel lists them. */
function dnatRules(): string[] {
  const out = execFileSync('nft', ['list', 'chain', 'ip', table, 'published'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.includes('dnat to'));
}

/** A namespace attached to the bridge at .host, running busybox httpd on port 80 serving `www`. */
async function container(driver: BridgeDriver, host: number, ports: PublishedPort[]): Promise<{ ns: TestNetns; endpoint: EndpointSpec }> {
  const ns = await testNetns();
  namespaces.push(ns);
  const endpoint: EndpointSpec = {
    networkId: spec.id,
    id: randomBytes(32).toString('hex'),
    containerId: randomBytes(32).toString('hex'),
    aliases: [],
    ipAddress: hostPart(host),
    ipPrefixLen: 24,
    gateway: hostPart(1),
    portBindings: ports,
  };
  await driver.attach(endpoint, ns.path);
  ns.exec(['ip', 'link', 'set', 'lo', 'up']); // httpd's readiness is asked on 127.0.0.1 inside
  const httpd = spawn('nsenter', [`--net=${ns.path}`, 'busybox', 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' });
  servers.push(httpd);
  for (
    let i = 0;
    i < 100 && !ns.ok(['busybox', 'timeout', '2', 'busybox', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1/hello']);
    i++
  ) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return { ns, endpoint };
}

test('publish forwards 127.0.0.1 and every local address to the container; revoke takes it away; restore keeps rules until it is told, then rebuilds them once', async () => {
  const driver = new BridgeDriver({ table, mtu: 1500, log: silentLogger });
  await driver.createNetwork(spec);
  await driver.restore([]);
  const [anyPort, loopbackPort] = [await freePort(), await freePort()];
  const { endpoint } = await container(driver, 2, [tcp('0.0.0.0', anyPort), tcp('127.0.0.1', loopbackPort)]);
  assert.is(await get('127.0.0.1', anyPort), `error: connect ECONNREFUSED 127.0.0.1:${anyPort}`, 'forwarded before publish');
  await driver.publish(endpoint);
  assert.is(await get('127.0.0.1', anyPort), 'from the container\n');
  assert.is(await get(hostPart(1), anyPort), 'from the container\n', 'on the gateway address, a local address of the host');
  assert.is(await get('127.0.0.1', loopbackPort), 'from the container\n');
  assert.match(await get(hostPart(1), loopbackPort), /^error/, 'a port published on 127.0.0.1 answered elsewhere');
  assert.is(readFileSync(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, 'utf8').trim(), '1');

  // A new driver (a daemon restarting): its network create leaves the port rules alone...
  const again = new BridgeDriver({ table, mtu: 1500, log: silentLogger });
  await again.createNetwork(spec);
  assert.is(dnatRules().length, 2);
  assert.is(await get('127.0.0.1', anyPort), 'from the container\n');
  // ...and restore makes them what the engine recorded: the same two, once.
  await again.restore([endpoint]);
  assert.is(dnatRules().length, 2);
  assert.is(await get('127.0.0.1', anyPort), 'from the container\n');

  await again.revoke(endpoint);
  assert.equal(dnatRules(), []);
  assert.match(await get('127.0.0.1', anyPort), /^error/);
  await again.revoke(endpoint); // nothing left: a no-op
  await again.detach(endpoint);
});

test('hairpin: a namespace on the bridge reaches a published port through a host address, its own included', async () => {
  const driver = new BridgeDriver({ table, mtu: 1500, log: silentLogger });
  await driver.createNetwork(spec);
  await driver.restore([]);
  const port = await freePort();
  const { ns: server, endpoint } = await container(driver, 3, [tcp('0.0.0.0', port)]);
  const client = await testNetns();
  namespaces.push(client);
  const clientEndpoint: EndpointSpec = { ...endpoint, id: randomBytes(32).toString('hex'), ipAddress: hostPart(4), portBindings: [] };
  await driver.attach(clientEndpoint, client.path);
  await driver.publish(endpoint);
  try {
    const url = `http://${hostPart(1)}:${port}/hello`;
    assert.is(client.exec(['busybox', 'timeout', '5', 'busybox', 'wget', '-q', '-O', '-', url]), 'from the container\n');
    assert.is(server.exec(['busybox', 'timeout', '5', 'busybox', 'wget', '-q', '-O', '-', url]), 'from the container\n');
  } finally {
    await driver.revoke(endpoint);
    await driver.detach(endpoint);
    await driver.detach(clientEndpoint);
  }
});

test('guard: with route_localnet on the bridge, a namespace still cannot reach the host’s loopback services through it', async () => {
  const driver = new BridgeDriver({ table, mtu: 1500, log: silentLogger });
  await driver.createNetwork(spec);
  await driver.restore([]);
  const { ns, endpoint } = await container(driver, 5, [tcp('0.0.0.0', await freePort())]);
  await driver.publish(endpoint);
  // A host service on 127.0.0.1 only.
  const secret = http.createServer((_req, res) => res.end('host secret\n'));
  await new Promise<void>((resolve) => secret.listen(0, '127.0.0.1', resolve));
  const { port } = secret.address() as net.AddressInfo;
  try {
    // The namespace sends to 127.0.0.1 through its eth0, towards the host (what a hostile container can do).
    // Its own 127.0.0.0/8 goes (the local table's routes of lo), so 127.0.0.1 is routed out.
    ns.exec(['ip', 'link', 'set', 'lo', 'down']);
    for (const route of ['127.0.0.0/8', '127.0.0.1']) ns.ok(['ip', 'route', 'del', 'table', 'local', 'local', route, 'dev', 'lo']);
    ns.exec(['sysctl', '-qw', 'net.ipv4.conf.eth0.route_localnet=1']);
    ns.exec(['ip', 'route', 'add', '127.0.0.0/8', 'via', hostPart(1), 'dev', 'eth0']);
    assert.is(
      ns.exec(['ip', 'route', 'get', '127.0.0.1']).split('\n')[0]!.includes('dev eth0'),
      true,
      ns.exec(['ip', 'route', 'get', '127.0.0.1']),
    );
    const reached = ns.ok(['busybox', 'timeout', '3', 'busybox', 'wget', '-q', '-O', '-', `http://127.0.0.1:${port}/`]);
    assert.not.ok(reached, 'a namespace on the bridge reached a service bound to the host’s 127.0.0.1');
    // And it is the guard that stopped it (not some other setting of this host): its drop counted the packets.
    const listed = execFileSync('nft', ['list', 'chain', 'ip', table, 'guard'], { encoding: 'utf8' });
    const counted = new RegExp(`iifname "${bridge}" ip daddr 127\\.0\\.0\\.0/8 counter packets (\\d+)`).exec(listed);
    assert.ok(counted && Number(counted[1]) > 0, listed);
  } finally {
    secret.close();
    await driver.revoke(endpoint);
    await driver.detach(endpoint);
    await driver.deleteNetwork(spec);
  }
});

test.run();
