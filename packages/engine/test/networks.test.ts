import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  DriverMap,
  type EndpointSpec,
  EventBus,
  isBerthError,
  type NetworkDriver,
  type NetworkSpec,
  parseIpv4Prefix,
  silentLogger,
  writeJsonAtomic,
} from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ResolvedEngineConfig } from '../src/config.js';
import type { ContainerRecord } from '../src/containers/container-record.js';
import { DefaultIpam } from '../src/networks/default-ipam.js';
import { HostPortAllocator } from '../src/networks/host-ports.js';
import { matchesNetworkFilters } from '../src/networks/network-filters.js';
import type { NetworkRecord } from '../src/networks/network-record.js';
import { NetworkService } from '../src/networks/network-service.js';
import { NetworkStore } from '../src/networks/network-store.js';

const config = (dataRoot: string, pools = [{ base: '10.199.0.0/22', size: 24 }]) =>
  ({ dataRoot, defaultAddressPools: pools, defaultBridge: { name: 'bunitx' } }) as unknown as ResolvedEngineConfig;

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

test('IPAM: pools skip what the host routes and what other networks hold; a requested subnet may not overlap', async () => {
  const ipam = new DefaultIpam(config('/nonexistent'));
  ipam.routes = () => [parseIpv4Prefix('10.199.0.0/24')];
  assert.equal(await ipam.requestPool('a', {}), { subnet: '10.199.1.0/24', gateway: '10.199.1.1' });
  assert.equal(await ipam.requestPool('b', {}), { subnet: '10.199.2.0/24', gateway: '10.199.2.1' });
  const overlap = await errorOf(ipam.requestPool('c', { subnet: '10.199.2.0/23' }));
  assert.ok(isBerthError(overlap, 'Conflict'), String(overlap));
  assert.match(overlap.message, '10.199.2.0/23 overlaps 10.199.2.0/24');
  assert.ok(isBerthError(await errorOf(ipam.requestPool('d', { subnet: '10.5.0.0/24', gateway: '10.6.0.1' })), 'InvalidArgument'));
  assert.ok(isBerthError(await errorOf(ipam.requestPool('e', { subnet: '10.5.0.0/24', ipRange: '10.5.1.0/25' })), 'InvalidArgument'));
  assert.ok(isBerthError(await errorOf(ipam.requestPool('f', { gateway: '10.5.0.1' })), 'InvalidArgument'));
  await ipam.requestPool('g', {});
  const full = await errorOf(ipam.requestPool('h', {}));
  assert.match(full.message, /could not find an available, non-overlapping IPv4 address pool/);
  await ipam.releasePool('a');
  assert.equal(await ipam.requestPool('h', {}), { subnet: '10.199.1.0/24', gateway: '10.199.1.1' });
});

test('IPAM: addresses lowest first, never twice, never the gateway, the network or the broadcast address; a released one comes back', async () => {
  const ipam = new DefaultIpam(config('/nonexistent'));
  ipam.routes = () => [];
  await ipam.requestPool('n', { subnet: '10.199.9.0/30', gateway: '10.199.9.2' });
  assert.is(await ipam.requestAddress('n'), '10.199.9.1');
  const exhausted = await errorOf(ipam.requestAddress('n'));
  assert.match(exhausted.message, /no available IPv4 addresses/);
  await ipam.releaseAddress('n', '10.199.9.1');
  assert.is(await ipam.requestAddress('n', '10.199.9.1'), '10.199.9.1');
  const twice = await errorOf(ipam.requestAddress('n', '10.199.9.1'));
  assert.ok(isBerthError(twice, 'Conflict'));
  assert.match(twice.message, 'Address already in use: 10.199.9.1');
  for (const bad of ['10.199.9.0', '10.199.9.3', '10.199.9.2', '10.1.1.1']) {
    assert.ok(isBerthError(await errorOf(ipam.requestAddress('n', bad)), 'InvalidArgument'), bad);
  }
  await ipam.requestPool('r', { subnet: '10.199.10.0/24', ipRange: '10.199.10.64/26' });
  assert.is(await ipam.requestAddress('r'), '10.199.10.64');
  // Restored state (after a restart) keeps what endpoints hold.
  const again = new DefaultIpam(config('/nonexistent'));
  again.restorePool('r', { subnet: '10.199.10.0/24', gateway: '10.199.10.1', ipRange: '10.199.10.64/26' });
  again.restoreAddress('r', '10.199.10.64');
  assert.is(await again.requestAddress('r'), '10.199.10.65');
});

/** A driver that records its calls: this file tests the engine's records and recovery; the bridge's kernel work is tested in its package. */
class RecordingDriver implements NetworkDriver {
  readonly namespaceMode = 'private' as const;
  readonly usesIpam = true;
  readonly calls: string[] = [];
  restored: EndpointSpec[] = [];
  constructor(readonly name: string) {}
  async createNetwork(spec: NetworkSpec) {
    this.calls.push(`create ${spec.name}`);
  }
  async deleteNetwork(spec: NetworkSpec) {
    this.calls.push(`delete ${spec.name}`);
  }
  async restore(endpoints: EndpointSpec[]) {
    this.restored = endpoints;
  }
  async attach(endpoint: EndpointSpec) {
    this.calls.push(`attach ${endpoint.ipAddress}`);
    return { ipAddress: endpoint.ipAddress, macAddress: '02:42:00:00:00:01' };
  }
  async detach(endpoint: EndpointSpec) {
    this.calls.push(`detach ${endpoint.ipAddress}`);
  }
}

function service(dataRoot: string, driver: RecordingDriver): NetworkService {
  const drivers = new DriverMap<NetworkDriver>('network');
  drivers.add('bridge', driver);
  const ipam = new DefaultIpam(config(dataRoot));
  ipam.routes = () => [];
  return new NetworkService(
    new NetworkStore(config(dataRoot)),
    ipam,
    drivers,
    config(dataRoot),
    { nameOf: () => 'c' },
    new EventBus(),
    silentLogger,
    new HostPortAllocator(silentLogger),
  );
}

const container = (id: string, networkMode = 'default') =>
  ({ id, name: id, networkMode, config: {}, hostConfig: {} }) as unknown as ContainerRecord;

test('networks: the default bridge at start, create/inspect/remove, 409 while in use, 403 for a predefined one', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-networks-');
  try {
    const driver = new RecordingDriver('bridge');
    const networks = service(dir, driver);
    await networks.recover();
    const bridge = networks.inspect('bridge');
    assert.equal(bridge.IPAM.Config, [{ Subnet: '10.199.0.0/24', Gateway: '10.199.0.1' }]);
    assert.is(bridge.Options['com.docker.network.bridge.name'], 'bunitx');
    const { Id } = await networks.create({ Name: 'app', IPAM: { Config: [{ Subnet: '10.199.2.0/24' }] }, Labels: { a: 'b' } });
    assert.is(networks.inspect(Id.slice(0, 6)).Name, 'app');
    const dup = await errorOf(networks.create({ Name: 'app' }));
    assert.ok(isBerthError(dup, 'Conflict'));
    const { endpoint } = await networks.attach(container('c1', 'app'), 1);
    assert.is(endpoint.ipAddress, '10.199.2.2');
    assert.is(endpoint.gateway, '10.199.2.1');
    const inUse = await errorOf(networks.remove('app'));
    assert.ok(isBerthError(inUse, 'Conflict'));
    assert.match(inUse.message, /has active endpoints/);
    assert.ok(isBerthError(await errorOf(networks.remove('bridge')), 'Forbidden'));
    await networks.detach('c1');
    await networks.remove('app');
    assert.equal(driver.calls, ['create bridge', 'create app', 'attach 10.199.2.2', 'detach 10.199.2.2', 'delete app']);
    assert.ok(isBerthError(await errorOf(Promise.resolve().then(() => networks.inspect('app'))), 'NotFound'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('networks: after a crash a half-created network is undone, a half-removed one finished, endpoints of stopped containers released, the rest restored', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-networks-');
  try {
    const first = new RecordingDriver('bridge');
    const before = service(dir, first);
    await before.recover();
    const { Id: keptId } = await before.create({ Name: 'kept', IPAM: { Config: [{ Subnet: '10.199.2.0/24' }] } });
    await before.attach(container('running'), 1);
    const { endpoint: stale } = await before.attach(container('stopped', 'kept'), 1);
    // What kill -9 in the middle of a create and of a remove leaves: records written ahead.
    const root = path.join(dir, 'networks');
    const half = {
      id: 'a'.repeat(64),
      name: 'half',
      driver: 'bridge',
      options: {},
      labels: {},
      internal: false,
      created: '',
      state: 'creating',
      ipamRequest: {},
      predefined: false,
      ipv4: { subnet: '10.199.3.0/24', gateway: '10.199.3.1' },
    };
    // An atomic write cut short: its temporary file, which start-up deletes.
    const cutShort = path.join(root, keptId, 'endpoints', '.stopped.json.abcdef012345.tmp');
    writeFileSync(cutShort, JSON.stringify(stale));
    mkdirSync(path.join(root, half.id));
    mkdirSync(path.join(root, 'b'.repeat(64)));
    await writeJsonAtomic(path.join(root, half.id, 'network.json'), half);
    await writeJsonAtomic(path.join(root, 'b'.repeat(64), 'network.json'), {
      ...half,
      id: 'b'.repeat(64),
      name: 'going',
      state: 'removing',
    });

    const driver = new RecordingDriver('bridge');
    const after = service(dir, driver);
    await after.recover();
    await after.sweep((id) => id === 'running');
    assert.equal(
      after
        .list()
        .map((n) => n.Name)
        .sort(),
      ['bridge', 'kept'],
    );
    assert.ok(driver.calls.includes('delete half'));
    assert.ok(driver.calls.includes('delete going'));
    assert.ok(driver.calls.includes(`detach ${stale.ipAddress}`));
    assert.equal(
      driver.restored.map((e) => e.containerId),
      ['running'],
    );
    assert.not.ok(existsSync(cutShort), 'the temporary file of a cut-short write is deleted at start');
    // The released address is handed out again; the running container's is not.
    const { endpoint } = await after.attach(container('next', keptId), 1);
    assert.is(endpoint.ipAddress, stale.ipAddress);
    const { endpoint: onBridge } = await after.attach(container('next2'), 1);
    assert.is(onBridge.ipAddress, '10.199.0.3');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("network filters: Docker's keys, and a clear error for the others", () => {
  const record = {
    id: 'abc123',
    name: 'web-net',
    driver: 'bridge',
    labels: { team: 'blue' },
    predefined: false,
    created: '2020-01-01T00:00:00Z',
  } as unknown as NetworkRecord;
  assert.ok(matchesNetworkFilters(record, { name: ['web'], id: ['abc'], driver: ['bridge'], type: ['custom'], label: ['team=blue'] }));
  assert.not.ok(matchesNetworkFilters(record, { type: ['builtin'] }));
  assert.not.ok(matchesNetworkFilters(record, { 'label!': ['team'] }));
  assert.not.ok(matchesNetworkFilters(record, { label: ['team=red'] }));
  assert.ok(matchesNetworkFilters(record, { until: ['2021-01-01T00:00:00Z'] }, true));
  assert.not.ok(matchesNetworkFilters(record, { until: ['2019-01-01T00:00:00Z'] }, true));
  assert.throws(() => matchesNetworkFilters(record, { until: ['1h'] }), /invalid filter 'until'/);
  assert.throws(() => matchesNetworkFilters(record, { colour: ['x'] }), /invalid filter 'colour'/);
});

test.run();
