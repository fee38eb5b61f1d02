import * as assert from 'uvu/assert';
import { daemonSuite, type TestDaemon } from './harness';
import { networkObjects, poolSubnet } from './network-isolation';

/**
 * `network connect`/`disconnect` of running and stopped containers, several networks per
 * container, and `--network container:<id>`, through the real docker CLI and berth's own,
 * in real network namespaces (addresses in the daemon's own /21 of 10.199.0.0/16).
 */
const test = daemonSuite('network connect', 'overlay');

const host = (cidr: string, n: number) => cidr.replace(/0\/24$/, String(n));

async function fails(daemon: TestDaemon, args: string[], message: RegExp): Promise<void> {
  const r = await daemon.docker(args);
  assert.is.not(r.code, 0, `docker ${args.join(' ')} should fail`);
  assert.ok(message.test(r.stderr), `docker ${args.join(' ')}: ${r.stderr}`);
}

/** `ip -o -4 addr` inside a container: `ifname address/len` lines. */
async function addresses(daemon: TestDaemon, container: string): Promise<string[]> {
  const out = await daemon.ok(['exec', container, 'ip', '-o', '-4', 'addr', 'show']);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((w) => w[1] !== 'lo')
    .map((w) => `${w[1]} ${w[3]}`);
}

/**
 * Whether `from` gets an answer from `address` within 3 s: an ARP request sent before a
 * fresh veth forwards is lost, and the kernel's next one comes a second later.
 */
async function pings(daemon: TestDaemon, from: string, address: string): Promise<boolean> {
  return (await daemon.docker(['exec', from, 'ping', '-c', '1', '-w', '3', address])).code === 0;
}

/** Whether one ping from `from` to `address` is answered within a second (for what must not answer). */
async function pingsOnce(daemon: TestDaemon, from: string, address: string): Promise<boolean> {
  return (await daemon.docker(['exec', from, 'ping', '-c', '1', '-W', '1', address])).code === 0;
}

/** The default route inside a container (busybox's `ip route` has no selector). */
async function defaultRoute(daemon: TestDaemon, container: string): Promise<string> {
  const routes = await daemon.ok(['exec', container, 'ip', 'route']);
  return routes
    .split('\n')
    .filter((l) => l.startsWith('default'))
    .join('\n');
}

/** Veths and bridges of this daemon besides its default bridge. */
function extraLinks(daemon: TestDaemon): string[] {
  return networkObjects(daemon.network).filter((l) => l !== daemon.network.bridge);
}

test('connect a running container: eth1 with its address, /etc/hosts, ping across; disconnect takes it away; dockerd errors and events', async ({
  daemon,
}) => {
  const a = poolSubnet(daemon.network, 1);
  const b = poolSubnet(daemon.network, 2);
  const since = Math.floor(Date.now() / 1000) - 1;
  await daemon.ok(['network', 'create', '--subnet', a, 'cna']);
  await daemon.ok(['network', 'create', '--subnet', b, 'cnb']);
  try {
    await daemon.ok(['run', '-d', '--name', 'c1', '--network', 'cna', 'busybox', 'sleep', '60']);
    await daemon.ok(['run', '-d', '--name', 'c2', '--network', 'cnb', 'busybox', 'sleep', '60']);
    const c2 = host(b, 2);
    assert.not.ok(await pingsOnce(daemon, 'c1', c2), 'networks are isolated before the connect');

    await daemon.ok(['network', 'connect', '--ip', host(b, 9), '--alias', 'one', 'cnb', 'c1']);
    assert.equal(await addresses(daemon, 'c1'), [`eth0 ${host(a, 2)}/24`, `eth1 ${host(b, 9)}/24`]);
    assert.ok(await pings(daemon, 'c1', c2), 'c1 reaches c2 through eth1');
    const hosts = await daemon.ok(['exec', 'c1', 'cat', '/etc/hosts']);
    assert.match(hosts, new RegExp(`${host(a, 2)}\\t\\w+`));
    assert.match(hosts, new RegExp(`${host(b, 9)}\\t\\w+`));
    // The default route stays with the first network.
    assert.match(await defaultRoute(daemon, 'c1'), new RegExp(`via ${host(a, 1)} dev eth0`));
    const networks = JSON.parse(await daemon.ok(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'c1']));
    assert.equal(Object.keys(networks).sort(), ['cna', 'cnb']);
    assert.is(networks.cnb.IPAddress, host(b, 9));
    assert.ok(networks.cnb.Aliases.includes('one'), JSON.stringify(networks.cnb));
    const onB = JSON.parse(await daemon.ok(['network', 'inspect', '-f', '{{json .Containers}}', 'cnb']));
    assert.equal(
      Object.values(onB)
        .map((c) => (c as { Name: string }).Name)
        .sort(),
      ['c1', 'c2'],
    );

    // Connected already: dockerd's 403 and message; the berth CLI says the same.
    await fails(daemon, ['network', 'connect', 'cnb', 'c1'], /endpoint with name c1 already exists in network cnb/);
    const again = await daemon.request('POST', '/v1.41/networks/cnb/connect', JSON.stringify({ Container: 'c1' }), {
      'Content-Type': 'application/json',
    });
    assert.is(again.status, 403);
    await fails(daemon, ['network', 'connect', 'nosuch', 'c1'], /network nosuch not found/);
    await fails(daemon, ['network', 'disconnect', 'bridge', 'c1'], /is not connected to network bridge/);

    await daemon.ok(['network', 'disconnect', 'cnb', 'c1'], 'berth');
    assert.equal(await addresses(daemon, 'c1'), [`eth0 ${host(a, 2)}/24`]);
    assert.not.ok(await pingsOnce(daemon, 'c1', c2), 'isolated again after the disconnect');
    assert.not.match(await daemon.ok(['exec', 'c1', 'cat', '/etc/hosts']), new RegExp(host(b, 9)));
    assert.equal(Object.keys(JSON.parse(await daemon.ok(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'c1']))), ['cna']);
    // A connect while it runs uses the next interface index, as dockerd's sandbox.
    await daemon.ok(['network', 'connect', 'cnb', 'c1'], 'berth');
    assert.equal(
      (await addresses(daemon, 'c1')).map((l) => l.split(' ')[0]),
      ['eth0', 'eth2'],
    );
    // The first network leaves: the default route moves to the one that is left.
    await daemon.ok(['network', 'disconnect', 'cna', 'c1']);
    assert.match(await defaultRoute(daemon, 'c1'), new RegExp(`via ${host(b, 1)} dev eth2`));
    assert.ok(await pings(daemon, 'c1', c2));
    await daemon.ok(['network', 'connect', 'cna', 'c1']);
    await daemon.ok(['network', 'disconnect', 'cnb', 'c1']);

    const until = Math.floor(Date.now() / 1000) + 1;
    const events = await daemon.ok([
      'events',
      '--since',
      String(since),
      '--until',
      String(until),
      '--filter',
      'type=network',
      '--filter',
      'network=cnb',
      '--format',
      '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.type}}',
    ]);
    const c1 = await daemon.ok(['inspect', '-f', '{{.Id}}', 'c1']);
    const all = await daemon.ok([
      'events',
      '--since',
      String(since),
      '--until',
      String(until),
      '--filter',
      'type=network',
      '--format',
      '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.container}}',
    ]);
    const mine = all
      .split('\n')
      .filter((l) => l.endsWith(` ${c1}`) && !l.startsWith('create') && !l.startsWith('destroy'))
      .map((l) => l.slice(0, -c1.length - 1));
    assert.ok(events.includes('connect cnb bridge'), events);
    assert.equal(mine, ['connect cna', 'connect cnb', 'disconnect cnb', 'connect cnb', 'disconnect cna', 'connect cna', 'disconnect cnb']);
  } finally {
    await daemon.docker(['rm', '-f', 'c1', 'c2']);
    await daemon.docker(['network', 'rm', 'cna', 'cnb']);
  }
  assert.equal(extraLinks(daemon), []);
});

test('a created container: connected networks are recorded and joined at start in order (eth0, eth1); several at create through the API; removal detaches all', async ({
  daemon,
}) => {
  const a = poolSubnet(daemon.network, 3);
  const b = poolSubnet(daemon.network, 4);
  await daemon.ok(['network', 'create', '--subnet', a, 'sta']);
  await daemon.ok(['network', 'create', '--subnet', b, 'stb']);
  try {
    await daemon.ok(['create', '--name', 's1', '--network', 'sta', 'busybox', 'sleep', '60']);
    await daemon.ok(['network', 'connect', 'stb', 's1']);
    await daemon.ok(['network', 'connect', 'stb', 's1']); // dockerd: a stopped container's second connect changes nothing
    let networks = JSON.parse(await daemon.ok(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 's1']));
    assert.equal(Object.keys(networks), ['sta', 'stb']);
    assert.is(networks.stb.IPAddress, '');
    await daemon.ok(['start', 's1']);
    assert.equal(await addresses(daemon, 's1'), [`eth0 ${host(a, 2)}/24`, `eth1 ${host(b, 2)}/24`]);
    assert.match(await defaultRoute(daemon, 's1'), new RegExp(`via ${host(a, 1)} dev eth0`));
    await daemon.ok(['stop', '-t', '0', 's1']);
    await daemon.ok(['network', 'disconnect', 'sta', 's1']);
    await fails(daemon, ['network', 'disconnect', 'sta', 's1'], /is not connected to the network sta/);
    await daemon.ok(['start', 's1']);
    assert.equal(await addresses(daemon, 's1'), [`eth0 ${host(b, 2)}/24`]);

    // Several networks at create (API 1.44's body): joined in the request's order; GwPriority picks the default route.
    const body = {
      Image: 'busybox',
      Cmd: ['sleep', '60'],
      HostConfig: { NetworkMode: 'sta' },
      NetworkingConfig: { EndpointsConfig: { sta: {}, stb: { GwPriority: 10, IPAMConfig: { IPv4Address: host(b, 20) } } } },
    };
    const created = await daemon.request('POST', '/v1.41/containers/create?name=s2', JSON.stringify(body), {
      'Content-Type': 'application/json',
    });
    assert.is(created.status, 201, created.body);
    await daemon.ok(['start', 's2']);
    assert.equal(await addresses(daemon, 's2'), [`eth0 ${host(a, 2)}/24`, `eth1 ${host(b, 20)}/24`]);
    assert.match(await defaultRoute(daemon, 's2'), new RegExp(`via ${host(b, 1)} dev eth1`));
    networks = JSON.parse(await daemon.ok(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 's2']));
    assert.equal(Object.keys(networks), ['sta', 'stb']);
    assert.ok(await pings(daemon, 's2', host(b, 2)), 's2 reaches s1 on stb');
    // berth's CLI takes several --network, as the docker CLI at API 1.44.
    await daemon.ok(['run', '-d', '--name', 's3', '--network', 'stb', '--network', 'sta', 'busybox', 'sleep', '60'], 'berth');
    assert.equal(await addresses(daemon, 's3'), [`eth0 ${host(b, 3)}/24`, `eth1 ${host(a, 3)}/24`]);
    await daemon.ok(['rm', '-f', 's1', 's2', 's3']);
    assert.equal(JSON.parse(await daemon.ok(['network', 'inspect', '-f', '{{json .Containers}}', 'stb'])), {});
    await daemon.ok(['network', 'rm', 'sta', 'stb']);
  } finally {
    await daemon.docker(['rm', '-f', 's1', 's2', 's3']);
    await daemon.docker(['network', 'rm', 'sta', 'stb']);
  }
  assert.equal(extraLinks(daemon), []);
});

test('none and host containers cannot be connected; an internal and an external network mix, the route out through the external one', async ({
  daemon,
}) => {
  const internal = poolSubnet(daemon.network, 5);
  const external = poolSubnet(daemon.network, 6);
  await daemon.ok(['network', 'create', '--internal', '--subnet', internal, 'mixin']);
  await daemon.ok(['network', 'create', '--subnet', external, 'mixout']);
  try {
    await daemon.ok(['run', '-d', '--name', 'n1', '--network', 'none', 'busybox', 'sleep', '60']);
    await fails(
      daemon,
      ['network', 'connect', 'mixout', 'n1'],
      /container cannot be connected to multiple networks with one of the networks in private \(none\) mode/,
    );
    await daemon.ok(['run', '-d', '--name', 'h1', '--network', 'host', 'busybox', 'sleep', '60']);
    await fails(
      daemon,
      ['network', 'connect', 'mixout', 'h1'],
      /container sharing network namespace with another container or host cannot be connected to any other network/,
    );
    await fails(
      daemon,
      ['network', 'connect', 'host', 'n1'],
      /cannot connect container to host network - container must be created in host network mode/,
    );

    await daemon.ok(['run', '-d', '--name', 'm1', '--network', 'mixin', 'busybox', 'sleep', '60']);
    assert.is(await defaultRoute(daemon, 'm1'), '');
    await daemon.ok(['network', 'connect', 'mixout', 'm1']);
    assert.equal(await addresses(daemon, 'm1'), [`eth0 ${host(internal, 2)}/24`, `eth1 ${host(external, 2)}/24`]);
    assert.match(await defaultRoute(daemon, 'm1'), new RegExp(`via ${host(external, 1)} dev eth1`));

    // A network of a higher GwPriority takes the default route over; when it goes, the route comes back.
    const preferred = poolSubnet(daemon.network, 7);
    await daemon.ok(['network', 'create', '--subnet', preferred, 'mixhi']);
    await daemon.ok(['network', 'connect', '--gw-priority', '5', 'mixhi', 'm1'], 'berth');
    assert.match(await defaultRoute(daemon, 'm1'), new RegExp(`via ${host(preferred, 1)} dev eth2`));
    await daemon.ok(['network', 'disconnect', 'mixhi', 'm1']);
    assert.match(await defaultRoute(daemon, 'm1'), new RegExp(`via ${host(external, 1)} dev eth1`));
    // The network with the route leaves: none is left with a way out.
    await daemon.ok(['network', 'disconnect', 'mixout', 'm1']);
    assert.is(await defaultRoute(daemon, 'm1'), '');
  } finally {
    await daemon.docker(['rm', '-f', 'n1', 'h1', 'm1']);
    await daemon.docker(['network', 'rm', 'mixin', 'mixout', 'mixhi']);
  }
  assert.equal(extraLinks(daemon), []);
});

test('a container on two networks keeps both across a berthd kill -9; the next connect takes the next interface, a disconnect still moves the route', async ({
  daemon,
}) => {
  const a = poolSubnet(daemon.network, 1);
  const b = poolSubnet(daemon.network, 2);
  await daemon.ok(['network', 'create', '--subnet', a, 'kra']);
  await daemon.ok(['network', 'create', '--subnet', b, 'krb']);
  try {
    await daemon.ok(['run', '-d', '--name', 'k1', '--network', 'kra', 'busybox', 'sleep', '60']);
    await daemon.ok(['network', 'connect', 'krb', 'k1']);
    await daemon.kill('SIGKILL');
    await daemon.start();
    assert.equal(await addresses(daemon, 'k1'), [`eth0 ${host(a, 2)}/24`, `eth1 ${host(b, 2)}/24`]);
    const networks = JSON.parse(await daemon.ok(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'k1']));
    assert.equal([networks.kra.IPAddress, networks.krb.IPAddress], [host(a, 2), host(b, 2)]);
    // The addresses stay taken: a new container gets the next ones.
    await daemon.ok(['run', '-d', '--name', 'k2', '--network', 'krb', 'busybox', 'sleep', '60']);
    assert.equal(await addresses(daemon, 'k2'), [`eth0 ${host(b, 3)}/24`]);
    await daemon.ok(['network', 'disconnect', 'krb', 'k1']);
    await daemon.ok(['network', 'connect', 'krb', 'k1']);
    assert.equal(
      (await addresses(daemon, 'k1')).map((l) => l.split(' ')[0]),
      ['eth0', 'eth2'],
    );
    await daemon.ok(['network', 'disconnect', 'kra', 'k1']);
    assert.match(await defaultRoute(daemon, 'k1'), new RegExp(`via ${host(b, 1)} dev eth2`));
  } finally {
    await daemon.docker(['rm', '-f', 'k1', 'k2']);
    await daemon.docker(['network', 'rm', 'kra', 'krb']);
  }
  assert.equal(extraLinks(daemon), []);
});

test('--network container:<name>: the joined namespace, hostname and /etc files; dockerd refusals; the joined container stopping breaks nothing', async ({
  daemon,
}) => {
  const a = poolSubnet(daemon.network, 3);
  await daemon.ok(['network', 'create', '--subnet', a, 'share']);
  try {
    const target = await daemon.ok([
      'run',
      '-d',
      '--name',
      'owner',
      '--hostname',
      'owner-host',
      '--network',
      'share',
      'busybox',
      'sleep',
      '60',
    ]);
    await daemon.ok(['run', '-d', '--name', 'member', '--network', 'container:owner', 'busybox', 'sleep', '60']);
    assert.equal(await addresses(daemon, 'member'), [`eth0 ${host(a, 2)}/24`]);
    assert.is(await daemon.ok(['exec', 'member', 'hostname']), 'owner-host');
    assert.is(await daemon.ok(['exec', 'member', 'cat', '/etc/hosts']), await daemon.ok(['exec', 'owner', 'cat', '/etc/hosts']));
    assert.is(await daemon.ok(['inspect', '-f', '{{.HostConfig.NetworkMode}}', 'member']), `container:${target}`);
    assert.is(await daemon.ok(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'member']), '{}');
    assert.is(
      await daemon.ok(['inspect', '-f', '{{.HostsPath}}', 'member']),
      await daemon.ok(['inspect', '-f', '{{.HostsPath}}', 'owner']),
    );
    // A server in the member answers on the owner's address.
    await daemon.ok(['exec', '-d', 'member', 'nc', '-l', '-p', '7000', '-e', 'echo', 'member']);
    await daemon.ok(['run', '-d', '--name', 'client', '--network', 'share', 'busybox', 'sleep', '60']);
    let answer = '';
    for (let i = 0; i < 20 && answer !== 'member'; i++) {
      answer = (await daemon.docker(['exec', 'client', 'sh', '-c', `nc ${host(a, 2)} 7000 </dev/null`])).stdout.trim();
    }
    assert.is(answer, 'member');

    await fails(
      daemon,
      ['run', '--rm', '--network', 'container:owner', '-p', '8080:80', 'busybox', 'true'],
      /conflicting options: port publishing and the container type network mode/,
    );
    await fails(
      daemon,
      ['run', '--rm', '--network', 'container:owner', '--hostname', 'x', 'busybox', 'true'],
      /conflicting options: hostname and the network mode/,
    );
    await fails(
      daemon,
      ['run', '--rm', '--network', 'container:owner', '--dns', '10.0.0.1', 'busybox', 'true'],
      /conflicting options: dns and the network mode/,
    );
    // The docker CLI at API 1.41 cannot send a MAC with this mode: the API can.
    const withMac = await daemon.request(
      'POST',
      '/v1.41/containers/create',
      JSON.stringify({ Image: 'busybox', MacAddress: '02:42:0a:00:00:09', HostConfig: { NetworkMode: 'container:owner' } }),
      { 'Content-Type': 'application/json' },
    );
    assert.is(withMac.status, 400);
    assert.match(withMac.body, /conflicting options: mac-address and the network mode/);
    await fails(
      daemon,
      ['network', 'connect', 'share', 'member'],
      /container sharing network namespace with another container or host cannot be connected to any other network/,
    );

    // The owner stops: the member keeps running (on lo only), and can be inspected and removed.
    await daemon.ok(['stop', '-t', '0', 'owner']);
    assert.is(await daemon.ok(['inspect', '-f', '{{.State.Running}}', 'member']), 'true');
    assert.equal(await addresses(daemon, 'member'), []);
    await daemon.ok(['stop', '-t', '0', 'member']);
    await fails(daemon, ['start', 'member'], /cannot join network namespace of a non running container: container owner is exited/);
    await daemon.ok(['start', 'owner']);
    await daemon.ok(['start', 'member']);
    assert.equal(await addresses(daemon, 'member'), [`eth0 ${host(a, 2)}/24`]);
  } finally {
    await daemon.docker(['rm', '-f', 'member', 'client', 'owner']);
    await daemon.docker(['network', 'rm', 'share']);
  }
  assert.equal(extraLinks(daemon), []);
});

test.run();
