import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  type EndpointSpec,
  EventBus,
  isBerthError,
  type NetworkDriver,
  type NetworkSpec,
  parseIpv4Prefix,
  writeJsonAtomic,
} from '@berth/core';
import { errorOf } from '@berth/testkit';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ContainerRecord } from '../src/containers/container-record.js';
import { DefaultIpam } from '../src/networks/default-ipam.js';
import { matchesNetworkFilters } from '../src/networks/network-filters.js';
import type { NetworkRecord } from '../src/networks/network-record.js';
import type { NetworkService } from '../src/networks/network-service.js';
import { networkRegistries, networkService, networkTestConfig } from './support/network-service.js';

const config = (dataRoot: string, pools?: Array<{ base: string; size: number }>) => networkTestConfig(dataRoot, { pools });

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
  /** `interface address default-route` of each attach, in order. */
  readonly attached: string[] = [];
  readonly routed: string[] = [];
  async attach(endpoint: EndpointSpec) {
    this.calls.push(`attach ${endpoint.ipAddress}`);
    this.attached.push(`${endpoint.interfaceName} ${endpoint.ipAddress} ${endpoint.defaultRoute ? 'route' : '-'}`);
    return { ipAddress: endpoint.ipAddress, macAddress: '02:42:00:00:00:01', interfaceName: endpoint.interfaceName };
  }
  async routeDefault(endpoint: EndpointSpec) {
    this.routed.push(`${endpoint.interfaceName} via ${endpoint.gateway}`);
  }
  async detach(endpoint: EndpointSpec) {
    this.calls.push(`detach ${endpoint.ipAddress}`);
  }
}

/** A NetworkService over a fresh store: `driver` as bridge, other drivers by their names, and an event bus (a new one unless given). */
function service(dataRoot: string, driver: RecordingDriver, ...rest: Array<RecordingDriver | EventBus>): NetworkService {
  const more = rest.filter((r): r is RecordingDriver => r instanceof RecordingDriver);
  const events = rest.find((r): r is EventBus => r instanceof EventBus) ?? new EventBus();
  return networkService(config(dataRoot), networkRegistries(config(dataRoot), driver, more), { events });
}

const container = (id: string, networkMode = 'default', more: string[] = []) =>
  ({
    id,
    name: id,
    networkMode,
    networks: [networkMode, ...more].map((network) => ({ network })),
    config: {},
    hostConfig: {},
  }) as unknown as ContainerRecord;
const attach = async (networks: NetworkService, record: ContainerRecord) => ({ endpoint: (await networks.attachAll(record, 1))[0]! });

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
    const { endpoint } = await attach(networks, container('c1', 'app'));
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
    await attach(before, container('running'));
    const { endpoint: stale } = await attach(before, container('stopped', 'kept'));
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
    await after.sweep((endpoint) => endpoint.containerId === 'running');
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
    const { endpoint } = await attach(after, container('next', keptId));
    assert.is(endpoint.ipAddress, stale.ipAddress);
    const { endpoint: onBridge } = await attach(after, container('next2'));
    assert.is(onBridge.ipAddress, '10.199.0.3');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A RecordingDriver whose detach waits until the test opens its gate: a veth deletion the kernel takes its time over. */
class GatedDriver extends RecordingDriver {
  private open: () => void = () => {};
  private gate = Promise.resolve();
  override async detach(endpoint: EndpointSpec) {
    this.calls.push(`detach ${endpoint.ipAddress}`);
    await this.gate;
    this.calls.push(`detached ${endpoint.ipAddress}`);
  }
  /** Detaches wait from now on, until `release`. */
  hold(): void {
    this.gate = new Promise<void>((resolve) => {
      this.open = resolve;
    });
  }
  release(): void {
    this.open();
  }
}

/** Whether a promise settles within a few turns of the event loop (the file system's included). */
async function settlesSoon(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  return done;
}

test("networks: a removed container's endpoint is released in the background; its record stays until the driver detached; attach, network rm and shutdown wait for it", async () => {
  const dir = mkdtempSync('/tmp/berth-unit-networks-');
  try {
    const driver = new GatedDriver('bridge');
    const events = new EventBus();
    const seen: string[] = [];
    events.on('event', (e) => seen.push(`${e.action} ${e.attributes.container}`));
    const networks = service(dir, driver, events);
    await networks.recover();
    const { Id } = await networks.create({ Name: 'app', IPAM: { Config: [{ Subnet: '10.199.2.0/24' }] } });
    await attach(networks, container('c1', 'app'));
    const record = path.join(dir, 'networks', Id, 'endpoints', 'c1.json');

    driver.hold();
    networks.detachLater('c1');
    assert.ok(seen.includes('disconnect c1'), 'disconnect is published at once, before the removal is reported');
    assert.equal(networks.inspect('app').Containers, {}, 'inspect no longer shows the endpoint');
    // The driver is looked up (possibly discovered) before its detach: a few turns later.
    for (let i = 0; i < 50 && !driver.calls.includes('detach 10.199.2.2'); i++) await new Promise((r) => setTimeout(r, 2));
    assert.ok(driver.calls.includes('detach 10.199.2.2'), 'the driver is asked to detach');
    assert.ok(existsSync(record), 'the record stays while the driver detaches: recovery would finish it');
    const next = attach(networks, container('c2', 'app'));
    const shutdown = networks.releasesSettled();
    assert.not.ok(await settlesSoon(next), 'an address on the network waits for the release under way');
    assert.not.ok(await settlesSoon(shutdown), 'so does shutdown');
    driver.release();
    await shutdown;
    assert.not.ok(existsSync(record), 'the record goes once the driver detached');
    const { endpoint } = await next;
    assert.is(endpoint.ipAddress, '10.199.2.2', 'the released address comes back');

    driver.hold();
    networks.detachLater('c2');
    const removal = networks.remove('app');
    assert.not.ok(await settlesSoon(removal), 'removing the network waits for the release under way');
    driver.release();
    await removal;
    assert.equal(driver.calls.slice(-3), ['detach 10.199.2.2', 'detached 10.199.2.2', 'delete app']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('networks: a release cut short by a crash is finished at the next start', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-networks-');
  try {
    const before = new GatedDriver('bridge');
    const first = service(dir, before);
    await first.recover();
    await attach(first, container('gone'));
    before.hold();
    first.detachLater('gone'); // never finishes: the daemon dies while the kernel works

    const driver = new RecordingDriver('bridge');
    const after = service(dir, driver);
    await after.recover();
    await after.sweep(() => false);
    assert.ok(driver.calls.includes('detach 10.199.0.2'), 'the sweep detached the endpoint of the container that is gone');
    assert.equal(after.inspect('bridge').Containers, {});
    const { endpoint } = await attach(after, container('new'));
    assert.is(endpoint.ipAddress, '10.199.0.2');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('several networks: attached in order as eth0, eth1, …; the default route by GwPriority; connect and disconnect while running; refused mixes', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-networks-');
  try {
    const driver = new RecordingDriver('bridge');
    const networks = service(dir, driver);
    await networks.recover();
    await networks.create({ Name: 'a', IPAM: { Config: [{ Subnet: '10.199.2.0/24' }] } });
    await networks.create({ Name: 'b', IPAM: { Config: [{ Subnet: '10.199.3.0/24' }] } });
    await networks.create({ Name: 'c', Internal: true, IPAM: { Config: [{ Subnet: '10.199.1.0/24' }] } });
    // An internal network first has no way out: the route goes through the next one.
    const first = container('x', 'c', ['a', 'b']);
    const endpoints = await networks.attachAll(first, 1);
    assert.equal(driver.attached, ['eth0 10.199.1.2 -', 'eth1 10.199.2.2 route', 'eth2 10.199.3.2 -']);
    assert.equal(
      endpoints.map((e) => e.interfaceName),
      ['eth0', 'eth1', 'eth2'],
    );
    await networks.detach('x');
    // GwPriority beats the order; a network named twice counts once.
    driver.attached.length = 0;
    const second = container('y', 'a', ['b', 'default', 'a']);
    second.networks[1]!.gwPriority = 3;
    await networks.attachAll(second, 1);
    assert.equal(driver.attached, ['eth0 10.199.2.2 -', 'eth1 10.199.3.2 route', 'eth2 10.199.0.2 -']);
    // Connected while running: the next index; disconnecting the routed network moves the route.
    await networks.disconnectRunning('y', networks.resolveMode('b').id, 1);
    assert.equal(driver.routed, ['eth0 via 10.199.2.1']);
    const again = await networks.connectRunning(second, { network: 'b' }, 1);
    assert.is(again.interfaceName, 'eth3');
    assert.is(again.defaultRoute, false);
    const twice = await errorOf(networks.connectRunning(second, { network: 'b' }, 1));
    assert.ok(isBerthError(twice, 'Forbidden'));
    assert.is(twice.message, 'endpoint with name y already exists in network b');
    await networks.detach('y');
    assert.equal(networks.endpointsOf('y'), []);
    // Docker's refusals of a mix with `none` or the host's namespace, before anything is made.
    const none = new RecordingDriver('none');
    Object.assign(none, { usesIpam: false });
    mkdirSync(path.join(dir, 'other'));
    const withNone = service(path.join(dir, 'other'), driver, none);
    await withNone.recover();
    const mixed = await errorOf(withNone.attachAll(container('z', 'none', ['bridge']), 1));
    assert.match(mixed.message, 'container cannot be connected to multiple networks with one of the networks in private (none) mode');
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
  // A value with `=` in it: split at the first `=`, as dockerd's MatchKVList.
  assert.ok(matchesNetworkFilters({ ...record, labels: { eq: 'a=b' } } as NetworkRecord, { label: ['eq=a=b'] }));
  assert.ok(matchesNetworkFilters(record, { until: ['2021-01-01T00:00:00Z'] }, true));
  assert.not.ok(matchesNetworkFilters(record, { until: ['2019-01-01T00:00:00Z'] }, true));
  assert.throws(() => matchesNetworkFilters(record, { until: ['1h'] }), /invalid filter 'until'/);
  assert.throws(() => matchesNetworkFilters(record, { colour: ['x'] }), /invalid filter 'colour'/);
});

test.run();
