import * as dgram from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { type EndpointSpec, isBerthError, type NetworkDriver, type NetworkSpec, silentLogger } from '@berth/core';
import { errorOf } from '@berth/testkit';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ContainerRecord } from '../src/containers/container-record.js';
import { HostPortAllocator } from '../src/networks/host-ports.js';
import type { NetworkService } from '../src/networks/network-service.js';
import { exposedPortKeys, portMap, portRequests, portSummary } from '../src/networks/port-requests.js';
import { networkRegistries, networkService, networkTestConfig } from './support/network-service.js';

test('port requests: PortBindings and -P as dockerd reads them; malformed entries are refused by name', async () => {
  assert.equal(
    portRequests(
      { '80/tcp': {}, '53/udp': {}, '9000/tcp': {} },
      {
        PortBindings: {
          '80/tcp': [
            { HostIp: '', HostPort: '8080' },
            { HostIp: '127.0.0.1', HostPort: '' },
          ],
          '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5300-5310' }],
          '81': [{ HostPort: '0' }],
          '82/tcp': null,
        },
        PublishAllPorts: true,
      },
    ),
    [
      // An integer-like key ("81") comes first in a JavaScript object, as the body was parsed.
      { protocol: 'tcp', containerPort: 81, hostIp: '0.0.0.0', hostPortStart: 0, hostPortEnd: 0 },
      { protocol: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPortStart: 8080, hostPortEnd: 8080 },
      { protocol: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPortStart: 0, hostPortEnd: 0 },
      { protocol: 'udp', containerPort: 53, hostIp: '127.0.0.1', hostPortStart: 5300, hostPortEnd: 5310 },
      // -P: the exposed ports without a binding of their own (82 has a null binding list: exposed, not bound).
      { protocol: 'tcp', containerPort: 82, hostIp: '0.0.0.0', hostPortStart: 0, hostPortEnd: 0 },
      { protocol: 'tcp', containerPort: 9000, hostIp: '0.0.0.0', hostPortStart: 0, hostPortEnd: 0 },
    ],
  );
  assert.equal(portRequests({ '80/tcp': {} }, {}), []);
  for (const [bindings, message] of [
    [{ '0/tcp': [{}] }, 'invalid port "0/tcp"'],
    [{ '70000': [{}] }, 'invalid port "70000"'],
    [{ '80/icmp': [{}] }, 'protocol must be tcp or udp'],
    [{ '80/sctp': [{}] }, 'sctp ports is not supported'],
    [{ '80/tcp': [{ HostPort: '9000-8000' }] }, 'invalid host port "9000-8000" for 80/tcp'],
    [{ '80/tcp': [{ HostPort: 'http' }] }, 'invalid host port "http"'],
    [{ '80/tcp': [{ HostIp: '::1' }] }, 'IPv6 is not supported'],
    [{ '80/tcp': [{ HostIp: '300.1.1.1' }] }, 'invalid host address "300.1.1.1"'],
  ] as const) {
    const err = await errorOf(() => portRequests({}, { PortBindings: bindings as never }));
    assert.ok(isBerthError(err, 'InvalidArgument'), String(err));
    assert.match(err.message, message);
  }
});

test('port views: inspect lists every exposed port (null when not published); ps one entry per binding', () => {
  const keys = exposedPortKeys({ '8080/tcp': {}, '80': {} }, { PortBindings: { '53/udp': [] } });
  assert.equal(keys, ['53/udp', '80/tcp', '8080/tcp']);
  const map = portMap(keys, [
    { protocol: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 32768 },
    { protocol: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPort: 8080 },
  ]);
  assert.equal(map, {
    '53/udp': null,
    '80/tcp': [
      { HostIp: '0.0.0.0', HostPort: '32768' },
      { HostIp: '127.0.0.1', HostPort: '8080' },
    ],
    '8080/tcp': null,
  });
  assert.equal(portSummary(map), [
    { PrivatePort: 53, Type: 'udp' },
    { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 32768, Type: 'tcp' },
    { IP: '127.0.0.1', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
    { PrivatePort: 8080, Type: 'tcp' },
  ]);
});

/** Whether something can listen on 127.0.0.1:port. */
async function canListen(port: number): Promise<boolean> {
  const server = net.createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(true));
  });
  if (ok) await new Promise((resolve) => server.close(resolve));
  return ok;
}

/** Whether a UDP socket can bind 127.0.0.1:`port` now. */
async function canListenUdp(port: number): Promise<boolean> {
  const socket = dgram.createSocket('udp4');
  const ok = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind({ port, address: '127.0.0.1', exclusive: true }, () => resolve(true));
  });
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return ok;
}

test('host ports: ephemeral ones from the host range skip ports in use; a taken port is a Conflict naming it; released ones are free', async () => {
  const ports = new HostPortAllocator(silentLogger);
  const { start, end } = ports.ephemeralRange;
  const held: net.Server[] = [];
  try {
    const [first] = await ports.reserve('a', [
      { protocol: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPortStart: 0, hostPortEnd: 0 },
    ]);
    assert.ok(first!.hostPort >= start && first!.hostPort <= end, String(first!.hostPort));
    assert.not.ok(await canListen(first!.hostPort), 'berth holds what it hands out');
    // A host program takes the next one: the allocator steps over it.
    const next = first!.hostPort + 1 > end ? start : first!.hostPort + 1;
    const other = net.createServer();
    const taken = await new Promise<boolean>((resolve) => {
      other.once('error', () => resolve(false));
      other.listen({ port: next, host: '127.0.0.1' }, () => resolve(true));
    });
    if (taken) held.push(other);
    const [second] = await ports.reserve('b', [
      { protocol: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPortStart: 0, hostPortEnd: 0 },
    ]);
    assert.is.not(second!.hostPort, first!.hostPort);
    if (taken) assert.is.not(second!.hostPort, next);
    // The same port asked for explicitly: berth's own holder is named; a host program's use is said so.
    const mine = await errorOf(
      ports.reserve('c', [
        { protocol: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPortStart: first!.hostPort, hostPortEnd: first!.hostPort },
      ]),
    );
    assert.ok(isBerthError(mine, 'Conflict'), String(mine));
    assert.match(mine.message, `Bind for 0.0.0.0:${first!.hostPort} failed: port is already allocated (to container a)`);
    if (taken) {
      const theirs = await errorOf(
        ports.reserve('c', [{ protocol: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPortStart: next, hostPortEnd: next }]),
      );
      assert.match(theirs.message, `Bind for 127.0.0.1:${next} failed: port is already in use on the host`);
    }
    // All or nothing: the UDP port of a failing call is given back. The port is one whose
    // UDP side no program of the host holds (any UDP client may have the kernel give it an
    // ephemeral port from the same range: a DNS lookup of another test's, for one).
    let shared = first!.hostPort;
    while (!(await canListenUdp(shared)) && shared < end) shared++;
    const [sharedTcp] =
      shared === first!.hostPort
        ? [first!]
        : await ports.reserve('s', [
            { protocol: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPortStart: shared, hostPortEnd: shared },
          ]);
    const udp = {
      protocol: 'udp' as const,
      containerPort: 53,
      hostIp: '127.0.0.1',
      hostPortStart: sharedTcp!.hostPort,
      hostPortEnd: sharedTcp!.hostPort,
    };
    const tcpTaken = {
      protocol: 'tcp' as const,
      containerPort: 80,
      hostIp: '127.0.0.1',
      hostPortStart: sharedTcp!.hostPort,
      hostPortEnd: sharedTcp!.hostPort,
    };
    await errorOf(ports.reserve('d', [udp, tcpTaken]));
    const [udpAgain] = await ports.reserve('e', [udp]);
    assert.is(udpAgain!.hostPort, sharedTcp!.hostPort, 'TCP and UDP are separate ports');
    // A range takes its first free port.
    const [ranged] = await ports.reserve('f', [
      { protocol: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPortStart: first!.hostPort, hostPortEnd: first!.hostPort + 5 },
    ]);
    assert.ok(ranged!.hostPort > first!.hostPort && ranged!.hostPort <= first!.hostPort + 5);
    ports.release([first!, ranged!]);
    assert.ok(await canListen(first!.hostPort), 'released');
    const notHost = await errorOf(
      ports.reserve('g', [{ protocol: 'tcp', containerPort: 80, hostIp: '192.0.2.254', hostPortStart: 0, hostPortEnd: 0 }]),
    );
    // 192.0.2.254 is TEST-NET: not an address of this host unless someone gave it one.
    if (!isBerthError(notHost, 'InvalidArgument')) assert.unreachable(`expected InvalidArgument, got ${notHost}`);
    assert.match(notHost.message, '192.0.2.254 is not an address of the host');
  } finally {
    ports.close();
    for (const s of held) s.close();
  }
});

/** A driver with ports that records its calls. */
class PublishingDriver implements NetworkDriver {
  readonly name = 'bridge';
  readonly namespaceMode = 'private' as const;
  readonly usesIpam = true;
  readonly calls: string[] = [];
  restored: EndpointSpec[] = [];
  failPublish = false;
  async createNetwork(_spec: NetworkSpec) {}
  async deleteNetwork(_spec: NetworkSpec) {}
  async restore(endpoints: EndpointSpec[]) {
    this.restored = endpoints;
  }
  async attach(endpoint: EndpointSpec) {
    this.calls.push('attach');
    return { ipAddress: endpoint.ipAddress };
  }
  async detach() {
    this.calls.push('detach');
  }
  async publish(endpoint: EndpointSpec) {
    this.calls.push(
      `publish ${endpoint.portBindings!.map((p) => `${p.hostIp}:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(',')}`,
    );
    if (this.failPublish) throw new Error('nft failed');
  }
  async revoke() {
    this.calls.push('revoke');
  }
}

function service(dataRoot: string, driver: NetworkDriver, ports: HostPortAllocator): NetworkService {
  const config = networkTestConfig(dataRoot);
  return networkService(config, networkRegistries(config, driver), { ports });
}

test('endpoints: host ports are held and written ahead, published after attach, revoked before detach; a failed publish leaves nothing', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-ports-');
  const ports = new HostPortAllocator(silentLogger);
  try {
    const driver = new PublishingDriver();
    const networks = service(dir, driver, ports);
    await networks.recover();
    const record = {
      id: 'c1',
      name: 'web',
      networkMode: 'default',
      networks: [{ network: 'default' }],
      config: { ExposedPorts: { '80/tcp': {} } },
      hostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
    } as unknown as ContainerRecord;
    const [endpoint] = await networks.attachAll(record, 1);
    const [binding] = endpoint!.portBindings!;
    assert.equal(driver.calls, ['attach', `publish 127.0.0.1:${binding!.hostPort}->80/tcp`]);
    const bridge = networks.inspect('bridge').Id;
    const onDisk = JSON.parse(readFileSync(path.join(dir, 'networks', bridge, 'endpoints', 'c1.json'), 'utf8'));
    assert.equal(onDisk.portBindings, endpoint!.portBindings);
    assert.not.ok(await canListen(binding!.hostPort));

    // After a restart the bindings come back to the driver and are held again.
    const again = new HostPortAllocator(silentLogger);
    ports.close();
    try {
      const restarted = service(dir, driver, again);
      await restarted.recover();
      await restarted.sweep(() => true);
      assert.equal(driver.restored[0]?.portBindings, endpoint!.portBindings);
      assert.not.ok(await canListen(binding!.hostPort), 'held again after the restart');
      driver.calls.length = 0;
      await restarted.detach('c1');
      assert.equal(driver.calls, ['revoke', 'detach']);
      assert.ok(await canListen(binding!.hostPort), 'released with the endpoint');

      driver.failPublish = true;
      driver.calls.length = 0;
      const err = await errorOf(restarted.attachAll({ ...record, id: 'c2' } as ContainerRecord, 1));
      assert.match(err.message, 'nft failed');
      assert.equal(driver.calls.slice(-2), ['revoke', 'detach']);
      assert.equal(readdirSync(path.join(dir, 'networks', bridge, 'endpoints')), []);
      assert.equal(restarted.endpointsOf('c2'), []);

      // An internal network has no way in: nothing is held or published there, as dockerd.
      driver.failPublish = false;
      driver.calls.length = 0;
      await restarted.create({ Name: 'inner', Internal: true });
      const [inner] = await restarted.attachAll(
        { ...record, id: 'c3', networkMode: 'inner', networks: [{ network: 'inner' }] } as ContainerRecord,
        1,
      );
      assert.is(inner!.portBindings, undefined);
      assert.equal(driver.calls, ['attach']);
      await restarted.detach('c3');
    } finally {
      again.close();
    }
  } finally {
    ports.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
