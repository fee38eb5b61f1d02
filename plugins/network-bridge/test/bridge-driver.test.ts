import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type EndpointSpec, isBerthError, type NetworkSpec, silentLogger } from '@berth/core';
import plugin, { BridgeDriver, bridgeNameOption, hostVethName } from '@berth/network-bridge';
import { pluginContext } from '@berth/testkit';
import { suiteTimeout, withTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freeTestSubnets, hostLinks, type TestNetns, tableExists, testNetns } from './netns.js';

suiteTimeout(test, 20_000);

// Every kernel object this file makes is named with this suffix, so other daemons' and
// other tests' objects are never touched, and the cleanup below removes only ours.
const sfx = randomBytes(3).toString('hex');
const table = `berth_unit_${sfx}`;
const outsideLink = `bunito${sfx}`;
const [subnetA, subnetB, subnetInternal, subnetOutside] = freeTestSubnets(4) as [string, string, string, string];
const hostPart = (subnet: string, n: number) => subnet.replace(/0\/24$/, String(n));
const namespaces: TestNetns[] = [];
const driver = new BridgeDriver({ table, mtu: 1500, log: silentLogger });

function network(name: string, subnet: string, extra: Partial<NetworkSpec> = {}): NetworkSpec {
  return {
    id: randomBytes(32).toString('hex'),
    name,
    driver: 'bridge',
    options: { [bridgeNameOption]: `bunit${sfx}${name}` },
    labels: {},
    internal: false,
    ipv4: { subnet, gateway: hostPart(subnet, 1) },
    ...extra,
  };
}

function endpoint(net: NetworkSpec, host: number, extra: Partial<EndpointSpec> = {}): EndpointSpec {
  return {
    networkId: net.id,
    id: randomBytes(32).toString('hex'),
    containerId: randomBytes(32).toString('hex'),
    aliases: [],
    ipAddress: hostPart(net.ipv4!.subnet, host),
    ipPrefixLen: 24,
    gateway: net.internal ? undefined : net.ipv4!.gateway,
    ...extra,
  };
}

async function netns(): Promise<TestNetns> {
  const ns = await testNetns();
  namespaces.push(ns);
  return ns;
}

/**
 * Whether `address` answers a ping from `ns` within 3 s: an ARP request sent before a
 * fresh veth forwards is lost, and the kernel's next one comes a second later.
 */
const ping = (ns: TestNetns, address: string) => ns.ok(['busybox', 'ping', '-c', '1', '-w', '3', address]);
/** Whether one request to `address` is answered within a second (for what must not answer). */
const pingOnce = (ns: TestNetns, address: string) => ns.ok(['busybox', 'ping', '-c', '1', '-W', '1', address]);
const netA = network('a', subnetA);
const netB = network('b', subnetB);
const netInternal = network('i', subnetInternal, { internal: true });

test.after(() => {
  for (const ns of namespaces) ns.close();
  for (const link of [`bunit${sfx}a`, `bunit${sfx}b`, `bunit${sfx}i`, outsideLink]) {
    try {
      execFileSync('ip', ['link', 'del', link], { stdio: 'ignore' });
    } catch {}
  }
  try {
    execFileSync('nft', ['delete', 'table', 'ip', table], { stdio: 'ignore' });
  } catch {}
});

test('the manifest declares network/bridge; a bad table name in its config is refused by name', async () => {
  assert.is(plugin.kind, 'network');
  assert.is(plugin.name, 'bridge');
  const made = await plugin.init(pluginContext('/nonexistent', { config: { table } }));
  assert.instance(made, BridgeDriver);
  assert.is(made.namespaceMode, 'private');
  assert.ok(made.usesIpam);
  const err = await Promise.resolve(plugin.init(pluginContext('/nonexistent', { config: { table: 'bad table;' } }))).catch(
    (e: unknown) => e,
  );
  assert.ok(isBerthError(err, 'InvalidArgument'), String(err));
  assert.match(String(err), /invalid nftables table name "bad table;"/);
});

test('createNetwork makes the bridge with the gateway address and berth’s table; again is a no-op', async () => {
  await driver.createNetwork(netA);
  await driver.createNetwork(netA);
  const addr = execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', `bunit${sfx}a`], { encoding: 'utf8' });
  assert.match(addr, `${netA.ipv4!.gateway}/24`);
  assert.is(addr.trim().split('\n').length, 1);
  assert.ok(tableExists(table));
  const rules = execFileSync('nft', ['list', 'table', 'ip', table], { encoding: 'utf8' });
  assert.match(rules, `ip saddr ${subnetA} oifname != "bunit${sfx}a" masquerade`);
  assert.is(execFileSync('cat', ['/proc/sys/net/ipv4/ip_forward'], { encoding: 'utf8' }).trim(), '1');
});

test('two endpoints on one network reach each other; eth0 has the address, MAC, MTU and default route', async () => {
  const [one, two] = [await netns(), await netns()];
  const e1 = endpoint(netA, 2);
  const e2 = endpoint(netA, 3, { macAddress: '02:aa:bb:cc:dd:03' });
  const info = await driver.attach(e1, one.path);
  assert.equal(info, {
    ipAddress: e1.ipAddress,
    ipPrefixLen: 24,
    gateway: netA.ipv4!.gateway,
    macAddress: `02:42:0a:c7:${hostPart(subnetA, 2)
      .split('.')
      .slice(2)
      .map((b) => Number(b).toString(16).padStart(2, '0'))
      .join(':')}`,
    interfaceName: 'eth0',
  });
  await driver.attach(e2, two.path);
  const link = JSON.parse(two.exec(['ip', '-j', 'addr', 'show', 'dev', 'eth0']))[0];
  assert.is(link.address, '02:aa:bb:cc:dd:03');
  assert.is(link.mtu, 1500);
  assert.ok(link.addr_info.some((a: { local: string }) => a.local === e2.ipAddress));
  assert.match(two.exec(['ip', 'route', 'show', 'default']), `default via ${netA.ipv4!.gateway} dev eth0`);
  assert.ok(ping(one, e2.ipAddress!), 'one cannot reach two');
  assert.ok(ping(two, e1.ipAddress!), 'two cannot reach one');
  assert.ok(hostLinks().includes(hostVethName(e1.id)));
  await driver.detach(e1);
  await driver.detach(e2);
  assert.not.ok(hostLinks().includes(hostVethName(e1.id)));
  assert.equal(one.exec(['ip', '-o', 'link', 'show']).trim().split('\n').length, 1, 'eth0 left inside after detach');
  await driver.detach(e1); // unknown now: a no-op
});

test('endpoints on different networks cannot reach each other; each reaches its own gateway', async () => {
  await driver.createNetwork(netB);
  const [one, two] = [await netns(), await netns()];
  const e1 = endpoint(netA, 4);
  const e2 = endpoint(netB, 4);
  await driver.attach(e1, one.path);
  await driver.attach(e2, two.path);
  try {
    assert.ok(ping(one, netA.ipv4!.gateway));
    assert.ok(ping(two, netB.ipv4!.gateway));
    assert.not.ok(pingOnce(one, e2.ipAddress!), 'a reached b across networks');
    assert.not.ok(pingOnce(two, e1.ipAddress!), 'b reached a across networks');
  } finally {
    await driver.detach(e1);
    await driver.detach(e2);
  }
});

test('two endpoints in one namespace: eth0 and eth1 as the engine names them, the default route only where asked, moved by routeDefault', async () => {
  await driver.createNetwork(netB);
  const ns = await netns();
  const first = endpoint(netA, 6, { interfaceName: 'eth0', defaultRoute: true });
  const second = endpoint(netB, 6, { interfaceName: 'eth1', defaultRoute: false });
  const info = [await driver.attach(first, ns.path), await driver.attach(second, ns.path)];
  try {
    assert.equal(
      info.map((i) => i.interfaceName),
      ['eth0', 'eth1'],
    );
    assert.match(ns.exec(['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth1']), `${second.ipAddress}/24`);
    assert.is(ns.exec(['ip', 'route', 'show', 'default']).trim(), `default via ${netA.ipv4!.gateway} dev eth0`);
    await driver.routeDefault(second, ns.path);
    assert.is(ns.exec(['ip', 'route', 'show', 'default']).trim(), `default via ${netB.ipv4!.gateway} dev eth1`);
    // Detaching one leaves the other in place.
    await driver.detach(first);
    assert.equal(
      ns
        .exec(['ip', '-o', 'link', 'show'])
        .trim()
        .split('\n')
        .map((l) => l.split(': ')[1]!.split('@')[0]),
      ['lo', 'eth1'],
    );
  } finally {
    await driver.detach(first);
    await driver.detach(second);
  }
});

test('outbound traffic is masqueraded: a namespace with no route back to the subnet answers; an internal network has no way out', async () => {
  // "outside": a namespace of the test's own behind a veth, knowing only its /24 with the host.
  const outside = await netns();
  const hostSide = hostPart(subnetOutside, 1);
  const far = hostPart(subnetOutside, 2);
  execFileSync('ip', ['link', 'add', outsideLink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside.path]);
  execFileSync('ip', ['addr', 'add', `${hostSide}/24`, 'dev', outsideLink]);
  execFileSync('ip', ['link', 'set', outsideLink, 'up']);
  outside.exec(['ip', 'addr', 'add', `${far}/24`, 'dev', 'eth0']);
  outside.exec(['ip', 'link', 'set', 'eth0', 'up']);
  assert.not.ok(outside.exec(['ip', 'route']).includes(subnetA.split('/')[0]!));
  const inside = await netns();
  const e = endpoint(netA, 5);
  await driver.attach(e, inside.path);
  await driver.createNetwork(netInternal);
  const closed = await netns();
  const ei = endpoint(netInternal, 5);
  await driver.attach(ei, closed.path);
  try {
    assert.ok(ping(inside, far), 'no NAT: the outside namespace could not answer the container');
    assert.not.ok(pingOnce(outside, e.ipAddress!), 'the outside reached a container');
    assert.is(closed.exec(['ip', 'route', 'show', 'default']).trim(), '');
    assert.ok(ping(closed, netInternal.ipv4!.gateway));
    assert.not.ok(pingOnce(closed, far), 'an internal network reached the outside');
    const rules = execFileSync('nft', ['list', 'table', 'ip', table], { encoding: 'utf8' });
    assert.not.match(rules, `ip saddr ${subnetInternal}`);
  } finally {
    await driver.detach(e);
    await driver.detach(ei);
    execFileSync('ip', ['link', 'del', outsideLink]);
  }
});

test(
  '100 attach/detach cycles on one network leave no link behind',
  withTimeout(30_000, async () => {
    const ns = await netns();
    // The bridge's own ports and the cycles' veth names: the host's whole link count also
    // moves with whatever else runs on the machine.
    const ports = () =>
      (
        JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'master', `bunit${sfx}a`], { encoding: 'utf8' }) || '[]') as Array<{
          ifname: string;
        }>
      ).map((l) => l.ifname);
    const before = ports();
    const names: string[] = [];
    for (let i = 0; i < 100; i++) {
      const e = endpoint(netA, 10 + i);
      names.push(hostVethName(e.id));
      await driver.attach(e, ns.path);
      await driver.detach(e);
    }
    assert.equal(ports(), before);
    const left = new Set(hostLinks());
    assert.equal(
      names.filter((n) => left.has(n)),
      [],
    );
    assert.is(ns.exec(['ip', '-o', 'link', 'show']).trim().split('\n').length, 1);
  }),
);

test('attach refuses the host namespace, and a failed attach leaves no link', async () => {
  const e = endpoint(netA, 50);
  const err = await driver.attach(e, '/proc/self/ns/net').catch((x: unknown) => x);
  assert.ok(isBerthError(err, 'SystemError'), String(err));
  assert.match(String(err), /host's network namespace/);
  const ns = await netns();
  ns.exec(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'x0']); // the name is taken inside: the veth add fails
  const err2 = await driver.attach(e, ns.path).catch((x: unknown) => x);
  assert.ok(isBerthError(err2, 'SystemError'), String(err2));
  assert.match(String(err2), /cannot create the veth pair/);
  assert.not.ok(hostLinks().includes(hostVethName(e.id)));
  // The pair is made, then the route inside fails (a gateway off the subnet): both ends go.
  const other = await netns();
  const offSubnet = endpoint(netA, 51, { gateway: '10.123.45.1' });
  const err3 = await driver.attach(offSubnet, other.path).catch((x: unknown) => x);
  assert.ok(isBerthError(err3, 'SystemError'), String(err3));
  assert.match(String(err3), /cannot configure eth0 \(.+\/24\) in the container's namespace: ENETUNREACH/);
  assert.not.ok(hostLinks().includes(hostVethName(offSubnet.id)));
  assert.equal(other.exec(['ip', '-o', 'link', 'show']).trim().split('\n').length, 1, 'only lo is left inside');
});

test('restore removes veths on its bridges whose endpoint is not recorded, and keeps the recorded ones', async () => {
  const [kept, lost] = [await netns(), await netns()];
  const ek = endpoint(netA, 60);
  const el = endpoint(netA, 61);
  await driver.attach(ek, kept.path);
  await driver.attach(el, lost.path);
  // A new driver, as after a daemon restart: it knows the networks again, then restores.
  const again = new BridgeDriver({ table, mtu: 1500, log: silentLogger });
  for (const n of [netA, netB, netInternal]) await again.createNetwork(n);
  await again.restore([ek]);
  assert.ok(hostLinks().includes(hostVethName(ek.id)));
  assert.not.ok(hostLinks().includes(hostVethName(el.id)));
  assert.ok(ping(kept, netA.ipv4!.gateway));
  await again.detach(ek);
});

test('deleteNetwork removes the bridge; the last one takes the table with it; both are idempotent', async () => {
  await driver.deleteNetwork(netB);
  await driver.deleteNetwork(netB);
  assert.not.ok(hostLinks().includes(`bunit${sfx}b`));
  assert.ok(tableExists(table));
  await driver.deleteNetwork(netInternal);
  await driver.deleteNetwork(netA);
  assert.not.ok(hostLinks().includes(`bunit${sfx}a`));
  assert.not.ok(tableExists(table));
});

test('a bridge network needs a subnet; a bridge name that is taken by another network is a conflict', async () => {
  const err = await driver.createNetwork({ ...netA, ipv4: undefined }).catch((e: unknown) => e);
  assert.ok(isBerthError(err, 'InvalidArgument'), String(err));
  await driver.createNetwork(netA);
  const other = network('a', subnetB);
  const err2 = await driver.createNetwork(other).catch((e: unknown) => e);
  assert.ok(isBerthError(err2, 'Conflict'), String(err2));
  assert.match(String(err2), `bridge bunit${sfx}a is already used by network a`);
  await driver.deleteNetwork(netA);
  assert.not.ok(tableExists(table));
});

test.run();
