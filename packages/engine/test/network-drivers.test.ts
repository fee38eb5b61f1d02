import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import {
  type DiscoveredDriver,
  type DriverDiscovery,
  DriverMap,
  type DriverRegistry,
  type EndpointSpec,
  type Ipam,
  type Ipv4Pool,
  type Ipv4PoolRequest,
  isBerthError,
  type NetworkDriver,
  type NetworkSpec,
  type PluginKind,
  type PluginKinds,
  SystemError,
  writeJsonAtomic,
} from '@berth/core';
import { errorOf } from '@berth/testkit';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ContainerRecord } from '../src/containers/container-record.js';
import { DefaultIpam } from '../src/networks/default-ipam.js';
import type { NetworkService } from '../src/networks/network-service.js';
import { DriverLookup } from '../src/plugins/driver-lookup.js';
import { networkService, networkTestConfig } from './support/network-service.js';

/**
 * Driver choice: networks name their network driver and IPAM driver, which come from the
 * kinds' registries or from discovery plugins (Docker plugins, here stand-ins that record
 * their calls: the protocol and the kernel work are @berth/discovery-docker's tests).
 */

const config = (dataRoot: string) => networkTestConfig(dataRoot, { bridge: 'bunitd' });

/** A network driver that keeps its networks elsewhere (as a remote plugin): `restoreNetwork`, not a second create, at start. */
class RemoteLikeDriver implements NetworkDriver {
  readonly namespaceMode = 'private' as const;
  readonly usesIpam = true;
  readonly calls: string[] = [];
  constructor(readonly name: string) {}
  async createNetwork(spec: NetworkSpec) {
    this.calls.push(`create ${spec.name} ${spec.ipv4?.subnet}`);
  }
  async restoreNetwork(spec: NetworkSpec) {
    this.calls.push(`restoreNetwork ${spec.name}`);
  }
  async deleteNetwork(spec: NetworkSpec) {
    this.calls.push(`delete ${spec.name}`);
  }
  async restore(_endpoints: EndpointSpec[]) {}
  async attach(endpoint: EndpointSpec) {
    this.calls.push(`attach ${endpoint.ipAddress}`);
    return {};
  }
  async detach(endpoint: EndpointSpec) {
    this.calls.push(`detach ${endpoint.ipAddress}`);
  }
}

/** An IPAM with pools of its own naming (a PoolID), handing out addresses from the top. */
class RecordingIpam implements Ipam {
  readonly calls: string[] = [];
  private readonly pools = new Map<string, string>();
  private next = 254;
  async requestPool(networkId: string, request: Ipv4PoolRequest): Promise<Ipv4Pool> {
    this.calls.push(`requestPool ${JSON.stringify(request.options ?? {})}`);
    this.pools.set(networkId, 'pool-7');
    return { subnet: '10.199.77.0/24', gateway: '10.199.77.1', poolId: 'pool-7' };
  }
  async releasePool(networkId: string) {
    this.calls.push(`releasePool ${this.pools.get(networkId)}`);
    this.pools.delete(networkId);
  }
  restorePool(networkId: string, pool: Ipv4Pool) {
    this.calls.push(`restorePool ${pool.poolId}`);
    this.pools.set(networkId, pool.poolId!);
  }
  restoreAddress(_networkId: string, address: string) {
    this.calls.push(`restoreAddress ${address}`);
  }
  async requestAddress(_networkId: string) {
    return `10.199.77.${this.next--}`;
  }
  async releaseAddress(_networkId: string, address: string) {
    this.calls.push(`releaseAddress ${address}`);
  }
}

/** A discovery that knows the drivers in `known`, counting its finds; `failing` names throw as a plugin that is not running. */
class StandInDiscovery implements DriverDiscovery {
  readonly kinds: readonly PluginKind[] = ['network', 'ipam'];
  finds = 0;
  failing = new Set<string>();
  constructor(private readonly known: Partial<Record<PluginKind, Record<string, unknown>>>) {}
  async find<K extends PluginKind>(kind: K, name: string): Promise<DiscoveredDriver<PluginKinds[K]> | undefined> {
    this.finds++;
    await new Promise((r) => setTimeout(r, 5));
    if (this.failing.has(name)) throw new SystemError(`plugin ${name} is not running`);
    const driver = this.known[kind]?.[name];
    return driver ? { driver: driver as PluginKinds[K], description: `stand-in ${name}` } : undefined;
  }
}

function registries(discovery: DriverDiscovery) {
  const ipam = new DriverMap<Ipam>('ipam');
  const defaultIpam = new DefaultIpam(config('/nonexistent'));
  defaultIpam.routes = () => [];
  ipam.add('default', defaultIpam);
  const discoveries = new DriverMap<DriverDiscovery>('discovery');
  discoveries.add('stand-in', discovery);
  const maps = {
    network: new DriverMap<NetworkDriver>('network'),
    ipam,
    discovery: discoveries,
    runtime: new DriverMap('runtime'),
  } as Record<string, DriverMap<unknown>>;
  return <K extends PluginKind>(kind: K) => maps[kind] as unknown as DriverRegistry<PluginKinds[K]>;
}

function service(dataRoot: string, registry: ReturnType<typeof registries>): NetworkService {
  return networkService(config(dataRoot), registry);
}

const container = (id: string, networkMode: string) =>
  ({ id, name: id, networkMode, networks: [{ network: networkMode }], config: {}, hostConfig: {} }) as unknown as ContainerRecord;

/** Attach a container to its one network; its endpoint. */
const attach = async (networks: NetworkService, record: ContainerRecord) => ({ endpoint: (await networks.attachAll(record, 1))[0]! });

test('DriverLookup: the registry first; else a discovery, once for concurrent lookups, the driver then registered; a failure is asked again; nothing is a 404', async () => {
  const remote = new RemoteLikeDriver('weave');
  const discovery = new StandInDiscovery({ network: { weave: remote } });
  const registry = registries(discovery);
  const added: string[] = [];
  const lookup = new DriverLookup(registry, (kind, name, driver, description) => {
    added.push(`${kind}/${name}: ${description}`);
    registry(kind).add(name, driver);
  });
  const [a, b] = await Promise.all([lookup.get('network', 'weave'), lookup.get('network', 'weave')]);
  assert.is(a, remote);
  assert.is(b, remote);
  assert.is(discovery.finds, 1);
  assert.equal(added, ['network/weave: stand-in weave']);
  assert.is(await lookup.get('network', 'weave'), remote);
  assert.is(discovery.finds, 1, 'a registered driver is a map read');

  const missing = await errorOf(lookup.get('network', 'nosuch'));
  assert.ok(isBerthError(missing, 'NotFound'));
  assert.is(missing.message, 'plugin "nosuch" not found');
  discovery.failing.add('flaky');
  assert.match((await errorOf(lookup.get('network', 'flaky'))).message, 'plugin flaky is not running');
  assert.match((await errorOf(lookup.get('network', 'flaky'))).message, 'plugin flaky is not running');
  assert.is(discovery.finds, 4, 'a failed discovery is not remembered');
  assert.is(await lookup.find('runtime', 'weave'), undefined, 'a discovery is asked only for its kinds');
  assert.is(discovery.finds, 4);
});

test('--ipam-driver: the pool, addresses and their release come from the IPAM the network names; inspect shows it with its options', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-network-drivers-');
  try {
    const ipam = new RecordingIpam();
    const remote = new RemoteLikeDriver('weave');
    const networks = service(dir, registries(new StandInDiscovery({ network: { weave: remote }, ipam: { infoblox: ipam } })));
    await networks.recover();
    const { Id } = await networks.create({ Name: 'w', Driver: 'weave', IPAM: { Driver: 'infoblox', Options: { zone: 'a' }, Config: [] } });
    assert.equal(networks.inspect('w').IPAM, {
      Driver: 'infoblox',
      Options: { zone: 'a' },
      Config: [{ Subnet: '10.199.77.0/24', Gateway: '10.199.77.1' }],
    });
    assert.equal(remote.calls, ['create w 10.199.77.0/24']);
    const { endpoint } = await attach(networks, container('c1', Id));
    assert.is(endpoint.ipAddress, '10.199.77.254');
    await networks.detach('c1');
    await networks.remove('w');
    assert.equal(ipam.calls, ['requestPool {"zone":"a"}', 'releaseAddress 10.199.77.254', 'releasePool pool-7']);
    assert.equal(remote.calls.slice(1), ['attach 10.199.77.254', 'detach 10.199.77.254', 'delete w']);
    // A default-IPAM network shows the default, with no options.
    await networks.create({ Name: 'plain', Driver: 'weave' });
    assert.equal(networks.inspect('plain').IPAM.Driver, 'default');
    assert.equal(networks.inspect('plain').IPAM.Options, {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unknown network or IPAM driver is a 404 naming it, and leaves no record; a driver without addresses refuses --ipam-driver', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-network-drivers-');
  try {
    const registry = registries(new StandInDiscovery({ network: { weave: new RemoteLikeDriver('weave') } }));
    const none = new RemoteLikeDriver('none');
    Object.defineProperty(none, 'usesIpam', { value: false });
    registry('network').add('none', none);
    const networks = service(dir, registry);
    await networks.recover();
    const before = readdirSync(path.join(dir, 'networks')).sort();
    for (const request of [
      { Name: 'x', Driver: 'nosuch' },
      { Name: 'x', Driver: 'weave', IPAM: { Driver: 'nosuchipam' } },
    ]) {
      const err = await errorOf(networks.create(request));
      assert.ok(isBerthError(err, 'NotFound'), String(err));
      assert.match(err.message, /^plugin "nosuch(ipam)?" not found$/);
    }
    const noAddresses = await errorOf(networks.create({ Name: 'z', Driver: 'none', IPAM: { Driver: 'infoblox' } }));
    assert.ok(isBerthError(noAddresses, 'InvalidArgument'));
    assert.match(noAddresses.message, '--ipam-driver need a network driver that does');
    assert.equal(readdirSync(path.join(dir, 'networks')).sort(), before, 'no record, no directory left');
    assert.equal(
      networks.list().map((n) => n.Name),
      ['none'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('after a restart: the remote network is restored (not created again) and its pool given back to its IPAM; a create cut short releases its pool there', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-network-drivers-');
  try {
    const before = service(
      dir,
      registries(new StandInDiscovery({ network: { weave: new RemoteLikeDriver('weave') }, ipam: { infoblox: new RecordingIpam() } })),
    );
    await before.recover();
    const { Id } = await before.create({ Name: 'w', Driver: 'weave', IPAM: { Driver: 'infoblox' } });
    await attach(before, container('running', Id));
    // kill -9 between a remote IPAM's answer and the network driver's create.
    const cut = {
      id: 'c'.repeat(64),
      name: 'half',
      driver: 'weave',
      options: {},
      labels: {},
      internal: false,
      created: '',
      state: 'creating',
      ipamRequest: {},
      ipamDriver: 'infoblox',
      predefined: false,
      ipv4: { subnet: '10.199.78.0/24', gateway: '10.199.78.1', poolId: 'pool-half' },
    };
    mkdirSync(path.join(dir, 'networks', cut.id));
    await writeJsonAtomic(path.join(dir, 'networks', cut.id, 'network.json'), cut);

    const remote = new RemoteLikeDriver('weave');
    const ipam = new RecordingIpam();
    const after = service(dir, registries(new StandInDiscovery({ network: { weave: remote }, ipam: { infoblox: ipam } })));
    await after.recover();
    await after.sweep((endpoint) => endpoint.containerId === 'running');
    assert.equal(remote.calls.sort(), ['delete half', 'restoreNetwork w']); // in the order the records are listed
    assert.equal(
      ipam.calls.sort(),
      ['releasePool pool-half', 'restoreAddress 10.199.77.254', 'restorePool pool-7', 'restorePool pool-half'].sort(),
    );
    assert.equal(
      after.list().map((n) => n.Name),
      ['w'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a plugin not running when berthd started is found at first use, and given its network and pool back before any call about them', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-network-drivers-');
  try {
    const before = service(
      dir,
      registries(new StandInDiscovery({ network: { weave: new RemoteLikeDriver('weave') }, ipam: { infoblox: new RecordingIpam() } })),
    );
    await before.recover();
    const { Id } = await before.create({ Name: 'w', Driver: 'weave', IPAM: { Driver: 'infoblox' } });

    const remote = new RemoteLikeDriver('weave');
    const ipam = new RecordingIpam();
    const discovery = new StandInDiscovery({ network: { weave: remote }, ipam: { infoblox: ipam } });
    discovery.failing.add('weave').add('infoblox');
    const after = service(dir, registries(discovery));
    await after.recover();
    await after.sweep(() => false);
    assert.equal(remote.calls, []);
    const down = await errorOf(attach(after, container('c1', Id)));
    assert.match(down.message, 'plugin weave is not running');

    discovery.failing.clear();
    const { endpoint } = await attach(after, container('c1', Id));
    assert.is(endpoint.ipAddress, '10.199.77.254');
    assert.equal(remote.calls, ['restoreNetwork w', 'attach 10.199.77.254']);
    assert.equal(ipam.calls, ['restorePool pool-7']);
    await after.detach('c1');
    await after.remove('w');
    assert.equal(ipam.calls.slice(1), ['releaseAddress 10.199.77.254', 'releasePool pool-7']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
