import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type EndpointSpec, type NetworkSpec, silentLogger } from '@berth/core';
import { PluginClient, RemoteNetworkDriver } from '@berth/discovery-docker';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fakePlugin, Refusal } from './fake-plugin.js';
import { hostHasLink, type TestNetns, testNetns } from './netns.js';

// Every link this file makes starts with this prefix; the cleanup removes only those.
const prefix = `bud${randomBytes(2).toString('hex')}`;
const namespaces: TestNetns[] = [];
let counter = 0;

function ownLinks(): string[] {
  const links = JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string }>;
  return links.map((l) => l.ifname).filter((n) => n.startsWith(prefix));
}
test.after(() => {
  for (const ns of namespaces) ns.close();
  for (const link of ownLinks()) {
    try {
      execFileSync('ip', ['link', 'del', link], { stdio: 'ignore' });
    } catch {}
  }
});

/**
 * A network plugin in the test's process that makes real veth pairs at Join (the host
 * end `<prefix>h<n>`, the other `<prefix>c<n>` named in the answer) and deletes them at
 * Leave. `join` replaces its Join answer.
 */
async function vethPlugin(join?: (body: Record<string, unknown>) => unknown) {
  const pairs = new Map<string, string>();
  return fakePlugin('veths', {
    'NetworkDriver.CreateNetwork': () => ({}),
    'NetworkDriver.DeleteNetwork': () => ({}),
    'NetworkDriver.CreateEndpoint': () => ({ Interface: {} }),
    'NetworkDriver.Join': (body) => {
      if (join) return join(body);
      const n = ++counter;
      execFileSync('ip', ['link', 'add', `${prefix}h${n}`, 'type', 'veth', 'peer', 'name', `${prefix}c${n}`]);
      pairs.set(body.EndpointID as string, `${prefix}h${n}`);
      return {
        InterfaceName: { SrcName: `${prefix}c${n}`, DstPrefix: 'eth' },
        Gateway: '10.77.0.1',
        StaticRoutes: [{ Destination: '10.66.0.0/16', RouteType: 0, NextHop: '10.77.0.1' }],
      };
    },
    'NetworkDriver.Leave': (body) => {
      const host = pairs.get(body.EndpointID as string);
      if (!host) throw new Refusal(`endpoint ${body.EndpointID} never joined`);
      pairs.delete(body.EndpointID as string);
      try {
        execFileSync('ip', ['link', 'del', host], { stdio: 'ignore' });
      } catch {} // gone with the namespace's end
      return {};
    },
    'NetworkDriver.DeleteEndpoint': () => ({}),
  });
}

function network(): NetworkSpec {
  return {
    id: randomBytes(32).toString('hex'),
    name: 'plugged',
    driver: 'veths',
    options: { 'vendor.option': 'x' },
    labels: {},
    internal: false,
    ipv4: { subnet: '10.77.0.0/24', gateway: '10.77.0.1' },
  };
}

function endpoint(net: NetworkSpec, host: number): EndpointSpec {
  return {
    networkId: net.id,
    id: randomBytes(32).toString('hex'),
    containerId: randomBytes(32).toString('hex'),
    aliases: [],
    ipAddress: `10.77.0.${host}`,
    ipPrefixLen: 24,
    gateway: '10.77.0.1',
    macAddress: `02:42:0a:4d:00:0${host}`,
  };
}

test("attach: CreateEndpoint, Join, the plugin's interface moved into the namespace as eth0 (then eth1) with address, MAC and routes; detach takes it all back", async () => {
  const fake = await vethPlugin();
  const ns = await testNetns();
  namespaces.push(ns);
  try {
    const driver = new RemoteNetworkDriver(
      'veths',
      new PluginClient('veths', { kind: 'unix', socketPath: fake.socket, foundIn: fake.socket }, 2000),
      {},
      silentLogger,
    );
    const net = network();
    await driver.createNetwork(net);
    assert.equal(fake.calls[0]!.body, {
      NetworkID: net.id,
      Options: { 'com.docker.network.generic': { 'vendor.option': 'x' }, 'com.docker.network.enable_ipv6': false },
      IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '10.77.0.0/24', Gateway: '10.77.0.1/24', AuxAddresses: {} }],
      IPv6Data: [],
    });
    const first = endpoint(net, 2);
    const info = await driver.attach(first, ns.path);
    assert.equal(info, {
      ipAddress: '10.77.0.2',
      ipPrefixLen: 24,
      gateway: '10.77.0.1',
      macAddress: '02:42:0a:4d:00:02',
      interfaceName: 'eth0',
    });
    const created = fake.calls.find((c) => c.method === 'NetworkDriver.CreateEndpoint')!.body;
    assert.equal(created.Interface, { Address: '10.77.0.2/24', AddressIPv6: '', MacAddress: '02:42:0a:4d:00:02' });
    assert.is(fake.calls.find((c) => c.method === 'NetworkDriver.Join')!.body.SandboxKey, ns.path);
    assert.match(ns.ip(['-o', 'addr', 'show', 'eth0']), 'inet 10.77.0.2/24');
    assert.match(ns.ip(['link', 'show', 'eth0']), 'link/ether 02:42:0a:4d:00:02');
    const routes = ns.ip(['route']);
    assert.match(routes, 'default via 10.77.0.1 dev eth0');
    assert.match(routes, '10.66.0.0/16 via 10.77.0.1 dev eth0');
    assert.not.ok(hostHasLink(`${prefix}c${counter}`), 'the container end left the host');

    const second = endpoint(net, 3);
    assert.is((await driver.attach(second, ns.path)).interfaceName, 'eth1');

    await driver.detach(first);
    await driver.detach(second);
    assert.not.match(ns.ip(['link']), 'eth0');
    assert.not.match(ns.ip(['link']), 'eth1');
    assert.equal(ownLinks(), []);
    assert.equal(
      fake
        .methods()
        .filter((m) => m !== 'NetworkDriver.ProgramExternalConnectivity' && m !== 'NetworkDriver.RevokeExternalConnectivity')
        .slice(-4),
      ['NetworkDriver.Leave', 'NetworkDriver.DeleteEndpoint', 'NetworkDriver.Leave', 'NetworkDriver.DeleteEndpoint'],
    );
    await driver.deleteNetwork(net);
    assert.is(fake.methods().at(-1), 'NetworkDriver.DeleteNetwork');
  } finally {
    await fake.close();
  }
});

test('a Join the plugin refuses, or one naming no usable interface, is undone (Leave, DeleteEndpoint) and reported with its reason', async () => {
  const refusing = await vethPlugin(() => {
    throw new Refusal('no room on the wire');
  });
  const ns = await testNetns();
  namespaces.push(ns);
  try {
    const client = new PluginClient('refusing', { kind: 'unix', socketPath: refusing.socket, foundIn: refusing.socket }, 2000);
    const driver = new RemoteNetworkDriver('refusing', client, {}, silentLogger);
    const net = network();
    await driver.createNetwork(net);
    const err = await driver.attach(endpoint(net, 2), ns.path).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.is(err?.message, 'plugin refusing: NetworkDriver.Join: no room on the wire');
    assert.equal(refusing.methods().slice(-2), ['NetworkDriver.Join', 'NetworkDriver.DeleteEndpoint']);
  } finally {
    await refusing.close();
  }
  const nameless = await vethPlugin(() => ({ InterfaceName: { SrcName: `${prefix}none`, DstPrefix: 'eth' } }));
  try {
    const client = new PluginClient('nameless', { kind: 'unix', socketPath: nameless.socket, foundIn: nameless.socket }, 2000);
    const driver = new RemoteNetworkDriver('nameless', client, {}, silentLogger);
    const net = network();
    await driver.createNetwork(net);
    const err = await driver.attach(endpoint(net, 2), ns.path).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.match(err?.message ?? '', `${prefix}none`);
    assert.equal(nameless.methods().slice(-2), ['NetworkDriver.Leave', 'NetworkDriver.DeleteEndpoint']);
    assert.is(ns.ip(['-o', 'link']).split('\n').filter(Boolean).length, 1, 'only lo inside');
  } finally {
    await nameless.close();
  }
});

test.run();
